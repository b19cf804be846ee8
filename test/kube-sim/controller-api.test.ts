// What a controller needs of kube-sim: leases and events.k8s.io in discovery and CRUD, BOOKMARK
// events, delete preconditions, request counts by verb, and server-side apply with managedFields
// and field-manager conflicts. Plain fetch, so the wire format itself is what is checked.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type KubeObject, type Sim, startSim } from "./index.ts";
import { ensureNamespace } from "./scenarios.ts";

let sim: Sim;
before(async () => {
  sim = await startSim({ bookmarkIntervalMs: 0 });
  ensureNamespace(sim, "ctl");
});
after(() => sim.close());

interface Res {
  status: number;
  body: Record<string, unknown>;
}

async function call(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<Res> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      authorization: "Bearer kube-sim-token",
      "content-type": contentType,
      "user-agent": "kopiashare-test/0.1",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const LEASES = "/apis/coordination.k8s.io/v1/namespaces/ctl/leases";
const EVENTS = "/apis/events.k8s.io/v1/namespaces/ctl/events";
const CMS = "/api/v1/namespaces/ctl/configmaps";
const apply = (name: string, obj: unknown, manager: string, force = false) =>
  call(
    "PATCH",
    `${CMS}/${name}?fieldManager=${manager}${force ? "&force=true" : ""}`,
    obj,
    "application/apply-patch+yaml",
  );
const cm = (name: string, data: Record<string, string>, labels?: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "ctl", ...(labels ? { labels } : {}) },
  data,
});
const managers = (o: Record<string, unknown>) =>
  ((o.metadata as KubeObject["metadata"]).managedFields as { manager: string; operation: string }[]).map(
    (e) => `${e.manager}:${e.operation}`,
  );

