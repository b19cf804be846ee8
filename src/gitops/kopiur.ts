/**
 * Kopiur's volume: Kopiur mounts a filesystem ClusterRepository's PVC at the backend's `path` and keeps the
 * repository at the root of what it mounts, while the init Job (and Volsync) keep it in `repositoryDir/` of
 * the subvolume. Its movers therefore get their own claim (config.ts kopiurClaimName) in every enabled
 * namespace, bound to a ceph-csi static PV whose rootPath is the subvolume's path plus /repositoryDir: the
 * same directory, seen as a volume root. New names side by side, never a changed PV (csi is immutable).
 */
import { type Conventions, kopiurPvName } from "../core/config.ts";
import { instancePaths, KOPIUR_PVC_ENTRY, renderKopiurPvc } from "../core/render/instance.ts";
import { attribute, clusterIdFromHandle, type RepositoryVolume } from "../core/topology.ts";
import { parseCephHandle } from "../core/volume-facts.ts";
import { usageError } from "../errors.ts";
import { discoverCephfs } from "./cephfs.ts";
import { type FoundInstance, volumeOf } from "./discover.ts";
import { addEntry, removeEntry } from "./kustomize-edit.ts";
import { type FileChange, readMaybe } from "./plan.ts";
import type { RepoScan } from "./scan.ts";

/** The repository namespace's Kopiur PV, when the repository has one. */
export function findKopiurVolume(scan: RepoScan, c: Conventions): RepositoryVolume | undefined {
  const name = kopiurPvName(c, c.repositoryNamespace);
  const pv = scan.objects.find((o) => o.kind === "PersistentVolume" && o.name === name);
  return pv ? volumeOf(pv) : undefined;
}

/** The command that prints a shared-handle volume's subvolume path (ceph-csi's default group is `csi`). */
export function getpathCommand(base: RepositoryVolume): string {
  const uuid = parseCephHandle(base.volumeHandle)?.uuid;
  return `ceph fs subvolume getpath ${attribute(base, "fsName") ?? "<fs>"} ${uuid ? `csi-vol-${uuid}` : "<subvolume>"} csi`;
}

/**
 * The static volume Kopiur's movers mount, made from the repository volume `base`: its rootPath is the
 * subvolume's path plus /repositoryDir. The subvolume's path is the static volume's rootPath, or
 * `subvolumePath` (--subvolume-path) for a volume that copies a handle (which does not say its path), or
 * the one the repository's Kopiur PV already has. A usage error (exit 2) with the `ceph fs subvolume
 * getpath` command when none is known.
 */
export function kopiurVolume(
  scan: RepoScan,
  c: Conventions,
  base: RepositoryVolume,
  subvolumePath: string | undefined,
): RepositoryVolume {
  const suffix = `/${c.repositoryDir.replace(/^\/+|\/+$/g, "")}`;
  const existing = findKopiurVolume(scan, c);
  const existingRoot = existing ? attribute(existing, "rootPath") : undefined;
  let root = subvolumePath?.replace(/\/+$/, "");
  if (root !== undefined && !root.startsWith("/")) {
    throw usageError(
      `--subvolume-path ${subvolumePath}: expected an absolute path, as \`${getpathCommand(base)}\` prints it`,
    );
  }
  if (base.style === "static") {
    const own = attribute(base, "rootPath")?.replace(/\/+$/, "");
    if (root !== undefined && own !== undefined && root !== own) {
      throw usageError(
        `--subvolume-path ${root}: the repository PV (${base.origin}) has rootPath ${own}`,
        "drop --subvolume-path: a static repository volume says its path itself",
      );
    }
    root ??= own;
  } else if (root !== undefined) {
    const uuid = parseCephHandle(base.volumeHandle)?.uuid;
    if (uuid && /[0-9a-f]{8}-[0-9a-f]{4}-/.test(root) && !root.includes(uuid)) {
      throw usageError(
        `--subvolume-path ${root}: the repository PV (${base.origin}) copies the handle of subvolume csi-vol-${uuid}, which this path does not name`,
        `find its path with:\n    ${getpathCommand(base)}`,
      );
    }
  }
  if (root === undefined && existingRoot?.endsWith(suffix)) root = existingRoot.slice(0, -suffix.length);
  if (root === undefined) {
    throw usageError(
      `Kopiur keeps the repository at the root of the PVC it mounts, so its movers need a static PV whose rootPath is the subvolume's path plus ${suffix}; the repository PV (${base.origin}) copies a volume handle, which does not say that path`,
      `find it with:\n    ${getpathCommand(base)}\n  and pass it with --subvolume-path`,
    );
  }
  const clusterID =
    attribute(base, "clusterID") ?? (base.volumeHandle ? clusterIdFromHandle(base.volumeHandle) : undefined);
  const fsName = attribute(base, "fsName");
  const secret =
    base.nodeStageSecretRef ?? discoverCephfs(scan, c, { clusterId: clusterID, fsName }).facts.nodeStageSecret.value;
  return {
    driver: base.driver,
    volumeHandle: "",
    volumeAttributes: [
      ...(clusterID !== undefined ? ([["clusterID", clusterID]] as [string, string][]) : []),
      ...(fsName !== undefined ? ([["fsName", fsName]] as [string, string][]) : []),
      ["staticVolume", "true"],
      ["rootPath", `${root}${suffix}`],
    ],
    nodeStageSecretRef: secret,
    capacity: base.capacity,
    storageClassName: base.storageClassName,
    style: "static",
    origin: existing?.origin ?? "flags",
  };
}

/**
 * Adds (or, `add` false, removes) Kopiur's PV + PVC in each instance: the file kopiur-pvc.yaml and its entry in
 * app/kustomization.yaml. The file is expected as rendered (a hand edit is refused); the list is edited in place.
 */
export function kopiurInstanceChanges(
  scan: RepoScan,
  c: Conventions,
  instances: FoundInstance[],
  volume: RepositoryVolume | undefined,
  add: boolean,
): FileChange[] {
  const out: FileChange[] = [];
  for (const i of instances) {
    const p = instancePaths(i.dir);
    const before = readMaybe(scan.root, p.kopiur);
    if (!add && before === null) continue;
    const found = scan.objects.find((o) => o.doc.file === p.kopiur && o.kind === "PersistentVolume");
    const v = volume ?? (found ? volumeOf(found) : undefined);
    if (!v) continue;
    const rendered = renderKopiurPvc(i.namespace, v, c);
    out.push({ path: p.kopiur, before, after: add ? rendered : null, expected: rendered });
    const kust = readMaybe(scan.root, p.kustomization);
    if (kust === null) continue;
    const after = add
      ? addEntry(kust, p.kustomization, KOPIUR_PVC_ENTRY)
      : removeEntry(kust, p.kustomization, KOPIUR_PVC_ENTRY);
    if (after !== kust) out.push({ path: p.kustomization, before: kust, after });
  }
  return out;
}
