/**
 * `doctor`: a closed list of checks over the observed topology, shaped like lint's rules: each has a
 * `meta` (a stable grouped id `group/name`, a title, why it matters) and returns Pass, Warn or Fail
 * findings with what was found, why it matters and the exact fix; the runner stamps each with the id.
 * A check whose input the server refused (401/403) is a Warn naming the missing permission.
 * Pure: no I/O; `now` is passed in.
 */
import { type Conventions, kopiurClaimName, kopiurPvName, ksName, pvName } from "./config.ts";
import { humanDuration, maxInterval } from "./cron.ts";
import {
  type Denial,
  defaultScope,
  deniedFor,
  eventsFor,
  findRepository,
  KOPIUR_GROUP,
  kopiaPvs,
  kopiurRepositoriesOnClaim,
  type LiveConsumer,
  type LiveKopiurRepository,
  type LivePv,
  type LivePvc,
  namespaceOfPv,
  notServedText,
  type Observed,
  permissionText,
  type Repository,
  repositoryPolicies,
  type Source,
  served,
  staleClaimRef,
  VOLSYNC_GROUP,
} from "./live.ts";
import { MAP_NAME } from "./render/wiring.ts";
import {
  type ClaimMismatch,
  claimMismatches,
  crossStyleVolume,
  identityKey,
  identityOf,
  identityText,
  keepsData,
  type ReclaimVerdict,
  reclaimVerdict,
  retainFirst,
  retainPatch,
  rootOffset,
  sameVolume,
  styleOfPv,
  type VolumeIdentity,
} from "./volume-facts.ts";

/** "skip": the check could not look (an API the cluster does not serve, nothing of its kind exists); `what` says why. */
export type Status = "pass" | "skip" | "warn" | "fail";

export interface CheckResult {
  check: string;
  status: Status;
  /** What the result is about: "cluster", a namespace, "PV <name>", "<ns>/<ReplicationSource>". */
  subject: string;
  what: string;
  why?: string;
  fix?: string;
}

/** What a check's `run` reports: a result without the check's id, which the runner stamps. */
export type CheckFinding = Omit<CheckResult, "check">;

export interface CheckReport {
  id: string;
  title: string;
  status: Status;
  results: CheckResult[];
}

export interface DoctorOptions {
  /** Limit namespace checks to these (-n); default: every namespace with a kopia PVC/PV or a consumer. */
  namespaces?: string[];
  now: Date;
  /**
   * Whether movers get the repository from a MutatingAdmissionPolicy (Volsync fork <= 0.16), when the
   * GitOps repo says so; undefined: decide from the cluster's ReplicationSources.
   */
  admissionPolicyExpected?: boolean;
}

interface Env {
  o: Observed;
  c: Conventions;
  repo: Repository;
  /** Namespaces the per-namespace checks look at. */
  scope: string[];
  inScope(ns: string | undefined): boolean;
  opts: DoctorOptions;
}

/**
 * A check's identity, shaped like lint's RuleMeta (core/rules/types.ts): a grouped id, one line, and why
 * it matters. Groups mirror lint's rule groups where the subject is the same (volume/, repository/,
 * admission/, delivery/, permissions/); pv/ and pvc/ are the live objects the binding checks look at.
 */
export interface CheckMeta {
  /** Stable id "group/name": `-o json`'s checks[].id and the row of docs/commands.md. */
  id: string;
  /** The flat id the check had before ids were grouped (docs/commands.md lists the rename); none for a check added since. */
  formerly?: string;
  /** One line: what holds when the check passes. */
  title: string;
  /** Why it matters. */
  why: string;
}

export interface CheckDef {
  meta: CheckMeta;
  /** For docs/commands.md: what it checks, when it warns, when it fails, the fix. */
  doc: { checks: string; warn: string; fail: string; fix: string };
  /** The lint rules that look for the same problem in the GitOps repository (docs link them both ways). */
  lint?: readonly string[];
  needs: readonly Source[];
  /**
   * Why the check cannot look, when it cannot (an API the cluster does not serve, nothing of its kind
   * in scope): the check is skipped with that reason instead of passing on nothing.
   */
  skip?(env: Env): string | undefined;
  /** Results that are not a plain pass; empty means pass with `passText` (which says what was seen). */
  run(env: Env): CheckFinding[];
  passText(env: Env): string;
}

const SEVERITY: Record<Status, number> = { pass: 0, skip: 1, warn: 2, fail: 3 };

export function worst(statuses: Status[]): Status {
  return statuses.reduce<Status>((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), "pass");
}

const jsonPatchRemoveUid = (pv: string) =>
  `kubectl patch pv ${pv} --type json -p '[{"op":"remove","path":"/spec/claimRef/uid"},{"op":"remove","path":"/spec/claimRef/resourceVersion"}]'`;

const reconcile = (c: Conventions, ns: string) => `flux reconcile kustomization ${ksName(c, ns)} --with-source`;

/**
 * Delete the claim and the PV of `ns` and let Flux recreate them. A PV that is not Retain is patched to
 * Retain first: with Delete, deleting a shared-handle PV or its claim can delete the whole shared subvolume.
 */
const recreate = (c: Conventions, ns: string, pv: LivePv) =>
  `${retainFirst(pv)}kubectl delete pvc -n ${ns} ${c.claimName} && kubectl delete pv ${pv.name} && ${reconcile(c, ns)}`;

/** A reclaim verdict as a check status: a shared handle fails, a static volume warns (lint: error, warning). */
const reclaimStatus = (v: ReclaimVerdict): Status => (v.severity === "error" ? "fail" : "warn");

function grantFix(d: Denial): string {
  if (d.resource.startsWith("/")) {
    const who = `--user="$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}')"`;
    return `kubectl create clusterrole kopiashare-doctor-discovery --verb=get --non-resource-url=${d.resource} && kubectl create clusterrolebinding kopiashare-doctor-discovery --clusterrole=kopiashare-doctor-discovery ${who}`;
  }
  const [plural, ...group] = d.resource.split(".");
  const res = group.length ? `${plural}.${group.join(".")}` : (plural as string);
  const who = `--user="$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}')"`;
  return d.namespace
    ? `kubectl -n ${d.namespace} create role kopiashare-doctor --verb=get,list --resource=${res} && kubectl -n ${d.namespace} create rolebinding kopiashare-doctor --role=kopiashare-doctor ${who}`
    : `kubectl create clusterrole kopiashare-doctor --verb=get,list --resource=${res} && kubectl create clusterrolebinding kopiashare-doctor --clusterrole=kopiashare-doctor ${who}`;
}

function pvsInScope(env: Env): LivePv[] {
  return kopiaPvs(env.o, env.c).filter((pv) => env.inScope(namespaceOfPv(pv, env.c)));
}

/** PVCs `kopia` in the namespaces the checks look at. */
function pvcsInScope(env: Env): LivePvc[] {
  return env.scope.map((ns) => pvcOf(env, ns)).filter((p): p is LivePvc => !!p);
}

/** Skip reason of the pending-claim checks: nothing to look at. */
function noPvcs(env: Env): string | undefined {
  return pvcsInScope(env).length === 0
    ? `no PVC ${env.c.claimName} in ${env.opts.namespaces ? env.opts.namespaces.join(", ") : "any namespace"}`
    : undefined;
}

/** "3 PVC(s) kopia, 1 not Bound": what the pending-claim checks saw. */
function pvcsSeen(env: Env): string {
  const pvcs = pvcsInScope(env);
  const pending = pvcs.filter((p) => p.phase !== "Bound").length;
  return `${pvcs.length} PVC(s) ${env.c.claimName}, ${pending === 0 ? "all Bound" : `${pending} not Bound`}`;
}

function noPvs(env: Env): string | undefined {
  return pvsInScope(env).length === 0
    ? `no kopia PV (${env.c.pvPrefix}*, or claimed by a PVC ${env.c.claimName})${env.opts.namespaces ? ` of ${env.opts.namespaces.join(", ")}` : ""}`
    : undefined;
}

const CONSUMER_KINDS: [string, string, string][] = [
  [VOLSYNC_GROUP, "replicationsources", "ReplicationSource"],
  [VOLSYNC_GROUP, "replicationdestinations", "ReplicationDestination"],
  [VOLSYNC_GROUP, "kopiamaintenances", "KopiaMaintenance"],
  [KOPIUR_GROUP, "repositories", "Repository"],
  [KOPIUR_GROUP, "snapshotpolicies", "SnapshotPolicy"],
  [KOPIUR_GROUP, "snapshotschedules", "SnapshotSchedule"],
  [KOPIUR_GROUP, "restores", "Restore"],
  [KOPIUR_GROUP, "maintenances", "Maintenance"],
];

/** The consumer kinds discovery says are served (and so were listed). */
function servedConsumerKinds(o: Observed): string[] {
  return CONSUMER_KINDS.filter(([g, p]) => served(o, g, p)).map(([, , k]) => k);
}

function pvcOf(env: Env, ns: string): LivePvc | undefined {
  return env.o.pvcs.find((p) => p.namespace === ns && p.name === env.c.claimName);
}

function lastWarning(env: Env, ns: string): string | undefined {
  const evs = eventsFor(env.o, ns, env.c.claimName);
  const w = [...evs].reverse().find((e) => e.type === "Warning") ?? evs[evs.length - 1];
  return w ? `${w.reason}: ${w.message}${w.count > 1 ? ` (x${w.count})` : ""}` : undefined;
}

