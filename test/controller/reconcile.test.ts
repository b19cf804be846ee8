// The controller's plan for one namespace (core/reconcile.ts), as a table: what the cluster holds -> the
// writes and the notes. Pure; the loop that applies plans is tested against kube-sim elsewhere.
import assert from "node:assert/strict";
import { test } from "node:test";
import { load } from "js-yaml";
import { DEFAULTS } from "../../src/core/config.ts";
import type { LivePv, LivePvc } from "../../src/core/live.ts";
import { CONTROLLER, MANAGED_BY, OPT_IN } from "../../src/core/names.ts";
import { covers, type NamespaceState, planNamespace, type ReconcileOptions } from "../../src/core/reconcile.ts";
import { instanceObjects, renderPvc } from "../../src/core/render/instance.ts";
import type { RepositoryVolume } from "../../src/core/topology.ts";

const HANDLE = "0001-0024-407036f5-1f73-44ff-ba81-1f219b7a8a64-000000000000000b-841e604c-1dd5-4a09-8763-84e672d78c4e";

const shared: RepositoryVolume = {
  driver: "cephfs.csi.ceph.com",
  volumeHandle: HANDLE,
  volumeAttributes: [
    ["clusterID", "407036f5-1f73-44ff-ba81-1f219b7a8a64"],
    ["fsName", "backups"],
  ],
  nodeStageSecretRef: { name: "csi-ceph-admin-secret", namespace: "ceph-csi" },
  capacity: "200Gi",
  storageClassName: "csi-cephfs-backups-sc",
  style: "shared-handle",
  origin: "test",
};
const staticVolume: RepositoryVolume = {
  ...shared,
  volumeHandle: "kopia-repository-pv-volsync-system",
  volumeAttributes: [...shared.volumeAttributes, ["staticVolume", "true"], ["rootPath", "/volumes/backups/kopia"]],
  style: "static",
};

const opts = (o: Partial<ReconcileOptions> = {}): ReconcileOptions => ({
  conventions: DEFAULTS,
  repository: "kopia",
  volume: shared,
  repositoryPv: "kopia-repository-pv-volsync-system",
  adopt: false,
  ...o,
});

const meta = (labels: Record<string, string> = { [MANAGED_BY]: CONTROLLER }, uid = "u-1", deleting = false) => ({
  uid,
  labels,
  deleting,
});

/** The live PV/PVC the controller would have made for `ns`, as the API serves them (plus status). */
function live(ns: string, o: { pvLabels?: Record<string, string>; pvcLabels?: Record<string, string> } = {}) {
  const { pv, pvc } = instanceObjects({ namespace: ns, volume: shared, conventions: DEFAULTS });
  const pvBody = structuredClone(pv);
  const pvcBody = structuredClone(pvc);
  (pvBody.metadata as Record<string, unknown>).labels = o.pvLabels ?? { [MANAGED_BY]: CONTROLLER };
  (pvcBody.metadata as Record<string, unknown>).labels = o.pvcLabels ?? { [MANAGED_BY]: CONTROLLER };
  ((pvBody.spec as Record<string, unknown>).claimRef as Record<string, unknown>).uid = "pvc-uid";
  const livePv: LivePv = {
    name: `kopia-repository-pv-${ns}`,
    phase: "Bound",
    reclaimPolicy: "Retain",
    storageClassName: shared.storageClassName,
    capacity: "200Gi",
    accessModes: ["ReadWriteMany"],
    volumeMode: undefined,
    driver: shared.driver,
    volumeHandle: HANDLE,
    volumeAttributes: Object.fromEntries(shared.volumeAttributes),
    claimRef: { namespace: ns, name: "kopia", uid: "pvc-uid", resourceVersion: undefined },
  };
  const livePvc: LivePvc = {
    namespace: ns,
    name: "kopia",
    uid: "pvc-uid",
    phase: "Bound",
    volumeName: `kopia-repository-pv-${ns}`,
    storageClassName: shared.storageClassName,
    request: "200Gi",
    accessModes: ["ReadWriteMany"],
    volumeMode: undefined,
  };
  return {
    pv: { ...livePv, meta: meta(o.pvLabels, "pv-uid"), body: pvBody },
    pvc: { ...livePvc, meta: meta(o.pvcLabels, "pvc-uid"), body: pvcBody },
  };
}

const state = (ns: string, s: Partial<NamespaceState> = {}): NamespaceState => ({
  namespace: ns,
  ns: { name: ns, labels: { [OPT_IN]: "kopia" }, deleting: false },
  consumers: [],
  otherClaims: [],
  pvc: undefined,
  pv: undefined,
  ...s,
});

const ops = (s: NamespaceState, o = opts()) =>
  planNamespace(s, o).actions.map((a) => `${a.op} ${a.kind}${a.op === "apply" && a.force ? " (force)" : ""}`);

test("the objects the controller applies are the ones enable writes, field for field", () => {
  for (const volume of [shared, staticVolume]) {
    for (const claimRef of [true, false]) {
      const conventions = { ...DEFAULTS, claimRef };
      const text = renderPvc({
        namespace: "media",
        dir: "x",
        volume,
        conventions,
        source: { kind: "GitRepository", name: "flux-system", namespace: "flux-system" },
      });
      const docs: unknown[] = [];
      for (const d of text.split(/^---$/m)) if (d.trim()) docs.push(load(d));
      const objects = instanceObjects({ namespace: "media", volume, conventions });
      assert.deepEqual(docs, [objects.pv, objects.pvc], `${volume.style}, claimRef ${claimRef}`);
    }
  }
});

