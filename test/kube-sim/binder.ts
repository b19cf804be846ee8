// The PersistentVolume binder of kube-controller-manager (pv_controller.go), reduced to what a
// static, pre-provisioned volume exercises. Runs synchronously after every PV/PVC write.

import { recordEvent } from "./events.ts";
import { parseQuantity } from "./quantity.ts";
import type { ResourceType } from "./registry.ts";
import type { Store, StoredEvent } from "./store.ts";
import { deepEqual, dig, isObject, type JsonObject, type KubeObject, str } from "./types.ts";

const COMPONENT = "persistentvolume-controller";
export const ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed";
export const ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller";

export interface DeletedVolume {
  name: string;
  volumeHandle?: string;
  reason: "reclaim-policy-delete";
}

interface ClaimRef {
  namespace?: string;
  name?: string;
  uid?: string;
}

const claimRefOf = (pv: KubeObject): ClaimRef | undefined => {
  const ref = dig(pv, "spec", "claimRef");
  return isObject(ref) ? { namespace: str(ref.namespace), name: str(ref.name), uid: str(ref.uid) } : undefined;
};
const phaseOf = (o: KubeObject) => str(dig(o, "status", "phase"));
const volumeNameOf = (pvc: KubeObject) => str(dig(pvc, "spec", "volumeName")) ?? "";
const classOf = (o: KubeObject) =>
  str(dig(o, "spec", "storageClassName")) ?? o.metadata.annotations?.["volume.beta.kubernetes.io/storage-class"] ?? "";
const modesOf = (o: KubeObject): string[] => {
  const m = dig(o, "spec", "accessModes");
  return Array.isArray(m) ? m.filter((x): x is string => typeof x === "string") : [];
};
const volumeModeOf = (o: KubeObject) => str(dig(o, "spec", "volumeMode")) ?? "Filesystem";

function isBoundToClaim(pv: KubeObject, pvc: KubeObject): boolean {
  const ref = claimRefOf(pv);
  if (!ref) return false;
  if (ref.name !== pvc.metadata.name || (ref.namespace ?? "") !== (pvc.metadata.namespace ?? "")) return false;
  return !ref.uid || ref.uid === pvc.metadata.uid;
}

/** checkVolumeSatisfyClaim: the checks and messages of the real controller, in its order. */
export function volumeMismatch(pv: KubeObject, pvc: KubeObject): string | undefined {
  const requested = parseQuantity(dig(pvc, "spec", "resources", "requests", "storage"));
  const capacity = parseQuantity(dig(pv, "spec", "capacity", "storage"));
  if (!(capacity >= (Number.isNaN(requested) ? 0 : requested))) return "requested PV is too small";
  if (classOf(pv) !== classOf(pvc)) return "storageClassName does not match";
  if (volumeModeOf(pv) !== volumeModeOf(pvc)) return "incompatible volumeMode";
  const have = modesOf(pv);
  if (!modesOf(pvc).every((m) => have.includes(m))) return "incompatible accessMode";
  return undefined;
}

function selectorMatches(pvc: KubeObject, pv: KubeObject): boolean {
  const sel = dig(pvc, "spec", "selector", "matchLabels");
  if (!isObject(sel)) return true;
  const labels = pv.metadata.labels ?? {};
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}

function sameExceptStatus(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => ({ ...o, status: null, metadata: { ...o.metadata, resourceVersion: null } });
  return deepEqual(strip(a), strip(b));
}

export class Binder {
  /** PVs the binder deleted because their reclaim policy was Delete (the backing volume went with them). */
  readonly deletedVolumes: DeletedVolume[] = [];
  private readonly store: Store;
  private readonly pvType: ResourceType;
  private readonly pvcType: ResourceType;

  constructor(store: Store) {
    this.store = store;
    this.pvType = store.registry.resolve("persistentvolumes");
    this.pvcType = store.registry.resolve("persistentvolumeclaims");
    store.addController((ev) => this.onEvent(ev));
  }

  private onEvent(ev: StoredEvent): void {
    if (ev.resource === this.pvcType) this.onClaimEvent(ev);
    else if (ev.resource === this.pvType) this.onVolumeEvent(ev);
  }

  private onClaimEvent(ev: StoredEvent): void {
    const { name, namespace } = ev.object.metadata;
    if (ev.type === "DELETED") {
      for (const pv of this.volumes()) {
        const ref = claimRefOf(pv);
        if (ref && ref.name === name && ref.namespace === namespace) this.syncVolume(pv);
      }
      return;
    }
    const pvc = this.claim(namespace, name);
    if (pvc) this.syncClaim(pvc);
  }

