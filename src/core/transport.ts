/**
 * How each consumer reaches its Kopia repository: ONE resolution shared by every rule that cares whether a
 * consumer needs the per-namespace PVC, which volume its mover Job gets, and which repository it writes.
 *
 * Real repositories reach the shared repository three ways (DOMAIN.md "How real repositories reach one
 * shared repository"):
 * - "pvc": a PersistentVolumeClaim mounted into the mover (the seed's per-namespace PVC `kopia`):
 *   Volsync `repositoryPVC`, `moverVolumes` with a persistentVolumeClaim, a MutatingAdmissionPolicy adding
 *   the PVC, or a Kopiur filesystem backend on `volume.pvc`;
 * - "nfs": an inline NFS volume (no PV, no PVC): `moverVolumes` with an nfs volumeSource, an admission
 *   policy adding an nfs volume, or a Kopiur filesystem backend on `volume.nfs`;
 * - "object": an object store or remote (Kopiur s3/b2/azure/gcs/sftp/rclone/webdav backends, a Volsync
 *   secret whose KOPIA_REPOSITORY is s3://...): nothing about volumes applies;
 * - "unknown": the data that would tell is missing (a Secret made outside the repository, a SOPS-encrypted
 *   value, a `${VAR}`, a reference to an object the repository does not declare), or a filesystem
 *   repository with no volume mounted at all.
 *
 * Pure: reads the model only (imports ./model.ts alone).
 */
import { repositoryPairs, sharedPvs } from "./claims.ts";
import { filesystemPath, moverSecretName, moverSpec, moverSpecPath, repositoryOfMover } from "./consumers.ts";
import {
  arr,
  get,
  isKopiur,
  isVolsync,
  type ModelObject,
  objectsOf,
  perModel,
  type RepoModel,
  rec,
  str,
} from "./model.ts";
import { normalizeAbs, onVolume } from "./pods.ts";
import { identityOf, pickRepositoryPv, pvFactsOf, rootOffset } from "./volume-facts.ts";

export type Transport = "pvc" | "nfs" | "object" | "unknown";

/** A volume that can hold a filesystem repository. */
export type Volume =
  | { type: "pvc"; claimName: string }
  | { type: "nfs"; server: string; path: string }
  /** Another volume type (hostPath, csi, ...), by its volumeSource key. */
  | { type: "other"; name: string };

export interface Reach {
  transport: Transport;
  /**
   * A stable key naming the repository: consumers with the same key write the same repository.
   * Filesystem repositories: the volume plus the directory on it, e.g. "pvc://kopia/repository",
   * "nfs://nas.lan/export/kopia" (the claim name stands for the shared volume every namespace's PVC of
   * that name is bound to). A filesystem path on no volume: "container:/repository" (the mover writes into
   * its own container). Object stores: the KOPIA_REPOSITORY URL (Volsync), or "ClusterRepository/<name>",
   * "Repository/<namespace>/<name>" (Kopiur). Unknown: what is known, e.g. "secret media/app-volsync-secret".
   */
  repository: string;
  /**
   * How: "repositoryPVC", "moverVolumes", "admission policy <name>", "ClusterRepository <name>",
   * "Repository <namespace>/<name>", "secret <name>", or why it is unknown.
   */
  via: string;
  /** Where the mover sees the repository's volume (filesystem transports). */
  mount?: { mountPath: string; claimName?: string; nfs?: { server: string; path: string } };
  /** The volume alone (e.g. "pvc://kopia", "nfs://nas.lan/export"); for object and unknown: `repository`. */
  storage: string;
  /** Directory of the repository on that volume ("" is its root); undefined when not known or not on it. */
  dir?: string;
  /**
   * false when the answer rests on data the repository does not hold (see "unknown" above), so the
   * repository could be anything, the seed's PVC included; true when the transport is known.
   */
  resolved: boolean;
  /** Kopiur ClusterRepository: false when its allowedNamespaces excludes the consumer's namespace. */
  allowed?: boolean;
  /** Kopiur: the delivered Repository or ClusterRepository (its moverDefaults shape every mover). */
  repositoryObject?: ModelObject;
}

// ---------------------------------------------------------------------------------------------
// Volumes

export function volumeKey(v: Volume): string {
  switch (v.type) {
    case "pvc":
      return `pvc://${v.claimName}`;
    case "nfs":
      return `nfs://${v.server}${v.path.includes("${") ? v.path : normalizeAbs(v.path)}`;
    default:
      return `volume://${v.name}`;
  }
}

