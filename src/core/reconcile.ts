/**
 * What the controller does for one namespace: a pure plan from what the cluster holds (its Namespace, its
 * PVC `kopia`, its PV `<pvPrefix><ns>`, the consumers that need the claim, the repository volume) to the
 * writes that make it right. The objects are enable's (render/instance.ts `instanceObjects`), the stale
 * claim is doctor's (live.ts `staleClaimRef`), the consumers' claims are lint's (transport.ts
 * `claimNeeded`): one fact, one definition.
 *
 * Safety, in this order:
 * - never the repository PV (`<pvPrefix><repositoryNamespace>`, or the PV the repository was found as),
 *   never anything in the repository's own namespace;
 * - objects the controller did not make are reported, not touched: those Flux delivers (its labels) always,
 *   others unless adoption is enabled;
 * - deletion goes PVC first, then the PV once no claim is left, and only a PV whose reclaim policy is Retain
 *   (deleting a Delete or Recycle PV object can delete the shared subvolume with it);
 * - a PV's `spec.csi` is immutable: a PV that differs there is reported with the commands, not rewritten.
 */
import { type Conventions, pvName } from "./config.ts";
import type { LivePv, LivePvc } from "./live.ts";
import { staleClaimRef } from "./live.ts";
import { CONTROLLER, MANAGED_BY, OPT_IN } from "./names.ts";
import { instanceObjects } from "./render/instance.ts";
import type { RepositoryVolume } from "./topology.ts";

/** Labels Flux's kustomize-controller and helm-controller put on everything they apply. */
const FLUX_LABELS = ["kustomize.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/name"];

export interface Meta {
  uid: string;
  labels: Record<string, string>;
  /** metadata.deletionTimestamp is set: going away (finalizers pending). */
  deleting: boolean;
}

export interface NamespaceView {
  name: string;
  labels: Record<string, string>;
  deleting: boolean;
}

export interface NamespaceState {
  namespace: string;
  /** undefined: the Namespace does not exist (deleted). */
  ns: NamespaceView | undefined;
  /** Consumers (kind/name) in the namespace whose movers need the PVC `claimName` (transport.ts claimNeeded). */
  consumers: string[];
  /** Consumers that need another claim name, which the controller does not manage. */
  otherClaims: { consumer: string; claim: string }[];
  pvc: (LivePvc & { meta: Meta; body: Record<string, unknown> }) | undefined;
  pv: (LivePv & { meta: Meta; body: Record<string, unknown> }) | undefined;
}

export interface ReconcileOptions {
  conventions: Conventions;
  /** The value of OPT_IN that names this repository. */
  repository: string;
  /** The repository volume (from the repository PV); undefined: not found, nothing is created. */
  volume: RepositoryVolume | undefined;
  /** Name of the repository PV as found (never touched), besides `<pvPrefix><repositoryNamespace>`. */
  repositoryPv: string | undefined;
  /** Take over PVs/PVCs made by hand (never those Flux delivers). */
  adopt: boolean;
}

export type Action =
  | {
      op: "apply";
      kind: "PersistentVolume" | "PersistentVolumeClaim";
      name: string;
      namespace?: string;
      object: Record<string, unknown>;
      force: boolean;
      why: string;
    }
  | {
      op: "delete";
      kind: "PersistentVolume" | "PersistentVolumeClaim";
      name: string;
      namespace?: string;
      uid: string;
      why: string;
    }
  | { op: "release"; kind: "PersistentVolume"; name: string; staleUid: string; why: string };

export interface Note {
  level: "info" | "warning";
  what: string;
  fix?: string;
}

export interface Plan {
  namespace: string;
  /** The namespace needs the claim (opted in, or a consumer needs it). */
  wanted: boolean;
  why: string;
  actions: Action[];
  notes: Note[];
}

type Owner = "controller" | "flux" | "other";

function ownerOf(meta: Meta): Owner {
  if (meta.labels[MANAGED_BY] === CONTROLLER) return "controller";
  if (FLUX_LABELS.some((l) => meta.labels[l] !== undefined)) return "flux";
  return "other";
}