  private onVolumeEvent(ev: StoredEvent): void {
    const pvName = ev.object.metadata.name;
    if (ev.type === "DELETED") {
      for (const pvc of this.claims()) if (volumeNameOf(pvc) === pvName) this.syncClaim(pvc);
      return;
    }
    // Status-only changes (usually our own phase updates) do not make a claim bindable.
    if (ev.type === "MODIFIED" && ev.old && sameExceptStatus(ev.old, ev.object)) return;
    const pv = this.volume(pvName);
    if (!pv) return;
    this.syncVolume(pv);
    const after = this.volume(pvName);
    if (!after) return;
    const ref = claimRefOf(after);
    for (const pvc of this.claims()) {
      if (pvc.metadata.annotations?.[ANN_BIND_COMPLETED]) continue;
      const wanted = volumeNameOf(pvc);
      const referenced = ref?.name === pvc.metadata.name && ref?.namespace === pvc.metadata.namespace;
      if (wanted === pvName || referenced || (wanted === "" && !ref)) this.syncClaim(pvc);
    }
  }

  // ---- claims ------------------------------------------------------------------------------

  private syncClaim(pvc: KubeObject): void {
    if (pvc.metadata.annotations?.[ANN_BIND_COMPLETED]) this.syncBoundClaim(pvc);
    else this.syncUnboundClaim(pvc);
  }