describe("controller API surface", () => {
  test("discovery serves coordination.k8s.io/v1 leases and events.k8s.io/v1 events", async () => {
    const groups = (await call("GET", "/apis")).body.groups as { name: string }[];
    assert.ok(groups.some((g) => g.name === "coordination.k8s.io"));
    assert.ok(groups.some((g) => g.name === "events.k8s.io"));
    const leases = (await call("GET", "/apis/coordination.k8s.io/v1")).body.resources as {
      name: string;
      namespaced: boolean;
      kind: string;
    }[];
    assert.deepEqual(
      leases.map((r) => [r.name, r.namespaced, r.kind]),
      [["leases", true, "Lease"]],
    );
    const events = (await call("GET", "/apis/events.k8s.io/v1")).body.resources as { name: string; kind: string }[];
    assert.deepEqual(
      events.map((r) => [r.name, r.kind]),
      [["events", "Event"]],
    );
  });

  test("leases: create, list (items without apiVersion/kind as built-ins), PUT with resourceVersion, 409 when stale", async () => {
    const lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "ctl", namespace: "ctl" },
      spec: {
        holderIdentity: "a",
        leaseDurationSeconds: 15,
        acquireTime: "2026-12-04T17:00:00.000000Z",
        renewTime: "2026-12-04T17:00:00.000000Z",
        leaseTransitions: 0,
      },
    };
    const created = await call("POST", LEASES, lease);
    assert.equal(created.status, 201);
    const list = await call("GET", LEASES);
    assert.equal(list.body.kind, "LeaseList");
    const item = (list.body.items as Record<string, unknown>[])[0];
    assert.equal(item?.kind, undefined);
    const meta = created.body.metadata as { resourceVersion: string };
    const put = await call("PUT", `${LEASES}/ctl`, {
      ...created.body,
      spec: { ...lease.spec, holderIdentity: "b", leaseTransitions: 1 },
    });
    assert.equal(put.status, 200);
    const stale = await call("PUT", `${LEASES}/ctl`, {
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: meta.resourceVersion },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, "Conflict");
    assert.match(String(stale.body.message), /leases.coordination.k8s.io "ctl"/);
  });

  test("events.k8s.io/v1 events keep their field names and select on regarding.*", async () => {
    const ev = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: "kopia.1", namespace: "ctl" },
      eventTime: "2026-12-04T17:00:00.000000Z",
      reportingController: "kopiashare.io/controller",
      reportingInstance: "kopiashare-0",
      action: "Reconcile",
      reason: "Applied",
      regarding: { kind: "PersistentVolumeClaim", namespace: "ctl", name: "kopia" },
      note: "applied 2 objects",
      type: "Normal",
    };
    assert.equal((await call("POST", EVENTS, ev)).status, 201);
    const sel = await call(
      "GET",
      `${EVENTS}?fieldSelector=regarding.name%3Dkopia,reportingController%3Dkopiashare.io%2Fcontroller`,
    );
    const items = sel.body.items as Record<string, unknown>[];
    assert.equal(items.length, 1);
    assert.equal(items[0]?.note, "applied 2 objects");
    assert.deepEqual(items[0]?.regarding, ev.regarding);
    // Stored apart from core/v1 Events (see README, known gaps).
    assert.equal(((await call("GET", "/api/v1/namespaces/ctl/events")).body.items as unknown[]).length, 0);
  });

  test("BOOKMARK events carry only the kind and metadata.resourceVersion, and only when allowed", async () => {
    const rv = String(sim.store.resourceVersion);
    const ac = new AbortController();
    const res = await fetch(`${sim.url}${CMS}?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`, {
      headers: { authorization: "Bearer kube-sim-token" },
      signal: ac.signal,
    });
    const plain = await fetch(`${sim.url}${CMS}?watch=1&resourceVersion=${rv}`, {
      headers: { authorization: "Bearer kube-sim-token" },
      signal: ac.signal,
    });
    sim.sendBookmarks();
    const reader = res.body?.getReader();
    const chunk = await reader?.read();
    const line = new TextDecoder().decode(chunk?.value).trim();
    assert.deepEqual(JSON.parse(line), {
      type: "BOOKMARK",
      object: { kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: rv } },
    });
    const r2 = plain.body?.getReader();
    const none = await Promise.race([r2?.read(), new Promise((r) => setTimeout(() => r("nothing"), 100))]);
    assert.equal(none, "nothing");
    ac.abort();
  });

  test("bookmarkIntervalMs sends bookmarks periodically", async () => {
    const s = await startSim({ bookmarkIntervalMs: 30 });
    try {
      const ac = new AbortController();
      const res = await fetch(`${s.url}/api/v1/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=0`, {
        headers: { authorization: "Bearer kube-sim-token" },
        signal: ac.signal,
      });
      const chunk = await res.body?.getReader().read();
      assert.match(new TextDecoder().decode(chunk?.value), /"type":"BOOKMARK"/);
      ac.abort();
    } finally {
      await s.close();
    }
  });

  test("counts() by verb: writes, and per resource", async () => {
    sim.resetRequests();
    await call("GET", `${LEASES}/ctl`);
    await call("GET", LEASES);
    await call("PATCH", `${LEASES}/ctl`, { metadata: { labels: { a: "b" } } }, "application/merge-patch+json");
    await call("GET", CMS);
    assert.deepEqual(sim.counts({ resource: "leases" }), {
      get: 1,
      list: 1,
      watch: 0,
      create: 0,
      update: 0,
      patch: 1,
      delete: 0,
      writes: 1,
      total: 3,
    });
    assert.equal(sim.counts().list, 2);
    assert.equal(sim.counts({ namespace: "other" }).total, 0);
  });

  test("delete preconditions", async () => {
    await call("POST", CMS, cm("pre", {}));
    const bad = await call("DELETE", `${CMS}/pre`, { preconditions: { uid: "nope" } });
    assert.equal(bad.status, 409);
    assert.match(
      String(bad.body.message),
      /^Operation cannot be fulfilled on configmaps "pre": Precondition failed: UID in precondition: nope, UID in object meta: /,
    );
    assert.equal((await call("DELETE", `${CMS}/pre`, {})).status, 200);
  });
});

