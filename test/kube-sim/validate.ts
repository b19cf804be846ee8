// The few validation rules of the real API that matter to kopiashare.

import { type Cause, invalid } from "./errors.ts";
import type { ResourceType } from "./registry.ts";
import { deepEqual, isObject, type JsonObject, type KubeObject } from "./types.ts";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const same = (a: unknown, b: unknown) => deepEqual(a ?? null, b ?? null);

/** PV spec fields that are not part of the volume source. */
const PV_NON_SOURCE = new Set([
  "capacity",
  "accessModes",
  "claimRef",
  "persistentVolumeReclaimPolicy",
  "storageClassName",
  "mountOptions",
  "volumeMode",
  "nodeAffinity",
  "volumeAttributesClassName",
]);

function pvSource(spec: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(spec)) if (!PV_NON_SOURCE.has(k)) out[k] = v;
  return out;
}

const specOf = (o: KubeObject): JsonObject => (isObject(o.spec) ? o.spec : {});

export function validateCreate(type: ResourceType, obj: KubeObject): void {
  const name = obj.metadata.name ?? "";
  const causes: Cause[] = [];
  if (!name) {
    causes.push({ field: "metadata.name", reason: "FieldValueRequired", detail: "name or generateName is required" });
  } else {
    const label = type.kind === "Namespace";
    const ok = (label ? DNS1123_LABEL : DNS1123_SUBDOMAIN).test(name) && name.length <= (label ? 63 : 253);
    if (!ok) {
      causes.push({
        field: "metadata.name",
        reason: "FieldValueInvalid",
        detail: label
          ? `"${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`
          : `"${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      });
    }
  }
  if (type.kind === "PersistentVolumeClaim") {
    const spec = specOf(obj);
    if (!Array.isArray(spec.accessModes) || spec.accessModes.length === 0) {
      causes.push({
        field: "spec.accessModes",
        reason: "FieldValueRequired",
        detail: "at least 1 access mode is required",
      });
    }
  }
  if (type.kind === "PersistentVolume") {
    const spec = specOf(obj);
    if (Object.keys(pvSource(spec)).length === 0) {
      causes.push({ field: "spec", reason: "FieldValueRequired", detail: "must specify a volume type" });
    }
  }
  if (causes.length) throw invalid(type.kind, type.group, name, causes);
}

export function validateUpdate(type: ResourceType, oldObj: KubeObject, newObj: KubeObject): void {
  const name = oldObj.metadata.name ?? "";
  if (type.kind === "PersistentVolume") {
    if (!same(pvSource(specOf(oldObj)), pvSource(specOf(newObj)))) {
      throw invalid(type.kind, type.group, name, [
        {
          field: "spec.persistentvolumesource",
          reason: "FieldValueForbidden",
          detail: "spec.persistentvolumesource is immutable after creation",
        },
      ]);
    }
  }
  if (type.kind === "PersistentVolumeClaim") {
    const a: JsonObject = { ...specOf(oldObj) };
    const b: JsonObject = { ...specOf(newObj) };
    // resources.requests may change; volumeName may be set once (the binder does it).
    a.resources = undefined;
    b.resources = undefined;
    if (!a.volumeName) b.volumeName = undefined;
    a.volumeAttributesClassName = undefined;
    b.volumeAttributesClassName = undefined;
    if (!a.volumeName) a.volumeName = undefined;
    if (!same(a, b)) {
      throw invalid(type.kind, type.group, name, [
        {
          field: "spec",
          reason: "FieldValueForbidden",
          detail:
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        },
      ]);
    }
  }
}
