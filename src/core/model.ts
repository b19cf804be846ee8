/**
 * The resolved model of a GitOps checkout: what Flux would apply, object by object, with effective
 * namespaces and source locations. Built by `gitops/model.ts` (`buildModel`), read by rules (`core/rules`)
 * and by commands that compare desired and observed topology (`drift`, `verify`).
 *
 * Pure: types and queries only. Nothing here touches the file system.
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
  kind: "parse" | "too-large" | "binary" | "symlink-loop" | "outside-repo" | "unreadable";
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

export const isPv = (o: ModelObject) => o.kind === "PersistentVolume" && o.apiVersion === "v1";
export const isPvc = (o: ModelObject) => o.kind === "PersistentVolumeClaim" && o.apiVersion === "v1";

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

/** "namespace/Kind/name" or "Kind/name" for messages. */
export function subjectOf(o: ModelObject): string {
  return o.namespace ? `${o.kind} ${o.namespace}/${o.name}` : `${o.kind} ${o.name}`;
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
  /** Built on first use (few callers need them). */
  byNs: Map<string, ModelObject[]> | undefined;
  /** kind -> namespace ("" for none) -> objects, per kind on first use. */
  byKindNs: Map<string, Map<string, ModelObject[]>>;
}

const indexes = new WeakMap<RepoModel, Index>();

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
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
  ix = { byKind: new Map(), ks: new Map(), byNs: undefined, byKindNs: new Map() };
  for (const o of model.objects) push(ix.byKind, o.kind, o);
  for (const k of model.kustomizations) if (!ix.ks.has(k.id)) ix.ks.set(k.id, k);
  indexes.set(model, ix);
  lastIndex = { model, ix };
  return ix;
}

