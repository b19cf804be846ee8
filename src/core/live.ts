/**
 * The observed (live) topology: plain data read from a cluster, and the per-namespace health that
 * `verify` prints. Pure: `kube/snapshot.ts` fills these types from API objects; nothing here knows
 * about HTTP or the Kubernetes client.
 */
import { type Conventions, kopiurClaimName, pvName } from "./config.ts";
import { MAP_NAME } from "./render/wiring.ts";
import type { VolumeStyle } from "./topology.ts";
import {
  identityOf,
  identityText,
  pickRepositoryPv,
  reclaimVerdict,
  sameVolume,
  type VolumeIdentity,
} from "./volume-facts.ts";

export interface ClaimRef {
  namespace: string;
  name: string;
  uid: string | undefined;
  resourceVersion: string | undefined;
}

export interface LivePv {
  name: string;
  /** Available, Bound, Released, Failed, Pending; "" when the server did not say. */
  phase: string;
  reclaimPolicy: string;
  storageClassName: string;
  /** spec.capacity.storage as written, e.g. "200Gi". */
  capacity: string | undefined;
  accessModes: string[];
  volumeMode: string | undefined;
  driver: string | undefined;
  volumeHandle: string | undefined;
  volumeAttributes: Record<string, string>;
  claimRef: ClaimRef | undefined;
}

export interface LivePvc {
  namespace: string;
  name: string;
  uid: string;
  /** Pending, Bound, Lost; "" when unknown. */
  phase: string;
  volumeName: string | undefined;
  storageClassName: string | undefined;
  /** spec.resources.requests.storage. */
  request: string | undefined;
  accessModes: string[];
  volumeMode: string | undefined;
}

/** A core/v1 Event about a PVC. */
export interface LiveEvent {
  namespace: string;
  /** involvedObject.name */
  object: string;
  type: string;
  reason: string;
  message: string;
  count: number;
  /** ISO time of the last occurrence, when known. */
  last: string | undefined;
}

export interface LiveNamespace {
  name: string;
  annotations: Record<string, string>;
}

export interface LiveStorageClass {
  name: string;
  provisioner: string;
}

export type ConsumerKind =
  | "ReplicationSource"
  | "ReplicationDestination"
  | "KopiaMaintenance"
  | "Repository"
  | "SnapshotPolicy"
  | "SnapshotSchedule"
  | "Restore"
  | "Maintenance";

/** An object whose mover Jobs run in its namespace and need the repository there. */
export interface LiveConsumer {
  kind: ConsumerKind;
  namespace: string;
  name: string;
  /** Volsync: uses the Kopia mover (spec.kopia). Kopiur objects: always true. */
  kopia: boolean;
  /** Claims the object mounts itself (moverVolumes, repositoryPVC, Kopiur volume.pvc). */
  claims: string[];
  /**
   * The PVC its mover Jobs need in its namespace, as core/transport.ts (`claimNeeded`) resolves it on the
   * live objects, the way lint does on files; undefined: none (an NFS export, an object store).
   */
  claim: string | undefined;
  /** Volsync: spec.kopia.moverVolumes mounts the repository claim (no admission policy needed). */
  moverVolumes: boolean;
  /**
   * When backups run: a Volsync ReplicationSource's spec.trigger.schedule, a Kopiur SnapshotSchedule's
   * spec.schedule.cron (undefined when it is suspended).
   */
  schedule: string | undefined;
  /**
   * The last successful backup (ISO): a ReplicationSource's status.lastSyncTime, a SnapshotSchedule's
   * status.lastSuccessfulSchedule.at.
   */
  lastSyncTime: string | undefined;
  created: string | undefined;
}

/** A status condition (metav1.Condition). */
export interface LiveCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

