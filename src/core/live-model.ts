/**
 * A model of what a cluster runs: objects as the API serves them, as model objects (files mode: every
 * object counts, as served), so that the one resolution of core/transport.ts answers for live objects
 * exactly as for the repository's (`graph --live` draws it, `doctor` asks which PVC each consumer needs).
 * Objects have no file: their `doc.file` is "" and renderers leave the location out. Pure.
 */
import type { Conventions } from "./config.ts";
import { type ModelObject, type RepoModel, rec } from "./model.ts";

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
