// kube-sim driven through the real @kubernetes/client-node: CRUD, patches, selectors, watch,
// Status errors, faults, RBAC denials, request counting, discovery and TLS.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1PersistentVolumeClaim,
  VersionApi,
  Watch,
} from "@kubernetes/client-node";
import { opensslVersion, type Sim, startSim } from "./index.ts";
import { pvcObject, pvObject, SEED, sharedRepository } from "./scenarios.ts";
import { dig } from "./types.ts";

function clients(sim: Sim) {
  const kc = new KubeConfig();
  kc.loadFromFile(sim.kubeconfigPath);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    version: kc.makeApiClient(VersionApi),
  };
}

/** Awaits a rejection and returns the ApiException with its parsed Status body. */
async function apiError(
  p: Promise<unknown>,
): Promise<{ code: number; status: Record<string, unknown>; headers: Record<string, string> }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiException, `expected ApiException, got ${String(e)}`);
    const body =
      typeof e.body === "string"
        ? (JSON.parse(e.body) as Record<string, unknown>)
        : (e.body as Record<string, unknown>);
    return { code: e.code, status: body, headers: e.headers };
  }
  assert.fail("expected the call to fail");
}

const jsonPatch = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

describe("kube-sim over http with client-node", () => {
  let sim: Sim;
  let c: ReturnType<typeof clients>;

  before(async () => {
    sim = await startSim({ crds: ["volsync", "kopiur", "flux"], watchHistory: 50 });
    sharedRepository(sim, { namespaces: ["media", "home"], style: "shared-handle" });
    c = clients(sim);
  });
  after(() => sim.close());

  test("version and discovery", async () => {
    const v = await c.version.getCode();
    assert.equal(v.gitVersion, "v1.32.0");
    const res = await fetch(`${sim.url}/api/v1`);
    const list = (await res.json()) as { resources: { name: string; shortNames?: string[] }[] };
    assert.deepEqual(list.resources.find((r) => r.name === "persistentvolumeclaims")?.shortNames, ["pvc"]);
    const groups = (await (await fetch(`${sim.url}/apis`)).json()) as { groups: { name: string }[] };
    const names = groups.groups.map((g) => g.name);
    for (const g of [
      "storage.k8s.io",
      "batch",
      "volsync.backube",
      "kopiur.home-operations.com",
      "kustomize.toolkit.fluxcd.io",
    ]) {
      assert.ok(names.includes(g), `group ${g} served`);
    }
    assert.ok(!names.includes("admissionregistration.k8s.io"), "MAP group only when enabled");
    const kopiur = (await (await fetch(`${sim.url}/apis/kopiur.home-operations.com/v1alpha1`)).json()) as {
      resources: { name: string; namespaced: boolean }[];
    };
    assert.equal(kopiur.resources.find((r) => r.name === "clusterrepositories")?.namespaced, false);
  });

  test("list PVs and a cluster-wide PVC list, one request each", async () => {
    sim.resetRequests();
    const pvs = await c.core.listPersistentVolume();
    assert.equal(pvs.items.length, 3);
    assert.ok(pvs.metadata?.resourceVersion);
    for (const pv of pvs.items) {
      assert.equal(pv.status?.phase, "Bound");
      assert.equal(pv.spec?.csi?.volumeHandle, SEED.handle);
    }
    const pvcs = await c.core.listPersistentVolumeClaimForAllNamespaces();
    assert.deepEqual(pvcs.items.map((p) => p.metadata?.namespace).sort(), ["home", "media", "volsync-system"]);
    assert.equal(sim.requests.length, 2);
    assert.deepEqual(
      sim.requests.map((r) => [r.method, r.path, r.verb, r.status]),
      [
        ["GET", "/api/v1/persistentvolumes", "list", 200],
        ["GET", "/api/v1/persistentvolumeclaims", "list", 200],
      ],
    );
  });

  test("create, AlreadyExists, generateName, NotFound, namespace must exist", async () => {
    await c.core.createNamespace({ body: { metadata: { name: "apps" } } });
    const body = pvcObject("apps", { volumeName: null, name: "data" }) as V1PersistentVolumeClaim;
    const created = await c.core.createNamespacedPersistentVolumeClaim({ namespace: "apps", body });
    assert.ok(created.metadata?.uid);
    assert.ok(created.metadata?.resourceVersion);
    assert.ok(created.metadata?.creationTimestamp);
    const dup = await apiError(c.core.createNamespacedPersistentVolumeClaim({ namespace: "apps", body }));
    assert.equal(dup.code, 409);
    assert.equal(dup.status.reason, "AlreadyExists");
    assert.equal(dup.status.message, 'persistentvolumeclaims "data" already exists');

    const gen = await c.core.createNamespacedConfigMap({
      namespace: "apps",
      body: { metadata: { generateName: "probe-" }, data: { a: "b" } },
    });
    assert.match(gen.metadata?.name ?? "", /^probe-[a-z0-9]{5}$/);

    const missing = await apiError(c.core.readNamespacedPersistentVolumeClaim({ name: "nope", namespace: "apps" }));
    assert.equal(missing.code, 404);
    assert.deepEqual(
      { reason: missing.status.reason, message: missing.status.message, kind: missing.status.kind },
      { reason: "NotFound", message: 'persistentvolumeclaims "nope" not found', kind: "Status" },
    );
    const noNs = await apiError(
      c.core.createNamespacedPersistentVolumeClaim({
        namespace: "ghost",
        body: pvcObject("ghost") as V1PersistentVolumeClaim,
      }),
    );
    assert.equal(noNs.code, 404);
    assert.equal(noNs.status.message, 'namespaces "ghost" not found');
  });

  test("PUT with a stale resourceVersion is a 409 Conflict", async () => {
    const cm = await c.core.createNamespacedConfigMap({
      namespace: "home",
      body: { metadata: { name: "cfg" }, data: { x: "1" } },
    });
    const updated = await c.core.replaceNamespacedConfigMap({
      name: "cfg",
      namespace: "home",
      body: { ...cm, data: { x: "2" } },
    });
    assert.notEqual(updated.metadata?.resourceVersion, cm.metadata?.resourceVersion);
    const stale = await apiError(
      c.core.replaceNamespacedConfigMap({ name: "cfg", namespace: "home", body: { ...cm, data: { x: "3" } } }),
    );
    assert.equal(stale.code, 409);
    assert.equal(stale.status.reason, "Conflict");
    assert.match(String(stale.status.message), /the object has been modified/);
  });

  test("json patch, merge patch, apply patch; spec.csi is immutable", async () => {
    const pv = await c.core.patchPersistentVolume(
      { name: "kopia-repository-pv-media", body: [{ op: "add", path: "/metadata/labels", value: { tier: "backup" } }] },
      jsonPatch,
    );
    assert.equal(pv.metadata?.labels?.tier, "backup");
    const merged = await c.core.patchPersistentVolume(
      { name: "kopia-repository-pv-media", body: { metadata: { annotations: { note: "x" } } } },
      mergePatch,
    );
    assert.equal(merged.metadata?.annotations?.note, "x");
    assert.equal(merged.metadata?.labels?.tier, "backup");

    const failedTest = await apiError(
      c.core.patchPersistentVolume(
        { name: "kopia-repository-pv-media", body: [{ op: "test", path: "/metadata/labels/tier", value: "nope" }] },
        jsonPatch,
      ),
    );
    assert.equal(failedTest.code, 422);

    const immut = await apiError(
      c.core.patchPersistentVolume(
        {
          name: "kopia-repository-pv-media",
          body: [{ op: "replace", path: "/spec/csi/volumeHandle", value: "other" }],
        },
        jsonPatch,
      ),
    );
    assert.equal(immut.code, 422);
    assert.equal(immut.status.reason, "Invalid");
    assert.equal(
      immut.status.message,
      'PersistentVolume "kopia-repository-pv-media" is invalid: spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation',
    );

    const pvcImmut = await apiError(
      c.core.patchNamespacedPersistentVolumeClaim(
        { name: "kopia", namespace: "media", body: { spec: { storageClassName: "other" } } },
        mergePatch,
      ),
    );
    assert.equal(pvcImmut.code, 422);
    assert.match(
      String(pvcImmut.status.message),
      /spec: Forbidden: spec is immutable after creation except resources.requests/,
    );
    await c.core.patchNamespacedPersistentVolumeClaim(
      { name: "kopia", namespace: "media", body: { spec: { resources: { requests: { storage: "200Gi" } } } } },
      mergePatch,
    );

    const applied = await c.custom.patchNamespacedCustomObject(
      {
        group: "volsync.backube",
        version: "v1alpha1",
        namespace: "media",
        plural: "replicationsources",
        name: "plex",
        fieldManager: "kopiashare",
        body: {
          apiVersion: "volsync.backube/v1alpha1",
          kind: "ReplicationSource",
          metadata: { name: "plex", namespace: "media" },
          spec: { sourcePVC: "plex", trigger: { schedule: "0 * * * *" } },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
    );
    assert.equal((applied as { spec: { sourcePVC: string } }).spec.sourcePVC, "plex");
    const reapplied = (await c.custom.patchNamespacedCustomObject(
      {
        group: "volsync.backube",
        version: "v1alpha1",
        namespace: "media",
        plural: "replicationsources",
        name: "plex",
        fieldManager: "kopiashare",
        body: {
          apiVersion: "volsync.backube/v1alpha1",
          kind: "ReplicationSource",
          spec: { trigger: { schedule: "5 * * * *" } },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
    )) as { spec: { sourcePVC: string; trigger: { schedule: string } }; metadata: { generation: number } };
    // As on a real apiserver: a field the same manager applied before and no longer applies (and
    // nobody else owns) is removed.
    assert.deepEqual(reapplied.spec, { trigger: { schedule: "5 * * * *" } });
    assert.equal(reapplied.metadata.generation, 2);
  });

  test("label and field selectors", async () => {
    await c.core.createNamespacedConfigMap({
      namespace: "media",
      body: { metadata: { name: "a", labels: { app: "x", tier: "1" } } },
    });
    await c.core.createNamespacedConfigMap({
      namespace: "media",
      body: { metadata: { name: "b", labels: { app: "y" } } },
    });
    await c.core.createNamespacedConfigMap({ namespace: "media", body: { metadata: { name: "c" } } });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await c.core.listNamespacedConfigMap({ namespace: "media", labelSelector, fieldSelector })).items.map(
        (i) => i.metadata?.name,
      );
    assert.deepEqual(await names("app=x"), ["a"]);
    assert.deepEqual(await names("app==y"), ["b"]);
    assert.deepEqual(await names("app!=x"), ["b", "c"]);
    assert.deepEqual(await names("app in (x,y)"), ["a", "b"]);
    assert.deepEqual(await names("app notin (x)"), ["b", "c"]);
    assert.deepEqual(await names("tier"), ["a"]);
    assert.deepEqual(await names("!app"), ["c"]);
    assert.deepEqual(await names("app,!tier"), ["b"]);
    assert.deepEqual(await names(undefined, "metadata.name=b"), ["b"]);
    assert.deepEqual(await names(undefined, "metadata.name!=b,metadata.namespace=media"), ["a", "c"]);
    const bad = await apiError(
      c.core.listPersistentVolumeClaimForAllNamespaces({ fieldSelector: "status.phase=Bound" }),
    );
    assert.equal(bad.code, 400);
    assert.equal(bad.status.message, "field label not supported: status.phase");
    const ns = await c.core.listNamespace({
      fieldSelector: "status.phase=Active",
      labelSelector: "kubernetes.io/metadata.name=media",
    });
    assert.deepEqual(
      ns.items.map((n) => n.metadata?.name),
      ["media"],
    );
  });

  test("limit and continue", async () => {
    const first = await c.core.listNamespace({ limit: 2 });
    assert.equal(first.items.length, 2);
    assert.ok(first.metadata?._continue);
    const rest = await c.core.listNamespace({ limit: 100, _continue: first.metadata?._continue });
    const all = await c.core.listNamespace();
    assert.equal(first.items.length + rest.items.length, all.items.length);
  });

  test("delete returns the object; 404 afterwards", async () => {
    await c.core.createNamespacedConfigMap({ namespace: "home", body: { metadata: { name: "gone" } } });
    const deleted = await c.core.deleteNamespacedConfigMap({
      name: "gone",
      namespace: "home",
      propagationPolicy: "Background",
    });
    assert.ok(deleted);
    const again = await apiError(c.core.deleteNamespacedConfigMap({ name: "gone", namespace: "home" }));
    assert.equal(again.code, 404);
  });

  test("watch: initial ADDED, MODIFIED, DELETED, then 410 for a compacted resourceVersion", async () => {
    const events: [string, string][] = [];
    const watch = new Watch(c.kc);
    let sawAll!: () => void;
    const done = new Promise<void>((r) => {
      sawAll = r;
    });
    const ctrl = await watch.watch(
      "/api/v1/namespaces/home/configmaps",
      {},
      (type, obj: { metadata: { name: string } }) => {
        events.push([type, obj.metadata.name]);
        if (type === "DELETED" && obj.metadata.name === "w") sawAll();
      },
      () => {},
    );
    await c.core.createNamespacedConfigMap({ namespace: "home", body: { metadata: { name: "w" } } });
    await c.core.patchNamespacedConfigMap({ name: "w", namespace: "home", body: { data: { k: "v" } } }, mergePatch);
    await c.core.deleteNamespacedConfigMap({ name: "w", namespace: "home" });
    await done;
    ctrl.abort();
    assert.deepEqual(
      events.filter(([, n]) => n === "w").map(([t]) => t),
      ["ADDED", "MODIFIED", "DELETED"],
    );
    assert.ok(
      events.some(([t, n]) => t === "ADDED" && n === "cfg"),
      "initial state first",
    );

    // Push the history (50 events) past an old resourceVersion.
    const old = sim.store.resourceVersion;
    for (let i = 0; i < 60; i++)
      sim.store.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `filler-${i}`, namespace: "home" } });
    const errors: { code: number; reason: string }[] = [];
    await new Promise<void>((resolve) => {
      void watch.watch(
        "/api/v1/configmaps",
        { resourceVersion: String(old) },
        (type, obj: { code: number; reason: string }) => {
          if (type === "ERROR") errors.push({ code: obj.code, reason: obj.reason });
        },
        () => resolve(),
      );
    });
    assert.deepEqual(errors, [{ code: 410, reason: "Expired" }]);
  });

  test("watch from a recent resourceVersion, and dropWatches ends the stream", async () => {
    const rv = String(sim.store.resourceVersion);
    const seen: string[] = [];
    const ended = new Promise<unknown>((resolve) => {
      void new Watch(c.kc).watch(
        "/api/v1/persistentvolumes",
        { resourceVersion: rv },
        (type, obj: { metadata: { name: string } }) => seen.push(`${type} ${obj.metadata.name}`),
        (err) => resolve(err),
      );
    });
    await new Promise((r) => setTimeout(r, 30));
    await c.core.patchPersistentVolume(
      { name: "kopia-repository-pv-home", body: { metadata: { labels: { w: "1" } } } },
      mergePatch,
    );
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    sim.faults.dropWatches();
    await ended;
    assert.deepEqual(seen, ["MODIFIED kopia-repository-pv-home"]);
  });

  test("faults: 429 with Retry-After, 503, ECONNRESET, then normal again", async () => {
    sim.faults.failNext(1, 429, { retryAfterSeconds: 2 });
    const tooMany = await apiError(c.core.listPersistentVolume());
    assert.equal(tooMany.code, 429);
    assert.equal(tooMany.headers["retry-after"], "2");
    assert.equal(tooMany.status.reason, "TooManyRequests");

    sim.faults.failNext(1, 503);
    const unavailable = await apiError(c.core.listPersistentVolume());
    assert.equal(unavailable.code, 503);
    assert.equal(unavailable.status.reason, "ServiceUnavailable");

    sim.faults.failNext(1, 500, { match: (r) => r.path.includes("persistentvolumeclaims") });
    await c.core.listPersistentVolume(); // not matched
    assert.equal((await apiError(c.core.listPersistentVolumeClaimForAllNamespaces())).code, 500);

    sim.resetRequests();
    sim.faults.failNext(1, "ECONNRESET");
    await assert.rejects(c.core.listPersistentVolume(), (e: Error & { code?: string }) => {
      assert.match(`${e.code} ${e.message}`, /ECONNRESET|socket hang up/);
      return true;
    });
    assert.equal(sim.requests[0]?.status, 0);
    const ok = await c.core.listPersistentVolume();
    assert.equal(ok.items.length, 3);
  });

  test("RBAC denial answers the apiserver's Forbidden Status", async () => {
    sim.denied.add({ verb: "list", resource: "persistentvolumes" });
    sim.denied.add({ verb: "get", resource: "persistentvolumeclaims", namespace: "media" });
    try {
      const e = await apiError(c.core.listPersistentVolume());
      assert.equal(e.code, 403);
      assert.equal(e.status.reason, "Forbidden");
      assert.equal(
        e.status.message,
        'persistentvolumes is forbidden: User "system:serviceaccount:kopiashare:kopiashare" cannot list resource "persistentvolumes" in API group "" at the cluster scope',
      );
      const e2 = await apiError(c.core.readNamespacedPersistentVolumeClaim({ name: "kopia", namespace: "media" }));
      assert.equal(
        e2.status.message,
        'persistentvolumeclaims "kopia" is forbidden: User "system:serviceaccount:kopiashare:kopiashare" cannot get resource "persistentvolumeclaims" in API group "" in the namespace "media"',
      );
      await c.core.readNamespacedPersistentVolumeClaim({ name: "kopia", namespace: "home" });
    } finally {
      sim.denied.clear();
    }
  });

  test("requireToken rejects a wrong bearer token with 401", async () => {
    sim.requireToken = true;
    try {
      await c.core.listNamespace();
      const kc = new KubeConfig();
      kc.loadFromString(sim.kubeconfigYaml.replace("token: kube-sim-token", "token: wrong"));
      const e = await apiError(kc.makeApiClient(CoreV1Api).listNamespace());
      assert.equal(e.code, 401);
    } finally {
      sim.requireToken = false;
    }
  });

  test("request count does not grow with the number of namespaces", async () => {
    const big = await startSim();
    try {
      sharedRepository(big, { namespaces: 300, style: "static" });
      const small = clients(big);
      big.resetRequests();
      const [pvs, pvcs] = await Promise.all([
        small.core.listPersistentVolume(),
        small.core.listPersistentVolumeClaimForAllNamespaces(),
      ]);
      assert.equal(pvs.items.length, 301);
      assert.equal(pvcs.items.filter((p) => p.status?.phase === "Bound").length, 301);
      assert.equal(big.requests.length, 2);
      const handles = new Set(pvs.items.map((p) => p.spec?.csi?.volumeHandle));
      assert.equal(handles.size, 301, "static style: one handle per PV");
    } finally {
      await big.close();
    }
  });

  test("store writes are not logged, and the binder reacts to them (an unreserved PV is taken)", () => {
    sim.resetRequests();
    // apps/data (created above without volumeName) has been Pending: any matching free PV will do.
    sim.store.create(pvObject("extra", { claimRef: false }));
    const pv = sim.store.get("pv", "kopia-repository-pv-extra");
    assert.equal(dig(pv, "status", "phase"), "Bound");
    assert.deepEqual(
      { ns: dig(pv, "spec", "claimRef", "namespace"), name: dig(pv, "spec", "claimRef", "name") },
      { ns: "apps", name: "data" },
    );
    assert.equal(pv?.metadata.annotations?.["pv.kubernetes.io/bound-by-controller"], "yes");
    assert.equal(sim.requests.length, 0);
  });
});