/** A Kopiur Repository or ClusterRepository: where its filesystem backend lives and how it is doing. */
export interface LiveKopiurRepository {
  kind: "Repository" | "ClusterRepository";
  /** "" for a ClusterRepository. */
  namespace: string;
  name: string;
  /** spec.backend.filesystem.volume.pvc.name: the claim movers mount in their namespace. */
  claim: string | undefined;
  /** ClusterRepository spec.allowedNamespaces.list: the namespaces that may consume it. */
  allowedNamespaces: string[];
  /** spec.moverDefaults.securityContext.runAsUser: the UID Kopiur's movers will use. */
  moverUid: number | undefined;
  conditions: LiveCondition[];
}

export interface LiveKustomization {
  namespace: string;
  name: string;
  targetNamespace: string | undefined;
  path: string | undefined;
}

export interface ServerVersion {
  major: number;
  minor: number;
  gitVersion: string;
}

/** Where each piece of the snapshot comes from; a check names the sources it needs. */
export type Source =
  | "version"
  | "discovery"
  | "persistentvolumes"
  | "persistentvolumeclaims"
  | "namespaces"
  | "events"
  | "storageclasses"
  | "volsync"
  | "kopiur"
  | "kustomizations"
  | "admissionpolicies";

/** A read the server refused (403), or answered 404 for (a resource discovery did not promise). */
export interface Denial {
  source: Source;
  /** Undefined: forbidden (403). */
  reason?: "forbidden" | "notfound";
  verb: string;
  /** plural, with the group when not core: "replicationsources.volsync.backube". */
  resource: string;
  /** Undefined: cluster-wide. */
  namespace: string | undefined;
}

export function permissionText(d: Pick<Denial, "verb" | "resource" | "namespace" | "reason">): string {
  if (d.reason === "notfound") {
    return `the server has no ${d.resource} (${d.verb} ${d.namespace ? `in ${d.namespace}` : "cluster-wide"} answered 404 NotFound)`;
  }
  return `missing permission: ${d.verb} ${d.resource} ${d.namespace ? `in ${d.namespace}` : "cluster-wide"}`;
}

export interface LivePolicy {
  name: string;
  /** Every string under spec.mutations (the CEL expressions), one per line. */
  mutations: string;
}