/** Every field of `want` is in `have` with the same value (arrays compared whole). */
export function covers(have: unknown, want: unknown): boolean {
  if (want === null || typeof want !== "object") return have === want;
  if (Array.isArray(want)) {
    return Array.isArray(have) && have.length === want.length && want.every((w, i) => covers(have[i], w));
  }
  if (have === null || typeof have !== "object" || Array.isArray(have)) return false;
  const h = have as Record<string, unknown>;
  return Object.entries(want as Record<string, unknown>).every(([k, v]) => covers(h[k], v));
}

const labelled = (o: Record<string, unknown>): Record<string, unknown> => {
  const meta = o.metadata as Record<string, unknown>;
  return { ...o, metadata: { ...meta, labels: { [MANAGED_BY]: CONTROLLER } } };
};

/** Why the namespace needs the claim, or undefined when it does not. */
function wantedBecause(s: NamespaceState, o: ReconcileOptions): string | undefined {
  if (!s.ns) return undefined;
  if (s.ns.deleting) return undefined;
  if (s.ns.labels[OPT_IN] === o.repository) return `labelled ${OPT_IN}=${o.repository}`;
  if (s.consumers.length > 0) {
    const list = s.consumers.slice(0, 3).join(", ") + (s.consumers.length > 3 ? ", ..." : "");
    return `${s.consumers.length} consumer(s) need PVC ${o.conventions.claimName} (${list})`;
  }
  return undefined;
}

function leftAlone(kind: string, name: string, owner: Owner): Note {
  return owner === "flux"
    ? { level: "info", what: `${kind} ${name} is delivered by Flux: left to Flux` }
    : {
        level: "warning",
        what: `${kind} ${name} exists and was not made by the controller: left alone`,
        fix: "run the controller with --adopt to manage it, or delete it so the controller makes its own",
      };
}

export function planNamespace(s: NamespaceState, o: ReconcileOptions): Plan {
  const c = o.conventions;
  const ns = s.namespace;
  const plan: Plan = { namespace: ns, wanted: false, why: "", actions: [], notes: [] };
  if (ns === c.repositoryNamespace) {
    plan.why = "the repository's own namespace: never touched";
    return plan;
  }
  const pvname = pvName(c, ns);
  if (pvname === pvName(c, c.repositoryNamespace) || pvname === o.repositoryPv) {
    plan.why = `${pvname} is the repository PV: never touched`;
    return plan;
  }
  for (const x of s.otherClaims) {
    plan.notes.push({
      level: "info",
      what: `${x.consumer} needs PVC ${x.claim}, which the controller does not manage (it manages ${c.claimName})`,
    });
  }
  const because = wantedBecause(s, o);
  if (because === undefined) {
    plan.why = !s.ns
      ? "the namespace is gone"
      : s.ns.deleting
        ? "the namespace is being deleted"
        : "nothing in it needs the repository";
    retire(s, o, plan);
    return plan;
  }
  plan.wanted = true;
  plan.why = because;
  if (!o.volume) {
    plan.notes.push({
      level: "warning",
      what: `no repository PV found (${pvName(c, c.repositoryNamespace)}): nothing is created`,
      fix: "create the repository PV first (kopiashare init), or pass --repository-pv NAME",
    });
    return plan;
  }
  const want = instanceObjects({ namespace: ns, volume: o.volume, conventions: c });
  ensurePv(s, o, plan, labelled(want.pv));
  ensurePvc(s, o, plan, labelled(want.pvc));
  return plan;
}

function ensurePv(s: NamespaceState, o: ReconcileOptions, plan: Plan, want: Record<string, unknown>): void {
  const name = pvName(o.conventions, s.namespace);
  const pv = s.pv;
  if (!pv) {
    plan.actions.push({ op: "apply", kind: "PersistentVolume", name, object: want, force: false, why: "missing" });
    return;
  }
  const owner = ownerOf(pv.meta);
  if (owner !== "controller" && !(owner === "other" && o.adopt)) {
    plan.notes.push(leftAlone("PV", name, owner));
    return;
  }
  if (pv.meta.deleting) {
    plan.notes.push({ level: "info", what: `PV ${name} is being deleted: made again once it is gone` });
    return;
  }
  const wantSpec = want.spec as Record<string, unknown>;
  const haveSpec = (pv.body.spec ?? {}) as Record<string, unknown>;
  if (!covers(haveSpec.csi, wantSpec.csi)) {
    plan.notes.push({
      level: "warning",
      what: `PV ${name} points at another volume than the repository PV (spec.csi differs, and it is immutable)`,
      fix: `once nothing mounts it: kubectl delete pvc -n ${s.namespace} ${o.conventions.claimName}; kubectl delete pv ${name}  # Retain: the data stays; the controller makes both again`,
    });
    return;
  }
  if (!covers(pv.body, want)) {
    plan.actions.push({
      op: "apply",
      kind: "PersistentVolume",
      name,
      object: want,
      force: owner === "other",
      why: owner === "other" ? "adopted" : "differs",
    });
  }
  // Only a Released PV: a Bound one may hold a claim the informer has not shown yet.
  const stale = pv.phase === "Released" ? staleClaimRef(pv, s.pvc, o.conventions) : undefined;
  if (stale) {
    plan.actions.push({
      op: "release",
      kind: "PersistentVolume",
      name,
      staleUid: stale,
      why: `Released with the deleted claim's uid ${stale}: the new claim cannot bind until it is removed`,
    });
  }
}

