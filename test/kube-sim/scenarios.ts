// Scenario builders: seed a simulator with the shared-repository topology of the seed document
// and the ways it goes wrong. Everything goes through sim.store, so the PV binder reacts exactly
// as it does to API writes.

import type { CrdSet, Sim } from "./index.ts";
import { clone, dig, isObject, type JsonObject, type KubeObject, str } from "./types.ts";

export const SEED = {
  driver: "cephfs.csi.ceph.com",
  storageClassName: "csi-cephfs-backups-sc",
  capacity: "200Gi",
  clusterID: "407036f5-1f73-44ff-ba81-1f219b7a8a64",
  fsName: "backups",
  handle: "0001-0024-407036f5-1f73-44ff-ba81-1f219b7a8a64-000000000000000b-841e604c-1dd5-4a09-8763-84e672d78c4e",
  subvolumePath: "/volumes/csi/backups/841e604c-1dd5-4a09-8763-84e672d78c4e",
  /** What `ceph fs subvolume getpath backups csi-vol-<handle's UUID> csi` prints for `handle` (a v2 subvolume). */
  handleSubvolumePath: "/volumes/csi/csi-vol-841e604c-1dd5-4a09-8763-84e672d78c4e/6f1c9e55-0d3b-4c3e-9a39-2f6a7d0c1b11",
  secret: { name: "csi-ceph-admin-secret", namespace: "ceph-csi" },
  repositoryNamespace: "volsync-system",
  pvcName: "kopia",
} as const;

export type PvStyle = "shared-handle" | "static";

export const pvName = (ns: string) => `kopia-repository-pv-${ns}`;

/** N -> ns-001..ns-N; a list is returned as is. */
export function namespaceNames(namespaces: number | string[]): string[] {
  if (Array.isArray(namespaces)) return [...namespaces];
  const width = Math.max(3, String(namespaces).length);
  return Array.from({ length: namespaces }, (_, i) => `ns-${String(i + 1).padStart(width, "0")}`);
}

export interface PvOptions {
  style?: PvStyle;
  handle?: string;
  claimRef?: boolean;
  storageClassName?: string;
  capacity?: string;
  accessModes?: string[];
  reclaimPolicy?: "Retain" | "Delete" | "Recycle";
  rootPath?: string;
}

/** The PV manifest of the seed for one namespace. */
export function pvObject(ns: string, o: PvOptions = {}): KubeObject {
  const style = o.style ?? "shared-handle";
  const volumeAttributes: Record<string, string> =
    style === "static"
      ? {
          clusterID: SEED.clusterID,
          fsName: SEED.fsName,
          staticVolume: "true",
          rootPath: o.rootPath ?? SEED.subvolumePath,
        }
      : { clusterID: SEED.clusterID, fsName: SEED.fsName, "storage.kubernetes.io/csiProvisionerIdentity": SEED.driver };
  const spec: JsonObject = {
    capacity: { storage: o.capacity ?? SEED.capacity },
    accessModes: o.accessModes ?? ["ReadWriteMany"],
    persistentVolumeReclaimPolicy: o.reclaimPolicy ?? "Retain",
    storageClassName: o.storageClassName ?? SEED.storageClassName,
    csi: {
      driver: SEED.driver,
      nodeStageSecretRef: { ...SEED.secret },
      volumeAttributes,
      volumeHandle: style === "static" ? pvName(ns) : (o.handle ?? SEED.handle),
    },
    volumeMode: "Filesystem",
  };
  if (o.claimRef ?? true) spec.claimRef = { namespace: ns, name: SEED.pvcName };
  return { apiVersion: "v1", kind: "PersistentVolume", metadata: { name: pvName(ns) }, spec };
}

export interface PvcOptions {
  volumeName?: string | null;
  storageClassName?: string;
  storage?: string;
  accessModes?: string[];
  name?: string;
}

