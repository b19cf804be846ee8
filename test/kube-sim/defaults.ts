// Server-side defaulting done by the real API on create (only what clients can observe here).

import type { ResourceType } from "./registry.ts";
import { ensureObject, isObject, type KubeObject } from "./types.ts";

/** Added on create by the StorageObjectInUseProtection admission plugin; removed by lifecycle.ts. */
export const PVC_PROTECTION = "kubernetes.io/pvc-protection";
export const PV_PROTECTION = "kubernetes.io/pv-protection";

function addFinalizer(obj: KubeObject, f: string): void {
  const have = Array.isArray(obj.metadata.finalizers) ? obj.metadata.finalizers : [];
  if (!have.includes(f)) obj.metadata.finalizers = [...have, f];
}

export function applyCreateDefaults(type: ResourceType, obj: KubeObject): void {
  const spec = ensureObjectIfKind(obj, type);
  switch (type.kind) {
    case "Namespace": {
      obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name ?? "" };
      obj.spec = { finalizers: ["kubernetes"], ...(isObject(obj.spec) ? obj.spec : {}) };
      obj.status = { phase: "Active" };
      break;
    }
    case "PersistentVolume":
      if (spec) {
        spec.persistentVolumeReclaimPolicy ??= "Retain";
        spec.volumeMode ??= "Filesystem";
      }
      obj.status ??= { phase: "Pending" };
      addFinalizer(obj, PV_PROTECTION);
      break;
    case "PersistentVolumeClaim":
      if (spec) spec.volumeMode ??= "Filesystem";
      obj.status ??= { phase: "Pending" };
      addFinalizer(obj, PVC_PROTECTION);
      break;
    case "Job":
      if (spec) {
        spec.backoffLimit ??= 6;
        spec.completions ??= 1;
        spec.parallelism ??= 1;
        spec.completionMode ??= "NonIndexed";
        spec.suspend ??= false;
      }
      break;
    case "Event":
      obj.count ??= 1;
      break;
  }
}

function ensureObjectIfKind(obj: KubeObject, type: ResourceType) {
  if (type.kind === "PersistentVolume" || type.kind === "PersistentVolumeClaim" || type.kind === "Job") {
    return ensureObject(obj, "spec");
  }
  return undefined;
}
