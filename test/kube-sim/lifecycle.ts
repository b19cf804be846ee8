// Deletion as kube-controller-manager carries it out: the PVC and PV protection controllers (they remove
// the finalizers the admission plugin added, once nothing uses the object) and the namespace controller
// (a Terminating namespace loses its content, then goes). Runs synchronously after every write.

import { PV_PROTECTION, PVC_PROTECTION } from "./defaults.ts";
import type { ResourceType } from "./registry.ts";
import type { Store, StoredEvent } from "./store.ts";
import { dig, isObject, type KubeObject, str } from "./types.ts";

const deleting = (o: KubeObject | undefined): boolean => !!o?.metadata.deletionTimestamp;
const finalizersOf = (o: KubeObject): string[] =>
  Array.isArray(o.metadata.finalizers) ? o.metadata.finalizers.filter((f): f is string => typeof f === "string") : [];

/** The claims a pod mounts (spec.volumes[].persistentVolumeClaim.claimName). */
export function claimsOf(pod: KubeObject): string[] {
  const vols = dig(pod, "spec", "volumes");
  if (!Array.isArray(vols)) return [];
  const out: string[] = [];
  for (const v of vols) {
    const name = isObject(v) ? str(dig(v as KubeObject, "persistentVolumeClaim", "claimName")) : undefined;
    if (name) out.push(name);
  }
  return out;
}

/** A pod that has ended (Succeeded/Failed) no longer holds its claims. */
const podRunning = (pod: KubeObject) => {
  const phase = str(dig(pod, "status", "phase"));
  return phase !== "Succeeded" && phase !== "Failed";
};

export class Lifecycle {
  private readonly store: Store;
  private readonly nsType: ResourceType;
  private readonly pvType: ResourceType;
  private readonly pvcType: ResourceType;
  private readonly podType: ResourceType;

  constructor(store: Store) {
    this.store = store;
    this.nsType = store.registry.resolve("namespaces");
    this.pvType = store.registry.resolve("persistentvolumes");
    this.pvcType = store.registry.resolve("persistentvolumeclaims");
    this.podType = store.registry.resolve("pods");
    store.addController((ev) => this.onEvent(ev));
  }

  private onEvent(ev: StoredEvent): void {
    const t = ev.resource;
    const o = ev.object;
    if (t === this.pvcType && ev.type !== "DELETED") this.syncClaim(o);
    else if (t === this.pvType && ev.type !== "DELETED") this.syncVolume(o);
    else if (t === this.podType) {
      for (const claim of claimsOf(o)) {
        const pvc = this.store.raw(this.pvcType, claim, o.metadata.namespace);
        if (pvc) this.syncClaim(pvc);
      }
    }
    if (t === this.nsType && ev.type === "MODIFIED" && deleting(o) && !deleting(ev.old)) this.emptyNamespace(o);
    const ns = t.namespaced ? o.metadata.namespace : undefined;
    if (ns) {
      const nsObj = this.store.raw(this.nsType, ns);
      if (nsObj && deleting(nsObj)) {
        // Content that appears in a terminating namespace (an Event a controller records) goes too.
        if (ev.type === "ADDED") this.deleteQuietly(t, o);
        else if (ev.type === "DELETED") this.finishNamespace(ns);
      }
    }
  }

  // ---- PVC and PV protection -----------------------------------------------------------------

  /** pvc_protection_controller: the finalizer goes once no running pod in the namespace mounts the claim. */
  private syncClaim(pvc: KubeObject): void {
    const cur = this.store.raw(this.pvcType, pvc.metadata.name ?? "", pvc.metadata.namespace);
    if (!cur || !deleting(cur) || !finalizersOf(cur).includes(PVC_PROTECTION)) return;
    const used = this.store
      .scan(this.podType)
      .some(
        (p) =>
          p.metadata.namespace === cur.metadata.namespace &&
          podRunning(p) &&
          claimsOf(p).includes(cur.metadata.name ?? ""),
      );
    if (!used) this.dropFinalizer(this.pvcType, cur, PVC_PROTECTION);
  }

  /** pv_protection_controller: the finalizer goes once the volume is not Bound. */
  private syncVolume(pv: KubeObject): void {
    const cur = this.store.raw(this.pvType, pv.metadata.name ?? "");
    if (!cur || !deleting(cur) || !finalizersOf(cur).includes(PV_PROTECTION)) return;
    if (str(dig(cur, "status", "phase")) !== "Bound") this.dropFinalizer(this.pvType, cur, PV_PROTECTION);
  }

  private dropFinalizer(t: ResourceType, o: KubeObject, f: string): void {
    const finalizers = finalizersOf(o).filter((x) => x !== f);
    this.store.updateTyped(t, {
      ...o,
      metadata: { ...o.metadata, finalizers: finalizers.length ? finalizers : undefined },
    });
  }

  // ---- namespace controller ------------------------------------------------------------------

  /** Deletes everything in the namespace (objects with finalizers are only marked), then finishes it. */
  private emptyNamespace(nsObj: KubeObject): void {
    const ns = nsObj.metadata.name ?? "";
    for (const rt of this.store.registry.types) {
      if (!rt.namespaced) continue;
      for (const o of this.store.listTyped(rt, { namespace: ns })) this.deleteQuietly(rt, o);
    }
    this.finishNamespace(ns);
  }

  private deleteQuietly(t: ResourceType, o: KubeObject): void {
    if (!this.store.raw(t, o.metadata.name ?? "", o.metadata.namespace)) return;
    this.store.deleteTyped(t, o.metadata.name ?? "", o.metadata.namespace, { propagationPolicy: "Background" });
  }

  /** A terminating namespace with no content left (and no finalizers of its own) goes. */
  private finishNamespace(ns: string): void {
    const nsObj = this.store.raw(this.nsType, ns);
    if (!nsObj || !deleting(nsObj) || finalizersOf(nsObj).length > 0) return;
    for (const rt of this.store.registry.types) {
      if (rt.namespaced && this.store.listTyped(rt, { namespace: ns }).length > 0) return;
    }
    this.store.remove(this.nsType, nsObj, undefined);
  }
}
