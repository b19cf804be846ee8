/** The shared repository volume and the per-namespace instances that point at it. */

export type VolumeStyle = "shared-handle" | "static";

export interface SecretRef {
  name: string;
  namespace: string;
}

/** What every per-namespace PV copies from the repository PV. */
export interface RepositoryVolume {
  driver: string;
  /** The handle of the original volume (shared style); in static style, the repository PV's own handle. */
  volumeHandle: string;
  /** In the order found, so generated files keep the user's order. */
  volumeAttributes: [string, string][];
  nodeStageSecretRef: SecretRef | undefined;
  capacity: string;
  storageClassName: string;
  style: VolumeStyle;
  /** Where it came from, for messages: "kubernetes/apps/...:12" or "flags". */
  origin: string;
}

/**
 * The style of a PV from its `csi.volumeAttributes` (entries in file order, or a map as the API returns
 * it): `staticVolume: "true"` is a ceph-csi static volume, anything else copies the shared handle.
 * The one definition of a PV's style for lint, verify, doctor and the generators.
 */
export function styleOf(
  attributes: readonly (readonly [string, string])[] | Readonly<Record<string, unknown>> | undefined,
): VolumeStyle {
  const staticVolume = Array.isArray(attributes)
    ? (attributes as readonly (readonly [string, string])[]).find(([k]) => k === "staticVolume")?.[1]
    : (attributes as Readonly<Record<string, unknown>> | undefined)?.staticVolume;
  return String(staticVolume) === "true" ? "static" : "shared-handle";
}

/**
 * The repository volume a PV body describes (a manifest or an object the API served): what every
 * per-namespace PV copies. `origin` names where it came from, for messages.
 */
export function volumeOfPv(body: Readonly<Record<string, unknown>>, origin: string): RepositoryVolume {
  const o = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const s = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const spec = o(body.spec);
  const csi = o(spec.csi);
  const volumeAttributes: [string, string][] = Object.entries(o(csi.volumeAttributes)).map(([k, v]) => [k, String(v)]);
  const secret = o(csi.nodeStageSecretRef);
  const secretName = s(secret.name);
  const secretNs = s(secret.namespace);
  return {
    driver: s(csi.driver) ?? "cephfs.csi.ceph.com",
    volumeHandle: s(csi.volumeHandle) ?? "",
    volumeAttributes,
    nodeStageSecretRef: secretName && secretNs ? { name: secretName, namespace: secretNs } : undefined,
    capacity: s(o(spec.capacity).storage) ?? "200Gi",
    storageClassName: s(spec.storageClassName) ?? "",
    style: styleOf(volumeAttributes),
    origin,
  };
}

export function attribute(v: RepositoryVolume, key: string): string | undefined {
  return v.volumeAttributes.find(([k]) => k === key)?.[1];
}

/**
 * ceph-csi volume handles encode the cluster ID:
 * 0001-0024-<clusterID (36)>-<pool ID (16 hex)>-<uuid>. Returns it when the handle has that shape.
 */
export function clusterIdFromHandle(handle: string): string | undefined {
  const m = /^[0-9a-f]{4}-([0-9a-f]{4})-(.+)-([0-9a-f]{16})-([0-9a-f-]{36})$/i.exec(handle);
  if (!m) return undefined;
  const len = Number.parseInt(m[1] as string, 16);
  const id = m[2] as string;
  return id.length === len ? id : undefined;
}

export interface SourceRef {
  kind: "GitRepository" | "OCIRepository" | "Bucket";
  name: string;
  namespace: string;
}