test("covers: every wanted field present with the same value; extra live fields do not matter", () => {
  assert.equal(covers({ a: 1, b: { c: "x", d: 2 } }, { b: { c: "x" } }), true);
  assert.equal(covers({ a: 1 }, { a: 2 }), false);
  assert.equal(covers({ l: ["a", "b"] }, { l: ["a"] }), false);
  assert.equal(covers({}, { a: { b: 1 } }), false);
});

test("plans, one row per situation", () => {
  const made = live("media");
  const cases: [string, NamespaceState, string[], ReconcileOptions?][] = [
    ["opted in, nothing there: PV then PVC", state("media"), ["apply PersistentVolume", "apply PersistentVolumeClaim"]],
    [
      "a consumer needs the claim (no label)",
      state("media", {
        ns: { name: "media", labels: {}, deleting: false },
        consumers: ["ReplicationSource media/app"],
      }),
      ["apply PersistentVolume", "apply PersistentVolumeClaim"],
    ],
    ["converged: no write", state("media", made), []],
    [
      "our PVC's labels lost: re-applied, PV untouched",
      state("media", {
        ...made,
        pvc: { ...made.pvc, body: { ...made.pvc.body, metadata: { name: "kopia", namespace: "media" } } },
      }),
      ["apply PersistentVolumeClaim"],
    ],
    [
      "Released with the deleted claim's uid: released",
      state("media", { pv: { ...made.pv, phase: "Released" }, pvc: { ...made.pvc, uid: "new-uid", phase: "Pending" } }),
      ["release PersistentVolume"],
    ],
    [
      "Bound to a claim the cache has not shown yet: not released",
      state("media", { pv: made.pv }),
      ["apply PersistentVolumeClaim"],
    ],
    [
      "Flux delivers both: left alone",
      state(
        "media",
        live("media", {
          pvLabels: { "kustomize.toolkit.fluxcd.io/name": "x" },
          pvcLabels: { "kustomize.toolkit.fluxcd.io/name": "x" },
        }),
      ),
      [],
    ],
    ["made by hand: left alone", state("media", live("media", { pvLabels: {}, pvcLabels: {} })), []],
    [
      "made by hand, --adopt: applied with force",
      state("media", live("media", { pvLabels: {}, pvcLabels: {} })),
      ["apply PersistentVolume (force)", "apply PersistentVolumeClaim (force)"],
      opts({ adopt: true }),
    ],
    [
      "Flux-delivered is never adopted",
      state("media", live("media", { pvLabels: { "kustomize.toolkit.fluxcd.io/name": "x" }, pvcLabels: {} })),
      ["apply PersistentVolumeClaim (force)"],
      opts({ adopt: true }),
    ],
    [
      "stops consuming: the PVC first",
      state("media", { ...made, ns: { name: "media", labels: {}, deleting: false } }),
      ["delete PersistentVolumeClaim"],
    ],
    [
      "then the PV, once no claim is left and it is Released",
      state("media", { pv: { ...made.pv, phase: "Released" }, ns: undefined }),
      ["delete PersistentVolume"],
    ],
    ["the PV still Bound in the cache: wait", state("media", { pv: made.pv, ns: undefined }), []],
    [
      "a PV that is not Retain is never deleted",
      state("media", { pv: { ...made.pv, phase: "Released", reclaimPolicy: "Delete" }, ns: undefined }),
      [],
    ],
    [
      "namespace being deleted: its PVC goes first",
      state("media", { ...made, ns: { name: "media", labels: { [OPT_IN]: "kopia" }, deleting: true } }),
      ["delete PersistentVolumeClaim"],
    ],
    [
      "PVC terminating (in use): nothing more until it is gone",
      state("media", { ...made, pvc: { ...made.pvc, meta: meta(undefined, "pvc-uid", true) }, ns: undefined }),
      [],
    ],
    ["the repository's namespace: never", state("volsync-system", live("volsync-system")), []],
    [
      "labelled for another repository",
      state("media", { ns: { name: "media", labels: { [OPT_IN]: "other" }, deleting: false } }),
      [],
    ],
    ["no repository volume: nothing is created", state("media"), [], opts({ volume: undefined })],
  ];
  for (const [name, s, want, o] of cases) assert.deepEqual(ops(s, o), want, name);
});

test("a PV that points at another volume is reported with commands, never rewritten", () => {
  const made = live("media");
  const pvBody = structuredClone(made.pv.body);
  ((pvBody.spec as Record<string, unknown>).csi as Record<string, unknown>).volumeHandle = "another";
  const plan = planNamespace(state("media", { ...made, pv: { ...made.pv, body: pvBody } }), opts());
  assert.deepEqual(plan.actions, []);
  assert.match(plan.notes[0]?.what ?? "", /spec\.csi differs, and it is immutable/);
  assert.match(plan.notes[0]?.fix ?? "", /kubectl delete pv kopia-repository-pv-media/);
});

test("the PV to delete, the PVC to delete and the claim to release carry the uid they were planned on", () => {
  const made = live("media");
  const gone = planNamespace(state("media", { ...made, ns: undefined }), opts());
  assert.deepEqual(gone.actions[0], {
    op: "delete",
    kind: "PersistentVolumeClaim",
    name: "kopia",
    namespace: "media",
    uid: "pvc-uid",
    why: "the namespace is gone",
  });
  const released = planNamespace(
    state("media", { pv: { ...made.pv, phase: "Released" }, pvc: { ...made.pvc, uid: "new", phase: "Pending" } }),
    opts(),
  );
  assert.equal(released.actions[0]?.op === "release" && released.actions[0].staleUid, "pvc-uid");
});
