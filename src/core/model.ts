/**
 * The resolved model of a GitOps checkout: what Flux would apply, object by object, with effective
 * namespaces and source locations. Built by `gitops/delivery.ts` (`resolveDelivery`), read by rules (`core/rules`)
 * and by commands that compare desired and observed topology (`drift`, `verify`).
 *
 * This file holds the types, the kinds, the small readers and the indexes. The queries live by concern:
 * consumers.ts (who uses the repository), claims.ts (the shared PVs and the `kopia` claims), pods.ts
 * (mounts and users), backups.ts (what backups need). Pure: nothing here touches the file system.
 */
import type { Conventions } from "./config.ts";
import type { VarUse } from "./substitute.ts";

/** Where a YAML document is: repo-relative file, 0-based document index, 1-based first content line. */
export interface DocRef {
  file: string;
  index: number;
  line: number;
}

/** A place in the repository a finding can point at. */
export interface Loc {
  file: string;
  line: number;
}

/** A `${...}` expression in an object, with the key path of the string that holds it. */
export interface VarOccurrence {
  path: (string | number)[];
  use: VarUse;
}

/** One object as Flux would apply it: one copy per Flux Kustomization that delivers its document. */
export interface ModelObject {
  apiVersion: string;
  kind: string;
  /** metadata.name after substitution. */
  name: string;
  /**
   * Effective namespace: the delivering Kustomization's `targetNamespace`, else the outermost kustomize
   * `namespace:`, else metadata.namespace. Undefined for cluster-scoped kinds and when nothing sets it.
   * Never inferred from folder names.
   */
  namespace: string | undefined;
  /** The object after postBuild substitution (the same object as `raw` when nothing was substituted). */
  body: Record<string, unknown>;
  /** The object before postBuild substitution: the document as written, after kustomize and Flux patches. */
  raw: Record<string, unknown>;
  doc: DocRef;
  /** Source location of the document (same as doc.file / doc.line). */
  file: string;
  line: number;
  /** Id (`namespace/name`) of the Flux Kustomization that delivers this copy; undefined in files mode. */
  via: string | undefined;
  /** Repo-relative dir of the kustomize Component the object came through, if any. */
  component: string | undefined;
  /**
   * `${...}` expressions of this copy that did not take a set value: defaults used, variables missing,
   * values unknown offline (empty when the Kustomization has no postBuild). Shared arrays: do not mutate.
   */
  vars: VarOccurrence[];
  /** `${...}` left in the object because its Kustomization has no postBuild (applied literally). */
  literal: VarOccurrence[];
}

/** A reference to a file or folder that kustomize or Flux must find. */
export interface PathRef {
  /** As written, e.g. "../../components/volsync". */
  entry: string;
  /** Repo-relative, normalised ('' is the repo root); undefined when it leaves the repository. */
  target: string | undefined;
  exists: boolean;
  /** A URL or remote base: not checked. */
  remote: boolean;
  /** A folder listed as a kustomize resource that has no kustomization.yaml (kustomize build fails). */
  noKustomization?: boolean;
  loc: Loc;
}

export interface SubstituteFrom {
  kind: string;
  name: string;
  optional: boolean;
  /** The ConfigMap/Secret was found in the repository (declared, generated, or made by an ExternalSecret). */
  found: boolean;
  /** Its keys are known offline (false for an ExternalSecret that extracts whole remote secrets). */
  keysKnown: boolean;
  loc: Loc;
}

