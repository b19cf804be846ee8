/**
 * Facts about the shared repository's PVs and PVCs that hold alike in a GitOps checkout (`lint`) and
 * on a live cluster (`verify`, `doctor`, `drift`): the style of a PV, what its reclaim policy risks,
 * which PV is the repository PV, whether a PV reaches the repository's subvolume, and why a PVC and
 * its PV do not bind. One definition each, so files and cluster get the same verdict.
 *
 * Pure. Callers pass plain data: a `LivePv`/`LivePvc` as it is, a manifest through `pvFactsOf` /
 * `pvcFactsOf` (anything with `name` and the object `body`: a model object or a scanned document).
 */
import { type Conventions, pvName } from "./config.ts";
import { styleOf, type VolumeStyle } from "./topology.ts";

export interface PvFacts {
  name: string;
  driver?: string | undefined;
  volumeHandle?: string | undefined;
  volumeAttributes?: Readonly<Record<string, string>> | undefined;
  /** Undefined (a manifest that does not say) or "" (the server did not say): not judged. */
  reclaimPolicy?: string | undefined;
  claimRef?: { namespace?: string | undefined; name?: string | undefined } | undefined;
  storageClassName?: string | undefined;
  /** spec.capacity.storage as written, e.g. "200Gi". */
  capacity?: string | undefined;
  accessModes?: readonly string[] | undefined;
  volumeMode?: string | undefined;
}

