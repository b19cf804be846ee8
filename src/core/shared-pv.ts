/**
 * The one definition of "a PV of the shared volume", for lint, enable, init, doctor and drift alike: a
 * PersistentVolume named `<pvPrefix><namespace>`, one reserved for the claim (`claimRef.name` is
 * `claimName`), or one a PVC `claimName` names in `volumeName`. Works on anything with a kind, a name
 * and a body: scanned documents, model objects, live objects.
 */
import type { Conventions } from "./config.ts";

export interface Manifest {
  kind: string;
  name: string;
  body: Record<string, unknown>;
}

const spec = (o: Manifest): Record<string, unknown> | undefined => {
  const s = o.body.spec;
  return s !== null && typeof s === "object" ? (s as Record<string, unknown>) : undefined;
};

/** Names of the PVs that a PVC `claimName` binds through `spec.volumeName`. */
export function claimedVolumes(objects: Iterable<Manifest>, c: Conventions): Set<string> {
  const out = new Set<string>();
  for (const o of objects) {
    if (o.kind !== "PersistentVolumeClaim" || o.name !== c.claimName) continue;
    const vn = spec(o)?.volumeName;
    if (typeof vn === "string") out.add(vn);
  }
  return out;
}

/** Is this a PV of the shared volume? `claimed`: claimedVolumes() of the same objects. */
export function isSharedPv(o: Manifest, c: Conventions, claimed: ReadonlySet<string>): boolean {
  if (o.kind !== "PersistentVolume") return false;
  if (o.name.startsWith(c.pvPrefix)) return true;
  const ref = spec(o)?.claimRef;
  if (ref !== null && typeof ref === "object" && (ref as Record<string, unknown>).name === c.claimName) return true;
  return claimed.has(o.name);
}