export interface AdmissionPolicies {
  /** admissionregistration.k8s.io versions that serve mutatingadmissionpolicies, best first. */
  served: string[];
  /** Policies and bindings in the first served version (undefined: not listed). */
  policies: LivePolicy[] | undefined;
  /** policyName of every binding. */
  bindings: string[] | undefined;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The repository's MutatingAdmissionPolicy: named MAP_NAME (what `kopiashare init` writes), or one whose
 * mutations add a PVC volume named `repository` or mount the per-namespace claim (`claimName`).
 * Another policy, bound or not, does not put the repository into mover Jobs.
 */
export function isRepositoryPolicy(p: LivePolicy, c: Conventions): boolean {
  if (p.name === MAP_NAME) return true;
  const t = p.mutations;
  if (!/persistentVolumeClaim/.test(t)) return false;
  const quoted = (key: string, value: string) => new RegExp(`\\b${key}\\s*:\\s*['"]${escapeRe(value)}['"]`).test(t);
  return quoted("name", "repository") || quoted("claimName", c.claimName);
}

/** The repository's policies among those listed, and which of them a binding names. */
export function repositoryPolicies(
  a: AdmissionPolicies,
  c: Conventions,
): { policies: LivePolicy[]; bound: LivePolicy[] } {
  const policies = (a.policies ?? []).filter((p) => isRepositoryPolicy(p, c));
  const bindings = new Set(a.bindings ?? []);
  return { policies, bound: policies.filter((p) => bindings.has(p.name)) };
}

export interface Observed {
  /** The API server URL, for messages. */
  server: string;
  /** Undefined when it could not be read. */
  version: ServerVersion | undefined;
  /** Served API groups and their preferred versions ("volsync.backube" -> "v1alpha1"). */
  groups: Record<string, string>;
  /**
   * Resources (plurals) of the optional groups (Volsync, Kopiur, Flux) in their preferred version, from
   * discovery ("volsync.backube" -> ["replicationsources", …]). Only these are listed; a group missing
   * here is not served, or its discovery was refused (then `denied` says so).
   */
  resources: Record<string, string[]>;
  pvs: LivePv[];
  pvcs: LivePvc[];
  namespaces: LiveNamespace[];
  events: LiveEvent[];
  storageClasses: LiveStorageClass[];
  consumers: LiveConsumer[];
  kustomizations: LiveKustomization[];
  /** Kopiur Repositories and ClusterRepositories (empty when Kopiur is not served). */
  kopiurRepositories: LiveKopiurRepository[];
  admission: AdmissionPolicies;
  denied: Denial[];
  /** The snapshot was limited to one namespace (-n). */
  namespace: string | undefined;
  /** API requests the snapshot took. */
  requests: number;
}

export const VOLSYNC_GROUP = "volsync.backube";
export const KOPIUR_GROUP = "kopiur.home-operations.com";
export const FLUX_KS_GROUP = "kustomize.toolkit.fluxcd.io";

export function emptyObserved(server = ""): Observed {
  return {
    server,
    version: undefined,
    groups: {},
    resources: {},
    pvs: [],
    pvcs: [],
    namespaces: [],
    events: [],
    storageClasses: [],
    consumers: [],
    kustomizations: [],
    kopiurRepositories: [],
    admission: { served: [], policies: undefined, bindings: undefined },
    denied: [],
    namespace: undefined,
    requests: 0,
  };
}

export function deniedFor(o: Observed, sources: readonly Source[]): Denial[] {
  return o.denied.filter((d) => sources.includes(d.source));
}

/** Whether discovery says `group` serves `plural` (in its preferred version). */
export function served(o: Observed, group: string, plural: string): boolean {
  return o.resources[group]?.includes(plural) ?? false;
}

/** "kopiamaintenances.volsync.backube is not served (volsync.backube/v1alpha1 has no kopiamaintenances)". */
export function notServedText(o: Observed, group: string, plural: string): string {
  const v = o.groups[group];
  return v ? `${group}/${v} serves no ${plural}` : `the API server serves no ${group} (not installed)`;
}

// ---------------------------------------------------------------------------------------------
// The repository volume (identity, style and reclaim verdicts: volume-facts.ts)

/** The namespace a kopia PV belongs to: its name suffix, else its claimRef. */
export function namespaceOfPv(pv: LivePv, c: Conventions): string | undefined {
  if (pv.name.startsWith(c.pvPrefix) && pv.name.length > c.pvPrefix.length) return pv.name.slice(c.pvPrefix.length);
  if (pv.claimRef?.name === c.claimName) return pv.claimRef.namespace;
  return undefined;
}

/**
 * The uid a PV's claimRef still holds for a claim `claimName` of its namespace that is gone (deleted, or
 * deleted and made again with a new uid): such a PV never binds the claim again until the uid (and the
 * resourceVersion) are removed (kubernetes/kubernetes#91847). Doctor's `pv/released-stale-claim` reports it
 * for a pending claim; the controller removes it. Undefined when the claimRef is current or names another claim.
 */
export function staleClaimRef(pv: LivePv, pvc: LivePvc | undefined, c: Conventions): string | undefined {
  const ref = pv.claimRef;
  if (!ref?.uid || ref.name !== c.claimName) return undefined;
  if (pvc && (pvc.namespace !== ref.namespace || pvc.name !== ref.name)) return undefined;
  return pvc?.uid === ref.uid ? undefined : ref.uid;
}

/** PVs of the shared repository: named <pvPrefix><ns>, claimed by a `kopia` claim, or named by one. */
export function kopiaPvs(o: Pick<Observed, "pvs" | "pvcs">, c: Conventions): LivePv[] {
  const named = new Set(o.pvcs.filter((p) => p.name === c.claimName && p.volumeName).map((p) => p.volumeName));
  return o.pvs.filter(
    (pv) => pv.name.startsWith(c.pvPrefix) || pv.claimRef?.name === c.claimName || named.has(pv.name),
  );
}

export interface Repository {
  /** The repository PV, when found. */
  pv: LivePv | undefined;
  /** The identity every PV must have; from the repository PV, else the most common one. */
  identity: VolumeIdentity | undefined;
  /** How it was found, for messages. */
  origin: string;
}

/**
 * The repository PV among the kopia PVs (volume-facts.ts `pickRepositoryPv`, the same pick as lint's):
 * <pvPrefix><repositoryNamespace>, else the PV claimed by <repositoryNamespace>/<claim>. Without either,
 * no repository PV, and the identity every PV must have is the one most kopia PVs share.
 */
export function findRepository(o: Pick<Observed, "pvs" | "pvcs">, c: Conventions): Repository {
  const pick = pickRepositoryPv(kopiaPvs(o, c), c);
  if (!pick) return { pv: undefined, identity: undefined, origin: "none" };
  if (pick.by !== "majority") return { pv: pick.pv, identity: identityOf(pick.pv), origin: `PV ${pick.pv.name}` };
  return {
    pv: undefined,
    identity: identityOf(pick.pv),
    origin: `the volume most kopia PVs use (${pick.votes} PV(s); no ${pvName(c, c.repositoryNamespace)})`,
  };
}

/** The name of the repository PV doctor finds (none when only a majority of PVs suggests the volume). */
export function findRepositoryPv(pvs: LivePv[], pvcs: LivePvc[], c: Conventions): string | undefined {
  return findRepository({ pvs, pvcs }, c).pv?.name;
}

// ---------------------------------------------------------------------------------------------
// Per-namespace status (verify)

export interface NamespaceStatus {
  namespace: string;
  pvc: LivePvc | undefined;
  /** The PV the claim names (spec.volumeName), else the conventional <pvPrefix><ns>. */
  pvName: string;
  pv: LivePv | undefined;
  /** true / false; undefined when there is no PV or no repository volume to compare with. */
  volumeMatches: boolean | undefined;
  /** spec.claimRef of the PV, as "namespace/name". */
  reservedFor: string | undefined;
  /** The PV's claimRef names this namespace's claim; undefined without a PV. */
  reserved: boolean | undefined;
  healthy: boolean;
  problems: string[];
}

/**
 * Kopiur (Cluster)Repositories whose filesystem backend is one of the repository's claims: the seed's
 * `claimName`, or Kopiur's own `kopiurClaimName` (what `init --mover kopiur` and `migrate --to kopiur`
 * write: a PV whose root is the repository directory, config.ts).
 */
export function kopiurRepositoriesOnClaim(o: Observed, c: Conventions): LiveKopiurRepository[] {
  const claims = new Set([c.claimName, kopiurClaimName(c)]);
  return o.kopiurRepositories.filter((r) => r.claim !== undefined && claims.has(r.claim));
}

/**
 * Namespaces `verify` looks at by default: every one with a `kopia` PVC or a <pvPrefix>* PV, and every
 * namespace a Kopiur ClusterRepository on one of the repository's claims allows (it consumes the
 * repository through Kopiur; kopiashare enables such a namespace with the PVC `kopia` too).
 */
export function defaultScope(o: Observed, c: Conventions): string[] {
  const out = new Set<string>();
  for (const r of kopiurRepositoriesOnClaim(o, c)) for (const ns of r.allowedNamespaces) out.add(ns);
  for (const p of o.pvcs) if (p.name === c.claimName) out.add(p.namespace);
  for (const pv of o.pvs) {
    if (!pv.name.startsWith(c.pvPrefix)) continue;
    const ns = namespaceOfPv(pv, c);
    if (ns) out.add(ns);
  }
  return [...out].sort();
}

export function namespaceStatus(o: Observed, c: Conventions, ns: string, repo: Repository): NamespaceStatus {
  const pvc = o.pvcs.find((p) => p.namespace === ns && p.name === c.claimName);
  const name = pvc?.volumeName || pvName(c, ns);
  const pv = o.pvs.find((p) => p.name === name);
  const problems: string[] = [];
  if (!pvc) problems.push(`no PVC ${c.claimName} in namespace ${ns}`);
  else if (pvc.phase !== "Bound") problems.push(`PVC ${c.claimName} is ${pvc.phase || "not bound"}`);
  if (pvc && !pvc.volumeName) problems.push(`PVC ${c.claimName} names no volume (spec.volumeName is empty)`);
  if (!pv) problems.push(`PV ${name} does not exist`);
  let volumeMatches: boolean | undefined;
  if (pv) {
    if (pv.phase !== "Bound") problems.push(`PV ${pv.name} is ${pv.phase || "not bound"}`);
    if (pv.claimRef && (pv.claimRef.namespace !== ns || pv.claimRef.name !== c.claimName)) {
      problems.push(`PV ${pv.name} is reserved for ${pv.claimRef.namespace}/${pv.claimRef.name}`);
    }
    // doctor's and the controller's definition; a claim whose uid the server did not send is not judged.
    const stale = pvc?.uid ? staleClaimRef(pv, pvc, c) : undefined;
    if (stale) problems.push(`PV ${pv.name} still names a deleted claim (claimRef.uid ${stale})`);
    if (repo.identity) {
      volumeMatches = sameVolume(pv, repo.identity);
      if (!volumeMatches) {
        problems.push(
          `PV ${pv.name} points at ${identityText(identityOf(pv))}, not the repository's ${identityText(repo.identity)}`,
        );
      }
    }
    if (pv.reclaimPolicy !== "Retain") {
      const shared = reclaimVerdict(pv)?.severity === "error";
      problems.push(
        `PV ${pv.name} has reclaim policy ${pv.reclaimPolicy || "(unknown)"}, not Retain${shared ? ": deleting it or its claim can delete the shared subvolume" : ""}`,
      );
    }
  }
  return {
    namespace: ns,
    pvc,
    pvName: name,
    pv,
    volumeMatches,
    reservedFor: pv?.claimRef ? `${pv.claimRef.namespace}/${pv.claimRef.name}` : undefined,
    reserved: pv ? pv.claimRef?.namespace === ns && pv.claimRef.name === c.claimName : undefined,
    healthy: problems.length === 0,
    problems,
  };
}

export interface VerifyReport {
  server: string;
  repository: {
    pv: string | undefined;
    style: VolumeStyle | undefined;
    volumeHandle: string | undefined;
    rootPath: string | undefined;
    origin: string;
  };
  namespaces: NamespaceStatus[];
  healthy: boolean;
}

export function verify(o: Observed, c: Conventions, namespaces: string[] | undefined): VerifyReport {
  const repo = findRepository(o, c);
  const scope = namespaces ?? defaultScope(o, c);
  const rows = scope.map((ns) => namespaceStatus(o, c, ns, repo));
  return {
    server: o.server,
    repository: {
      pv: repo.pv?.name,
      style: repo.identity?.style,
      volumeHandle: repo.pv?.volumeHandle ?? repo.identity?.handle,
      rootPath: repo.identity?.rootPath,
      origin: repo.origin,
    },
    namespaces: rows,
    healthy: rows.every((r) => r.healthy),
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared by checks

export function eventsFor(o: Observed, namespace: string, name: string): LiveEvent[] {
  return o.events
    .filter((e) => e.namespace === namespace && e.object === name)
    .sort((a, b) => (a.last ?? "").localeCompare(b.last ?? ""));
}
