/** Kubernetes naming rules (RFC 1123) that every name we write must satisfy. */

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN_PART = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Returns an error message, or undefined when `name` is a valid RFC 1123 label (namespaces, app names). */
export function checkLabel(name: string, what: string): string | undefined {
  if (name.length === 0) return `${what} must not be empty`;
  if (name.length > 63) return `${what} "${name}" is ${name.length} characters long; an RFC 1123 label has at most 63`;
  if (!LABEL.test(name)) {
    return `${what} "${name}" is not a valid RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Returns an error message, or undefined when `name` is a valid RFC 1123 subdomain (PV, PVC, Kustomization names). */
export function checkSubdomain(name: string, what: string): string | undefined {
  if (name.length === 0) return `${what} must not be empty`;
  if (name.length > 253) return `${what} "${name}" is longer than 253 characters (RFC 1123 subdomain)`;
  if (!name.split(".").every((p) => SUBDOMAIN_PART.test(p))) {
    return `${what} "${name}" is not a valid RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/**
 * A label value for an object name (app.kubernetes.io/name): label values have at most 63 characters, names
 * up to 253. A name of at most 63 characters is its own value; a longer one keeps its first 54 characters
 * and ends in "-" and 8 hex digits of its FNV-1a hash, so that two long names with the same start still get
 * different values (e.g. volsync-repository-pvc-<a 41 to 63 character namespace>).
 */
export function labelValue(name: string): string {
  if (name.length <= 63) return name;
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${name.slice(0, 54)}-${h.toString(16).padStart(8, "0")}`;
}

/** A Kubernetes quantity as PV capacities and PVC requests use it, e.g. 200Gi, 500Mi, 1.5T. */
export const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

export function isQuantity(value: string): boolean {
  return QUANTITY.test(value);
}

export interface KubeVersion {
  major: number;
  minor: number;
}

/** How a Kubernetes version may be written, for messages. */
export const KUBE_VERSION_FORMS = "1.34, v1.34, 1.34.2 or v1.34.2";

/**
 * The one grammar for a Kubernetes version everywhere (flags, kopiashare.yaml, rules): `1.34`, `v1.34`,
 * `1.34.2` or `v1.34.2`; the patch is ignored. Undefined for anything else (other majors included).
 */
export function parseKubeVersion(value: string): KubeVersion | undefined {
  const m = /^v?(1)\.(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]*))?$/.exec(value.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/**
 * A version and where it was stated: "flag" (--kubernetes-version), "kopiashare.yaml", or the
 * repo-relative "file:line" of a statement in the repository (a Talos file, an upgrade controller's object).
 */
export interface StatedKubeVersion {
  version: KubeVersion;
  source: string;
}

/** "1.NN", the form kopiashare writes and compares. */
export function formatKubeVersion(v: KubeVersion): string {
  return `${v.major}.${v.minor}`;
}

/** Any accepted spelling as "1.NN"; undefined when `value` is not a Kubernetes version. */
export function normalizeKubeVersion(value: string): string | undefined {
  const v = parseKubeVersion(value);
  return v ? formatKubeVersion(v) : undefined;
}

/** The label (and field manager) that marks what the controller made. */
export const MANAGED_BY = "app.kubernetes.io/managed-by";
export const CONTROLLER = "kopiashare-controller";
/** A namespace opts in to the controller with this label, its value the repository's name (`controller --repository`). */
export const OPT_IN = "kopiashare.io/repository";