export interface PvcFacts {
  namespace?: string | undefined;
  name: string;
  volumeName?: string | undefined;
  /** Undefined: the claim sets none (admission fills in the default class, if there is one). */
  storageClassName?: string | undefined;
  /** spec.resources.requests.storage. */
  request?: string | undefined;
  accessModes?: readonly string[] | undefined;
  volumeMode?: string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading manifests

/** The value at `key` of an object (not an array); undefined for anything else. */
const field = (v: unknown, key: string): unknown =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined;

/** A scalar as text (YAML may give `staticVolume: true` a boolean); undefined for anything else. */
const text = (v: unknown): string | undefined =>
  typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;

function textMap(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    const s = text(x);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

function texts(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const x of v) {
    const s = text(x);
    if (s !== undefined) out.push(s);
  }
  return out;
}

// Fields are read one level at a time (no key lists): the rules read the facts of thousands of PVs and PVCs.

/** The facts of a PersistentVolume manifest (`body` is the whole object: apiVersion, metadata, spec). */
export function pvFactsOf(o: { name: string; body: unknown }): PvFacts {
  const spec = field(o.body, "spec");
  const ref = field(spec, "claimRef");
  const csi = field(spec, "csi");
  return {
    name: o.name,
    driver: text(field(csi, "driver")),
    volumeHandle: text(field(csi, "volumeHandle")),
    volumeAttributes: textMap(field(csi, "volumeAttributes")),
    reclaimPolicy: text(field(spec, "persistentVolumeReclaimPolicy")),
    claimRef:
      ref && typeof ref === "object"
        ? { namespace: text(field(ref, "namespace")), name: text(field(ref, "name")) }
        : undefined,
    storageClassName: text(field(spec, "storageClassName")),
    capacity: text(field(field(spec, "capacity"), "storage")),
    accessModes: texts(field(spec, "accessModes")),
    volumeMode: text(field(spec, "volumeMode")),
  };
}

/** The facts of a PersistentVolumeClaim manifest; `namespace` is the effective one when the caller knows it. */
export function pvcFactsOf(o: { name: string; namespace?: string | undefined; body: unknown }): PvcFacts {
  const spec = field(o.body, "spec");
  return {
    namespace: o.namespace ?? text(field(field(o.body, "metadata"), "namespace")),
    name: o.name,
    volumeName: text(field(spec, "volumeName")),
    storageClassName: text(field(spec, "storageClassName")),
    request: text(field(field(field(spec, "resources"), "requests"), "storage")),
    accessModes: texts(field(spec, "accessModes")),
    volumeMode: text(field(spec, "volumeMode")),
  };
}

// ---------------------------------------------------------------------------------------------
// Style and reclaim policy

/** shared-handle (copies the original volume's handle) or static (ceph-csi `staticVolume: "true"`). */
export function styleOfPv(pv: PvFacts): VolumeStyle {
  return styleOf(pv.volumeAttributes);
}

export interface ReclaimVerdict {
  /** error (doctor: Fail) for a shared handle, warning (doctor: Warn) for a static volume. */
  severity: "error" | "warning";
  style: VolumeStyle;
  policy: string;
  why: string;
}

/**
 * What a reclaim policy other than Retain risks (DOMAIN.md: both styles must be Retain). A PV that
 * copies the shared handle is resolved by ceph-csi as the original dynamic volume: with Delete,
 * deleting it or its claim can make the provisioner delete the whole shared subvolume. A static
 * volume is never handed to the driver for deletion, but the PV turns Failed instead of Released.
 * Undefined when the policy is Retain or not known.
 */
export function reclaimVerdict(pv: PvFacts): ReclaimVerdict | undefined {
  const policy = pv.reclaimPolicy;
  if (policy === undefined || policy === "" || policy === "Retain") return undefined;
  const style = styleOfPv(pv);
  return style === "shared-handle"
    ? {
        severity: "error",
        style,
        policy,
        why: `it carries the shared volume's handle, which ceph-csi resolves as the original dynamic volume: with reclaim policy ${policy}, deleting the PV or its claim can make the provisioner delete the whole shared subvolume, every namespace's backups (rook/rook#15008)`,
      }
    : {
        severity: "warning",
        style,
        policy,
        why: `it is a ceph-csi static volume, so the CSI driver is not asked to delete the data; but with reclaim policy ${policy} the PV turns Failed instead of Released when its claim is deleted, and every PV of the shared repository must be Retain`,
      };
}

/** The command that makes a live PV Retain. */
export function retainPatch(pv: string): string {
  return `kubectl patch pv ${pv} -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'`;
}

/**
 * What must come before any command that deletes a PV or its claim: nothing when the PV is known to be
 * Retain, else `kubectl patch pv <pv> … Retain &&` (with Delete, deleting a shared-handle PV or its claim
 * can delete the whole shared subvolume).
 */
export function retainFirst(pv: PvFacts | undefined): string {
  return pv && pv.reclaimPolicy !== "Retain" ? `${retainPatch(pv.name)} && ` : "";
}

/** Whether a delete fix may promise that the data stays: only when the PV is Retain. */
export function keepsData(pv: PvFacts | undefined): boolean {
  return pv?.reclaimPolicy === "Retain";
}

// ---------------------------------------------------------------------------------------------
// Volume identity: which subvolume a PV reaches

export interface VolumeIdentity {
  style: VolumeStyle;
  driver: string;
  /** shared-handle: the handle all PVs copy. static: undefined (each PV has its own handle). */
  handle: string | undefined;
  /** static: volumeAttributes.rootPath (the subvolume path). */
  rootPath: string | undefined;
  clusterID: string | undefined;
  fsName: string | undefined;
  /**
   * The CephFS subvolume both styles can name: a dynamic handle ends with the subvolume's UUID, and a
   * static rootPath is the path of `<prefix><UUID>` (ceph-csi's default prefix is `csi-vol-`). Undefined
   * when neither says it (a hand-made handle, a rootPath outside /volumes/).
   */
  subvolume: string | undefined;
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
/**
 * ceph-csi's composite volume id: `<version 0001>-<length of clusterID, 4 hex>-<clusterID>-<pool or
 * file-system id, 16 hex>-<UUID>`; for CephFS the UUID names the subvolume `csi-vol-<UUID>`.
 */
const HANDLE = new RegExp(`^0001-([0-9a-f]{4})-(.+)-[0-9a-f]{16}-(${UUID})$`);
/** `/volumes/<group>/<prefix><UUID>[/<UUID2>[/...]]`: the subvolume's path, as `ceph fs subvolume getpath` prints it. */
const SUBVOLUME_PATH = new RegExp(`^/volumes/[^/]+/[^/]*?(${UUID})(?:/|$)`);

/** The clusterID and subvolume UUID a dynamic ceph-csi handle encodes; undefined for anything else. */
export function parseCephHandle(handle: string | undefined): { clusterID: string; uuid: string } | undefined {
  const m = handle === undefined ? null : HANDLE.exec(handle);
  if (!m) return undefined;
  const clusterID = m[2] as string;
  // The length field guards against a clusterID that itself contains dashes and hex runs.
  if (Number.parseInt(m[1] as string, 16) !== clusterID.length) return undefined;
  return { clusterID, uuid: m[3] as string };
}

export function identityOf(pv: PvFacts): VolumeIdentity {
  const style = styleOfPv(pv);
  const attrs = pv.volumeAttributes ?? {};
  const handle = style === "shared-handle" ? pv.volumeHandle : undefined;
  const parsed = parseCephHandle(handle);
  const subvolume =
    style === "static" ? SUBVOLUME_PATH.exec(attrs.rootPath ?? "")?.[1] : (parsed?.uuid as string | undefined);
  return {
    style,
    driver: pv.driver ?? "",
    handle,
    rootPath: attrs.rootPath,
    clusterID: attrs.clusterID ?? parsed?.clusterID,
    fsName: attrs.fsName,
    subvolume,
  };
}

/** One string per underlying subvolume: equal keys point at the same data. */
export function identityKey(id: VolumeIdentity): string {
  return id.style === "static"
    ? `static:${id.clusterID ?? ""}/${id.fsName ?? ""}:${id.rootPath ?? ""}`
    : `handle:${id.handle ?? ""}`;
}

/** What a user recognises: the handle, or the rootPath of a static PV. */
export function identityText(id: VolumeIdentity): string {
  return id.style === "static" ? `rootPath ${id.rootPath ?? "(none)"}` : `handle ${id.handle ?? "(none)"}`;
}

/** Whether `pv` reaches the repository's subvolume (in the same style). Mixed styles never match here. */
export function sameVolume(pv: PvFacts, repo: VolumeIdentity): boolean {
  const id = identityOf(pv);
  if (id.style !== repo.style) return false;
  if (id.style === "static") {
    return (
      id.rootPath === repo.rootPath &&
      (repo.clusterID === undefined || id.clusterID === repo.clusterID) &&
      (repo.fsName === undefined || id.fsName === repo.fsName)
    );
  }
  return id.handle === repo.handle;
}

/**
 * Whether two PVs of different styles reach the same subvolume: "same" (the subvolume UUID and, where
 * both say them, the cluster and file system agree), "other" (they name different ones), or "unknown"
 * (one of them does not say which subvolume it reaches).
 */
export function crossStyleVolume(a: VolumeIdentity, b: VolumeIdentity): "same" | "other" | "unknown" {
  const differ = (x: string | undefined, y: string | undefined) => x !== undefined && y !== undefined && x !== y;
  if (
    differ(a.clusterID, b.clusterID) ||
    differ(a.fsName, b.fsName) ||
    (a.driver && b.driver && a.driver !== b.driver)
  ) {
    return "other";
  }
  if (a.subvolume === undefined || b.subvolume === undefined) return "unknown";
  return a.subvolume === b.subvolume ? "same" : "other";
}

/** The subvolume's own path in a static rootPath: `/volumes/<group>/<prefix><UUID>` and, for a v2 subvolume, `/<UUID2>`. */
const SUBVOLUME_ROOT = new RegExp(`^/volumes/[^/]+/[^/]*?${UUID}(?:/${UUID})?(?=/|$)`);

const trimSlashes = (p: string) => p.replace(/\/+$/, "").replace(/^\/+/, "");

/**
 * Which directory of the repository's volume `pv` has as its root: "" the volume's own root (the same data
 * as the repository PV), "repository" for a ceph-csi static volume whose rootPath is the subvolume's path
 * plus /repository (what Kopiur's movers need: it keeps the repository at the root of what it mounts).
 * Undefined when `pv` reaches another volume, or when neither PV says enough to tell. Static inside static:
 * the rootPaths compared; static inside a shared handle: the rootPath's subvolume UUID must be the handle's,
 * and what follows the subvolume's own path (`ceph fs subvolume getpath`) is the directory.
 */
export function rootOffset(pv: PvFacts, repo: VolumeIdentity): string | undefined {
  const id = identityOf(pv);
  if (id.style === repo.style && sameVolume(pv, repo)) return "";
  if (id.style !== "static" || id.rootPath === undefined) return undefined;
  const differ = (x: string | undefined, y: string | undefined) => x !== undefined && y !== undefined && x !== y;
  if (differ(id.clusterID, repo.clusterID) || differ(id.fsName, repo.fsName)) return undefined;
  if (repo.driver && id.driver && repo.driver !== id.driver) return undefined;
  if (repo.style === "static") {
    const base = repo.rootPath?.replace(/\/+$/, "");
    if (!base || !id.rootPath.startsWith(`${base}/`)) return undefined;
    return trimSlashes(id.rootPath.slice(base.length));
  }
  if (repo.subvolume === undefined || id.subvolume !== repo.subvolume) return undefined;
  const m = SUBVOLUME_ROOT.exec(id.rootPath);
  return m ? trimSlashes(id.rootPath.slice(m[0].length)) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The repository PV

export interface RepositoryPick<T> {
  pv: T;
  /**
   * name: it is `<pvPrefix><repositoryNamespace>`. claim: its claimRef names `<repositoryNamespace>/<claimName>`.
   * majority: neither exists; it is the first candidate of the volume most candidates reach.
   */
  by: "name" | "claim" | "majority";
  /** Candidates that reach the same volume (with it). */
  votes: number;
}

/**
 * Which of `candidates` (the shared repository's PVs, in file or list order) is the repository PV every
 * other PV is compared with: the one whose claimRef is `<repositoryNamespace>/<claimName>` (the PV the
 * repository namespace's claim binds), else the one the conventions name (`<pvPrefix><repositoryNamespace>`),
 * else the first PV of the volume most candidates reach (ties: the earlier one). `by` says which; a caller
 * that must not guess ignores "majority".
 */
export function pickRepositoryPv<T extends PvFacts>(
  candidates: readonly T[],
  c: Conventions,
): RepositoryPick<T> | undefined;
export function pickRepositoryPv<T>(
  candidates: readonly T[],
  c: Conventions,
  facts: (x: T) => PvFacts,
): RepositoryPick<T> | undefined;
export function pickRepositoryPv<T>(
  candidates: readonly T[],
  c: Conventions,
  facts: (x: T) => PvFacts = (x) => x as unknown as PvFacts,
): RepositoryPick<T> | undefined {
  const all = candidates.map((pv) => ({ pv, f: facts(pv) }));
  const votesFor = (f: PvFacts) => {
    const key = identityKey(identityOf(f));
    return all.filter((x) => identityKey(identityOf(x.f)) === key).length;
  };
  // The PV the repository namespace's claim binds, else the one the conventions name (pvPrefix +
  // repositoryNamespace, kopiashare.yaml), else the subvolume most PVs reach.
  const byClaim = all.find(
    (x) => x.f.claimRef?.namespace === c.repositoryNamespace && x.f.claimRef.name === c.claimName,
  );
  if (byClaim) return { pv: byClaim.pv, by: "claim", votes: votesFor(byClaim.f) };
  const want = pvName(c, c.repositoryNamespace);
  const byName = all.find((x) => x.f.name === want);
  if (byName) return { pv: byName.pv, by: "name", votes: votesFor(byName.f) };
  const groups = new Map<string, { first: T; n: number }>();
  for (const x of all) {
    const key = identityKey(identityOf(x.f));
    const g = groups.get(key) ?? { first: x.pv, n: 0 };
    g.n++;
    groups.set(key, g);
  }
  let best: { first: T; n: number } | undefined;
  for (const g of groups.values()) if (!best || g.n > best.n) best = g;
  return best ? { pv: best.first, by: "majority", votes: best.n } : undefined;
}

// ---------------------------------------------------------------------------------------------
// PVC <-> PV: what the binder compares

const UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Bytes of a Kubernetes quantity ("200Gi", "1.5G", "500M"); undefined when absent or not parseable. */
export function quantityBytes(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2] === "m") return n / 1000;
  return n * (UNITS[m[2] ?? ""] ?? 1);
}

export interface ClaimMismatch {
  /** In the order the PV binder checks them. */
  field: "size" | "storageClassName" | "volumeMode" | "accessModes";
  /** What the claim asks for ("" / [] when it says nothing). */
  pvc: string;
  /** What the PV has. */
  pv: string;
  /** storageClassName: the claim sets no class (admission fills in the default class, if any). */
  unset?: boolean;
  /** accessModes: the modes the claim asks for that the PV does not offer. */
  missing?: string[];
  /** One line for messages, e.g. `size: the PVC requests 300Gi, the PV has 200Gi`. */
  text: string;
}

/**
 * Why the PV binder refuses to bind `pvc` to `pv`: the PV is smaller than the request, the classes differ
 * (a claim without a class only matches a PV without one), the volume modes differ, or the PV lacks a
 * requested access mode. Empty when they match. Unparseable sizes are not compared.
 */
export function claimMismatches(pvc: PvcFacts, pv: PvFacts): ClaimMismatch[] {
  const out: ClaimMismatch[] = [];
  const want = quantityBytes(pvc.request);
  const have = quantityBytes(pv.capacity);
  if (want !== undefined && have !== undefined && have < want) {
    out.push({
      field: "size",
      pvc: pvc.request ?? "",
      pv: pv.capacity ?? "",
      text: `size: the PVC requests ${pvc.request}, the PV has ${pv.capacity}`,
    });
  }
  const pvClass = pv.storageClassName ?? "";
  if ((pvc.storageClassName ?? "") !== pvClass) {
    const unset = pvc.storageClassName === undefined;
    out.push({
      field: "storageClassName",
      pvc: pvc.storageClassName ?? "",
      pv: pvClass,
      ...(unset ? { unset } : {}),
      text: unset
        ? `storage class: the PVC sets none, the PV has "${pvClass}"`
        : `storage class: the PVC asks for "${pvc.storageClassName}", the PV has "${pvClass}"`,
    });
  }
  const pvcMode = pvc.volumeMode ?? "Filesystem";
  const pvMode = pv.volumeMode ?? "Filesystem";
  if (pvcMode !== pvMode) {
    out.push({
      field: "volumeMode",
      pvc: pvcMode,
      pv: pvMode,
      text: `volume mode: the PVC asks for ${pvcMode}, the PV has ${pvMode}`,
    });
  }
  const pvcModes = pvc.accessModes ?? [];
  const pvModes = pv.accessModes ?? [];
  const missing = pvcModes.filter((m) => !pvModes.includes(m));
  if (missing.length > 0) {
    out.push({
      field: "accessModes",
      pvc: pvcModes.join(","),
      pv: pvModes.join(","),
      missing,
      text: `access modes: the PVC asks for ${pvcModes.join(",")}, the PV offers ${pvModes.join(",") || "none"}`,
    });
  }
  return out;
}
