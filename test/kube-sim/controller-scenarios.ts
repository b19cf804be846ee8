// Scenario builders for `kopiashare controller` tests and benchmarks: the repository pair, namespaces
// that opt in by label, Volsync consumers that reach the repository through the PVC or over NFS, pods
// that mount a claim, and what to measure (convergence, writes per namespace). Store writes only, so
// the request log holds the controller's requests alone.

import type { Sim } from "./index.ts";
import {
  ensureNamespace,
  pvcObject,
  pvName,
  pvObject,
  replicationSource,
  SEED,
  storageClassObject,
} from "./scenarios.ts";
import { dig, type KubeObject, str } from "./types.ts";

export const OPT_IN_LABEL = "kopiashare.io/repository";
export const REPOSITORY_PV = pvName(SEED.repositoryNamespace);

/** The StorageClass and the repository's own PV and PVC (volsync-system/kopia, Bound). */
export function repositoryPair(sim: Sim): void {
  if (!sim.store.get("storageclasses", SEED.storageClassName)) sim.store.create(storageClassObject());
  ensureNamespace(sim, SEED.repositoryNamespace);
  sim.store.create(pvObject(SEED.repositoryNamespace, { style: "shared-handle" }));
  sim.store.create(pvcObject(SEED.repositoryNamespace));
}

/** A namespace with `kopiashare.io/repository=<repository>` (created, or labelled when it exists). */
export function optIn(sim: Sim, ns: string, repository = "kopia"): void {
  ensureNamespace(sim, ns);
  const obj = sim.store.get("namespaces", ns) as KubeObject;
  sim.store.update({
    ...obj,
    metadata: { ...obj.metadata, labels: { ...obj.metadata.labels, [OPT_IN_LABEL]: repository } },
  });
}

/** Removes the opt-in label. */
export function optOut(sim: Sim, ns: string): void {
  const obj = sim.store.get("namespaces", ns) as KubeObject;
  const { [OPT_IN_LABEL]: _, ...labels } = obj.metadata.labels ?? {};
  sim.store.update({ ...obj, metadata: { ...obj.metadata, labels } });
}

/**
 * A Volsync ReplicationSource with the Kopia mover whose repository lies on a mover volume: PVC `kopia`
 * (`via: "pvc"`, the namespace needs the claim) or an NFS export (`via: "nfs"`, it does not).
 * Needs crds: ["volsync"].
 */
export function kopiaSource(sim: Sim, ns: string, name: string, via: "pvc" | "nfs"): KubeObject {
  const volumeSource =
    via === "pvc"
      ? { persistentVolumeClaim: { claimName: SEED.pvcName } }
      : { nfs: { server: "nas.example.lan", path: "/export/kopia" } };
  return replicationSource(sim, ns, name, { kopia: { moverVolumes: [{ mountPath: "repository", volumeSource }] } });
}

/** A running Pod in `ns` that mounts PVC `claim`; `hold` gives it a finalizer so a namespace deletion cannot remove it. */
export function podMounting(
  sim: Sim,
  ns: string,
  name: string,
  claim: string = SEED.pvcName,
  hold = false,
): KubeObject {
  return sim.store.create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, ...(hold ? { finalizers: ["example.com/hold"] } : {}) },
    spec: {
      containers: [{ name: "app", image: "busybox" }],
      volumes: [{ name: "repo", persistentVolumeClaim: { claimName: claim } }],
    },
    status: { phase: "Running" },
  });
}

/** Removes every finalizer of an object (the hold of podMounting, say): it goes if it was being deleted. */
export function dropFinalizers(sim: Sim, type: string, name: string, ns?: string): void {
  const o = sim.store.get(type, name, ns);
  if (o) sim.store.update({ ...o, metadata: { ...o.metadata, finalizers: [] } });
}

/** The namespace's PVC `kopia` and its PV are both Bound to each other. */
export function isConverged(sim: Sim, ns: string): boolean {
  const pvc = sim.store.get("persistentvolumeclaims", SEED.pvcName, ns);
  const pv = sim.store.get("persistentvolumes", pvName(ns));
  return (
    str(dig(pvc as KubeObject, "status", "phase")) === "Bound" &&
    str(dig(pv as KubeObject, "status", "phase")) === "Bound" &&
    str(dig(pvc as KubeObject, "spec", "volumeName")) === pvName(ns) &&
    str(dig(pv as KubeObject, "spec", "claimRef", "uid")) === pvc?.metadata.uid
  );
}

/** The namespace whose PV or PVC a request wrote, or undefined (another resource). */
export function storageNamespaceOf(r: { path: string }): string | undefined {
  const claim = /\/namespaces\/([^/]+)\/persistentvolumeclaims(\/|$)/.exec(r.path);
  if (claim) return claim[1];
  const pv = /\/persistentvolumes\/kopia-repository-pv-([^/]+)$/.exec(r.path);
  return pv?.[1];
}

export interface StorageWrites {
  /** Successful (2xx) PV/PVC writes per namespace. */
  ok: Map<string, number>;
  /** PV/PVC writes that failed (injected faults, conflicts). */
  failed: number;
}

/** PV/PVC writes (POST/PUT/PATCH/DELETE) among the requests logged from index `from`. */
export function storageWrites(sim: Sim, from = 0): StorageWrites {
  const ok = new Map<string, number>();
  let failed = 0;
  for (const r of sim.requests.slice(from)) {
    if (r.method === "GET") continue;
    const ns = storageNamespaceOf(r);
    if (ns === undefined) continue;
    if (r.status >= 200 && r.status < 300) ok.set(ns, (ok.get(ns) ?? 0) + 1);
    else failed++;
  }
  return { ok, failed };
}