// ---------------------------------------------------------------------------------------------
// Why a claim is Pending: one diagnosis per namespace, reported by exactly one check (its kind is that check's id).

type Diagnosis =
  | { kind: "pv/missing"; pvc: LivePvc; pv: string }
  | { kind: "pv/bound-elsewhere"; pvc: LivePvc; pv: LivePv; holder: string }
  | { kind: "pv/released-stale-claim"; pvc: LivePvc; pv: LivePv }
  | { kind: "pv/mismatch"; pvc: LivePvc; pv: LivePv; mismatches: ClaimMismatch[]; event: string | undefined }
  | { kind: "other"; pvc: LivePvc; pv: LivePv | undefined; event: string | undefined };

function diagnose(env: Env, ns: string): Diagnosis | undefined {
  const { o, c } = env;
  const pvc = pvcOf(env, ns);
  if (!pvc || pvc.phase === "Bound") return undefined;
  const name = pvc.volumeName || pvName(c, ns);
  const pv = o.pvs.find((p) => p.name === name);
  const event = lastWarning(env, ns);
  if (!pv) return pvc.volumeName ? { kind: "pv/missing", pvc, pv: name } : { kind: "other", pvc, pv: undefined, event };
  const ref = pv.claimRef;
  if (ref && (ref.namespace !== ns || ref.name !== c.claimName)) {
    return { kind: "pv/bound-elsewhere", pvc, pv, holder: `${ref.namespace}/${ref.name}` };
  }
  if (staleClaimRef(pv, pvc, c)) return { kind: "pv/released-stale-claim", pvc, pv };
  const mm = claimMismatches(pvc, pv);
  if (mm.length > 0 || /VolumeMismatch/.test(event ?? "")) {
    return { kind: "pv/mismatch", pvc, pv, mismatches: mm, event };
  }
  return { kind: "other", pvc, pv, event };
}

function diagnoses<K extends Diagnosis["kind"]>(env: Env, kind: K): Extract<Diagnosis, { kind: K }>[] {
  const out: Extract<Diagnosis, { kind: K }>[] = [];
  for (const ns of env.scope) {
    const d = diagnose(env, ns);
    if (d?.kind === kind) out.push(d as Extract<Diagnosis, { kind: K }>);
  }
  return out;
}

const pendingText = (pvc: LivePvc) => `PVC ${pvc.namespace}/${pvc.name} is ${pvc.phase || "not bound"}`;

// ---------------------------------------------------------------------------------------------
// Consumers

function kopiaConsumers(env: Env): LiveConsumer[] {
  return env.o.consumers.filter((x) => x.kopia);
}

/** Kopia consumers in scope whose mover Jobs need a PVC in their namespace (LiveConsumer.claim). */
function claimConsumers(env: Env): LiveConsumer[] {
  return kopiaConsumers(env).filter((x) => env.inScope(x.namespace) && x.claim !== undefined);
}

/** Namespaces permissions/privileged-movers reads: in scope, with a PVC kopia or a consumer, and listed. */
function relevantNamespaces(env: Env): string[] {
  const relevant = new Set([...env.scope, ...kopiaConsumers(env).map((x) => x.namespace)]);
  return env.o.namespaces.filter((n) => relevant.has(n.name) && env.inScope(n.name)).map((n) => n.name);
}

function kopiurRepos(env: Env): LiveKopiurRepository[] {
  return kopiurRepositoriesOnClaim(env.o, env.c).filter((r) => !r.namespace || env.inScope(r.namespace));
}

/** "ClusterRepository kopia", "Repository media/kopia". */
const repositoryText = (r: LiveKopiurRepository) => `${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name}`;

/** A claim Kopiur's movers mount in a namespace, and the repositories (in scope) whose backend it is. */
interface MoverClaim {
  namespace: string;
  claim: string;
  repositories: LiveKopiurRepository[];
}

/**
 * Where Kopiur's movers mount a PVC backend: for each Kopiur repository in scope whose filesystem backend is
 * a PVC, each namespace whose movers use it (a Repository's own; a ClusterRepository's
 * allowedNamespaces.list and the namespaces of Kopiur objects resolved to its claim, e.g. its Maintenance),
 * in scope. One entry per namespace and claim, sorted.
 */
function moverClaims(env: Env): MoverClaim[] {
  const byKey = new Map<string, MoverClaim>();
  const add = (namespace: string, claim: string, r: LiveKopiurRepository) => {
    if (!env.inScope(namespace)) return;
    const key = `${namespace}/${claim}`;
    const m = byKey.get(key) ?? { namespace, claim, repositories: [] };
    if (!m.repositories.includes(r)) m.repositories.push(r);
    byKey.set(key, m);
  };
  const kopiurKinds = new Set(CONSUMER_KINDS.filter(([g]) => g === KOPIUR_GROUP).map(([, , k]) => k));
  for (const r of env.o.kopiurRepositories) {
    const claim = r.claim;
    if (claim === undefined || (r.namespace && !env.inScope(r.namespace))) continue;
    if (r.kind === "Repository") {
      add(r.namespace, claim, r);
      continue;
    }
    for (const ns of r.allowedNamespaces) add(ns, claim, r);
    for (const x of env.o.consumers) if (kopiurKinds.has(x.kind) && x.claim === claim) add(x.namespace, claim, r);
  }
  return [...byKey.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.claim.localeCompare(b.claim));
}

const trimDir = (d: string) => d.replace(/^\/+|\/+$/g, "");
const showDir = (d: string) => (d === "" ? "the root" : `directory ${d}/`);

/** The command that prints a subvolume's path (ceph-csi's default group `csi`), for a volume that does not say it. */
function getpath(repo: VolumeIdentity): string {
  return `ceph fs subvolume getpath ${repo.fsName ?? "<fs>"} ${repo.subvolume ? `csi-vol-${repo.subvolume}` : "<subvolume>"} csi`;
}

/** The rootPath Kopiur's PVs need: the subvolume's path plus /repositoryDir. */
function wantedRootPath(env: Env, repo: VolumeIdentity): string {
  const dir = trimDir(env.c.repositoryDir);
  return repo.style === "static" && repo.rootPath
    ? `${repo.rootPath.replace(/\/+$/, "")}/${dir}`
    : `<the subvolume's path, from: ${getpath(repo)}>/${dir}`;
}

/**
 * How to give the movers of `m` a volume whose root is the repository directory: kopiashare's own claim is
 * rewritten by `enable --force` (spec.csi is immutable: PVC and PV are recreated); movers on the seed's
 * claim (or another) move to Kopiur's claim with `migrate --to kopiur`.
 */
function volumeRootFix(env: Env, m: MoverClaim, pv: LivePv | undefined, repo: VolumeIdentity | undefined): string {
  const { c } = env;
  const ns = m.namespace;
  const own = kopiurClaimName(c);
  const rootPath = repo ? wantedRootPath(env, repo) : `the subvolume's path + /${trimDir(c.repositoryDir)}`;
  if (m.claim === own) {
    const again = pv
      ? `; commit and push, then (a PV's spec.csi is immutable):\n${retainFirst(pv)}kubectl delete pvc -n ${ns} ${own} && kubectl delete pv ${pv.name} && ${reconcile(c, ns)}`
      : `; commit and push, then: ${reconcile(c, ns)}`;
    const source = kopiurPvName(c, c.repositoryNamespace);
    return ns === c.repositoryNamespace
      ? `set rootPath ${rootPath} on PV ${source} in the repository (kopiashare enable renders every namespace's ${own} pair from it)${again}`
      : `kopiashare enable ${ns} --force  # writes PVC ${own} bound to PV ${kopiurPvName(c, ns)}, rootPath ${rootPath}, from the repository's PV ${source} (if that one is wrong too, fix its rootPath first)${again}`;
  }
  const subvolume = repo && repo.style !== "static" ? ` --subvolume-path "$(${getpath(repo)})"` : "";
  const names = m.repositories.map(repositoryText).join(", ");
  return `kopiashare migrate --to kopiur${subvolume}  # from a Volsync generation: writes PVC ${own} + PV ${kopiurPvName(c, ns)} (rootPath ${rootPath}) into every enabled namespace and puts the ClusterRepository's backend on ${own}; a repository already on Kopiur: point ${names}'s spec.backend.filesystem.volume.pvc.name at ${own} (kopiashare init --mover kopiur --force renders it) and run kopiashare enable ${ns} --force; commit, push, then: ${reconcile(c, ns)}`;
}

function maintenances(env: Env): LiveConsumer[] {
  return env.o.consumers.filter((x) => x.kind === "KopiaMaintenance" || x.kind === "Maintenance");
}

/** What takes backups on a schedule: Kopia ReplicationSources and (not suspended) Kopiur SnapshotSchedules. */
function scheduledSources(env: Env): LiveConsumer[] {
  return kopiaConsumers(env).filter(
    (x) => (x.kind === "ReplicationSource" || x.kind === "SnapshotSchedule") && x.schedule && env.inScope(x.namespace),
  );
}

/**
 * A Kopiur cron in the five fields the cron reader knows: Jenkins' `H` (a fixed per-object slot) reads as
 * the field's first value, which keeps the longest gap between runs.
 */
function plainCron(schedule: string): string {
  return schedule.replace(/\bH\(([0-9]+)-[0-9]+\)/g, "$1").replace(/\bH\b/g, "0");
}

