// Deletion in kube-sim: finalizers and deletionTimestamp, the PVC/PV protection controllers and the
// namespace controller (Terminating, content first, creates refused with the real 403).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { podMounting } from "./controller-scenarios.ts";
import { dig, type KubeObject, type Sim, startSim } from "./index.ts";
import { ensureNamespace, pvcObject, pvName, pvObject, storageClassObject } from "./scenarios.ts";

let sim: Sim;
before(async () => {
  sim = await startSim();
  sim.store.create(storageClassObject());
});
after(() => sim.close());

const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const pod = (ns: string, name: string, claim: string, hold = false) => podMounting(sim, ns, name, claim, hold);

const release = (kind: string, name: string, ns?: string) => {
  const o = sim.store.get(kind, name, ns);
  assert.ok(o, `${kind} ${name} exists`);
  sim.store.update({ ...o, metadata: { ...o.metadata, finalizers: [] } });
};

function pair(ns: string): void {
  ensureNamespace(sim, ns);
  sim.store.create(pvObject(ns, { style: "shared-handle" }));
  sim.store.create(pvcObject(ns));
}

describe("finalizers and deletionTimestamp", () => {
  test("a DELETE of an object with finalizers marks it; the update that empties them removes it", async () => {
    ensureNamespace(sim, "fin");
    sim.store.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "fin", finalizers: ["x/y"] },
    });
    const del = await call("DELETE", "/api/v1/namespaces/fin/configmaps/c");
    assert.equal(del.status, 200);
    const ts = dig(del.body as KubeObject, "metadata", "deletionTimestamp");
    assert.equal(typeof ts, "string");
    const again = await call("DELETE", "/api/v1/namespaces/fin/configmaps/c");
    assert.equal(dig(again.body as KubeObject, "metadata", "deletionTimestamp"), ts, "a second DELETE changes nothing");
    // An update can neither clear nor move the deletionTimestamp.
    const cur = sim.store.get("configmaps", "c", "fin") as KubeObject;
    sim.store.update({ ...cur, metadata: { ...cur.metadata, deletionTimestamp: undefined }, data: { a: "b" } });
    assert.equal(sim.store.get("configmaps", "c", "fin")?.metadata.deletionTimestamp, ts);
    release("configmaps", "c", "fin");
    assert.equal(sim.store.get("configmaps", "c", "fin"), undefined);
  });

  test("a create cannot set deletionTimestamp; an object without finalizers goes at once", () => {
    ensureNamespace(sim, "fin");
    const c = sim.store.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "d", namespace: "fin", deletionTimestamp: "2020-01-01T00:00:00Z" },
    });
    assert.equal(c.metadata.deletionTimestamp, undefined);
    sim.store.delete("configmaps", "d", "fin");
    assert.equal(sim.store.get("configmaps", "d", "fin"), undefined);
  });
});

describe("PVC and PV protection", () => {
  test("PVCs and PVs get their protection finalizer on create", () => {
    pair("prot-a");
    assert.deepEqual(sim.store.get("pvc", "kopia", "prot-a")?.metadata.finalizers, ["kubernetes.io/pvc-protection"]);
    assert.deepEqual(sim.store.get("pv", pvName("prot-a"))?.metadata.finalizers, ["kubernetes.io/pv-protection"]);
  });

  test("a PVC a pod mounts stays Terminating until the pod is gone; its Bound PV likewise", () => {
    pair("prot-b");
    pod("prot-b", "app", "kopia");
    pod("prot-b", "other", "data"); // mounts another claim: does not hold this one
    sim.store.delete("pvc", "kopia", "prot-b");
    const pvc = sim.store.get("pvc", "kopia", "prot-b");
    assert.ok(pvc?.metadata.deletionTimestamp, "PVC Terminating while the pod mounts it");
    sim.store.delete("pv", pvName("prot-b"));
    assert.ok(sim.store.get("pv", pvName("prot-b"))?.metadata.deletionTimestamp, "PV Terminating while Bound");
    sim.store.delete("pods", "app", "prot-b");
    assert.equal(sim.store.get("pvc", "kopia", "prot-b"), undefined, "PVC gone with the pod");
    assert.equal(sim.store.get("pv", pvName("prot-b")), undefined, "PV gone once Released");
  });

  test("a pod that has ended does not hold its claim", () => {
    pair("prot-c");
    const p = pod("prot-c", "done", "kopia");
    sim.store.update({ ...p, status: { phase: "Succeeded" } }, { subresource: "status" });
    sim.store.delete("pvc", "kopia", "prot-c");
    assert.equal(sim.store.get("pvc", "kopia", "prot-c"), undefined);
    assert.equal(dig(sim.store.get("pv", pvName("prot-c")) as KubeObject, "status", "phase"), "Released");
  });
});

describe("namespace deletion", () => {
  test("Terminating, content first (finalizers respected), creates refused with 403, gone once empty", async () => {
    pair("gone");
    sim.store.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "gone" } });
    pod("gone", "app", "kopia", true);
    const del = await call("DELETE", "/api/v1/namespaces/gone");
    assert.equal(del.status, 200);
    assert.equal(dig(del.body as KubeObject, "status", "phase"), "Terminating");
    assert.equal(sim.store.get("configmaps", "c", "gone"), undefined, "content without finalizers goes at once");
    assert.ok(sim.store.get("pods", "app", "gone")?.metadata.deletionTimestamp);
    assert.ok(sim.store.get("pvc", "kopia", "gone")?.metadata.deletionTimestamp, "the PVC waits for the pod");
    assert.equal(dig(sim.store.get("namespaces", "gone") as KubeObject, "status", "phase"), "Terminating");

    const refused = await call("POST", "/api/v1/namespaces/gone/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "late" },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.reason, "Forbidden");
    assert.equal(
      refused.body.message,
      'configmaps "late" is forbidden: unable to create new content in namespace gone because it is being terminated',
    );
    // A server-side apply that would create the object is refused the same way.
    const res = await fetch(`${sim.url}/apis/coordination.k8s.io/v1/namespaces/gone/leases/l?fieldManager=t`, {
      method: "PATCH",
      headers: { "content-type": "application/apply-patch+yaml" },
      body: JSON.stringify({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "l" } }),
    });
    assert.equal(res.status, 403);
    assert.match(
      ((await res.json()) as { message: string }).message,
      /^leases\.coordination\.k8s\.io "l" is forbidden: .* being terminated$/,
    );

    release("pods", "app", "gone");
    assert.equal(sim.store.get("pvc", "kopia", "gone"), undefined, "the PVC went with the pod");
    assert.equal(sim.store.get("namespaces", "gone"), undefined, "the namespace went once empty");
    assert.equal(dig(sim.store.get("pv", pvName("gone")) as KubeObject, "status", "phase"), "Released");
  });

  test("an empty namespace goes at once", () => {
    ensureNamespace(sim, "empty");
    const marked = sim.store.delete("namespaces", "empty");
    assert.equal(dig(marked as KubeObject, "status", "phase"), "Terminating");
    assert.equal(sim.store.get("namespaces", "empty"), undefined);
  });
});
