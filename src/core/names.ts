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