  private syncUnboundClaim(pvc: KubeObject): void {
    const wanted = volumeNameOf(pvc);
    if (wanted === "") {
      const pv = this.findBestMatch(pvc);
      if (pv) {
        this.bind(pv, pvc);
        return;
      }
      const cls = classOf(pvc);
      if (cls === "") {
        this.event(
          pvc,
          "Normal",
          "FailedBinding",
          "no persistent volumes available for this claim and no storage class is set",
        );
      } else {
        const sc = this.store.get("storageclasses", cls);
        if (!sc) {
          this.event(pvc, "Warning", "ProvisioningFailed", `storageclass.storage.k8s.io "${cls}" not found`);
        } else if (sc.provisioner !== "kubernetes.io/no-provisioner") {
          this.event(
            pvc,
            "Normal",
            "ExternalProvisioning",
            `Waiting for a volume to be created either by the external provisioner '${String(sc.provisioner)}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
          );
        }
      }
      this.setClaimStatus(pvc, "Pending");
      return;
    }
    const pv = this.volume(wanted);
    if (!pv) {
      // The real controller only logs this ("volume requested and not found, will try again").
      this.setClaimStatus(pvc, "Pending");
      return;
    }
    if (!claimRefOf(pv)) {
      const why = volumeMismatch(pv, pvc);
      if (why) {
        this.event(pvc, "Warning", "VolumeMismatch", `Cannot bind to requested volume "${wanted}": ${why}`);
        this.setClaimStatus(pvc, "Pending");
      } else this.bind(pv, pvc);
      return;
    }
    if (isBoundToClaim(pv, pvc)) {
      this.bind(pv, pvc);
      return;
    }
    this.event(pvc, "Warning", "FailedBinding", `volume "${wanted}" already bound to a different claim.`);
    this.setClaimStatus(pvc, "Pending");
  }

  private syncBoundClaim(pvc: KubeObject): void {
    const wanted = volumeNameOf(pvc);
    if (wanted === "") {
      this.lose(pvc, "ClaimLost", "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!");
      return;
    }
    const pv = this.volume(wanted);
    if (!pv) {
      this.lose(pvc, "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
      return;
    }
    const ref = claimRefOf(pv);
    if (!ref || ref.uid === pvc.metadata.uid) this.bind(pv, pvc);
    else this.lose(pvc, "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly");
  }

  private lose(pvc: KubeObject, reason: string, message: string): void {
    if (phaseOf(pvc) === "Lost") return;
    this.setClaimStatus(pvc, "Lost");
    this.event(pvc, "Warning", reason, message);
  }

  private findBestMatch(pvc: KubeObject): KubeObject | undefined {
    let best: KubeObject | undefined;
    for (const pv of this.volumes()) {
      const ref = claimRefOf(pv);
      if (ref && !isBoundToClaim(pv, pvc)) continue;
      if (!ref && phaseOf(pv) !== "Available" && phaseOf(pv) !== "Pending") continue;
      if (pv.metadata.deletionTimestamp) continue;
      if (volumeMismatch(pv, pvc) || !selectorMatches(pvc, pv)) continue;
      if (ref) return pv; // pre-bound to this claim wins
      const size = parseQuantity(dig(pv, "spec", "capacity", "storage"));
      const bestSize = best ? parseQuantity(dig(best, "spec", "capacity", "storage")) : Number.POSITIVE_INFINITY;
      const tie = size === bestSize && (pv.metadata.name ?? "") < (best?.metadata.name ?? "");
      if (size < bestSize || tie) best = pv;
    }
    return best;
  }

  private bind(pv: KubeObject, pvc: KubeObject): void {
    // bindVolumeToClaim
    const spec: JsonObject = { ...(isObject(pv.spec) ? pv.spec : {}) };
    const nextPv: KubeObject = { ...pv, spec };
    const ref = claimRefOf(pv);
    if (!ref || ref.uid !== pvc.metadata.uid || ref.name !== pvc.metadata.name) {
      if (!ref) {
        nextPv.metadata = {
          ...pv.metadata,
          annotations: { ...pv.metadata.annotations, [ANN_BOUND_BY_CONTROLLER]: "yes" },
        };
      }
      spec.claimRef = {
        kind: "PersistentVolumeClaim",
        namespace: pvc.metadata.namespace,
        name: pvc.metadata.name,
        uid: pvc.metadata.uid,
        apiVersion: "v1",
        resourceVersion: pvc.metadata.resourceVersion,
      };
    }
    const savedPv = this.store.updateTyped(this.pvType, nextPv);
    this.setVolumePhase(savedPv, "Bound");
    const bound = this.volume(savedPv.metadata.name) ?? savedPv;

    // bindClaimToVolume
    const pvcSpec: JsonObject = { ...(isObject(pvc.spec) ? pvc.spec : {}) };
    const nextPvc: KubeObject = { ...pvc, spec: pvcSpec, metadata: { ...pvc.metadata } };
    const annotations = { ...nextPvc.metadata.annotations };
    if (pvcSpec.volumeName !== bound.metadata.name) {
      pvcSpec.volumeName = bound.metadata.name;
      annotations[ANN_BOUND_BY_CONTROLLER] = "yes";
    }
    annotations[ANN_BIND_COMPLETED] = "yes";
    nextPvc.metadata.annotations = annotations;
    const savedPvc = this.store.updateTyped(this.pvcType, nextPvc);
    this.setClaimStatus(savedPvc, "Bound", bound);
  }

  // ---- volumes -----------------------------------------------------------------------------

  private syncVolume(pv: KubeObject): void {
    const ref = claimRefOf(pv);
    if (!ref?.uid) {
      this.setVolumePhase(pv, "Available");
      return;
    }
    let pvc = this.claim(ref.namespace, ref.name);
    if (pvc && pvc.metadata.uid !== ref.uid) pvc = undefined;
    if (!pvc) {
      const phase = phaseOf(pv);
      if (phase !== "Released" && phase !== "Failed") this.setVolumePhase(pv, "Released");
      if (str(dig(pv, "spec", "persistentVolumeReclaimPolicy")) === "Delete") {
        this.deletedVolumes.push({
          name: pv.metadata.name ?? "",
          volumeHandle: str(dig(pv, "spec", "csi", "volumeHandle")),
          reason: "reclaim-policy-delete",
        });
        this.store.deleteTyped(this.pvType, pv.metadata.name ?? "", undefined);
      }
      return;
    }
    const claimed = volumeNameOf(pvc);
    if (claimed === "") return; // binding in progress: the claim sync finishes it
    if (claimed === pv.metadata.name) {
      this.setVolumePhase(pv, "Bound");
      return;
    }
    // Bound to a claim that is bound elsewhere: unbind (drop the claimRef if we set it, else its uid).
    const spec: JsonObject = { ...(isObject(pv.spec) ? pv.spec : {}) };
    const next: KubeObject = { ...pv, spec };
    if (pv.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER]) {
      spec.claimRef = undefined;
      const { [ANN_BOUND_BY_CONTROLLER]: _, ...rest } = pv.metadata.annotations ?? {};
      next.metadata = { ...pv.metadata, annotations: rest };
    } else if (isObject(spec.claimRef)) {
      spec.claimRef = { ...spec.claimRef, uid: undefined, resourceVersion: undefined };
    }
    this.setVolumePhase(this.store.updateTyped(this.pvType, next), "Available");
  }

  // ---- writes ------------------------------------------------------------------------------

  private setVolumePhase(pv: KubeObject, phase: string): void {
    const cur = this.volume(pv.metadata.name) ?? pv;
    if (phaseOf(cur) === phase) return;
    const status = { phase, lastPhaseTransitionTime: `${new Date().toISOString().slice(0, 19)}Z` };
    this.store.updateTyped(this.pvType, { ...cur, status }, { subresource: "status" });
  }

  private setClaimStatus(pvc: KubeObject, phase: string, pv?: KubeObject): void {
    const cur = this.claim(pvc.metadata.namespace, pvc.metadata.name) ?? pvc;
    const status: JsonObject = { ...(isObject(cur.status) ? cur.status : {}), phase };
    if (pv) {
      status.accessModes = dig(pv, "spec", "accessModes") ?? [];
      status.capacity = dig(pv, "spec", "capacity") ?? {};
    } else {
      status.accessModes = undefined;
      status.capacity = undefined;
    }
    this.store.updateTyped(this.pvcType, { ...cur, status }, { subresource: "status" });
  }

  private event(pvc: KubeObject, type: "Normal" | "Warning", reason: string, message: string): void {
    const cur = this.claim(pvc.metadata.namespace, pvc.metadata.name) ?? pvc;
    recordEvent(this.store, { involved: cur, type, reason, message, component: COMPONENT });
  }

  private volumes(): KubeObject[] {
    return this.store.scan(this.pvType);
  }

  private claims(): KubeObject[] {
    return this.store.scan(this.pvcType);
  }

  private volume(name: string | undefined): KubeObject | undefined {
    return name ? this.store.raw(this.pvType, name) : undefined;
  }

  private claim(namespace: string | undefined, name: string | undefined): KubeObject | undefined {
    return name ? this.store.raw(this.pvcType, name, namespace) : undefined;
  }
}
