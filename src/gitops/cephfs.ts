/**
 * What a new repository PV needs from the CephFS side (driver, storage class, node-stage secret, cluster ID,
 * file system), found in the repository so that `init` asks only for what cannot be known (a static
 * volume's root path). In order:
 *
 * 1. a StorageClass of a CephFS CSI driver (`cephfs.csi.ceph.com`, Rook's `<operator namespace>.cephfs.csi.ceph.com`)
 *    for the cluster ID and file system given (or the only one);
 * 2. the Rook cluster's HelmRelease (chart `rook-ceph-cluster`): its `cephFileSystems` and their storage
 *    classes, the cluster ID being the release's namespace, the driver named after `operatorNamespace`;
 * 3. the ceph-csi HelmRelease (chart `ceph-csi-cephfs`): `storageClass` and `secret` values;
 * 4. otherwise Rook's defaults, each reported as an assumption with the flag that changes it.
 *
 * Every value says where it came from ("file:line", or "Rook's default"), for notes and errors.
 */
import type { Conventions } from "../core/config.ts";
import { rec } from "../core/model.ts";
import { type K8sObject, locate, type RepoScan, str } from "./scan.ts";

export interface Found<T> {
  value: T;
  /** "kubernetes/.../storageclass.yaml:7", or "Rook's default" for an assumption. */
  source: string;
  assumed: boolean;
}

export interface CephfsFacts {
  driver: Found<string>;
  storageClass: Found<string>;
  nodeStageSecret: Found<{ namespace: string; name: string }>;
  clusterId: Found<string>;
  fsName: Found<string>;
}

/** Rook's chart and operator defaults (rook-ceph-cluster values, deploy/examples/csi/cephfs/storageclass.yaml). */
export const ROOK_DEFAULTS = {
  namespace: "rook-ceph",
  fsName: "ceph-filesystem",
  storageClass: "ceph-filesystem",
  nodeStageSecret: "rook-csi-cephfs-node",
} as const;

const NODE_STAGE_NAME = "csi.storage.k8s.io/node-stage-secret-name";
const NODE_STAGE_NAMESPACE = "csi.storage.k8s.io/node-stage-secret-namespace";
const CEPHFS_DRIVER = /(^|\.)cephfs\.csi\.ceph\.com$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function chartOf(o: K8sObject): string | undefined {
  return str(o.body, "spec", "chart", "spec", "chart") ?? str(o.body, "spec", "chartRef", "name");
}