/** The repository key of directory `dir` of a volume whose key is `storage`. */
export function repositoryKey(storage: string, dir: string): string {
  return dir === "" ? storage : `${storage.replace(/\/+$/, "")}/${dir}`;
}

export function describeVolume(v: Volume): string {
  switch (v.type) {
    case "pvc":
      return `PVC ${v.claimName}`;
    case "nfs":
      return `NFS ${v.server}:${v.path}`;
    default:
      return `a ${v.name} volume`;
  }
}

export function transportOfVolume(v: Volume): Transport {
  return v.type === "other" ? "unknown" : v.type;
}

function mountInfo(v: Volume, mountPath: string): NonNullable<Reach["mount"]> {
  if (v.type === "pvc") return { mountPath, claimName: v.claimName };
  if (v.type === "nfs") return { mountPath, nfs: { server: v.server, path: v.path } };
  return { mountPath };
}

/** The volume a Kubernetes volume source (the part after `name:`) describes. */
export function volumeOfSource(src: unknown): Volume | undefined {
  const s = rec(src);
  if (!s) return undefined;
  const claim = str(s, "persistentVolumeClaim", "claimName");
  if (claim !== undefined) return { type: "pvc", claimName: claim };
  const nfs = rec(s, "nfs");
  if (nfs) return { type: "nfs", server: str(nfs, "server") ?? "?", path: str(nfs, "path") ?? "/" };
  const key = Object.keys(s).find((k) => k !== "name");
  return key ? { type: "other", name: key } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Claims whose PVs mount a directory of the repository's volume

/**
 * Claims other than `claimName` whose every declared PV (through the PVC's `volumeName`) has its root at one
 * directory of the repository PV's volume (volume-facts.ts rootOffset): claim name -> that directory. Kopiur's
 * movers use such a claim (a static PV whose rootPath is the subvolume's path plus /repository), while the
 * init Job mounts `claimName` and names `repository/` on it: one repository, two mounts.
 */
export const claimRoots = perModel((model: RepoModel): Map<string, string> => {
  const out = new Map<string, string>();
  const c = model.conventions;
  const pick = pickRepositoryPv(sharedPvs(model), c, pvFactsOf);
  if (!pick) return out;
  const repo = identityOf(pvFactsOf(pick.pv));
  const pvByName = new Map<string, ModelObject>();
  for (const pv of objectsOf(model, "PersistentVolume")) if (!pvByName.has(pv.name)) pvByName.set(pv.name, pv);
  const offsets = new Map<string, Set<string | undefined>>();
  for (const pvc of objectsOf(model, "PersistentVolumeClaim")) {
    if (pvc.name === c.claimName || pvc.name.includes("${")) continue;
    const vn = str(pvc.body, "spec", "volumeName");
    const pv = vn === undefined ? undefined : pvByName.get(vn);
    const seen = offsets.get(pvc.name) ?? new Set();
    seen.add(pv ? rootOffset(pvFactsOf(pv), repo) : undefined);
    offsets.set(pvc.name, seen);
  }
  for (const [claim, seen] of offsets) {
    const [only] = [...seen];
    if (seen.size === 1 && only !== undefined) out.set(claim, only);
  }
  return out;
});

/**
 * A volume key and directory as the repository's volume sees them: `pvc://<claim>` of a claim in claimRoots
 * becomes `pvc://<claimName>` with the claim's root directory in front of `dir`. Anything else as it is.
 */
export function onRepositoryVolume(
  model: RepoModel,
  storage: string,
  dir: string | undefined,
): { storage: string; dir: string | undefined } {
  if (!storage.startsWith("pvc://")) return { storage, dir };
  const root = claimRoots(model).get(storage.slice("pvc://".length));
  if (root === undefined) return { storage, dir };
  const base = volumeKey({ type: "pvc", claimName: model.conventions.claimName });
  const inner = dir === undefined ? undefined : [root, dir].filter((x) => x !== "").join("/");
  return { storage: base, dir: inner };
}

// ---------------------------------------------------------------------------------------------
// Admission policies that add the repository volume to mover Jobs (Volsync <= 0.16)

export interface AdmissionWiring {
  policy: ModelObject;
  /** Volume name the patch adds (e.g. "repository"). */
  volume: string | undefined;
  /** The volume type the patch adds. */
  volumeType: "pvc" | "nfs";
  /** PVC policies: the claimName they mount. */
  claimName: string | undefined;
  /** NFS policies: the export they mount. */
  nfs: { server: string; path: string } | undefined;
  mountPath: string | undefined;
  /** Which mover Jobs it matches. */
  sources: boolean;
  destinations: boolean;
  maintenance: boolean;
  /** A MutatingAdmissionPolicyBinding names it. */
  bound: boolean;
  /** Text of the match conditions (for the idempotency check). */
  conditions: { name: string; expression: string; index: number }[];
  /** The mount it gives movers (built on first use). */
  mount?: MoverMount;
}

function textOf(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  if (typeof v === "object")
    return Object.values(v as Record<string, unknown>)
      .map(textOf)
      .join("\n");
  return String(v);
}

const quoted = (key: string) => new RegExp(`(?<![A-Za-z])${key}\\s*:\\s*['"]([^'"]+)['"]`);
const PVC_TEXT = /persistentVolumeClaim|claimName/;
const NFS_TEXT = /(?<![A-Za-z])nfs\s*:/;

/** Delivered MutatingAdmissionPolicies that add a PVC or NFS volume to Jobs (the Volsync <= 0.16 wiring). */
export const admissionWirings = perModel((model: RepoModel): AdmissionWiring[] => {
  const bindings = objectsOf(model, "MutatingAdmissionPolicyBinding").map((b) => str(b.body, "spec", "policyName"));
  const out: AdmissionWiring[] = [];
  const seen = new Set<string>();
  for (const p of objectsOf(model, "MutatingAdmissionPolicy")) {
    if (seen.has(p.name)) continue;
    const mutations = textOf(get(p.body, "spec", "mutations"));
    const pvc = PVC_TEXT.test(mutations);
    const nfsAt = pvc ? null : NFS_TEXT.exec(mutations);
    if (!pvc && !nfsAt) continue;
    seen.add(p.name);
    const conditions = arr(p.body, "spec", "matchConditions").map((c, index) => ({
      name: str(c, "name") ?? "",
      expression: str(c, "expression") ?? "",
      index,
    }));
    const match = `${conditions.map((c) => c.expression).join("\n")}\n${textOf(get(p.body, "spec", "matchConstraints"))}`;
    const names = /volsync-src-|volsync-dst-|kopia-maint-/.test(match);
    const volumeMatch = /name\s*:\s*['"]([^'"]+)['"]\s*,?\s*(?:persistentVolumeClaim|nfs)\b/.exec(mutations);
    let nfs: AdmissionWiring["nfs"];
    if (nfsAt) {
      // The fields of the nfs volume: up to the closing brace of its object literal.
      const rest = mutations.slice(nfsAt.index);
      const end = rest.indexOf("}");
      const block = end > 0 ? rest.slice(0, end) : rest;
      nfs = { server: quoted("server").exec(block)?.[1] ?? "?", path: quoted("path").exec(block)?.[1] ?? "/" };
    }
    out.push({
      policy: p,
      volume: volumeMatch?.[1] ?? quoted("name").exec(mutations)?.[1],
      volumeType: pvc ? "pvc" : "nfs",
      claimName: pvc ? quoted("claimName").exec(mutations)?.[1] : undefined,
      nfs,
      mountPath: quoted("mountPath").exec(mutations)?.[1],
      sources: !names || match.includes("volsync-src-"),
      destinations: !names || match.includes("volsync-dst-"),
      maintenance: !names || match.includes("kopia-maint-"),
      bound: bindings.includes(p.name),
      conditions,
    });
  }
  return out;
});

// ---------------------------------------------------------------------------------------------
// Volumes mounted into a Volsync mover Job

export interface MoverMount {
  /** Where the mover sees the volume. */
  mounts: { mountPath: string; subPath: string }[];
  /** Long description for messages: "moverVolumes mounts PVC kopia at /mnt/repository". */
  how: string;
  /** Short form (Reach.via): "moverVolumes", "repositoryPVC", "admission policy <name>". */
  via: string;
  /** Key path (in the mover object) or policy that provides the mount. */
  at: { object: ModelObject; keys: (string | number)[] };
  volume: Volume;
}

const NONE: readonly unknown[] = [];
/** Volume sources that never hold a repository (what is written there is gone with the pod, or read-only). */
const EPHEMERAL = new Set(["secret", "configMap", "downwardAPI", "projected", "emptyDir"]);

const mountCache = perModel(() => new Map<ModelObject, MoverMount[]>());

/**
 * The volumes mounted into the mover Job of a Volsync kopia object for the repository: its `moverVolumes`
 * (any volume type, each at /mnt/<mountPath>) when it has any; else `repositoryPVC` (sources, at /kopia);
 * else every bound admission policy that matches its Job. The object's own volumes win over the policies
 * (as lint always read them: a guarded policy skips a Job that already has the volume, and a Volsync
 * >= 0.17 setup keeps the policy only while migrating). Empty: the mover gets no volume for the repository.
 */
export function moverMounts(model: RepoModel, o: ModelObject): MoverMount[] {
  const cache = mountCache(model);
  const hit = cache.get(o);
  if (hit) return hit;
  const out: MoverMount[] = [];
  const spec = moverSpec(o) ?? {};
  const base = moverSpecPath(o);
  const mv: readonly unknown[] = Array.isArray(spec.moverVolumes) ? spec.moverVolumes : NONE;
  for (let i = 0; i < mv.length; i++) {
    const v = mv[i];
    const volume = volumeOfSource(get(v, "volumeSource"));
    // A Secret or ConfigMap (a CA bundle, a config) cannot hold a repository.
    if (!volume || (volume.type === "other" && EPHEMERAL.has(volume.name))) continue;
    const m = (str(v, "mountPath") ?? "").replace(/^\/+|\/+$/g, "");
    const mountPath = `/mnt/${m}`;
    // moverVolumes fixes where the volume is mounted (/mnt/<mountPath>), not the directory inside it:
    // KOPIA_REPOSITORY must lie under the mount, and is resolved through it like any other place.
    out.push({
      mounts: [{ mountPath, subPath: "" }],
      how: `moverVolumes mounts ${describeVolume(volume)} at ${mountPath}`,
      via: "moverVolumes",
      at: { object: o, keys: [...base, "moverVolumes", i, "mountPath"] },
      volume,
    });
  }
  const repositoryPVC = o.kind === "ReplicationSource" ? str(spec, "repositoryPVC") : undefined;
  if (out.length === 0 && repositoryPVC !== undefined) {
    out.push({
      mounts: [{ mountPath: "/kopia", subPath: "" }],
      how: `repositoryPVC mounts PVC ${repositoryPVC} at /kopia`,
      via: "repositoryPVC",
      at: { object: o, keys: [...base, "repositoryPVC"] },
      volume: { type: "pvc", claimName: repositoryPVC },
    });
  }
  for (const w of out.length > 0 ? [] : admissionWirings(model)) {
    const applies =
      (o.kind === "ReplicationSource" && w.sources) ||
      (o.kind === "ReplicationDestination" && w.destinations) ||
      (o.kind === "KopiaMaintenance" && w.maintenance);
    if (!applies || !w.mountPath || !w.bound) continue;
    // One object per policy: every mover it wires shares it (and the path lookups cached on it).
    if (!w.mount) {
      const volume: Volume =
        w.volumeType === "nfs" && w.nfs
          ? { type: "nfs", server: w.nfs.server, path: w.nfs.path }
          : { type: "pvc", claimName: w.claimName ?? "?" };
      w.mount = {
        mounts: [{ mountPath: w.mountPath, subPath: "" }],
        how: `MutatingAdmissionPolicy ${w.policy.name} mounts ${describeVolume(volume)} at ${w.mountPath}`,
        via: `admission policy ${w.policy.name}`,
        at: { object: w.policy, keys: ["spec", "mutations"] },
        volume,
      };
    }
    out.push(w.mount);
  }
  cache.set(o, out);
  return out;
}

/** Length of a mount's longest mount point, normalised; per mount (a policy's mount serves every mover). */
const mountLengths = new WeakMap<MoverMount, number>();

function mountLength(m: MoverMount): number {
  let len = mountLengths.get(m);
  if (len === undefined) {
    len = Math.max(...m.mounts.map((x) => normalizeAbs(x.mountPath).length));
    mountLengths.set(m, len);
  }
  return len;
}

/** The mount whose volume holds `abs` (longest mount point first); undefined: none of them does. */
export function mountHolding(mounts: MoverMount[], abs: string): { mount: MoverMount; dir: string } | undefined {
  let best: { mount: MoverMount; dir: string; len: number } | undefined;
  for (const m of mounts) {
    const dir = onVolume(abs, m.mounts);
    if (dir === undefined) continue;
    const len = mountLength(m);
    if (!best || len > best.len) best = { mount: m, dir, len };
  }
  return best ? { mount: best.mount, dir: best.dir } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Reach

/** KOPIA_REPOSITORY schemes of object stores and remotes (kopia's storage providers other than filesystem). */
const OBJECT_SCHEMES = new Set(["s3", "b2", "azure", "gcs", "sftp", "rclone", "webdav", "gdrive"]);
/** Kopiur backend keys of object stores and remotes. */
const OBJECT_BACKENDS = new Set(["s3", "b2", "azure", "gcs", "sftp", "rclone", "webdav", "gdrive"]);

function unresolved(repository: string, via: string): Reach {
  return { transport: "unknown", repository, storage: repository, via, resolved: false };
}

function volsyncReach(model: RepoModel, o: ModelObject): Reach {
  if (o.kind !== "KopiaMaintenance" && moverSpec(o) === undefined) return unresolved("?", "not a Kopia mover");
  const ns = o.namespace ?? "?";
  const secret = moverSecretName(o);
  if (!secret) return unresolved("?", "no repository secret");
  const refs = repositoryOfMover(model, o);
  if (refs.length === 0) {
    return unresolved(`secret ${ns}/${secret.name}`, `secret ${secret.name}, which the repository does not declare`);
  }
  const ref = refs.find((r) => filesystemPath(r.url) !== undefined) ?? (refs[0] as (typeof refs)[number]);
  const url = ref.url.trim();
  const abs = filesystemPath(url);
  if (abs === undefined) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
    if (scheme !== undefined && OBJECT_SCHEMES.has(scheme)) {
      const key = url.replace(/\/+$/, "");
      return { transport: "object", repository: key, storage: key, via: `secret ${secret.name}`, resolved: true };
    }
    return unresolved(`secret ${ns}/${secret.name}`, `secret ${secret.name} (KOPIA_REPOSITORY is not readable here)`);
  }
  const mounts = moverMounts(model, o);
  if (mounts.length === 0) {
    return unresolved(`container:${abs}`, "no volume mounted into the mover Job");
  }
  const variable = abs.includes("${");
  const held = variable ? undefined : mountHolding(mounts, abs);
  const m = held?.mount ?? (mounts[0] as MoverMount);
  const facts = mountFacts(m);
  return {
    transport: facts.transport,
    repository: held ? facts.repository(held.dir) : variable ? facts.storage : `container:${abs}`,
    storage: facts.storage,
    dir: held?.dir,
    via: m.via,
    mount: facts.mount,
    resolved: true,
  };
}

/** What a reach through a mount says about it (read-only): one per mount, shared by the movers it serves. */
interface MountFacts {
  transport: Transport;
  storage: string;
  mount: NonNullable<Reach["mount"]>;
  /** repositoryKey(storage, dir), made once per directory. */
  repository(dir: string): string;
}

const mountFactsCache = new WeakMap<MoverMount, MountFacts>();

function mountFacts(m: MoverMount): MountFacts {
  let f = mountFactsCache.get(m);
  if (!f) {
    const storage = volumeKey(m.volume);
    const keys = new Map<string, string>();
    f = {
      transport: transportOfVolume(m.volume),
      storage,
      mount: mountInfo(m.volume, (m.mounts[0] as { mountPath: string }).mountPath),
      repository: (dir) => {
        let key = keys.get(dir);
        if (key === undefined) {
          key = repositoryKey(storage, dir);
          keys.set(dir, key);
        }
        return key;
      },
    };
    mountFactsCache.set(m, f);
  }
  return f;
}

interface RepoRef {
  kind: string;
  name: string;
  namespace: string | undefined;
}

function refOf(v: unknown): RepoRef | undefined {
  const name = str(v, "name");
  if (name === undefined) return undefined;
  return { kind: str(v, "kind") ?? "Repository", name, namespace: str(v, "namespace") };
}

/**
 * Does a ClusterRepository's `allowedNamespaces` (exactly one of `all`, `list`, `selector`; Kopiur's webhook
 * rejects a consumer in a namespace it does not allow) let namespace `ns` use it? undefined when that cannot
 * be told offline: no gate, a label selector (namespace labels are the cluster's), a `${VAR}` in the list.
 */
export function allowedIn(repo: ModelObject, ns: string | undefined): boolean | undefined {
  const a = rec(repo.body, "spec", "allowedNamespaces");
  if (!a) return undefined;
  if (a.all === true || a.all === "true") return true;
  const list = arr(a, "list").filter((x): x is string => typeof x === "string");
  if (ns !== undefined && list.includes(ns)) return true;
  if (list.length === 0 || ns === undefined || ns.includes("${") || a.selector !== undefined) return undefined;
  if (list.some((x) => x.includes("${"))) return undefined;
  return false;
}

/** The reach of a Kopiur Repository / ClusterRepository's backend. */
function backendReach(repo: ModelObject, consumerNs: string | undefined): Reach {
  const cluster = repo.kind === "ClusterRepository";
  const via = cluster ? `ClusterRepository ${repo.name}` : `Repository ${repo.namespace ?? "?"}/${repo.name}`;
  const self = cluster ? `ClusterRepository/${repo.name}` : `Repository/${repo.namespace ?? "?"}/${repo.name}`;
  const allowed = cluster ? allowedIn(repo, consumerNs) : undefined;
  const withAllowed = (r: Reach): Reach => ({
    ...r,
    repositoryObject: repo,
    ...(allowed === undefined ? {} : { allowed }),
  });
  const backend = rec(repo.body, "spec", "backend");
  const fs = rec(backend, "filesystem");
  if (fs) {
    const mountPath = str(fs, "path") ?? "/";
    const claim = str(fs, "volume", "pvc", "name");
    const nfs = rec(fs, "volume", "nfs");
    const volume: Volume | undefined =
      claim !== undefined
        ? { type: "pvc", claimName: claim }
        : nfs
          ? { type: "nfs", server: str(nfs, "server") ?? "?", path: str(nfs, "path") ?? "/" }
          : undefined;
    if (!volume) {
      // `path` exists on the node or in the image (hostPath, baked-in mount): no PVC, no NFS.
      const key = `${self}:${mountPath}`;
      return withAllowed({ transport: "unknown", repository: key, storage: key, via, resolved: true });
    }
    // Kopiur mounts the volume at `path` and keeps the repository at its root.
    const storage = volumeKey(volume);
    return withAllowed({
      transport: transportOfVolume(volume),
      repository: storage,
      storage,
      dir: "",
      via,
      mount: mountInfo(volume, mountPath),
      resolved: true,
    });
  }
  const kind = Object.keys(backend ?? {}).find((k) => OBJECT_BACKENDS.has(k));
  if (kind !== undefined) {
    return withAllowed({ transport: "object", repository: self, storage: self, via, resolved: true });
  }
  return withAllowed(unresolved(self, `${via} (backend not readable here)`));
}

function resolveRef(model: RepoModel, o: ModelObject, ref: RepoRef): Reach {
  const cluster = ref.kind === "ClusterRepository";
  const ns = ref.namespace ?? o.namespace;
  const label = cluster ? `ClusterRepository ${ref.name}` : `Repository ${ns ?? "?"}/${ref.name}`;
  const key = cluster ? `ClusterRepository/${ref.name}` : `Repository/${ns ?? "?"}/${ref.name}`;
  if (ref.name.includes("${") || (!cluster && ns === undefined)) return unresolved(key, `${label} (not resolved)`);
  const found = (cluster ? objectsOf(model, "ClusterRepository") : objectsOf(model, "Repository", ns)).find(
    (r) => r.name === ref.name && isKopiur(r),
  );
  return found ? backendReach(found, o.namespace) : unresolved(key, `${label}, which the repository does not declare`);
}

function kopiurReaches(model: RepoModel, o: ModelObject, depth: number): Reach[] {
  if (o.kind === "Repository") return [backendReach(o, o.namespace)];
  if (o.kind === "ClusterRepository") return [backendReach(o, undefined)];
  const refs: RepoRef[] = [];
  const one = refOf(rec(o.body, "spec", "repository"));
  if (one) refs.push(one);
  for (const r of arr(o.body, "spec", "repositories")) {
    const ref = refOf(r);
    if (ref) refs.push(ref);
  }
  if (refs.length > 0) return refs.map((r) => resolveRef(model, o, r));
  // Schedules, Snapshots and Restores name their policy; the policy names the repository.
  const policy = str(o.body, "spec", "policyRef", "name") ?? str(o.body, "spec", "source", "fromPolicy", "name");
  if (policy !== undefined && depth < 3) {
    const p =
      o.namespace !== undefined && !policy.includes("${")
        ? objectsOf(model, "SnapshotPolicy", o.namespace).find((x) => x.name === policy && isKopiur(x))
        : undefined;
    if (p) return kopiurReaches(model, p, depth + 1);
    return [
      unresolved(`SnapshotPolicy/${o.namespace ?? "?"}/${policy}`, `SnapshotPolicy ${policy}, which is not delivered`),
    ];
  }
  return [unresolved("?", "no repository reference")];
}

const reachCache = perModel(() => new Map<ModelObject, Reach[]>());

/**
 * Every repository a consumer reaches (several only for a Kopiur SnapshotPolicy with `spec.repositories`).
 * Volsync: KOPIA_REPOSITORY of its secret resolved through the volumes its mover Job gets. Kopiur: its
 * `spec.repository` (or `repositories`), else its policy's (`policyRef`, `source.fromPolicy`), and that
 * Repository's or ClusterRepository's backend.
 */
export function reachesOf(model: RepoModel, o: ModelObject): Reach[] {
  const cache = reachCache(model);
  const hit = cache.get(o);
  if (hit) return hit;
  const found = isVolsync(o)
    ? [volsyncReach(model, o)]
    : isKopiur(o)
      ? kopiurReaches(model, o, 0)
      : [unresolved("?", "not a Volsync or Kopiur object")];
  // A claim whose PV mounts a directory of the repository's volume names that directory of it.
  const out = found.map((r) => {
    if (r.transport !== "pvc") return r;
    const at = onRepositoryVolume(model, r.storage, r.dir);
    if (at.storage === r.storage) return r;
    return {
      ...r,
      storage: at.storage,
      dir: at.dir,
      repository: at.dir === undefined ? r.repository : repositoryKey(at.storage, at.dir),
    };
  });
  cache.set(o, out);
  return out;
}

const RANK: Record<Transport, number> = { pvc: 0, nfs: 1, unknown: 2, object: 3 };

/** How a consumer reaches its repository (of several, the one that needs the most of the cluster: pvc first). */
export function reachOf(model: RepoModel, o: ModelObject): Reach {
  const all = reachesOf(model, o);
  let best = all[0] as Reach;
  for (const r of all) if (RANK[r.transport] < RANK[best.transport]) best = r;
  return best;
}

/**
 * Does the repository use the seed's layout (a PVC `claimName` or a shared PV is declared)? Then a consumer
 * whose reach is unresolved is taken to use the per-namespace PVC, as lint always did.
 */
export const seedLayout = perModel((model: RepoModel): boolean => repositoryPairs(model).length > 0);

/**
 * The PVC a consumer needs in its own namespace: the claim of a "pvc" reach; when the repository URL is not
 * known (a Secret made outside Git, or not readable from the cluster), the claim its Volsync mover Job is
 * given (a Job that mounts a missing PVC never starts, whatever the URL) or none when the Job is given only
 * other volumes (an NFS export); with no volume at all, the per-namespace claim in a repository with the
 * seed's layout. Undefined when it needs none (NFS, object store, or unresolved elsewhere).
 */
export function claimNeeded(model: RepoModel, o: ModelObject): string | undefined {
  const all = reachesOf(model, o);
  for (const r of all) if (r.transport === "pvc") return r.mount?.claimName ?? model.conventions.claimName;
  if (!all.some((r) => r.transport === "unknown" && !r.resolved)) return undefined;
  const mounts = isVolsync(o) ? moverMounts(model, o) : [];
  if (mounts.length > 0) {
    for (const m of mounts) if (m.volume.type === "pvc") return m.volume.claimName;
    return undefined;
  }
  return seedLayout(model) ? model.conventions.claimName : undefined;
}

/** Does this reach write files on a volume (so UIDs, fsGroup and directories matter)? */
export function onFilesystem(model: RepoModel, r: Reach): boolean {
  if (r.transport === "pvc" || r.transport === "nfs") return true;
  if (r.transport === "object") return false;
  // Another volume type (hostPath, csi): files all the same. Unresolved: as the seed, where the layout is its.
  return r.resolved || seedLayout(model);
}