/** The PVC manifest of the seed (`kopia`, pinned to its PV by volumeName). */
export function pvcObject(ns: string, o: PvcOptions = {}): KubeObject {
  const spec: JsonObject = {
    accessModes: o.accessModes ?? ["ReadWriteMany"],
    storageClassName: o.storageClassName ?? SEED.storageClassName,
    resources: { requests: { storage: o.storage ?? SEED.capacity } },
  };
  if (o.volumeName !== null) spec.volumeName = o.volumeName ?? pvName(ns);
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: o.name ?? SEED.pvcName, namespace: ns },
    spec,
  };
}

export function storageClassObject(): KubeObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: SEED.storageClassName },
    provisioner: SEED.driver,
    parameters: {
      clusterID: SEED.clusterID,
      fsName: SEED.fsName,
      "csi.storage.k8s.io/provisioner-secret-name": SEED.secret.name,
      "csi.storage.k8s.io/provisioner-secret-namespace": SEED.secret.namespace,
      "csi.storage.k8s.io/node-stage-secret-name": SEED.secret.name,
      "csi.storage.k8s.io/node-stage-secret-namespace": SEED.secret.namespace,
    },
    reclaimPolicy: "Retain",
    allowVolumeExpansion: true,
    volumeBindingMode: "Immediate",
  };
}

export function ensureNamespace(sim: Sim, ns: string): void {
  if (!sim.store.get("namespaces", ns)) {
    sim.store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  }
}

export interface SharedRepositoryOptions {
  namespaces: number | string[];
  style: PvStyle;
  handle?: string;
  /** Pre-bind each PV to its PVC with claimRef {namespace, name} (default true). */
  claimRef?: boolean;
  /** Also create the StorageClass (default true). */
  storageClass?: boolean;
}

export interface SharedRepository {
  /** The application namespaces (without volsync-system). */
  namespaces: string[];
  pvs: KubeObject[];
  pvcs: KubeObject[];
}

/** volsync-system + one PV/PVC pair per namespace, all Bound. */
export function sharedRepository(sim: Sim, o: SharedRepositoryOptions): SharedRepository {
  const apps = namespaceNames(o.namespaces).filter((n) => n !== SEED.repositoryNamespace);
  if ((o.storageClass ?? true) && !sim.store.get("storageclasses", SEED.storageClassName)) {
    sim.store.create(storageClassObject());
  }
  const pvs: KubeObject[] = [];
  const pvcs: KubeObject[] = [];
  for (const ns of [SEED.repositoryNamespace, ...apps]) {
    ensureNamespace(sim, ns);
    sim.store.create(pvObject(ns, { style: o.style, handle: o.handle, claimRef: o.claimRef }));
    sim.store.create(pvcObject(ns));
  }
  for (const ns of [SEED.repositoryNamespace, ...apps]) {
    const pv = sim.store.get("persistentvolumes", pvName(ns));
    const pvc = sim.store.get("persistentvolumeclaims", SEED.pvcName, ns);
    if (pv) pvs.push(pv);
    if (pvc) pvcs.push(pvc);
  }
  return { namespaces: apps, pvs, pvcs };
}

export interface ScenarioResult {
  pv?: KubeObject;
  pvc?: KubeObject;
  events: KubeObject[];
}

function result(sim: Sim, ns: string, pvcName: string = SEED.pvcName): ScenarioResult {
  const pvc = sim.store.get("persistentvolumeclaims", pvcName, ns);
  return {
    pv: sim.store.get("persistentvolumes", pvName(ns)),
    pvc,
    events: sim.store
      .list("events", { namespace: ns })
      .filter((e) => pvc && dig(e, "involvedObject", "uid") === pvc.metadata.uid),
  };
}

function currentPvc(sim: Sim, ns: string): KubeObject {
  return sim.store.get("persistentvolumeclaims", SEED.pvcName, ns) ?? pvcObject(ns);
}

/** Re-creatable copy of a PVC: same spec, no server-set fields. */
function fresh(pvc: KubeObject): KubeObject {
  const spec = clone(isObject(pvc.spec) ? pvc.spec : {});
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: pvc.metadata.name, namespace: pvc.metadata.namespace, labels: pvc.metadata.labels },
    spec,
  };
}