function text(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" && !v.includes("${") && !v.includes("{{") ? v : undefined;
}

/** One candidate: every fact it states, each with the key path it is at. */
interface Candidate {
  obj: K8sObject;
  driver: [string, (string | number)[]] | undefined;
  storageClass: [string, (string | number)[]];
  secret: [{ namespace: string; name: string }, (string | number)[]] | undefined;
  clusterId: [string, (string | number)[]] | undefined;
  fsName: [string, (string | number)[]] | undefined;
}

function storageClasses(scan: RepoScan): Candidate[] {
  const out: Candidate[] = [];
  for (const o of scan.objects) {
    if (o.kind !== "StorageClass") continue;
    const provisioner = str(o.body, "provisioner");
    if (!provisioner || !CEPHFS_DRIVER.test(provisioner)) continue;
    const p = rec(rec(o.body)?.parameters) ?? {};
    const name = text(p[NODE_STAGE_NAME]);
    const namespace = text(p[NODE_STAGE_NAMESPACE]);
    const clusterId = text(p.clusterID);
    const fsName = text(p.fsName);
    out.push({
      obj: o,
      driver: [provisioner, ["provisioner"]],
      storageClass: [o.name, ["metadata", "name"]],
      secret: name && namespace ? [{ namespace, name }, ["parameters", NODE_STAGE_NAME]] : undefined,
      clusterId: clusterId ? [clusterId, ["parameters", "clusterID"]] : undefined,
      fsName: fsName ? [fsName, ["parameters", "fsName"]] : undefined,
    });
  }
  return out;
}

function rookClusters(scan: RepoScan): Candidate[] {
  const out: Candidate[] = [];
  for (const hr of scan.objects) {
    if (hr.kind !== "HelmRelease" || chartOf(hr) !== "rook-ceph-cluster") continue;
    const namespace = str(hr.body, "spec", "targetNamespace") ?? hr.namespace ?? ROOK_DEFAULTS.namespace;
    const values = rec(rec(rec(hr.body)?.spec)?.values) ?? {};
    const operatorNs = text(values.operatorNamespace) ?? ROOK_DEFAULTS.namespace;
    // Without cephFileSystems the chart's default: one file system, ceph-filesystem, with its storage class.
    const list: [Record<string, unknown> | undefined, number][] = Array.isArray(values.cephFileSystems)
      ? values.cephFileSystems.map((f, n) => [rec(f), n])
      : [[{ name: ROOK_DEFAULTS.fsName }, -1]];
    for (const [fs, i] of list) {
      const fsName = text(fs?.name);
      const sc = rec(fs?.storageClass);
      if (!fsName || sc?.enabled === false) continue;
      const base: (string | number)[] = i < 0 ? ["spec", "values"] : ["spec", "values", "cephFileSystems", i];
      const params = rec(sc?.parameters) ?? {};
      out.push({
        obj: hr,
        driver: [`${operatorNs}.cephfs.csi.ceph.com`, ["spec", "values", "operatorNamespace"]],
        storageClass: [text(sc?.name) ?? ROOK_DEFAULTS.storageClass, [...base, "storageClass", "name"]],
        secret: [
          {
            namespace: text(params[NODE_STAGE_NAMESPACE]) ?? namespace,
            name: text(params[NODE_STAGE_NAME]) ?? ROOK_DEFAULTS.nodeStageSecret,
          },
          [...base, "storageClass"],
        ],
        clusterId: [namespace, ["metadata", "namespace"]],
        fsName: [fsName, [...base, "name"]],
      });
    }
  }
  return out;
}

function cephCsiReleases(scan: RepoScan): Candidate[] {
  const out: Candidate[] = [];
  for (const hr of scan.objects) {
    if (hr.kind !== "HelmRelease" || chartOf(hr) !== "ceph-csi-cephfs") continue;
    const namespace = str(hr.body, "spec", "targetNamespace") ?? hr.namespace;
    const values = rec(rec(rec(hr.body)?.spec)?.values) ?? {};
    const sc = rec(values.storageClass) ?? {};
    const secret = rec(values.secret) ?? {};
    const clusterId = text(sc.clusterID);
    const fsName = text(sc.fsName);
    const secretName = text(sc.nodeStageSecret) ?? text(secret.name) ?? "csi-cephfs-secret";
    const secretNs = text(sc.nodeStageSecretNamespace) ?? namespace;
    out.push({
      obj: hr,
      driver: [text(values.driverName) ?? "cephfs.csi.ceph.com", ["spec", "values", "driverName"]],
      storageClass: [text(sc.name) ?? "csi-cephfs-sc", ["spec", "values", "storageClass", "name"]],
      secret: secretNs ? [{ namespace: secretNs, name: secretName }, ["spec", "values", "secret"]] : undefined,
      clusterId: clusterId ? [clusterId, ["spec", "values", "storageClass", "clusterID"]] : undefined,
      fsName: fsName ? [fsName, ["spec", "values", "storageClass", "fsName"]] : undefined,
    });
  }
  return out;
}

export interface CephfsWanted {
  storageClass?: string;
  clusterId?: string;
  fsName?: string;
}

/** Candidates that agree with what is given (a fact a candidate does not state does not rule it out). */
function matching(list: Candidate[], w: CephfsWanted): Candidate[] {
  return list.filter(
    (c) =>
      (w.storageClass === undefined || c.storageClass[0] === w.storageClass) &&
      (w.clusterId === undefined || c.clusterId === undefined || c.clusterId[0] === w.clusterId) &&
      (w.fsName === undefined || c.fsName === undefined || c.fsName[0] === w.fsName),
  );
}

/**
 * The CephFS facts for a new repository PV: from the one candidate in the repository that agrees with what
 * is given (storage class, cluster ID, file system), source by source; Rook's defaults for what no
 * candidate states. `ambiguous` lists the candidates when several agree, so the caller can ask for a flag.
 */
export function discoverCephfs(
  scan: RepoScan,
  c: Conventions,
  w: CephfsWanted,
): { facts: CephfsFacts; ambiguous: string[] } {
  const wanted = { ...w, storageClass: w.storageClass ?? c.storageClassName };
  let pick: Candidate | undefined;
  let ambiguous: string[] = [];
  for (const source of [storageClasses, rookClusters, cephCsiReleases]) {
    let found = matching(source(scan), wanted);
    if (found.length === 0 && w.storageClass === undefined && c.storageClassName !== undefined) {
      found = matching(source(scan), w);
    }
    if (found.length === 1) {
      pick = found[0];
      break;
    }
    if (found.length > 1) {
      ambiguous = found.map((x) => `${x.storageClass[0]} (${x.obj.doc.file})`);
      break;
    }
  }
  const at = (keys: (string | number)[]) => (pick ? `${pick.obj.doc.file}:${locate(scan, pick.obj.doc, keys)}` : "");
  function fact<T>(stated: [T, (string | number)[]] | undefined, fallback: T): Found<T> {
    return stated && pick
      ? { value: stated[0], source: at(stated[1]), assumed: false }
      : { value: fallback, source: "Rook's default", assumed: true };
  }
  const rookNs = pick?.clusterId?.[0] ?? ROOK_DEFAULTS.namespace;
  // Rook's cluster ID is the cluster's namespace; a Ceph fsid (a UUID) means ceph-csi deployed on its own.
  const fsid = w.clusterId !== undefined && UUID.test(w.clusterId);
  const driver = fact(pick?.driver, `${ROOK_DEFAULTS.namespace}.cephfs.csi.ceph.com`);
  return {
    facts: {
      driver:
        driver.assumed && fsid
          ? {
              value: "cephfs.csi.ceph.com",
              source: "ceph-csi's default (the cluster ID is a Ceph fsid)",
              assumed: true,
            }
          : driver,
      storageClass: fact(pick?.storageClass, ROOK_DEFAULTS.storageClass),
      nodeStageSecret: fact(pick?.secret, { namespace: rookNs, name: ROOK_DEFAULTS.nodeStageSecret }),
      clusterId: fact(pick?.clusterId, ROOK_DEFAULTS.namespace),
      fsName: fact(pick?.fsName, ROOK_DEFAULTS.fsName),
    },
    ambiguous,
  };
}
