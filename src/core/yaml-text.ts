/**
 * Hand-written YAML text for generated files: the seed's manifests are reproduced byte for byte
 * (schema comment, `---`, key order), which a serializer cannot promise. Values pass through `scalar`.
 */

const PLAIN_SAFE = /^[A-Za-z0-9_./][A-Za-z0-9_./:@+=-]*$/;
const SPECIAL =
  /^(true|false|yes|no|on|off|y|n|null|~|[-+]?(\.inf|\.nan)|[-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+)$/i;

/** A YAML scalar for `v`: plain when that reads back as the same string, double-quoted otherwise. */
export function scalar(v: string | number | boolean): string {
  if (typeof v !== "string") return String(v);
  if (v !== "" && PLAIN_SAFE.test(v) && !SPECIAL.test(v) && !v.endsWith(":")) return v;
  return JSON.stringify(v);
}

export const SCHEMA = {
  pv: "https://kubernetes-schemas.pages.dev/v1/persistentvolume.json",
  pvc: "https://kubernetes-schemas.pages.dev/v1/persistentvolumeclaim.json",
  namespace: "https://kubernetes-schemas.pages.dev/v1/namespace.json",
  kustomization: "https://json.schemastore.org/kustomization",
  fluxKustomization: "https://kubernetes-schemas.pages.dev/kustomize.toolkit.fluxcd.io/kustomization_v1.json",
} as const;

export function schemaLine(url: string): string {
  return `# yaml-language-server: $schema=${url}`;
}