/** A Flux Kustomization (kustomize.toolkit.fluxcd.io), as delivered (after its parent's substitution). */
export interface FluxKs {
  /** `namespace/name`. */
  id: string;
  name: string;
  namespace: string;
  doc: DocRef;
  body: Record<string, unknown>;
  path: PathRef | undefined;
  components: PathRef[];
  targetNamespace: string | undefined;
  /** spec.postBuild is set: substitution runs (and strict mode applies). */
  postBuild: boolean;
  substitute: Record<string, string>;
  substituteFrom: SubstituteFrom[];
  dependsOn: { name: string; namespace: string; loc: Loc }[];
  sourceRef: { kind: string; name: string; namespace: string; loc: Loc } | undefined;
  /** Applied from a root Kustomization of the cluster. */
  reachable: boolean;
  /**
   * Its sourceRef is not the source the roots sync this repository from (another repository, an
   * OCIRepository, a Bucket): its path is not in this checkout, so it is neither rendered nor checked.
   */
  external: boolean;
  /**
   * Not applied on purpose: in a dot-folder (`.archive/`), or its entry is commented out in the
   * kustomization.yaml that would list it. Only meaningful when not reachable.
   */
  excluded: boolean;
  /** A root: applied by bootstrap (self-delivering, a FluxInstance's sync path, or guessed). */
  root: boolean;
  /** Id of the Kustomization that delivers this one. */
  parent: string | undefined;
  /** What it applies (empty when not reachable: it is not applied). */
  objects: ModelObject[];
  /** When not reachable: what it would apply if it were (to judge what its absence costs). */
  wouldApply: ModelObject[];
}

/** A kustomize kustomization.yaml (or Component). */
export interface KustomizeDir {
  dir: string;
  doc: DocRef;
  kind: "Kustomization" | "Component";
  namespace: string | undefined;
  resources: PathRef[];
  components: PathRef[];
  /** Ids of the reachable Flux Kustomizations that build this folder (directly or through others). */
  deliveredBy: string[];
}

export interface InputIssue {
  file: string;
  kind: "parse" | "too-large" | "too-complex" | "binary" | "symlink-loop" | "outside-repo" | "unreadable";
  message: string;
  line?: number;
  col?: number;
  /** Parse errors: ids of the reachable Flux Kustomizations that apply the file (absent: none known). */
  deliveredBy?: string[];
}

export interface RepoModel {
  root: string;
  conventions: Conventions;
  /**
   * "flux": objects are what reachable Flux Kustomizations deliver. "files": the repository has no
   * Flux Kustomization at all, so every object in every file counts, as written.
   */
  mode: "flux" | "files";
  /** How the roots were found: "bootstrap" (self-delivering or FluxInstance), or "guessed" (undelivered ones). */
  roots: "bootstrap" | "guessed" | "none";
  kustomizations: FluxKs[];
  kustomizeDirs: KustomizeDir[];
  /** Every delivered object copy, in delivery order. */
  objects: ModelObject[];
  /** Source objects (GitRepository, OCIRepository, Bucket) declared anywhere in the repo, and FluxInstances. */
  sources: { kind: string; name: string; namespace: string | undefined; doc: DocRef }[];
  /** Flux Operator FluxInstance declared: it creates the `flux-system` source itself. */
  fluxInstance: boolean;
  /** Parse errors in files Flux applies, and skipped files. */
  issues: InputIssue[];
  /**
   * Patches kustomize fails on (a JSON 6902 op on a path that does not exist, a type clash), with the
   * reachable Kustomizations whose build fails because of them.
   */
  buildErrors: { loc: Loc; message: string; kustomizations: string[] }[];
  /**
   * PVCs declared in a folder a reachable Kustomization builds, in a file its kustomization.yaml does not
   * list (left out on purpose, typically made by hand), with the namespace they would have had.
   */
  excludedClaims: { namespace: string; name: string; file: string }[];
  /** Roots whose source is not this checkout as it stands (an OCI artifact whose root folder is unknown). */
  unfollowed: { source: string; path: string; loc: Loc }[];
}

// ---------------------------------------------------------------------------------------------
// Kinds

export const VOLSYNC_GROUP = "volsync.backube/";

const CLUSTER_SCOPED = new Set([
  "Namespace",
  "PersistentVolume",
  "StorageClass",
  "CSIDriver",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "MutatingAdmissionPolicy",
  "MutatingAdmissionPolicyBinding",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "PriorityClass",
  "ClusterSecretStore",
  "ClusterExternalSecret",
  "ClusterIssuer",
  "ClusterRepository",
  "VolumeSnapshotClass",
  "IngressClass",
  "RuntimeClass",
  "APIService",
  "Node",
]);

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