function relyOnAdmissionPolicy(env: Env): { relied: boolean; why: string } {
  if (env.opts.admissionPolicyExpected !== undefined) {
    return {
      relied: env.opts.admissionPolicyExpected,
      why: env.opts.admissionPolicyExpected
        ? "the repository's mover setting (volsync-0.16) injects the repository with a MutatingAdmissionPolicy"
        : "the repository's mover setting does not use a MutatingAdmissionPolicy",
    };
  }
  const volsync = env.o.consumers.filter(
    (x) => x.kopia && (x.kind === "ReplicationSource" || x.kind === "ReplicationDestination"),
  );
  const without = volsync.filter((x) => !x.moverVolumes);
  if (without.length > 0) {
    const first = without[0] as LiveConsumer;
    return {
      relied: true,
      why: `${without.length} Volsync object(s) (e.g. ${first.kind} ${first.namespace}/${first.name}) mount no repository through spec.kopia.moverVolumes, so they rely on the admission policy`,
    };
  }
  const ours = repositoryPolicies(env.o.admission, env.c).policies;
  if (ours.length > 0) {
    return {
      relied: true,
      why: `the cluster has the repository's MutatingAdmissionPolicy ${ours.map((p) => p.name).join(", ")}`,
    };
  }
  return {
    relied: false,
    why:
      volsync.length > 0
        ? "every Volsync object mounts the repository through spec.kopia.moverVolumes"
        : env.o.groups[VOLSYNC_GROUP]
          ? "no Volsync ReplicationSource/Destination uses the Kopia mover"
          : `Volsync is not installed (${notServedText(env.o, VOLSYNC_GROUP, "replicationsources")})`,
  };
}

// ---------------------------------------------------------------------------------------------
// The checks