describe("server-side apply", () => {
  test("apply creates the object (201) and records an Apply entry; the same apply again is a no-op", async () => {
    const first = await apply("ssa", cm("ssa", { a: "1" }, { app: "x" }), "kopiashare");
    assert.equal(first.status, 201);
    const mf = (first.body.metadata as KubeObject["metadata"]).managedFields as Record<string, unknown>[];
    assert.equal(mf.length, 1);
    assert.equal(mf[0]?.manager, "kopiashare");
    assert.equal(mf[0]?.operation, "Apply");
    assert.equal(mf[0]?.apiVersion, "v1");
    assert.equal(mf[0]?.fieldsType, "FieldsV1");
    assert.match(String(mf[0]?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(mf[0]?.fieldsV1, { "f:data": { "f:a": {} }, "f:metadata": { "f:labels": { "f:app": {} } } });
    const again = await apply("ssa", cm("ssa", { a: "1" }, { app: "x" }), "kopiashare");
    assert.equal(again.status, 200);
    assert.equal(
      (again.body.metadata as { resourceVersion: string }).resourceVersion,
      (first.body.metadata as { resourceVersion: string }).resourceVersion,
    );
  });

  test("another manager changing an owned field gets 409 naming the owner; force takes it over", async () => {
    const res = await apply("ssa", cm("ssa", { a: "2" }), "human");
    assert.equal(res.status, 409);
    assert.equal(res.body.reason, "Conflict");
    assert.equal(res.body.message, 'Apply failed with 1 conflict: conflict with "kopiashare": .data.a');
    assert.deepEqual((res.body.details as { causes: unknown[] }).causes, [
      { reason: "FieldManagerConflict", message: 'conflict with "kopiashare"', field: ".data.a" },
    ]);
    // The same value is no conflict: both own it.
    const shared = await apply("ssa", cm("ssa", { a: "1", b: "h" }), "human");
    assert.equal(shared.status, 200);
    assert.deepEqual(managers(shared.body), ["kopiashare:Apply", "human:Apply"]);
    const forced = await apply("ssa", cm("ssa", { a: "2", b: "h" }), "human", true);
    assert.equal(forced.status, 200);
    assert.deepEqual((forced.body as { data: unknown }).data, { a: "2", b: "h" });
    const mf = (forced.body.metadata as KubeObject["metadata"]).managedFields as {
      manager: string;
      fieldsV1: unknown;
    }[];
    assert.deepEqual(mf.find((e) => e.manager === "kopiashare")?.fieldsV1, {
      "f:metadata": { "f:labels": { "f:app": {} } },
    });
  });

  test("an Update manager (merge patch) owns what it changed; apply conflicts name it 'using v1'", async () => {
    await apply("upd", cm("upd", { a: "1", b: "1" }), "kopiashare");
    const patched = await call(
      "PATCH",
      `${CMS}/upd?fieldManager=kubectl-edit`,
      { data: { a: "edited" } },
      "application/merge-patch+json",
    );
    assert.deepEqual(managers(patched.body), ["kopiashare:Apply", "kubectl-edit:Update"]);
    const res = await apply("upd", cm("upd", { a: "1", b: "2" }), "other");
    assert.equal(res.status, 409);
    assert.equal(
      res.body.message,
      'Apply failed with 2 conflicts: conflicts with "kopiashare":\n- .data.b\nconflicts with "kubectl-edit" using v1:\n- .data.a',
    );
    // The User-Agent names the manager of a write without ?fieldManager=.
    const ua = await call("PATCH", `${CMS}/upd`, { data: { c: "1" } }, "application/merge-patch+json");
    assert.ok(managers(ua.body).includes("kopiashare-test:Update"));
  });

  test("a field the manager no longer applies is removed, unless another manager owns it", async () => {
    await apply("rm", cm("rm", { keep: "1", drop: "1", shared: "1" }), "kopiashare");
    await apply("rm", cm("rm", { shared: "1" }), "other");
    const res = await apply("rm", cm("rm", { keep: "1" }), "kopiashare");
    assert.deepEqual((res.body as { data: unknown }).data, { keep: "1", shared: "1" });
  });
});