/** PVC deleted and recreated: the Retain PV is Released with the old claimRef.uid, the new PVC Pending. */
export function releasedPv(sim: Sim, ns: string): ScenarioResult {
  const pvc = currentPvc(sim, ns);
  sim.store.delete("persistentvolumeclaims", SEED.pvcName, ns);
  sim.store.create(fresh(pvc));
  return result(sim, ns);
}

/**
 * The namespace's PV loses its reservation (PVC deleted, claimRef removed), a thief PVC without
 * volumeName binds it, and the recreated <ns>/kopia stays Pending ("already bound to a different claim").
 */
export function stolenPv(
  sim: Sim,
  ns: string,
  thief: { namespace: string; name: string },
): ScenarioResult & { thief?: KubeObject } {
  const pvc = currentPvc(sim, ns);
  const pv = sim.store.get("persistentvolumes", pvName(ns)) ?? sim.store.create(pvObject(ns));
  sim.store.delete("persistentvolumeclaims", SEED.pvcName, ns);
  if (dig(sim.store.get("persistentvolumes", pvName(ns)), "spec", "claimRef") !== undefined) {
    sim.store.patch("persistentvolumes", pvName(ns), undefined, "application/json-patch+json", [
      { op: "remove", path: "/spec/claimRef" },
    ]);
  }
  ensureNamespace(sim, thief.namespace);
  sim.store.create(
    pvcObject(thief.namespace, {
      name: thief.name,
      volumeName: null,
      storage: str(dig(pv, "spec", "capacity", "storage")),
      storageClassName: str(dig(pv, "spec", "storageClassName")),
    }),
  );
  sim.store.create(fresh(pvc));
  return { ...result(sim, ns), thief: sim.store.get("persistentvolumeclaims", thief.name, thief.namespace) };
}

/**
 * The namespace's PV is replaced (delete + create, since spec.csi is immutable) by one pointing
 * at another subvolume: a different volumeHandle (shared-handle style) or rootPath (static
 * style). The PVC is recreated and Bound to it.
 */
export function mismatchedHandle(sim: Sim, ns: string, other?: string): ScenarioResult {
  const old = sim.store.get("persistentvolumes", pvName(ns));
  const isStatic = dig(old, "spec", "csi", "volumeAttributes", "staticVolume") === "true";
  const pvc = currentPvc(sim, ns);
  sim.store.delete("persistentvolumeclaims", SEED.pvcName, ns);
  if (old) sim.store.delete("persistentvolumes", pvName(ns));
  ensureNamespace(sim, ns);
  const otherHandle =
    other ?? SEED.handle.replace(/841e604c-1dd5-4a09-8763-84e672d78c4e$/, "0badc0de-0000-4000-8000-000000000001");
  sim.store.create(
    pvObject(ns, {
      style: isStatic ? "static" : "shared-handle",
      handle: isStatic ? undefined : otherHandle,
      rootPath: isStatic ? (other ?? "/volumes/csi/backups/0badc0de-0000-4000-8000-000000000001") : undefined,
    }),
  );
  sim.store.create(fresh(pvc));
  return result(sim, ns);
}

export type PendingReason = "missing-pv" | "class" | "size" | "access-modes";

/**
 * <ns>/kopia stays Pending. missing-pv: its PV does not exist (the real controller emits no event).
 * class / size / access-modes: the PV exists, unreserved, with storageClassName "csi-cephfs-sc",
 * capacity 1Gi or ReadWriteOnce, and the binder records a VolumeMismatch event. (A PV pre-bound
 * with claimRef would be bound regardless of these mismatches, as the real controller does.)
 */
