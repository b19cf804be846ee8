/**
 * A model of what a cluster runs: objects as the API serves them, as model objects (files mode: every
 * object counts, as served), so that the one resolution of core/transport.ts answers for live objects
 * exactly as for the repository's (`graph --live` draws it, `doctor` asks which PVC each consumer needs).
 * Objects have no file: their `doc.file` is "" and renderers leave the location out. Pure.
 */
import type { Conventions } from "./config.ts";
import { type ModelObject, type RepoModel, rec } from "./model.ts";
import { claimNeeded } from "./transport.ts";

export function modelFromObjects(objects: readonly Record<string, unknown>[], conventions: Conventions): RepoModel {
  const out: ModelObject[] = [];
  objects.forEach((body, index) => {
    const meta = rec(body.metadata) ?? {};
    const name = meta.name;
    if (typeof body.kind !== "string" || typeof body.apiVersion !== "string" || typeof name !== "string") return;
    const doc = { file: "", index, line: 0 };
    out.push({
      apiVersion: body.apiVersion,
      kind: body.kind,
      name,
      namespace: typeof meta.namespace === "string" ? meta.namespace : undefined,
      body,
      raw: body,
      doc,
      file: "",
      line: 0,
      via: undefined,
      component: undefined,
      vars: [],
      literal: [],
    });
  });
  return {
    root: "",
    conventions,
    mode: "files",
    roots: "none",
    kustomizations: [],
    kustomizeDirs: [],
    objects: out,
    sources: [],
    fluxInstance: false,
    issues: [],
    buildErrors: [],
    excludedClaims: [],
    unfollowed: [],
  };
}

/**
 * The PVC each of `consumers` needs in its namespace (transport.ts `claimNeeded`, lint's resolution), on a
 * model of everything in `objects` (the consumers themselves, PVs, PVCs, Kopiur ClusterRepositories,
 * admission policies: whatever was read). undefined: none (NFS, an object store). Doctor's snapshot and
 * the controller ask this one question the same way.
 */
export function claimsNeeded(
  objects: readonly Record<string, unknown>[],
  consumers: ReadonlySet<Record<string, unknown>>,
  conventions: Conventions,
): Map<Record<string, unknown>, string | undefined> {
  const out = new Map<Record<string, unknown>, string | undefined>();
  if (consumers.size === 0) return out;
  const model = modelFromObjects(objects, conventions);
  for (const m of model.objects) if (consumers.has(m.body)) out.set(m.body, claimNeeded(model, m));
  return out;
}
