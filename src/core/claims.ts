/** The desired per-namespace topology: the PVs of the shared volume and the PVCs bound to them. Pure. */
import { type ModelObject, objectsOf, type RepoModel, str } from "./model.ts";
import { claimedVolumes, isSharedPv as isSharedOne } from "./shared-pv.ts";

const claimedCache = new WeakMap<RepoModel, Set<string>>();

/** Is this PV one of the shared-volume PVs? The one definition is core/shared-pv.ts; this caches its inputs per model. */
export function isSharedPv(model: RepoModel, o: ModelObject): boolean {
  let claimed = claimedCache.get(model);
  if (!claimed) {
    claimed = claimedVolumes(objectsOf(model, "PersistentVolumeClaim"), model.conventions);
    claimedCache.set(model, claimed);
  }
  return isSharedOne(o, model.conventions, claimed);
}

const sharedCache = new WeakMap<RepoModel, ModelObject[]>();

/** The PVs of the shared volume, one per document (in delivery order). */
export function sharedPvs(model: RepoModel): ModelObject[] {
  const cached = sharedCache.get(model);
  if (cached) return cached;
  const out: ModelObject[] = [];
  const seen = new Set<string>();
  for (const o of objectsOf(model, "PersistentVolume")) {
    const key = `${o.doc.file}\0${o.doc.index}`;
    if (seen.has(key)) continue;
    if (isSharedPv(model, o)) {
      seen.add(key);
      out.push(o);
    }
  }
  sharedCache.set(model, out);
  return out;
}

/** PVCs named `claimName` (the per-namespace `kopia`), every delivered copy. */
export function repositoryClaims(model: RepoModel): ModelObject[] {
  return objectsOf(model, "PersistentVolumeClaim").filter((p) => p.name === model.conventions.claimName);
}

export interface RepositoryPair {
  /** The namespace the pair serves: the PVC's effective namespace, else the PV's claimRef namespace, else its name suffix. */
  namespace: string;
  pvc: ModelObject | undefined;
  pv: ModelObject | undefined;
  /** Id of the Flux Kustomization delivering the PVC (else the PV). */
  via: string | undefined;
}

/**
 * The declared per-namespace PV/PVC pairs (the desired topology `drift` compares with the cluster):
 * one entry per PVC `kopia`, joined with the PV its volumeName names, plus shared PVs no claim names.
 */
export function repositoryPairs(model: RepoModel): RepositoryPair[] {
  const c = model.conventions;
  const pvs = sharedPvs(model);
  const pvByName = new Map<string, ModelObject>();
  for (const pv of objectsOf(model, "PersistentVolume")) if (!pvByName.has(pv.name)) pvByName.set(pv.name, pv);
  const out: RepositoryPair[] = [];
  const used = new Set<string>();
  const seenClaims = new Set<string>();
  for (const pvc of repositoryClaims(model)) {
    const ns = pvc.namespace ?? "";
    if (seenClaims.has(ns)) continue;
    seenClaims.add(ns);
    const vn = str(pvc.body, "spec", "volumeName");
    const pv = vn !== undefined ? pvByName.get(vn) : undefined;
    if (pv) used.add(pv.name);
    out.push({ namespace: ns, pvc, pv, via: pvc.via });
  }
  for (const pv of pvs) {
    if (used.has(pv.name)) continue;
    used.add(pv.name);
    const ns =
      str(pv.body, "spec", "claimRef", "namespace") ??
      (pv.name.startsWith(c.pvPrefix) ? pv.name.slice(c.pvPrefix.length) : "");
    out.push({ namespace: ns, pvc: undefined, pv, via: pv.via });
  }
  return out.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
}