export function pendingPvc(sim: Sim, ns: string, reason: PendingReason): ScenarioResult {
  ensureNamespace(sim, ns);
  sim.store.delete("persistentvolumeclaims", SEED.pvcName, ns);
  const existing = sim.store.get("persistentvolumes", pvName(ns));
  const isStatic = dig(existing, "spec", "csi", "volumeAttributes", "staticVolume") === "true";
  if (existing) sim.store.delete("persistentvolumes", pvName(ns));
  if (reason !== "missing-pv") {
    const style: PvStyle = isStatic ? "static" : "shared-handle";
    const wrong: PvOptions =
      reason === "class"
        ? { storageClassName: "csi-cephfs-sc" }
        : reason === "size"
          ? { capacity: "1Gi" }
          : { accessModes: ["ReadWriteOnce"] };
    sim.store.create(pvObject(ns, { style, claimRef: false, ...wrong }));
  }
  sim.store.create(pvcObject(ns));
  return result(sim, ns);
}

/** Annotates the namespace with volsync.backube/privileged-movers: "true". */
export function privilegedMovers(sim: Sim, ns: string): KubeObject {
  ensureNamespace(sim, ns);
  return sim.store.patch("namespaces", ns, undefined, "application/merge-patch+json", {
    metadata: { annotations: { "volsync.backube/privileged-movers": "true" } },
  });
}

export interface ReplicationSourceOptions {
  schedule?: string;
  lastSyncTime?: string;
  /** Name of the kopia repository Secret (default `<name>-volsync-secret`). */
  repository?: string;
  /** Extra fields merged into spec.kopia. */
  kopia?: JsonObject;
}

/** A volsync.backube/v1alpha1 ReplicationSource (requires crds: ["volsync"]). */
export function replicationSource(sim: Sim, ns: string, name: string, o: ReplicationSourceOptions = {}): KubeObject {
  ensureNamespace(sim, ns);
  const status: JsonObject = {
    conditions: [
      {
        type: "Synchronizing",
        status: "False",
        reason: "WaitingForSchedule",
        message: "Waiting for next scheduled synchronization",
        lastTransitionTime: o.lastSyncTime ?? `${new Date().toISOString().slice(0, 19)}Z`,
      },
    ],
  };
  if (o.lastSyncTime) {
    status.lastSyncTime = o.lastSyncTime;
    status.lastSyncDuration = "1m0s";
  }
  return sim.store.create({
    apiVersion: "volsync.backube/v1alpha1",
    kind: "ReplicationSource",
    metadata: { name, namespace: ns },
    spec: {
      sourcePVC: name,
      trigger: { schedule: o.schedule ?? "0 * * * *" },
      kopia: {
        repository: o.repository ?? `${name}-volsync-secret`,
        copyMethod: "Snapshot",
        moverSecurityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
        ...o.kopia,
      },
    },
    status,
  });
}

function mountPathOf(job: KubeObject, claim: string): string {
  const volumes = dig(job, "spec", "template", "spec", "volumes");
  const vol = Array.isArray(volumes)
    ? volumes.find((v) => dig(v, "persistentVolumeClaim", "claimName") === claim)
    : undefined;
  const volName = str(dig(vol, "name"));
  const containers = dig(job, "spec", "template", "spec", "containers");
  for (const c of Array.isArray(containers) ? containers : []) {
    const mounts = dig(c, "volumeMounts");
    for (const m of Array.isArray(mounts) ? mounts : []) {
      if (volName && dig(m, "name") === volName) return str(dig(m, "mountPath")) ?? "/repository";
    }
  }
  return "/repository";
}

function runAsUserOf(job: KubeObject): number {
  const podUser = dig(job, "spec", "template", "spec", "securityContext", "runAsUser");
  const c0User = dig(job, "spec", "template", "spec", "containers", 0, "securityContext", "runAsUser");
  return Number(c0User ?? podUser ?? 1000);
}

/**
 * Jobs in <ns> fail with a permission-denied log, as if the repository directory were owned by
 * `uid` and not writable by the probe. Wraps the current sim.jobRunner (other namespaces unchanged).
 * Log lines: `touch: cannot touch '<mount>/repository/.kopiashare-probe-<job>': Permission denied`,
 * `owner of <mount>/repository: uid=<uid>`, `probe ran as: uid=<runAsUser>`.
 */