export function isVolsync(o: { apiVersion: string }): boolean {
  return o.apiVersion.charCodeAt(0) === 118 /* v */ && o.apiVersion.startsWith(VOLSYNC_GROUP);
}

export function isKopiur(o: { apiVersion: string }): boolean {
  const slash = o.apiVersion.indexOf("/");
  return slash > 0 && o.apiVersion.lastIndexOf("kopiur", slash) !== -1;
}

// ---------------------------------------------------------------------------------------------
// Safe reads

function getPath(value: unknown, keys: readonly (string | number)[]): unknown {
  let cur = value;
  for (let i = 0; i < keys.length; i++) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[keys[i] as string | number];
  }
  return cur;
}

export function get(value: unknown, ...keys: (string | number)[]): unknown {
  return getPath(value, keys);
}

export function str(value: unknown, ...keys: (string | number)[]): string | undefined {
  const v = getPath(value, keys);
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
}

export function arr(value: unknown, ...keys: (string | number)[]): unknown[] {
  const v = getPath(value, keys);
  return Array.isArray(v) ? v : [];
}

export function rec(value: unknown, ...keys: (string | number)[]): Record<string, unknown> | undefined {
  const v = getPath(value, keys);
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function locOf(o: ModelObject): Loc {
  return { file: o.doc.file, line: o.doc.line };
}

// ---------------------------------------------------------------------------------------------
// Indexes (built once per model, cached)

/** Memoises a per-model computation (models are immutable once built). */
export function perModel<T>(fn: (model: RepoModel) => T): (model: RepoModel) => T {
  const cache = new WeakMap<RepoModel, T>();
  // Rules ask thousands of times about one model: the last one answers without a lookup.
  let lastModel: RepoModel | undefined;
  let last: T | undefined;
  return (model) => {
    if (model === lastModel) return last as T;
    let v: T;
    if (cache.has(model)) v = cache.get(model) as T;
    else {
      v = fn(model);
      cache.set(model, v);
    }
    lastModel = model;
    last = v;
    return v;
  };
}

interface Index {
  byKind: Map<string, ModelObject[]>;
  ks: Map<string, FluxKs>;
  /** kind -> namespace ("" for none) -> objects, per kind on first use. */
  byKindNs: Map<string, Map<string, ModelObject[]>>;
}

const indexes = new WeakMap<RepoModel, Index>();

/** Adds v to the list of k (created with it). */
export function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

let lastIndex: { model: RepoModel; ix: Index } | undefined;

function indexOf(model: RepoModel): Index {
  if (lastIndex?.model === model) return lastIndex.ix;
  let ix = indexes.get(model);
  if (ix) {
    lastIndex = { model, ix };
    return ix;
  }
  ix = { byKind: new Map(), ks: new Map(), byKindNs: new Map() };
  for (const o of model.objects) push(ix.byKind, o.kind, o);
  for (const k of model.kustomizations) if (!ix.ks.has(k.id)) ix.ks.set(k.id, k);
  indexes.set(model, ix);
  lastIndex = { model, ix };
  return ix;
}

/** Delivered objects of a kind (optionally in one namespace). */
export function objectsOf(model: RepoModel, kind: string, namespace?: string): ModelObject[] {
  const ix = indexOf(model);
  if (namespace === undefined) return ix.byKind.get(kind) ?? [];
  let byNs = ix.byKindNs.get(kind);
  if (!byNs) {
    byNs = new Map();
    for (const o of ix.byKind.get(kind) ?? []) push(byNs, o.namespace ?? "", o);
    ix.byKindNs.set(kind, byNs);
  }
  return byNs.get(namespace) ?? [];
}

export function kustomizationById(model: RepoModel, id: string): FluxKs | undefined {
  return indexOf(model).ks.get(id);
}

/** The Kustomization that delivers this copy (ids can repeat across the clusters of one repository). */
export const kustomizationOf = (model: RepoModel, o: ModelObject): FluxKs | undefined => deliveredBy(model).get(o);

const deliveredBy = perModel((model: RepoModel) => {
  const m = new Map<ModelObject, FluxKs>();
  for (const ks of model.kustomizations) for (const o of ks.objects) m.set(o, ks);
  return m;
});