/** Delivered objects in a namespace. */
export function objectsIn(model: RepoModel, namespace: string): ModelObject[] {
  const ix = indexOf(model);
  if (!ix.byNs) {
    ix.byNs = new Map();
    for (const o of model.objects) if (o.namespace !== undefined) push(ix.byNs, o.namespace, o);
  }
  return ix.byNs.get(namespace) ?? [];
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

// ---------------------------------------------------------------------------------------------
// The Kopia repository as secrets and movers name it

export interface RepositoryRef {
  /** The KOPIA_REPOSITORY value (after substitution), e.g. "filesystem:///repository/repository". */
  url: string;
  /** The object that holds it and the key path of the value. */
  holder: ModelObject;
  /** Shared between refs: do not mutate. */
  path: (string | number)[];
}

// Key paths shared by every RepositoryRef (read-only).
const ES_REPOSITORY = ["spec", "target", "template", "data", "KOPIA_REPOSITORY"];
const STRINGDATA_REPOSITORY = ["stringData", "KOPIA_REPOSITORY"];
const DATA_REPOSITORY = ["data", "KOPIA_REPOSITORY"];

const secretIndex = perModel((model) => {
  const ix = new Map<string, RepositoryRef[]>();
  const add = (ns: string | undefined, name: string, ref: RepositoryRef) => {
    if (ns !== undefined) push(ix, `${ns}/${name}`, ref);
  };
  for (const es of objectsOf(model, "ExternalSecret")) {
    const url = str(es.body, "spec", "target", "template", "data", "KOPIA_REPOSITORY");
    if (url === undefined) continue;
    const target = str(es.body, "spec", "target", "name") ?? es.name;
    add(es.namespace, target, { url, holder: es, path: ES_REPOSITORY });
  }
  for (const s of objectsOf(model, "Secret")) {
    const plain = str(s.body, "stringData", "KOPIA_REPOSITORY");
    if (plain !== undefined) add(s.namespace, s.name, { url: plain, holder: s, path: STRINGDATA_REPOSITORY });
    const b64 = str(s.body, "data", "KOPIA_REPOSITORY");
    if (b64 !== undefined && /^[A-Za-z0-9+/=\s]+$/.test(b64)) {
      const url = Buffer.from(b64, "base64").toString("utf8");
      add(s.namespace, s.name, { url, holder: s, path: DATA_REPOSITORY });
    }
  }
  return ix;
});

/** KOPIA_REPOSITORY values that a Secret named `name` in `namespace` will hold (ExternalSecret templates and Secrets). */
export function repositoryOfSecret(model: RepoModel, namespace: string | undefined, name: string): RepositoryRef[] {
  if (namespace === undefined) return [];
  return secretIndex(model).get(`${namespace}/${name}`) ?? [];
}

const moverRefs = perModel(() => new Map<ModelObject, RepositoryRef[]>());

/**
 * repositoryOfSecret of the Secret a Volsync mover names (moverSecretName), looked up once per mover:
 * several rules ask it for every mover.
 */
export function repositoryOfMover(model: RepoModel, o: ModelObject): RepositoryRef[] {
  const cache = moverRefs(model);
  let refs = cache.get(o);
  if (refs === undefined) {
    const secret = moverSecretName(o);
    refs = secret ? repositoryOfSecret(model, o.namespace, secret.name) : [];
    cache.set(o, refs);
  }
  return refs;
}

/** "filesystem:///a/b" -> "/a/b"; undefined for other backends. */
const fsPaths = new Map<string, string | undefined>();

export function filesystemPath(url: string): string | undefined {
  if (fsPaths.has(url)) return fsPaths.get(url);
  const m = /^filesystem:\/\/(\/.*)$/.exec(url.trim());
  const p = m ? (m[1] as string) : undefined;
  if (fsPaths.size < 10_000) fsPaths.set(url, p);
  return p;
}

// Key paths shared by every result (read-only).
const MAINTENANCE_SECRET = ["spec", "repository", "repository"];
const MAINTENANCE_SECRET_SHORT = ["spec", "repository"];
const MOVER_SECRET = ["spec", "kopia", "repository"];

/** The name of the Secret a Volsync kopia object reads its repository from; `path` is shared, do not mutate. */
export function moverSecretName(o: ModelObject): { name: string; path: (string | number)[] } | undefined {
  if (o.kind === "KopiaMaintenance") {
    const a = str(o.body, "spec", "repository", "repository");
    if (a) return { name: a, path: MAINTENANCE_SECRET };
    const b = str(o.body, "spec", "repository");
    if (b) return { name: b, path: MAINTENANCE_SECRET_SHORT };
    return undefined;
  }
  const n = str(o.body, "spec", "kopia", "repository");
  return n ? { name: n, path: MOVER_SECRET } : undefined;
}

/** The kopia section of a Volsync mover object (spec.kopia for sources/destinations, spec for maintenance). */
export function moverSpec(o: ModelObject): Record<string, unknown> | undefined {
  // rec(o.body, "spec", "kopia"), or rec(o.body, "spec") for maintenance, read directly: rules ask it for every mover.
  const spec = o.body.spec;
  const v =
    o.kind === "KopiaMaintenance"
      ? spec
      : spec !== null && typeof spec === "object"
        ? (spec as Record<string, unknown>).kopia
        : undefined;
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const SPEC: readonly string[] = ["spec"];
const SPEC_KOPIA: readonly string[] = ["spec", "kopia"];

/** Key path of moverSpec (shared: do not mutate). */
export function moverSpecPath(o: ModelObject): readonly string[] {
  return o.kind === "KopiaMaintenance" ? SPEC : SPEC_KOPIA;
}

/**
 * Is this object a consumer of the shared repository? ReplicationSource / ReplicationDestination with
 * a kopia mover, KopiaMaintenance, and namespaced Kopiur objects. A Volsync object whose secret points
 * at a non-filesystem backend (s3://, b2://, ...) does not use the shared volume.
 */
export function isConsumer(model: RepoModel, o: ModelObject): boolean {
  if (!isVolsync(o) && !isKopiur(o)) return false;
  return consumerSet(model).has(o);
}

function consumerOf(model: RepoModel, o: ModelObject): boolean {
  if (isKopiur(o)) return !isClusterScoped(o.kind) && o.namespace !== undefined;
  if (!isVolsync(o)) return false;
  if (o.kind === "ReplicationSource" || o.kind === "ReplicationDestination") {
    if (moverSpec(o) === undefined) return false;
  } else if (o.kind !== "KopiaMaintenance") return false;
  const secret = moverSecretName(o);
  if (!secret) return true;
  const refs = repositoryOfMover(model, o);
  if (refs.length === 0) return true;
  return refs.some((r) => r.url.includes("${") || filesystemPath(r.url) !== undefined);
}

const CONSUMER_KINDS = ["ReplicationSource", "ReplicationDestination", "KopiaMaintenance"];

/** Consumers (ReplicationSource/Destination, KopiaMaintenance, Kopiur objects) delivered into `namespace`. */
export function consumersIn(model: RepoModel, namespace: string): ModelObject[] {
  return [...(consumersByNamespace(model).get(namespace) ?? [])];
}

const consumerMap = perModel((model) => {
  const out = new Map<string, ModelObject[]>();
  const add = (o: ModelObject) => {
    if (o.namespace === undefined || !consumerOf(model, o)) return;
    push(out, o.namespace, o);
  };
  for (const kind of CONSUMER_KINDS) for (const o of objectsOf(model, kind)) add(o);
  for (const o of model.objects) if (isKopiur(o)) add(o);
  return out;
});

const consumerSet = perModel((model) => {
  const set = new Set<ModelObject>();
  for (const list of consumerMap(model).values()) for (const o of list) set.add(o);
  return set;
});

/** Every consumer, grouped by namespace (a fresh map; the lists are shared, do not mutate them). */
export function consumersByNamespace(model: RepoModel): Map<string, ModelObject[]> {
  return new Map(consumerMap(model));
}

// ---------------------------------------------------------------------------------------------
// The desired per-namespace topology: PVs on the shared volume and the PVCs `kopia` bound to them

const claimedVolumes = new WeakMap<RepoModel, Set<string>>();

/** Is this PV one of the shared-volume PVs (by name prefix, by its claim, or by the claim that names it)? */
export function isSharedPv(model: RepoModel, o: ModelObject): boolean {
  if (!isPv(o)) return false;
  const c = model.conventions;
  if (o.name.startsWith(c.pvPrefix)) return true;
  if (str(o.body, "spec", "claimRef", "name") === c.claimName) return true;
  let named = claimedVolumes.get(model);
  if (!named) {
    named = new Set();
    for (const p of objectsOf(model, "PersistentVolumeClaim")) {
      const vn = str(p.body, "spec", "volumeName");
      if (p.name === c.claimName && vn !== undefined) named.add(vn);
    }
    claimedVolumes.set(model, named);
  }
  return named.has(o.name);
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

// ---------------------------------------------------------------------------------------------
// Pods: where workloads mount volumes and which user they run as

export interface PodView {
  owner: ModelObject;
  /** Key path of the pod spec inside the owner. */
  path: (string | number)[];
  spec: Record<string, unknown>;
}

const POD_PATHS: Record<string, (string | number)[]> = {
  Pod: ["spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
};

export function podOf(o: ModelObject): PodView | undefined {
  const path = POD_PATHS[o.kind];
  if (!path) return undefined;
  const spec = rec(o.body, ...path);
  return spec ? { owner: o, path, spec } : undefined;
}

export interface ContainerView {
  name: string;
  path: (string | number)[];
  c: Record<string, unknown>;
}

export function containersOf(p: PodView): ContainerView[] {
  const out: ContainerView[] = [];
  for (const key of ["initContainers", "containers"]) {
    arr(p.spec, key).forEach((c, i) => {
      if (c && typeof c === "object") {
        out.push({
          name: str(c, "name") ?? `${key}[${i}]`,
          path: [...p.path, key, i],
          c: c as Record<string, unknown>,
        });
      }
    });
  }
  return out;
}

/** Names of the pod's volumes that use the PVC `claim`. */
export function claimVolumes(p: PodView, claim: string): string[] {
  return arr(p.spec, "volumes")
    .filter((v) => str(v, "persistentVolumeClaim", "claimName") === claim)
    .map((v) => str(v, "name") ?? "");
}

export interface Mount {
  mountPath: string;
  subPath: string;
  loc: (string | number)[];
}

export function mountsOf(c: ContainerView, volumes: string[]): Mount[] {
  const out: Mount[] = [];
  arr(c.c, "volumeMounts").forEach((m, i) => {
    const name = str(m, "name");
    const mountPath = str(m, "mountPath");
    if (name !== undefined && volumes.includes(name) && mountPath !== undefined) {
      out.push({ mountPath, subPath: str(m, "subPath") ?? "", loc: [...c.path, "volumeMounts", i, "mountPath"] });
    }
  });
  return out;
}

/** Workloads (pods, jobs, deployments, ...) that mount the PVC `claim`. */
export const claimWorkloads = perModel((model: RepoModel): PodView[] => {
  const claim = model.conventions.claimName;
  const out: PodView[] = [];
  for (const kind of Object.keys(POD_PATHS)) {
    for (const o of objectsOf(model, kind)) {
      const p = podOf(o);
      if (p && claimVolumes(p, claim).length > 0) out.push(p);
    }
  }
  return out;
});

/** "/repository" + "repository" relative path helpers (POSIX, no trailing slash). */
export function normalizeAbs(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join("/")}`;
}

/**
 * The directory on the volume that `abs` names inside a container that mounts the volume at the given
 * mounts (longest mount first; subPath honoured). "" is the volume's root; undefined: not on the volume.
 */
export function onVolume(abs: string, mounts: { mountPath: string; subPath: string }[]): string | undefined {
  let memo = volumeMemo.get(mounts);
  if (!memo) {
    memo = new Map();
    volumeMemo.set(mounts, memo);
  }
  if (memo.has(abs)) return memo.get(abs);
  const v = onVolumeOf(abs, mounts);
  memo.set(abs, v);
  return v;
}

/** Keyed by the mounts array: callers that reuse one mounts array for many lookups get them cached. */
const volumeMemo = new WeakMap<object, Map<string, string | undefined>>();

function onVolumeOf(abs: string, mounts: { mountPath: string; subPath: string }[]): string | undefined {
  const p = normalizeAbs(abs);
  let best: { mountPath: string; subPath: string } | undefined;
  for (const m of mounts) {
    const mp = normalizeAbs(m.mountPath);
    if (p === mp || p.startsWith(mp === "/" ? "/" : `${mp}/`)) {
      if (!best || normalizeAbs(best.mountPath).length < mp.length) best = m;
    }
  }
  if (!best) return undefined;
  const mp = normalizeAbs(best.mountPath);
  const rest = p.slice(mp === "/" ? 1 : mp.length + 1);
  return normalizeAbs(`${best.subPath}/${rest}`).slice(1);
}

// ---------------------------------------------------------------------------------------------
// What backups need: the severity of a delivery problem depends on it

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