export function permissionDeniedProbe(sim: Sim, ns: string, uid: number): void {
  const previous = sim.jobRunner;
  sim.jobRunner = (job, ctx) => {
    if (ctx.namespace !== ns) return previous(job, ctx);
    const root = `${mountPathOf(job, SEED.pvcName)}/repository`;
    return {
      succeeded: false,
      logs: [
        `touch: cannot touch '${root}/.kopiashare-probe-${job.metadata.name ?? "job"}': Permission denied`,
        `owner of ${root}: uid=${uid}`,
        `probe ran as: uid=${runAsUserOf(job)}`,
        "",
      ].join("\n"),
    };
  };
}

/** Volsync's KopiaMaintenance for the shared repository (requires crds: ["volsync"], kopiamaintenances served). */
export function kopiaMaintenance(sim: Sim, ns: string = SEED.repositoryNamespace, name = "kopia"): KubeObject {
  ensureNamespace(sim, ns);
  return sim.store.create({
    apiVersion: "volsync.backube/v1alpha1",
    kind: "KopiaMaintenance",
    metadata: { name, namespace: ns },
    spec: { repository: { repository: "kopia-volsync-secret" }, trigger: { schedule: "0 3 * * *" } },
  });
}

export interface KopiurStatus {
  /** Ready / Initializing / Stalled (the condition set to True; the others False). */
  phase?: "Ready" | "Initializing" | "Stalled";
  message?: string;
}

function kopiurConditions(s: KopiurStatus): JsonObject {
  const phase = s.phase ?? "Ready";
  const now = `${new Date().toISOString().slice(0, 19)}Z`;
  return {
    conditions: ["Ready", "Initializing", "Stalled"].map((type) => ({
      type,
      status: type === phase ? "True" : "False",
      reason: type === phase ? phase : `Not${type}`,
      message: type === phase ? (s.message ?? `repository is ${phase.toLowerCase()}`) : "",
      lastTransitionTime: now,
    })),
  };
}

/**
 * Kopiur's objects for the shared repository (requires crds: ["kopiur"]): ClusterRepository `kopia`
 * on PVC `claim` (default kopia, whose PV is the subvolume's root: Kopiur would not find the repository
 * in repository/ there; kopiurRoot is kopiashare's setup) at `path` (spec.allowedNamespaces.list = namespaces, moverDefaults.securityContext.runAsUser =
 * moverUid, default 1000; status conditions from `phase`), its Maintenance in volsync-system (where served, unless maintenance: false), and per namespace
 * a SnapshotPolicy + SnapshotSchedule of `app` that mount PVC `kopia` (hourly, last succeeded 10 minutes ago).
 */
export function kopiurRepository(
  sim: Sim,
  namespaces: string[],
  o: KopiurStatus & { maintenance?: boolean; moverUid?: number; claim?: string; path?: string } = {},
): void {
  const api = "kopiur.home-operations.com/v1alpha1";
  sim.store.create({
    apiVersion: api,
    kind: "ClusterRepository",
    metadata: { name: "kopia" },
    spec: {
      backend: {
        filesystem: { path: o.path ?? "/repository/repository", volume: { pvc: { name: o.claim ?? SEED.pvcName } } },
      },
      create: { enabled: false },
      allowedNamespaces: { list: namespaces },
      moverDefaults: { securityContext: { runAsUser: o.moverUid ?? 1000, runAsGroup: o.moverUid ?? 1000 } },
    },
    status: kopiurConditions(o),
  });
  if (o.maintenance ?? sim.store.registry.find("maintenances.kopiur.home-operations.com") !== undefined) {
    ensureNamespace(sim, SEED.repositoryNamespace);
    sim.store.create({
      apiVersion: api,
      kind: "Maintenance",
      metadata: { name: "kopia", namespace: SEED.repositoryNamespace },
      spec: { repository: { kind: "ClusterRepository", name: "kopia" }, schedule: { full: { cron: "0 3 * * *" } } },
    });
  }
  for (const ns of namespaces) {
    ensureNamespace(sim, ns);
    sim.store.create({
      apiVersion: api,
      kind: "SnapshotPolicy",
      metadata: { name: "app", namespace: ns },
      spec: { repository: { kind: "ClusterRepository", name: "kopia" }, volume: { pvc: { name: SEED.pvcName } } },
    });
    sim.store.create({
      apiVersion: api,
      kind: "SnapshotSchedule",
      metadata: { name: "app", namespace: ns },
      spec: { policyRef: { name: "app" }, schedule: { cron: "0 * * * *" } },
      status: { lastSuccessfulSchedule: { at: new Date(Date.now() - 10 * 60_000).toISOString() } },
    });
  }
}