export const CHECKS: readonly CheckDef[] = [
  {
    meta: {
      id: "repository/pv",
      formerly: "repository-pv",
      title: "the repository PV exists and is Retain",
      why: "every namespace's PV copies the repository PV's volume: without it nothing says where the repository lives, and a repository PV that is not Retain can take the shared data with it",
    },
    lint: ["volume/reclaim-policy"],
    doc: {
      checks:
        "PV `<pvPrefix><repositoryNamespace>` (else the PV claimed by `<repositoryNamespace>/kopia`) exists and has `persistentVolumeReclaimPolicy: Retain`",
      warn: 'a static-style repository PV (`staticVolume: "true"`) that is not Retain',
      fail: "no repository PV; or it carries the shared handle and its reclaim policy is not Retain",
      fix: 'restore it from the GitOps repo (`flux reconcile kustomization …`), or `kubectl patch pv <pv> -p \'{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}\'`',
    },
    needs: ["persistentvolumes"],
    run(env) {
      const { c, repo } = env;
      const want = pvName(c, c.repositoryNamespace);
      if (!repo.pv) {
        return [
          {
            status: "fail",
            subject: "cluster",
            what: `no repository PV: neither PV ${want} nor a PV claimed by ${c.repositoryNamespace}/${c.claimName} exists`,
            why: "every namespace's PV copies the repository PV's volume; without it nothing says where the repository lives",
            fix: `restore it from the GitOps repo: ${reconcile(c, c.repositoryNamespace)} (or run \`kopiashare init\` to write it)`,
          },
        ];
      }
      const verdict = reclaimVerdict(repo.pv);
      if (verdict) {
        return [
          {
            status: reclaimStatus(verdict),
            subject: `PV ${repo.pv.name}`,
            what: `the repository PV ${repo.pv.name} (${verdict.style}) has reclaim policy ${verdict.policy}`,
            why: verdict.why,
            fix: `${retainPatch(repo.pv.name)}  # and set persistentVolumeReclaimPolicy: Retain in its manifest`,
          },
        ];
      }
      return [];
    },
    passText: ({ repo }) =>
      `PV ${repo.pv?.name} exists, reclaim ${repo.pv?.reclaimPolicy || "?"}, ${repo.identity ? identityText(repo.identity) : "no volume"}`,
  },
  {
    meta: {
      id: "volume/reclaim-retain",
      formerly: "reclaim-retain",
      title: "every namespace PV is Retain",
      why: "deleting a shared-handle PV that is not Retain, or its claim, can make ceph-csi delete the whole shared subvolume",
    },
    lint: ["volume/reclaim-policy"],
    doc: {
      checks:
        "every kopia PV other than the repository PV has reclaim policy Retain (the same verdict as lint's `volume/reclaim-policy`)",
      warn: 'a static-style PV (`staticVolume: "true"`) with Delete or Recycle: the CSI driver is not asked to delete a static volume, but Retain is required',
      fail: "a shared-handle PV with Delete or Recycle: deleting it or its claim can make ceph-csi delete the whole shared subvolume",
      fix: '`kubectl patch pv <pv> -p \'{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}\'` and the same in the manifest',
    },
    needs: ["persistentvolumes"],
    run(env) {
      const out: CheckFinding[] = [];
      for (const pv of pvsInScope(env)) {
        const verdict = pv.name === env.repo.pv?.name ? undefined : reclaimVerdict(pv);
        if (!verdict) continue;
        out.push({
          status: reclaimStatus(verdict),
          subject: `PV ${pv.name}`,
          what: `PV ${pv.name} (${verdict.style}) has reclaim policy ${verdict.policy}`,
          why: verdict.why,
          fix: `${retainPatch(pv.name)}  # and set persistentVolumeReclaimPolicy: Retain in its manifest`,
        });
      }
      return out;
    },
    skip: noPvs,
    passText: (env) => `${pvsInScope(env).length} PV(s), all Retain`,
  },
  {
    meta: {
      id: "volume/style",
      formerly: "volume-style",
      title: "every PV uses the same style (shared handle or static)",
      why: "a static PV and a shared-handle PV of the same subvolume are staged differently by ceph-csi; a repository must use one style",
    },
    lint: ["volume/mixed-style", "volume/static-layout"],
    doc: {
      checks:
        'all kopia PVs use one style: the shared `volumeHandle`, or ceph-csi static volumes (`staticVolume: "true"` + `rootPath`)',
      warn: "—",
      fail: "both styles are in use",
      fix: "rewrite the odd PVs in the repository PV's style (`kopiashare enable <ns> --force`), then delete PVC and PV and let Flux recreate them; a PV that is not Retain is patched to Retain first (deleting a Delete PV or its claim can delete the shared subvolume)",
    },
    needs: ["persistentvolumes"],
    run(env) {
      const pvs = kopiaPvs(env.o, env.c);
      const byStyle = new Map<string, string[]>();
      for (const pv of pvs) {
        const s = styleOfPv(pv);
        byStyle.set(s, [...(byStyle.get(s) ?? []), pv.name]);
      }
      if (byStyle.size < 2) return [];
      const want = env.repo.identity?.style ?? "shared-handle";
      const odd = pvs
        .filter((pv) => styleOfPv(pv) !== want)
        .map((pv) => ({ pv, ns: namespaceOfPv(pv, env.c) }))
        .filter((x): x is { pv: LivePv; ns: string } => !!x.ns);
      return [
        {
          status: "fail",
          subject: "cluster",
          what: `PVs mix both styles: ${[...byStyle.entries()].map(([s, names]) => `${s}: ${names.join(", ")}`).join("; ")}`,
          why: "a static PV and a shared-handle PV of the same subvolume are staged differently by ceph-csi; a repository must use one style",
          fix: odd
            .map(
              ({ pv, ns }) =>
                `${retainFirst(pv)}kopiashare enable ${ns} --force && git commit … && kubectl delete pvc -n ${ns} ${env.c.claimName} && kubectl delete pv ${pv.name} && ${reconcile(env.c, ns)}${keepsData(pv) ? "" : `  # ${pv.name} is ${pv.reclaimPolicy || "not Retain"}: made Retain first, or deleting it can delete the shared subvolume`}`,
            )
            .join("\n"),
        },
      ];
    },
    skip: (env) => (kopiaPvs(env.o, env.c).length === 0 ? "no kopia PV" : undefined),
    passText: (env) => {
      const pvs = kopiaPvs(env.o, env.c);
      return `all ${pvs.length} PV(s) use the ${styleOfPv(pvs[0] as LivePv)} style`;
    },
  },
  {
    meta: {
      id: "volume/same-subvolume",
      formerly: "same-subvolume",
      title: "every PV points at the repository's subvolume",
      why: "a PV that points elsewhere sends that namespace's backups to a separate repository nobody restores from",
    },
    lint: ["volume/handle-mismatch", "volume/static-layout", "volume/attribute-mismatch"],
    doc: {
      checks:
        "each kopia PV has the repository PV's `volumeHandle` (shared style) or `rootPath`/`clusterID`/`fsName` (static style)",
      warn: "—",
      fail: "a PV points elsewhere: that namespace's backups go to a different, isolated repository",
      fix: "`spec.csi` is immutable: fix the manifest (`kopiashare enable <ns> --force`), patch the PV to Retain if it is not, delete the PVC and the PV (never the data), and let Flux recreate them",
    },
    needs: ["persistentvolumes"],
    run(env) {
      const repo = env.repo.identity;
      if (!repo) return [];
      return pvsInScope(env)
        .filter((pv) => styleOfPv(pv) === repo.style && !sameVolume(pv, repo))
        .map((pv) => {
          const ns = namespaceOfPv(pv, env.c) ?? "<namespace>";
          return {
            status: "fail" as const,
            subject: `PV ${pv.name}`,
            what: `PV ${pv.name} points at ${identityText(identityOf(pv))}, not the repository's ${identityText(repo)}`,
            why: "backups of that namespace go to a different volume: a separate repository nobody restores from",
            fix: `kopiashare enable ${ns} --force  # rewrites the PV from the repository PV; commit and push, then:\n${recreate(env.c, ns, pv)}${keepsData(pv) ? "  # Retain: the data stays" : `  # ${pv.name} is ${pv.reclaimPolicy || "not Retain"}: made Retain first, or deleting it can delete the subvolume it points at`}`,
          };
        });
    },
    skip: (env) =>
      !env.repo.identity ? "no repository volume to compare with (no kopia PV; see repository/pv)" : noPvs(env),
    passText: (env) =>
      `${pvsInScope(env).length} PV(s), each uses ${env.repo.identity ? identityText(env.repo.identity) : "?"}`,
  },
  {
    meta: {
      id: "volume/server-version",
      formerly: "server-version",
      title: "Kubernetes >= 1.24 when PVs share one handle",
      why: "before 1.24 kubelet stages volumes by handle only: two PVs sharing one handle on one node break mounts",
    },
    lint: ["volume/old-kubernetes"],
    doc: {
      checks: "the server version, when several PVs share one `volumeHandle`",
      warn: "the version could not be read",
      fail: "server older than 1.24 (kubelet stages volumes by handle only from 1.24: kubernetes/kubernetes#105899)",
      fix: "upgrade the cluster to >= 1.24, or switch to ceph-csi static PVs (unique handle per PV)",
    },
    needs: ["version", "persistentvolumes"],
    run(env) {
      const v = env.o.version;
      const shared = kopiaPvs(env.o, env.c).filter((pv) => styleOfPv(pv) === "shared-handle");
      const handles = new Set(shared.map((pv) => identityKey(identityOf(pv))));
      const sharing = shared.length > handles.size;
      if (!v) {
        return [
          {
            status: "warn",
            subject: "cluster",
            what: "could not read the server version (/version)",
            fix: `kubectl version --server ${env.o.server ? `--server=${env.o.server}` : ""}`.trim(),
          },
        ];
      }
      if (sharing && (v.major < 1 || (v.major === 1 && v.minor < 24))) {
        return [
          {
            status: "fail",
            subject: "cluster",
            what: `the server is ${v.gitVersion} and ${shared.length} PVs share one volumeHandle`,
            why: "before 1.24 kubelet keys the staging path by PV name: two PVs with one handle on one node break mounts (kubernetes/kubernetes#105899, fixed by #107065)",
            fix: 'upgrade the cluster to Kubernetes >= 1.24, or use ceph-csi static PVs (staticVolume: "true", rootPath, a unique volumeHandle per PV)',
          },
        ];
      }
      return [];
    },
    passText: (env) =>
      `server ${env.o.version?.gitVersion ?? "?"}${
        kopiaPvs(env.o, env.c).some((pv) => styleOfPv(pv) === "shared-handle") ? " (shared handles are fine)" : ""
      }`,
  },
  {
    meta: {
      id: "cluster/backup-crds",
      formerly: "backup-crds",
      title: "Volsync or Kopiur is installed",
      why: "without Volsync's or Kopiur's CRDs and controller nothing writes to the shared repository",
    },
    doc: {
      checks: "API discovery serves `volsync.backube` (ReplicationSource, …) or `kopiur.home-operations.com`",
      warn: "discovery is forbidden",
      fail: "neither group is served: nothing takes backups",
      fix: "install Volsync with the Kopia mover (or Kopiur) through your GitOps repo",
    },
    needs: ["discovery"],
    run(env) {
      const g = env.o.groups;
      if (g[VOLSYNC_GROUP] || g[KOPIUR_GROUP]) return [];
      return [
        {
          status: "fail",
          subject: "cluster",
          what: `neither ${VOLSYNC_GROUP} nor ${KOPIUR_GROUP} is served by the API server`,
          why: "without Volsync's or Kopiur's CRDs and controller nothing writes to the shared repository",
          fix: "install Volsync with the Kopia mover (e.g. the perfectra1n/volsync fork's Helm chart) or Kopiur through your GitOps repo, then: kubectl api-resources --api-group=volsync.backube",
        },
      ];
    },
    passText: (env) =>
      [
        env.o.groups[VOLSYNC_GROUP] && `${VOLSYNC_GROUP}/${env.o.groups[VOLSYNC_GROUP]}`,
        env.o.groups[KOPIUR_GROUP] && `${KOPIUR_GROUP}/${env.o.groups[KOPIUR_GROUP]}`,
      ]
        .filter(Boolean)
        .join(" and ") + " served",
  },
  {
    meta: {
      id: "repository/maintenance",
      formerly: "repository-maintenance",
      title: "the repository has maintenance",
      why: "without maintenance the shared repository never frees expired snapshots and grows without bound for every namespace",
    },
    lint: ["repository/no-maintenance"],
    doc: {
      checks:
        "a Volsync `KopiaMaintenance` or a Kopiur `Maintenance` exists; discovery first says which of the two kinds the cluster serves (an older Volsync has no KopiaMaintenance)",
      warn: "neither exists, or neither kind is served: nothing runs Kopia maintenance on the shared repository",
      fail: "—",
      fix: "apply the repository's maintenance object (`kopiashare init` writes `kopiamaintenance.yaml`, or `maintenance.yaml` for Kopiur); with a Volsync that has no KopiaMaintenance, upgrade it (the perfectra1n fork) or run Kopiur's Maintenance",
    },
    needs: ["discovery", "volsync", "kopiur"],
    skip: (env) =>
      env.o.groups[VOLSYNC_GROUP] || env.o.groups[KOPIUR_GROUP]
        ? undefined
        : `neither ${VOLSYNC_GROUP} nor ${KOPIUR_GROUP} is served (cluster/backup-crds reports it)`,
    run(env) {
      if (maintenances(env).length > 0) return [];
      if (env.o.namespace && env.o.namespace !== env.c.repositoryNamespace) {
        // -n limited the reads to one namespace: a maintenance elsewhere was not looked for.
        return [
          {
            status: "skip",
            subject: "cluster",
            what: `not checked: -n ${env.o.namespace} reads that namespace's objects only, and the repository's maintenance lives elsewhere (usually ${env.c.repositoryNamespace}); run doctor without -n`,
          },
        ];
      }
      const volsync = served(env.o, VOLSYNC_GROUP, "kopiamaintenances");
      const kopiur = served(env.o, KOPIUR_GROUP, "maintenances");
      const parts = [
        volsync
          ? "no KopiaMaintenance exists"
          : `KopiaMaintenance is not installed (${notServedText(env.o, VOLSYNC_GROUP, "kopiamaintenances")})`,
        kopiur ? "no Kopiur Maintenance exists" : "no Kopiur Maintenance exists (Kopiur is not installed)",
      ];
      return [
        {
          status: "warn",
          subject: "cluster",
          what: `the repository has no maintenance: ${parts.join(" and ")}`,
          why: "Kopia only frees the space of expired snapshots and compacts its indexes in maintenance: without it the shared repository grows without bound and gets slower for every namespace",
          fix: volsync
            ? `kubectl apply -f <repo>/…/kopiamaintenance.yaml  # kopiashare init writes it: one KopiaMaintenance for the whole repository, in ${env.c.repositoryNamespace}`
            : kopiur
              ? `kubectl apply -f <repo>/…/maintenance.yaml  # kopiashare init --mover kopiur writes Kopiur's Maintenance for the repository`
              : "upgrade Volsync to a release with KopiaMaintenance (the perfectra1n fork), or install Kopiur and apply its Maintenance (kopiashare migrate --to kopiur)",
        },
      ];
    },
    passText: (env) =>
      maintenances(env)
        .map((x) => `${x.kind} ${x.namespace}/${x.name}`)
        .join(", "),
  },
  {
    meta: {
      id: "kopiur/repository-ready",
      formerly: "kopiur-repository",
      title: "Kopiur's repository on the claim is Ready, its movers use the repository UID",
      why: "until Kopiur's repository is Ready nothing runs through it, and movers with another UID leave files the others cannot write",
    },
    lint: ["delivery/not-allowed"],
    doc: {
      checks:
        "each Kopiur `ClusterRepository` (and `Repository` in scope) whose filesystem backend is PVC `kopia` or `kopia-kopiur` (Kopiur's own claim, which kopiashare writes): its status conditions `Ready`, `Initializing`, `Stalled`, and the UID its movers run as (`spec.moverDefaults.securityContext.runAsUser`) against `uid` in kopiashare.yaml",
      warn: "it is still `Initializing`, reports no `Ready` condition, or its movers run as another UID",
      fail: "it is `Stalled`",
      fix: "`kubectl describe clusterrepository <name>` for the condition's message; set `moverDefaults.securityContext.runAsUser`/`runAsGroup` to the repository's UID/GID",
    },
    needs: ["kopiur"],
    skip: (env) => {
      if (!served(env.o, KOPIUR_GROUP, "clusterrepositories") && !served(env.o, KOPIUR_GROUP, "repositories")) {
        return notServedText(env.o, KOPIUR_GROUP, "clusterrepositories");
      }
      return kopiurRepos(env).length === 0
        ? `no Kopiur Repository or ClusterRepository has its filesystem backend on PVC ${env.c.claimName} or ${kopiurClaimName(env.c)}`
        : undefined;
    },
    run(env) {
      const out: CheckFinding[] = [];
      for (const r of kopiurRepos(env)) {
        const subject = r.namespace ? `${r.kind} ${r.namespace}/${r.name}` : `${r.kind} ${r.name}`;
        const describe = `kubectl describe ${r.kind.toLowerCase()} ${r.namespace ? `-n ${r.namespace} ` : ""}${r.name}`;
        const cond = (type: string) => r.conditions.find((x) => x.type === type && x.status === "True");
        const said = (x: { reason: string; message: string }) =>
          [x.reason, x.message].filter((t) => t.length > 0).join(": ") || "no reason given";
        const stalled = cond("Stalled");
        const ready = cond("Ready");
        const init = cond("Initializing");
        if (stalled) {
          out.push({
            status: "fail",
            subject,
            what: `${subject} is Stalled (${said(stalled)})`,
            why: "Kopiur gave up reconciling it: no snapshot, restore or maintenance through it runs until the cause is fixed",
            fix: `${describe}  # the condition's message says what to fix; then kubectl get events -A --field-selector involvedObject.name=${r.name}`,
          });
        } else if (!ready) {
          out.push({
            status: "warn",
            subject,
            what: init
              ? `${subject} is still Initializing (${said(init)})`
              : `${subject} reports no Ready condition (${r.conditions.length ? r.conditions.map((x) => `${x.type}=${x.status}`).join(", ") : "no status.conditions"})`,
            why: "until it is Ready, Kopiur does not run snapshots into the shared repository",
            fix: `${describe}; kubectl -n ${env.c.repositoryNamespace} get pvc ${r.claim ?? env.c.claimName}  # the backend mounts this claim`,
          });
        }
        if (r.moverUid !== undefined && r.moverUid !== env.c.uid) {
          out.push({
            status: "warn",
            subject,
            what: `${subject}'s movers run as UID ${r.moverUid} (spec.moverDefaults.securityContext.runAsUser), the repository's uid is ${env.c.uid}`,
            why: "files a mover writes with another UID may not be writable by the other movers of the shared repository",
            fix: `set spec.moverDefaults.securityContext {runAsUser: ${env.c.uid}, runAsGroup: ${env.c.gid}} on ${subject} (kopiashare init --mover kopiur writes it); check with kopiashare doctor --probe --uid ${env.c.uid}`,
          });
        }
      }
      return out;
    },
    passText: (env) =>
      kopiurRepos(env)
        .map(
          (r) =>
            `${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name} Ready${r.moverUid !== undefined ? `, movers run as UID ${r.moverUid}` : ""}`,
        )
        .join("; "),
  },
  {
    meta: {
      id: "kopiur/volume-root",
      title: "Kopiur's movers mount the repository directory",
      why: "Kopiur keeps the repository at the root of the volume it mounts, while the shared repository is in repository/ of the subvolume: a mover whose volume root is elsewhere finds no repository (with create: true it starts a second, empty one)",
    },
    lint: ["path/mismatch"],
    doc: {
      checks:
        "for each Kopiur `Repository`/`ClusterRepository` whose filesystem backend is a PVC, in each namespace its movers use (a ClusterRepository's `allowedNamespaces.list` and the namespaces of Kopiur objects on it): that PVC exists, is Bound, and its PV's root is the repository directory (`repository/`) of the repository PV's volume: a ceph-csi static PV whose `rootPath` is the subvolume's path plus `/repository` (kopiashare's `kopia-kopiur` → `kopia-kopiur-<ns>`)",
      warn: "which directory the PV mounts cannot be told: it is not a static volume, its `rootPath` does not say which directory of the handle's subvolume it is, or there is no repository PV to compare with",
      fail: "the PVC is missing or not Bound, or its PV's root is the subvolume's root (the seed's PV `kopia`: Kopiur would not find the repository) or another directory or volume",
      fix: '`kopiashare enable <ns> --force` rewrites `kopia-kopiur-<ns>` (then delete the PVC and PV and let Flux recreate them: `spec.csi` is immutable); a backend on PVC `kopia`: `kopiashare migrate --to kopiur --subvolume-path "$(ceph fs subvolume getpath <fs> csi-vol-<uuid> csi)"` (a static repository PV needs no `--subvolume-path`)',
    },
    needs: ["kopiur", "persistentvolumeclaims", "persistentvolumes"],
    skip: (env) => {
      if (!served(env.o, KOPIUR_GROUP, "clusterrepositories") && !served(env.o, KOPIUR_GROUP, "repositories")) {
        return notServedText(env.o, KOPIUR_GROUP, "clusterrepositories");
      }
      if (!env.o.kopiurRepositories.some((r) => r.claim !== undefined)) {
        return "no Kopiur Repository or ClusterRepository has its filesystem backend on a PVC";
      }
      return moverClaims(env).length === 0
        ? `no namespace${env.opts.namespaces ? ` among ${env.opts.namespaces.join(", ")}` : ""} is allowed to use a Kopiur repository on a PVC`
        : undefined;
    },
    run(env) {
      const { o, c } = env;
      const dir = trimDir(c.repositoryDir);
      const repo = env.repo.pv ? env.repo.identity : undefined;
      const out: CheckFinding[] = [];
      for (const m of moverClaims(env)) {
        const ns = m.namespace;
        const names = m.repositories.map(repositoryText).join(", ");
        const subject = `${ns}/${m.claim}`;
        const pvc = o.pvcs.find((p) => p.namespace === ns && p.name === m.claim);
        if (!pvc) {
          out.push({
            status: "fail",
            subject,
            what: `namespace ${ns} has no PVC ${m.claim}, the backend of ${names}`,
            why: "Kopiur's movers run in the namespace that uses the repository and mount the backend's PVC there: without it they stay Pending",
            fix: volumeRootFix(env, m, undefined, repo),
          });
          continue;
        }
        const pv = pvc.volumeName ? o.pvs.find((p) => p.name === pvc.volumeName) : undefined;
        if (!pv) {
          out.push({
            status: "fail",
            subject,
            what: `PVC ${subject} (the backend of ${names}) is ${pvc.phase || "not bound"} and ${pvc.volumeName ? `its PV ${pvc.volumeName} does not exist` : "names no PV (spec.volumeName is empty)"}`,
            why: "Kopiur's movers mount this claim: until it is bound to the PV whose root is the repository directory they do not start",
            fix: volumeRootFix(env, m, undefined, repo),
          });
          continue;
        }
        if (!repo) {
          out.push({
            status: "warn",
            subject,
            what: `cannot tell which directory PV ${pv.name} (PVC ${subject}, the backend of ${names}) mounts: there is no repository PV to compare with (repository/pv reports it)`,
            fix: `kubectl get pv ${pv.name} -o jsonpath='{.spec.csi.volumeAttributes.rootPath}'  # must be the subvolume's path + /${dir}`,
          });
          continue;
        }
        const offset = rootOffset(pv, repo);
        const id = identityOf(pv);
        const whose = `PV ${pv.name} (PVC ${subject}, the backend of ${names})`;
        if (offset === undefined) {
          const other =
            id.style === "static" &&
            (repo.style === "static" ? repo.rootPath !== undefined : crossStyleVolume(id, repo) === "other");
          out.push(
            other
              ? {
                  status: "fail",
                  subject,
                  what: `${whose} reaches another volume: ${identityText(id)}, not a directory of the repository's ${identityText(repo)}`,
                  why: "its movers open whatever is at that volume's root: not the shared repository",
                  fix: volumeRootFix(env, m, pv, repo),
                }
              : {
                  status: "warn",
                  subject,
                  what:
                    id.style === "static"
                      ? `cannot tell which directory of the repository's ${identityText(repo)} ${whose} mounts: its ${identityText(id)} does not say which directory of the subvolume it is (expected ${wantedRootPath(env, repo)})`
                      : `cannot tell which directory ${whose} mounts: it is not a ceph-csi static volume (${identityText(id)}), and a copied handle mounts the root of its subvolume, not ${dir}/`,
                  why: "Kopiur keeps the repository at the root of what it mounts; only a static PV whose rootPath is the subvolume's path plus /repository is known to reach it",
                  fix: volumeRootFix(env, m, pv, repo),
                },
          );
          continue;
        }
        if (offset !== dir) {
          out.push({
            status: "fail",
            subject,
            what: `${whose} mounts ${showDir(offset)} of the repository's volume (${identityText(id)}), not ${dir}/ where the repository is`,
            why:
              offset === ""
                ? `Kopiur keeps the repository at the root of what it mounts, and the repository is in ${dir}/: its movers find none (with create: true Kopiur starts a second, empty repository next to the shared one)`
                : `Kopiur opens the repository at the root of what it mounts: ${offset}/ is not the shared repository (${dir}/)`,
            fix: volumeRootFix(env, m, pv, repo),
          });
          continue;
        }
        if (pvc.phase !== "Bound") {
          out.push({
            status: "fail",
            subject,
            what: `PVC ${subject} (the backend of ${names}) is ${pvc.phase || "not bound"}; its PV ${pv.name} mounts ${dir}/ as it should`,
            why: "Kopiur's movers mount this claim: until it is Bound they do not start",
            fix: `kubectl describe pvc -n ${ns} ${m.claim}; kubectl get pv ${pv.name}${staleClaimRef(pv, pvc, { ...c, claimName: m.claim }) ? `\n${jsonPatchRemoveUid(pv.name)}  # the PV still names a deleted claim` : ""}`,
          });
        }
      }
      return out;
    },
    passText: (env) => {
      const ms = moverClaims(env);
      const claims = [...new Set(ms.map((m) => m.claim))].sort().join(", ");
      return `${ms.length} PVC(s) ${claims} that Kopiur's movers mount, each bound to a PV whose root is ${trimDir(env.c.repositoryDir)}/ of the repository's volume`;
    },
  },
  {
    meta: {
      id: "admission/policy",
      formerly: "admission-policy",
      title: "the MutatingAdmissionPolicy API is served where movers rely on it",
      why: "where movers get the repository from the admission policy, a missing API, policy or binding starts them without it and Kopia creates an empty repository inside the Job",
    },
    lint: ["admission/api-version", "admission/no-binding"],
    doc: {
      checks:
        "when movers get the repository from a MutatingAdmissionPolicy (Volsync fork <= 0.16: Volsync objects without `spec.kopia.moverVolumes`, or the repository's policy exists), discovery serves `mutatingadmissionpolicies` (v1, v1beta1 or v1alpha1) and the repository's policy has a binding. The repository's policy is `volsync-mover-repository`, or one whose mutations add a PVC volume named `repository` or mount claim `kopia`; other policies do not count",
      warn: "discovery or listing the policies is forbidden",
      fail: "the API is not served, or the repository's policy or its binding is missing",
      fix: "enable the API (feature gate `MutatingAdmissionPolicy` + `--runtime-config=admissionregistration.k8s.io/<v1beta1|v1alpha1>=true` before 1.36), or move to `spec.kopia.moverVolumes`",
    },
    needs: ["discovery", "volsync", "admissionpolicies"],
    run(env) {
      const { relied, why } = relyOnAdmissionPolicy(env);
      if (!relied) return [];
      const a = env.o.admission;
      const moverVolumes =
        "stop relying on it: set spec.kopia.moverVolumes: [{mountPath: repository, volumeSource: {persistentVolumeClaim: {claimName: " +
        `${env.c.claimName}}}}] on every ReplicationSource/Destination and KopiaMaintenance (Volsync fork >= 0.17; then KOPIA_REPOSITORY=filesystem:///mnt/repository/${env.c.repositoryDir})`;
      if (a.served.length === 0) {
        return [
          {
            status: "fail",
            subject: "cluster",
            what: `movers rely on a MutatingAdmissionPolicy (${why}), but the API server serves no mutatingadmissionpolicies`,
            why: "without the policy, mover Jobs start without the repository volume and Kopia creates a new empty repository inside the Job",
            fix: `Kubernetes >= 1.36: served by default. 1.34-1.35: start kube-apiserver with --feature-gates=MutatingAdmissionPolicy=true --runtime-config=admissionregistration.k8s.io/v1beta1=true. 1.32-1.33: the same with v1alpha1. Or ${moverVolumes}`,
          },
        ];
      }
      const others = (a.policies ?? []).map((p) => p.name);
      const { policies, bound } = repositoryPolicies(a, env.c);
      const compare = `kubectl get mutatingadmissionpolicies,mutatingadmissionpolicybindings${others.length > 0 ? "  # to compare" : ""}`;
      if (policies.length === 0) {
        return [
          {
            status: "fail",
            subject: "cluster",
            what:
              others.length === 0
                ? `movers rely on a MutatingAdmissionPolicy (${why}), but admissionregistration.k8s.io/${a.served[0]} has no MutatingAdmissionPolicy`
                : `movers rely on a MutatingAdmissionPolicy (${why}), but none mounts the repository: no ${MAP_NAME}, and ${others.join(", ")} add(s) no volume "repository" and no claim ${env.c.claimName}`,
            why: "without the repository's policy, mover Jobs start without the repository volume and Kopia creates a new empty repository inside the Job",
            fix: `apply the repository's admission policy and its binding (kopiashare init writes ${MAP_NAME}; ${compare}); or ${moverVolumes}`,
          },
        ];
      }
      if (bound.length === 0) {
        return [
          {
            status: "fail",
            subject: "cluster",
            what: `MutatingAdmissionPolicy ${policies.map((p) => p.name).join(", ")} has no MutatingAdmissionPolicyBinding`,
            why: "a policy does nothing without a binding; mover Jobs then start without the repository volume",
            fix: `apply the binding with spec.policyName: ${(policies[0] as { name: string }).name} (${compare}); or ${moverVolumes}`,
          },
        ];
      }
      return [];
    },
    passText: (env) => {
      const { relied, why } = relyOnAdmissionPolicy(env);
      return relied
        ? `served (admissionregistration.k8s.io/${env.o.admission.served[0]}), MutatingAdmissionPolicy ${repositoryPolicies(
            env.o.admission,
            env.c,
          )
            .bound.map((p) => p.name)
            .join(", ")} bound`
        : `not needed: ${why}`;
    },
  },
  {
    meta: {
      id: "delivery/consumers-without-pvc",
      formerly: "consumers-without-pvc",
      title: "every namespace with backups has the PVC",
      why: "mover Jobs mount the PVC in their own namespace: without it every backup Job stays Pending",
    },
    lint: ["delivery/no-claim"],
    doc: {
      checks:
        "namespaces whose ReplicationSources/Destinations, KopiaMaintenances or Kopiur objects reach the repository through a PVC (lint's resolution: the volumes their mover Jobs are given, the Kopiur repository's backend) have that PVC",
      warn: "listing them is forbidden",
      fail: "a namespace with consumers and no PVC: its mover Jobs cannot mount the repository",
      fix: "`kopiashare enable <ns>`, commit and push",
    },
    needs: ["persistentvolumeclaims", "volsync", "kopiur"],
    skip: (env) => {
      if (servedConsumerKinds(env.o).length === 0) {
        return `the API server serves neither ${VOLSYNC_GROUP} nor ${KOPIUR_GROUP}: no object can use the repository`;
      }
      const all = kopiaConsumers(env).filter((x) => env.inScope(x.namespace));
      if (all.length === 0) return `no ${servedConsumerKinds(env.o).join(", ")} uses Kopia`;
      return claimConsumers(env).length === 0
        ? `none of the ${all.length} Kopia consumer(s) reaches the repository through a PVC (an NFS export or an object store needs none)`
        : undefined;
    },
    run(env) {
      const byNs = new Map<string, LiveConsumer[]>();
      for (const x of claimConsumers(env)) byNs.set(x.namespace, [...(byNs.get(x.namespace) ?? []), x]);
      const out: CheckFinding[] = [];
      for (const [ns, xs] of [...byNs.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        for (const claim of [...new Set(xs.map((x) => x.claim as string))].sort()) {
          if (env.o.pvcs.some((p) => p.namespace === ns && p.name === claim)) continue;
          const users = xs.filter((x) => x.claim === claim);
          out.push({
            status: "fail",
            subject: ns,
            what: `namespace ${ns} has ${users.map((x) => `${x.kind} ${x.name}`).join(", ")} but no PVC ${claim}`,
            why: `mover Jobs run in the object's namespace and mount PVC ${claim} there; without it every backup Job stays Pending`,
            fix:
              claim === env.c.claimName
                ? `kopiashare enable ${ns}  # then commit, push, and: kopiashare verify -n ${ns}`
                : `deliver PVC ${claim} into ${ns}, bound to the volume that holds the repository`,
          });
        }
      }
      return out;
    },
    passText: (env) => {
      const xs = claimConsumers(env);
      const n = new Set(xs.map((x) => x.namespace)).size;
      const others = kopiaConsumers(env).filter((x) => env.inScope(x.namespace) && x.claim === undefined).length;
      return `${n} namespace(s) whose consumers reach the repository through a PVC (read: ${servedConsumerKinds(env.o).join(", ")}), each has it${others > 0 ? `; ${others} consumer(s) on an NFS export or an object store need none` : ""}`;
    },
  },
  {
    meta: {
      id: "pv/missing",
      formerly: "pv-missing",
      title: "the PV a pending PVC names exists",
      why: "a claim waits for exactly the PV it names, and the PV controller records no event",
    },
    lint: ["binding/unknown-volume"],
    doc: {
      checks: "a PVC `kopia` that is not Bound names (`spec.volumeName`) a PV that exists",
      warn: "—",
      fail: "the PV is missing (the controller only logs this; `kubectl describe pvc` shows no event)",
      fix: "`kopiashare enable <ns>` (writes it back if it is gone from the repo), commit, `flux reconcile kustomization volsync-repository-pvc-<ns> --with-source`",
    },
    needs: ["persistentvolumeclaims", "persistentvolumes"],
    run(env) {
      return diagnoses(env, "pv/missing").map((d) => ({
        status: "fail" as const,
        subject: d.pvc.namespace,
        what: `${pendingText(d.pvc)}: PV ${d.pv} does not exist`,
        why: "the claim waits for exactly that PV (spec.volumeName); the PV controller does not even record an event",
        fix: `kopiashare enable ${d.pvc.namespace}  # restores the PV in the repo if it is gone; commit and push, then:\n${reconcile(env.c, d.pvc.namespace)}`,
      }));
    },
    skip: noPvcs,
    passText: (env) => `${pvcsSeen(env)}; none waits for a missing PV`,
  },
  {
    meta: {
      id: "pv/bound-elsewhere",
      formerly: "pv-bound-elsewhere",
      title: "no other claim took the PV",
      why: "a PV binds one claim only: another claim, possibly another tenant, holds the shared backup volume",
    },
    lint: ["binding/claim-ref-mismatch"],
    doc: {
      checks: "the PV of a pending PVC `kopia` is not bound or reserved to another claim",
      warn: "—",
      fail: "another claim holds the PV (a PV without claimRef can be taken by any matching claim)",
      fix: "delete the other claim (only the claim; a PV that is not Retain is patched to Retain first, since deleting the claim of a Delete PV can delete the shared subvolume), point the PV's claimRef back, and reserve it in the manifest",
    },
    needs: ["persistentvolumeclaims", "persistentvolumes"],
    run(env) {
      return diagnoses(env, "pv/bound-elsewhere").map((d) => {
        const [hns, hname] = d.holder.split("/") as [string, string];
        return {
          status: "fail" as const,
          subject: d.pvc.namespace,
          what: `${pendingText(d.pvc)}: PV ${d.pv.name} is ${d.pv.phase === "Bound" ? "bound" : "reserved"} to ${d.holder}`,
          why: "a PV is bound to one claim only; the other claim (possibly another tenant) now has the shared backup volume",
          fix: `${retainFirst(d.pv)}kubectl delete pvc -n ${hns} ${hname}  # only if it is not meant to use the repository${keepsData(d.pv) ? "" : `; ${d.pv.name} is ${d.pv.reclaimPolicy || "not Retain"}: made Retain first, or deleting the claim can delete the shared subvolume`}\nkubectl patch pv ${d.pv.name} --type merge -p '{"spec":{"claimRef":{"namespace":"${d.pvc.namespace}","name":"${env.c.claimName}","uid":null,"resourceVersion":null}}}'\n# and keep spec.claimRef {namespace: ${d.pvc.namespace}, name: ${env.c.claimName}} in the PV manifest (kopiashare enable ${d.pvc.namespace} --force)`,
        };
      });
    },
    skip: noPvcs,
    passText: (env) => `${pvcsSeen(env)}; none has its PV held by another claim`,
  },
  {
    meta: {
      id: "pv/released-stale-claim",
      formerly: "pv-released",
      title: "no PV is Released with a stale claimRef.uid",
      why: "a Retain PV keeps the deleted claim's uid: a recreated claim never binds until it is removed",
    },
    lint: ["binding/stale-claim-ref"],
    doc: {
      checks:
        "the PV of a pending PVC `kopia` still names a deleted claim (`claimRef.uid`), i.e. the PVC was deleted and recreated",
      warn: "—",
      fail: "the PV is Released and the new PVC stays Pending (kubernetes/kubernetes#91847)",
      fix: '`kubectl patch pv <pv> --type json -p \'[{"op":"remove","path":"/spec/claimRef/uid"},{"op":"remove","path":"/spec/claimRef/resourceVersion"}]\'`',
    },
    needs: ["persistentvolumeclaims", "persistentvolumes"],
    run(env) {
      return diagnoses(env, "pv/released-stale-claim").map((d) => ({
        status: "fail" as const,
        subject: d.pvc.namespace,
        what: `${pendingText(d.pvc)}: PV ${d.pv.name} is ${d.pv.phase || "not available"} and still names the deleted claim (claimRef.uid ${d.pv.claimRef?.uid}, the PVC's uid is ${d.pvc.uid})`,
        why: "after its claim is deleted a Retain PV keeps the old claimRef.uid; a recreated claim never binds until uid and resourceVersion are removed",
        fix: jsonPatchRemoveUid(d.pv.name),
      }));
    },
    skip: noPvcs,
    passText: (env) => `${pvcsSeen(env)}; none waits for a PV Released with a stale claimRef.uid`,
  },
  {
    meta: {
      id: "pv/mismatch",
      formerly: "pv-mismatch",
      title: "PVC and PV agree on class, size and access modes",
      why: "the binder only binds a claim to a PV with its class, at least its size and every access mode it asks for",
    },
    lint: ["binding/mismatch", "binding/not-rwx"],
    doc: {
      checks:
        "for a pending PVC `kopia`: storage class, requested size, access modes and volume mode against its PV, and the PVC's `VolumeMismatch` events",
      warn: "—",
      fail: "they differ: the binder refuses the PV",
      fix: "make the PVC manifest match the PV (class, size <= capacity, ReadWriteMany), then delete the PVC and let Flux recreate it (a PVC spec is immutable except requests)",
    },
    needs: ["persistentvolumeclaims", "persistentvolumes"],
    run(env) {
      return diagnoses(env, "pv/mismatch").map((d) => {
        const ns = d.pvc.namespace;
        const lines = d.mismatches.map((m) => m.text);
        const onlySize = d.mismatches.length === 1 && d.mismatches[0]?.field === "size";
        const fix = onlySize
          ? `kubectl patch pv ${d.pv.name} -p '{"spec":{"capacity":{"storage":"${d.pvc.request}"}}}'  # or lower the PVC's request in the manifest; keep both equal in the repo`
          : `set the PVC manifest to storageClassName: ${d.pv.storageClassName}, accessModes: [${d.pv.accessModes.join(", ")}], requests.storage <= ${d.pv.capacity} (kopiashare enable ${ns} --force writes them from the PV); commit, then:\n${retainFirst(d.pv)}kubectl delete pvc -n ${ns} ${env.c.claimName} && ${reconcile(env.c, ns)}`;
        return {
          status: "fail" as const,
          subject: ns,
          what: `${pendingText(d.pvc)}: PV ${d.pv.name} does not match: ${lines.length ? lines.join("; ") : "see the event"}${d.event ? ` (event ${d.event})` : ""}`,
          why: "the PV binder only binds a claim to a PV with the same class, at least the requested size and every requested access mode",
          fix,
        };
      });
    },
    skip: noPvcs,
    passText: (env) => `${pvcsSeen(env)}; none mismatches its PV`,
  },
  {
    meta: {
      id: "pvc/bound",
      formerly: "pvc-bound",
      title: "every PVC kopia is Bound",
      why: "mover Jobs that mount a claim that is not Bound stay Pending: no backup or restore runs in that namespace",
    },
    doc: {
      checks: "every PVC `kopia` is Bound",
      warn: "—",
      fail: "a PVC is Pending or Lost: one the four checks above explain names that check; any other shows its last event",
      fix: "`kubectl describe pvc -n <ns> kopia`; a PVC without `volumeName`: recreate it from the repo (`kopiashare enable <ns> --force`)",
    },
    needs: ["persistentvolumeclaims", "persistentvolumes"],
    skip: noPvcs,
    run(env) {
      // A claim another check explains still is not Bound: this check fails too, and names that check.
      const explained: CheckFinding[] = [];
      for (const ns of env.scope) {
        const d = diagnose(env, ns);
        if (!d || d.kind === "other") continue;
        explained.push({
          status: "fail",
          subject: ns,
          what: `${pendingText(d.pvc)}: the cause is reported by ${d.kind}`,
          why: "mover Jobs that mount it stay Pending, so no backup or restore runs in this namespace",
          fix: `see ${d.kind} above (kopiashare doctor -n ${ns})`,
        });
      }
      return [
        ...explained,
        ...diagnoses(env, "other").map((d) => {
          const ns = d.pvc.namespace;
          return {
            status: "fail" as const,
            subject: ns,
            what: `${pendingText(d.pvc)}${d.pvc.volumeName ? "" : " and names no PV (spec.volumeName is empty)"}${d.event ? `; last event: ${d.event}` : ""}`,
            why: "mover Jobs that mount it stay Pending, so no backup or restore runs in this namespace",
            fix: d.pvc.volumeName
              ? `kubectl describe pvc -n ${ns} ${env.c.claimName}; kubectl get pv ${d.pvc.volumeName}`
              : `the PVC must name its PV: kopiashare enable ${ns} --force, commit, then ${retainFirst(d.pv)}kubectl delete pvc -n ${ns} ${env.c.claimName} && ${reconcile(env.c, ns)}`,
          };
        }),
      ].sort((a, b) => a.subject.localeCompare(b.subject));
    },
    passText: (env) => `${pvcsInScope(env).length} PVC(s) ${env.c.claimName}, all Bound`,
  },
  {
    meta: {
      id: "pv/claim-ref",
      formerly: "pv-claimref",
      title: "every PV is reserved for its claim",
      why: "a PV without claimRef can be bound by any matching claim in any namespace, which then gets the shared backup volume",
    },
    lint: ["binding/no-claim-ref"],
    doc: {
      checks: "every kopia PV has `spec.claimRef` (pre-bound, or bound)",
      warn: "a PV without claimRef: any claim with a matching class, size and access mode, in any namespace, can take it",
      fail: "—",
      fix: '`kubectl patch pv <pv> --type merge -p \'{"spec":{"claimRef":{"namespace":"<ns>","name":"kopia"}}}\'` and `kopiashare enable <ns> --force` (writes claimRef into the manifest)',
    },
    needs: ["persistentvolumes"],
    run(env) {
      return pvsInScope(env)
        .filter((pv) => !pv.claimRef)
        .map((pv) => {
          const ns = namespaceOfPv(pv, env.c) ?? "<namespace>";
          return {
            status: "warn" as const,
            subject: `PV ${pv.name}`,
            what: `PV ${pv.name} is ${pv.phase || "unbound"} and has no spec.claimRef`,
            why: "any PVC with a matching class, size and access mode, in any namespace, can bind it and get the shared backup volume",
            fix: `kubectl patch pv ${pv.name} --type merge -p '{"spec":{"claimRef":{"namespace":"${ns}","name":"${env.c.claimName}"}}}'  # and: kopiashare enable ${ns} --force`,
          };
        });
    },
    skip: noPvs,
    passText: (env) => `${pvsInScope(env).length} PV(s), each reserved for its claim`,
  },
  {
    meta: {
      id: "permissions/privileged-movers",
      formerly: "privileged-movers",
      title: "no namespace runs privileged movers",
      why: "privileged movers run as root and leave repository files the other namespaces' movers cannot write",
    },
    lint: ["permissions/privileged-movers"],
    doc: {
      checks: 'namespaces with backups lack the annotation `volsync.backube/privileged-movers: "true"`',
      warn: "listing namespaces is forbidden",
      fail: "the annotation is set: movers run as root and leave repository files other movers cannot write",
      fix: "`kubectl annotate namespace <ns> volsync.backube/privileged-movers-` (and in the Namespace manifest); repair ownership with `kopiashare doctor --probe -n <ns>`",
    },
    needs: ["namespaces"],
    skip: (env) => (relevantNamespaces(env).length === 0 ? "no namespace with a PVC kopia or backups" : undefined),
    run(env) {
      const relevant = new Set([...env.scope, ...kopiaConsumers(env).map((x) => x.namespace)]);
      return env.o.namespaces
        .filter(
          (n) =>
            relevant.has(n.name) &&
            env.inScope(n.name) &&
            n.annotations["volsync.backube/privileged-movers"] === "true",
        )
        .map((n) => ({
          status: "fail" as const,
          subject: n.name,
          what: `namespace ${n.name} has volsync.backube/privileged-movers: "true"`,
          why: `privileged movers run as root: the files they write in the shared repository cannot be written by movers running as UID ${env.c.uid}, so other namespaces' backups and maintenance fail with "permission denied"`,
          fix: `kubectl annotate namespace ${n.name} volsync.backube/privileged-movers-  # and remove it from the Namespace manifest; then check ownership: kopiashare doctor --probe -n ${n.name}`,
        }));
    },
    passText: (env) => `${relevantNamespaces(env).length} namespace(s) with backups, none runs privileged movers`,
  },
  {
    meta: {
      id: "backups/stale",
      formerly: "stale-backups",
      title: "scheduled backups succeeded within twice their schedule",
      why: "a schedule that stopped succeeding fails silently: the newest snapshot gets older than two runs",
    },
    doc: {
      checks:
        "each Kopia ReplicationSource with `spec.trigger.schedule` has `status.lastSyncTime`, and each Kopiur SnapshotSchedule (not suspended) `status.lastSuccessfulSchedule.at`, newer than twice the longest gap of its cron schedule",
      warn: "the schedule cannot be parsed",
      fail: "the last successful sync is older (or none, for a source older than that)",
      fix: "look at the mover Job: `kubectl -n <ns> describe replicationsource <name>` (or `snapshotschedule`), `kubectl -n <ns> get jobs,pods`; check permissions with `kopiashare doctor --probe -n <ns>`",
    },
    needs: ["volsync", "kopiur"],
    skip: (env) => {
      const volsync = served(env.o, VOLSYNC_GROUP, "replicationsources");
      const kopiur = served(env.o, KOPIUR_GROUP, "snapshotschedules");
      if (!volsync && !kopiur) {
        return `${notServedText(env.o, VOLSYNC_GROUP, "replicationsources")}; ${notServedText(env.o, KOPIUR_GROUP, "snapshotschedules")}`;
      }
      if (scheduledSources(env).length > 0) return undefined;
      const kinds = [
        ...(volsync ? ["Kopia ReplicationSource with spec.trigger.schedule"] : []),
        ...(kopiur ? ["Kopiur SnapshotSchedule that is not suspended"] : []),
      ];
      return `no ${kinds.join(", no ")}`;
    },
    run(env) {
      const now = env.opts.now.getTime();
      const out: CheckFinding[] = [];
      for (const rs of scheduledSources(env)) {
        const schedule = rs.schedule as string;
        const subject = `${rs.namespace}/${rs.name}`;
        const kopiur = rs.kind === "SnapshotSchedule";
        const resource = kopiur ? "snapshotschedule" : "replicationsource";
        let interval: number;
        try {
          interval = maxInterval(kopiur ? plainCron(schedule) : schedule);
        } catch (e) {
          out.push({
            status: "warn",
            subject,
            what: `${rs.kind} ${subject}: cannot read schedule "${schedule}": ${(e as Error).message}`,
            fix: `kubectl -n ${rs.namespace} get ${resource} ${rs.name} -o jsonpath='{${kopiur ? ".spec.schedule.cron" : ".spec.trigger.schedule"}}'`,
          });
          continue;
        }
        const since = rs.lastSyncTime ?? rs.created;
        const t = since ? Date.parse(since) : Number.NaN;
        if (Number.isNaN(t) || now - t <= 2 * interval) continue;
        out.push({
          status: "fail",
          subject,
          what: rs.lastSyncTime
            ? `${rs.kind} ${subject} last ${kopiur ? "succeeded" : "synced"} ${humanDuration(now - t)} ago (${rs.lastSyncTime}); its schedule "${schedule}" runs at least every ${humanDuration(interval)}`
            : `${rs.kind} ${subject} was created ${humanDuration(now - t)} ago and never ${kopiur ? "succeeded" : "synced"}; its schedule "${schedule}" runs at least every ${humanDuration(interval)}`,
          why: "backups are silently not happening: the newest snapshot is older than two scheduled runs",
          fix: kopiur
            ? `kubectl -n ${rs.namespace} describe snapshotschedule ${rs.name}\nkubectl -n ${rs.namespace} get snapshots,jobs\nkopiashare doctor --probe -n ${rs.namespace}  # can the mover UID write the repository?`
            : `kubectl -n ${rs.namespace} describe replicationsource ${rs.name}\nkubectl -n ${rs.namespace} get jobs,pods -l app.kubernetes.io/created-by=volsync\nkopiashare doctor --probe -n ${rs.namespace}  # can the mover UID write the repository?`,
        });
      }
      return out;
    },
    passText: (env) => {
      const xs = scheduledSources(env);
      const kopiur = xs.filter((x) => x.kind === "SnapshotSchedule").length;
      const parts = [
        ...(xs.length > kopiur ? [`${xs.length - kopiur} scheduled ReplicationSource(s)`] : []),
        ...(kopiur > 0 ? [`${kopiur} Kopiur SnapshotSchedule(s)`] : []),
      ];
      return `${parts.join(" and ")}, each ${kopiur > 0 ? "succeeded" : "synced"} within twice its schedule`;
    },
  },
];

export const CHECK_IDS = CHECKS.map((c) => c.meta.id);

/** `--probe` adds this check (it runs Jobs: core/probe.ts judges them, kube/probe.ts runs them); its row in the docs' table. */
export const PROBE_CHECK: Pick<CheckDef, "meta" | "doc" | "lint"> = {
  meta: {
    id: "permissions/probe",
    formerly: "permission-probe",
    title: "the mover UID/GID can create, read and delete files in the repository directory",
    why: 'movers must create, read and delete files in the repository directory as their UID, or backups fail with "permission denied"',
  },
  lint: ["permissions/uid-mismatch", "permissions/unset-uid"],
  doc: {
    checks:
      "only with `--probe`: a Job per namespace, running as `--uid`/`--gid`, creates, reads and deletes a file in `/repository/repository`",
    warn: "the PVC is not Bound (not probed), or the probe was interrupted",
    fail: "the Job failed or timed out: the UID that failed, the directory's owner and the pod log",
    fix: "the exact `kubectl run … chown -R <uid>:<gid> /repository/repository` one-off pod, or the movers' `moverSecurityContext`",
  },
};

/** The namespaces doctor looks at by default: kopia PVC/PV namespaces plus every namespace with consumers. */
export function doctorScope(o: Observed, c: Conventions): string[] {
  const s = new Set(defaultScope(o, c));
  for (const x of o.consumers) if (x.kopia) s.add(x.namespace);
  return [...s].sort();
}

export function runDoctor(o: Observed, c: Conventions, opts: DoctorOptions): CheckReport[] {
  const scope = opts.namespaces ?? doctorScope(o, c);
  const set = new Set(scope);
  const env: Env = {
    o,
    c,
    repo: findRepository(o, c),
    scope,
    inScope: (ns) => (opts.namespaces ? ns !== undefined && set.has(ns) : true),
    opts,
  };
  return CHECKS.map((def) => {
    const denied = deniedFor(o, def.needs);
    const skip = denied.length === 0 ? def.skip?.(env) : undefined;
    let results: CheckResult[];
    if (denied.length > 0) {
      results = denied.map((d) =>
        d.reason === "notfound"
          ? {
              check: def.meta.id,
              status: "skip" as const,
              subject: d.namespace ?? "cluster",
              what: `not checked: ${permissionText(d)}`,
            }
          : {
              check: def.meta.id,
              status: "warn" as const,
              subject: d.namespace ?? "cluster",
              what: `not checked: ${permissionText(d)}`,
              why: "the API server refused the read this check needs",
              fix: grantFix(d),
            },
      );
    } else if (skip) {
      results = [{ check: def.meta.id, status: "skip", subject: "cluster", what: `not checked: ${skip}` }];
    } else {
      // The one place a result gets its check's id: checks never repeat it.
      results = def.run(env).map((r) => ({ check: def.meta.id, ...r }));
      if (results.length === 0) {
        results = [{ check: def.meta.id, status: "pass", subject: "cluster", what: def.passText(env) }];
      }
    }
    return { id: def.meta.id, title: def.meta.title, status: worst(results.map((r) => r.status)), results };
  });
}

export function summary(reports: CheckReport[]): Record<Status, number> {
  const s: Record<Status, number> = { pass: 0, skip: 0, warn: 0, fail: 0 };
  for (const r of reports) s[r.status]++;
  return s;
}