function ensurePvc(s: NamespaceState, o: ReconcileOptions, plan: Plan, want: Record<string, unknown>): void {
  const c = o.conventions;
  const pvc = s.pvc;
  const label = `PVC ${s.namespace}/${c.claimName}`;
  const apply = (owner: Owner | undefined) =>
    plan.actions.push({
      op: "apply",
      kind: "PersistentVolumeClaim",
      name: c.claimName,
      namespace: s.namespace,
      object: want,
      force: owner === "other",
      why: owner === undefined ? "missing" : owner === "other" ? "adopted" : "differs",
    });
  if (!pvc) {
    apply(undefined);
    return;
  }
  const owner = ownerOf(pvc.meta);
  if (owner !== "controller" && !(owner === "other" && o.adopt)) {
    plan.notes.push(leftAlone("PVC", `${s.namespace}/${c.claimName}`, owner));
    return;
  }
  if (pvc.meta.deleting) {
    plan.notes.push({ level: "info", what: `${label} is being deleted: made again once it is gone` });
    return;
  }
  const wantSpec = want.spec as Record<string, unknown>;
  const haveSpec = (pvc.body.spec ?? {}) as Record<string, unknown>;
  if (haveSpec.volumeName !== undefined && haveSpec.volumeName !== "" && haveSpec.volumeName !== wantSpec.volumeName) {
    plan.notes.push({
      level: "warning",
      what: `${label} is bound to PV ${String(haveSpec.volumeName)}, not ${String(wantSpec.volumeName)} (a claim's volume is immutable)`,
      fix: `once nothing mounts it: kubectl delete pvc -n ${s.namespace} ${c.claimName}  # the controller makes it again`,
    });
    return;
  }
  if (!covers(pvc.body, want)) apply(owner);
}

/** A namespace that no longer needs the claim: its PVC first, then its PV once no claim is left. */
function retire(s: NamespaceState, o: ReconcileOptions, plan: Plan): void {
  const c = o.conventions;
  const pvc = s.pvc;
  if (pvc && ownerOf(pvc.meta) === "controller") {
    if (!pvc.meta.deleting) {
      plan.actions.push({
        op: "delete",
        kind: "PersistentVolumeClaim",
        name: c.claimName,
        namespace: s.namespace,
        uid: pvc.meta.uid,
        why: plan.why,
      });
    } else {
      plan.notes.push({
        level: "info",
        what: `PVC ${s.namespace}/${c.claimName} is being deleted (pods that mount it keep it until they end); its PV follows`,
      });
    }
    return;
  }
  const pv = s.pv;
  if (!pv || ownerOf(pv.meta) !== "controller" || pv.meta.deleting) return;
  if (pvc) return; // a claim made by someone else still names this namespace's PV: keep the PV
  if (pv.phase === "Bound") return; // the binder has not seen the claim go yet: the PV's update requeues
  if (pv.reclaimPolicy !== "Retain") {
    plan.notes.push({
      level: "warning",
      what: `PV ${pv.name} is no longer needed but its reclaim policy is ${pv.reclaimPolicy || "unset"}: not deleted (deleting it could delete the shared volume)`,
      fix: `kubectl patch pv ${pv.name} -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'  # then the controller removes it`,
    });
    return;
  }
  plan.actions.push({ op: "delete", kind: "PersistentVolume", name: pv.name, uid: pv.meta.uid, why: plan.why });
}