export const KOPIUR_CLAIM = "kopia-kopiur";
export const kopiurPvName = (ns: string) => `${KOPIUR_CLAIM}-${ns}`;

/**
 * kopiashare's Kopiur setup on the shared repository (call sharedRepository first; requires crds: ["kopiur"]):
 * in volsync-system and each namespace, PVC `kopia-kopiur` bound to PV `kopia-kopiur-<ns>`, a ceph-csi static
 * volume whose rootPath is the subvolume's path (a static repository PV's rootPath, else SEED.handleSubvolumePath)
 * plus `/<dir>` (default `repository`, where the repository is; "" the subvolume's root), or `rootPath`, and the
 * ClusterRepository on that claim at /repository (kopiurRepository, with its options).
 */
export function kopiurRoot(
  sim: Sim,
  namespaces: string[],
  o: Parameters<typeof kopiurRepository>[2] & { dir?: string; rootPath?: string } = {},
): void {
  const repoPv = sim.store.get("persistentvolumes", pvName(SEED.repositoryNamespace));
  const attrs = (key: string) => str(dig(repoPv, "spec", "csi", "volumeAttributes", key));
  const base = attrs("staticVolume") === "true" ? (attrs("rootPath") ?? SEED.subvolumePath) : SEED.handleSubvolumePath;
  const dir = o.dir ?? "repository";
  const rootPath = o.rootPath ?? (dir === "" ? base : `${base.replace(/\/+$/, "")}/${dir}`);
  for (const ns of new Set([SEED.repositoryNamespace, ...namespaces])) {
    ensureNamespace(sim, ns);
    const pv = pvObject(ns, { style: "static", rootPath });
    pv.metadata.name = kopiurPvName(ns);
    const spec = pv.spec as JsonObject;
    spec.claimRef = { namespace: ns, name: KOPIUR_CLAIM };
    (spec.csi as JsonObject).volumeHandle = kopiurPvName(ns);
    sim.store.create(pv);
    sim.store.create(pvcObject(ns, { name: KOPIUR_CLAIM, volumeName: kopiurPvName(ns) }));
  }
  kopiurRepository(sim, namespaces, { path: "/repository", ...o, claim: KOPIUR_CLAIM });
}

/**
 * What a Kubernetes minor release 1.29 .. 1.36 serves of the MutatingAdmissionPolicy API:
 * none before 1.32; v1alpha1 (1.32, 1.33) or v1beta1 (1.34, 1.35) only with the feature gate
 * MutatingAdmissionPolicy and --runtime-config; v1 from 1.36 by default.
 */
export function kubernetesRelease(
  minor: number,
  o: { mutatingAdmissionPolicyGate?: boolean } = {},
): { version: { major: string; minor: string }; crds: CrdSet[] } {
  if (minor < 29 || minor > 36) throw new Error(`kube-sim: no release 1.${minor} modelled (1.29 .. 1.36)`);
  const gate = o.mutatingAdmissionPolicyGate ?? false;
  const crds: CrdSet[] = [];
  if (minor >= 36) crds.push("mutatingadmissionpolicy-v1");
  else if (minor >= 34 && gate) crds.push("mutatingadmissionpolicy-v1beta1");
  else if (minor >= 32 && gate) crds.push("mutatingadmissionpolicy-v1alpha1");
  return { version: { major: "1", minor: String(minor) }, crds };
}