describe("kube-sim CRD sets", () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim({
      crds: ["kopiur", "mutatingadmissionpolicy-v1alpha1"],
      version: { major: "1", minor: "33" },
    });
  });
  after(() => sim.close());

  test("cluster-scoped custom objects and the MutatingAdmissionPolicy version follow the options", async () => {
    const { custom, version } = clients(sim);
    assert.equal((await version.getCode()).gitVersion, "v1.33.0");
    await custom.createClusterCustomObject({
      group: "kopiur.home-operations.com",
      version: "v1alpha1",
      plural: "clusterrepositories",
      body: {
        apiVersion: "kopiur.home-operations.com/v1alpha1",
        kind: "ClusterRepository",
        metadata: { name: "shared" },
        spec: { allowedNamespaces: { list: ["media"] } },
      },
    });
    const list = (await custom.listClusterCustomObject({
      group: "kopiur.home-operations.com",
      version: "v1alpha1",
      plural: "clusterrepositories",
    })) as { kind: string; items: { kind: string; metadata: { name: string } }[] };
    assert.equal(list.kind, "ClusterRepositoryList");
    assert.equal(list.items[0]?.kind, "ClusterRepository", "custom resource list items keep their kind");
    await custom.createClusterCustomObject({
      group: "admissionregistration.k8s.io",
      version: "v1alpha1",
      plural: "mutatingadmissionpolicies",
      body: {
        apiVersion: "admissionregistration.k8s.io/v1alpha1",
        kind: "MutatingAdmissionPolicy",
        metadata: { name: "volsync-mover-repository" },
        spec: {},
      },
    });
    const v1beta1 = await fetch(`${sim.url}/apis/admissionregistration.k8s.io/v1beta1`);
    assert.equal(v1beta1.status, 404);
    const wrongVersion = await apiError(
      custom.listClusterCustomObject({
        group: "admissionregistration.k8s.io",
        version: "v1",
        plural: "mutatingadmissionpolicies",
      }),
    );
    assert.equal(wrongVersion.code, 404);
  });
});

describe("kube-sim over https", () => {
  let sim: Sim | undefined;
  let skip: string | undefined;

  before(async () => {
    const openssl = await opensslVersion();
    if (!openssl) {
      skip = "openssl not installed: cannot generate a test certificate";
      return;
    }
    sim = await startSim({ tls: true });
    sharedRepository(sim, { namespaces: 1, style: "shared-handle" });
  });
  after(() => sim?.close());

  test("client-node verifies the CA from certificate-authority-data", async (t) => {
    if (!sim) return t.skip(skip);
    assert.match(sim.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(sim.kubeconfigYaml, /certificate-authority-data: /);
    const { core } = clients(sim);
    const pvs = await core.listPersistentVolume();
    assert.equal(pvs.items.length, 2);
  });

  test("a client without the CA is refused", async (t) => {
    if (!sim) return t.skip(skip);
    const kc = new KubeConfig();
    kc.loadFromString(sim.kubeconfigYaml.replace(/ {4}certificate-authority-data: .*\n/, ""));
    await assert.rejects(kc.makeApiClient(CoreV1Api).listNamespace(), /certificate|self.signed|unable to verify/i);
  });
});
