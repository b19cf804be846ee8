/** What backups need: the severity of a delivery problem depends on it. Pure. */
import { isSharedPv } from "./claims.ts";
import { isKopiur, isVolsync, type ModelObject, perModel, type RepoModel, rec } from "./model.ts";
import { claimVolumes, podOf } from "./pods.ts";

/**
 * Is this object part of the backup system? Volsync and Kopiur objects, the per-namespace PVC and the
 * shared PVs, a Secret or ExternalSecret that holds a Kopia repository or password, a
 * MutatingAdmissionPolicy (or binding) that wires movers, and workloads that mount the repository PVC.
 */
export function concernsBackups(model: RepoModel, o: ModelObject): boolean {
  if (isVolsync(o) || isKopiur(o)) return true;
  const c = model.conventions;
  switch (o.kind) {
    case "PersistentVolumeClaim":
      return o.name === c.claimName;
    case "PersistentVolume":
      return isSharedPv(model, o);
    case "ExternalSecret":
      return rec(o.body, "spec", "target", "template", "data")?.KOPIA_REPOSITORY !== undefined;
    case "Secret":
      return (
        rec(o.body, "stringData")?.KOPIA_REPOSITORY !== undefined || rec(o.body, "data")?.KOPIA_REPOSITORY !== undefined
      );
    case "MutatingAdmissionPolicy":
    case "MutatingAdmissionPolicyBinding":
      return /volsync|kopia/i.test(o.name) || JSON.stringify(o.body).includes(`"${c.claimName}"`);
    default: {
      const p = podOf(o);
      return p !== undefined && claimVolumes(p, c.claimName).length > 0;
    }
  }
}

/**
 * Ids of the Flux Kustomizations whose failure stops something backups need: those that deliver an
 * object of the backup system, and every Kustomization that delivers one of those (a failing parent
 * stops its children's updates).
 */
export const backupKustomizations = perModel((model: RepoModel): Set<string> => {
  const out = new Set<string>();
  const parentOf = new Map<string, string | undefined>();
  for (const ks of model.kustomizations) parentOf.set(ks.id, ks.parent);
  const mark = (id: string | undefined) => {
    for (let cur = id; cur !== undefined && !out.has(cur); cur = parentOf.get(cur)) out.add(cur);
  };
  for (const o of model.objects) if (o.via !== undefined && !out.has(o.via) && concernsBackups(model, o)) mark(o.via);
  return out;
});

/** Does a problem in these Kustomizations (any of them) stop something backups need? */
export function stopsBackups(model: RepoModel, ids: readonly (string | undefined)[]): boolean {
  const set = backupKustomizations(model);
  return ids.some((id) => id !== undefined && set.has(id));
}
