/**
 * Repository discovery: the GitRepository Flux syncs from, the repository PV and its volume, and the
 * layout and tier of existing per-namespace instances. Flags override everything found here.
 */
import type { Conventions, Layout } from "../core/config.ts";
import { claimedVolumes, isSharedPv } from "../core/shared-pv.ts";
import { clusterIdFromHandle, type RepositoryVolume, type SourceRef, volumeOfPv } from "../core/topology.ts";
import { pickRepositoryPv, pvFactsOf } from "../core/volume-facts.ts";
import { usageError } from "../errors.ts";
import { type K8sObject, type RepoScan, str } from "./scan.ts";

export const FLUX_KS_API = "kustomize.toolkit.fluxcd.io/";
export const FLUX_SOURCE_API = "source.toolkit.fluxcd.io/";

export function isFluxKustomization(o: K8sObject): boolean {
  return o.kind === "Kustomization" && o.apiVersion.startsWith(FLUX_KS_API);
}

/** The GitRepository that new Flux Kustomizations should name in sourceRef. */
export function discoverSource(scan: RepoScan, c: Conventions, flag?: string): SourceRef {
  const repos = scan.objects.filter((o) => o.kind === "GitRepository" && o.apiVersion.startsWith(FLUX_SOURCE_API));
  const wanted = flag ?? c.sourceName;
  if (wanted !== undefined) {
    const found = repos.find((r) => r.name === wanted);
    return { kind: "GitRepository", name: wanted, namespace: found?.namespace ?? c.fluxNamespace };
  }
  if (repos.length === 1) {
    const r = repos[0] as K8sObject;
    return { kind: "GitRepository", name: r.name, namespace: r.namespace ?? c.fluxNamespace };
  }
  // Several (or none declared, e.g. bootstrapped by `flux bootstrap`): the one existing Kustomizations use most.
  const counts = new Map<string, number>();
  for (const o of scan.objects) {
    if (!isFluxKustomization(o) || str(o.body, "spec", "sourceRef", "kind") !== "GitRepository") continue;
    const name = str(o.body, "spec", "sourceRef", "name");
    if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
  const name = best ?? repos[0]?.name ?? "flux-system";
  const found = repos.find((r) => r.name === name);
  return { kind: "GitRepository", name, namespace: found?.namespace ?? c.fluxNamespace };
}

/** The PVs of the shared volume in the checkout (core/shared-pv.ts: the definition lint uses too). */
export function sharedPvsOf(scan: RepoScan, c: Conventions): K8sObject[] {
  const claimed = claimedVolumes(scan.objects, c);
  return scan.objects.filter((o) => isSharedPv(o, c, claimed));
}

/** The repository PV, chosen among the shared PVs exactly as lint and doctor choose it. */
export function findRepositoryPv(scan: RepoScan, c: Conventions): K8sObject | undefined {
  return pickRepositoryPv(sharedPvsOf(scan, c), c, pvFactsOf)?.pv;
}

export function volumeOf(pv: K8sObject): RepositoryVolume {
  return volumeOfPv(pv.body, `${pv.doc.file}:${pv.doc.line}`);
}

export const HANDLE_HINT =
  "copy it from the cluster:\n" +
  "    kubectl get pv kopia-repository-pv-volsync-system -o jsonpath='{.spec.csi.volumeHandle}'\n" +
  "  and pass it with --volume-handle (plus --fs-name; --cluster-id is read from the handle), or run `kopiashare init`";

export interface VolumeFlags {
  volumeHandle?: string;
  clusterId?: string;
  fsName?: string;
  driver?: string;
  storageClass?: string;
  capacity?: string;
  nodeStageSecret?: string;
}

/** The repository volume from the repo, with flags applied over it; a usage error when nothing is known. */
export function resolveVolume(scan: RepoScan, c: Conventions, f: VolumeFlags): RepositoryVolume {
  const pv = findRepositoryPv(scan, c);
  let v: RepositoryVolume | undefined = pv ? volumeOf(pv) : undefined;
  if (!v) {
    if (!f.volumeHandle) {
      throw usageError(
        `no repository PV found in ${scan.root} (looked for ${c.pvPrefix}* PersistentVolumes)`,
        HANDLE_HINT,
      );
    }
    const missing = [!f.fsName && "--fs-name", !f.storageClass && !c.storageClassName && "--storage-class"].filter(
      Boolean,
    );
    const clusterId = f.clusterId ?? clusterIdFromHandle(f.volumeHandle);
    if (!clusterId) missing.push("--cluster-id");
    if (missing.length > 0) {
      throw usageError(
        `no repository PV found, so ${missing.join(", ")} must be given with --volume-handle`,
        HANDLE_HINT,
      );
    }
    v = {
      driver: f.driver ?? "cephfs.csi.ceph.com",
      volumeHandle: f.volumeHandle,
      volumeAttributes: [
        ["clusterID", clusterId as string],
        ["fsName", f.fsName as string],
      ],
      nodeStageSecretRef: undefined,
      capacity: "200Gi",
      storageClassName: f.storageClass ?? c.storageClassName ?? "",
      style: "shared-handle",
      origin: "flags",
    };
  } else if (f.volumeHandle) {
    v = { ...v, volumeHandle: f.volumeHandle, origin: `${v.origin} (handle from --volume-handle)` };
  }
  const set = (key: string, value: string | undefined) => {
    if (value === undefined || !v) return;
    const i = v.volumeAttributes.findIndex(([k]) => k === key);
    if (i >= 0) v.volumeAttributes[i] = [key, value];
    else v.volumeAttributes.push([key, value]);
  };
  if (pv) {
    set("clusterID", f.clusterId);
    set("fsName", f.fsName);
  }
  if (f.driver) v.driver = f.driver;
  if (f.storageClass) v.storageClassName = f.storageClass;
  if (f.capacity) v.capacity = f.capacity;
  if (f.nodeStageSecret) {
    const [ns, name] = f.nodeStageSecret.split("/");
    if (!ns || !name) throw usageError(`--node-stage-secret ${f.nodeStageSecret}: expected <namespace>/<name>`);
    v.nodeStageSecretRef = { namespace: ns, name };
  }
  return v;
}

/** A per-namespace instance found in the repo, located by its folder. */
export interface FoundInstance {
  namespace: string;
  /** Repo-relative instance folder. */
  dir: string;
  layout: Layout;
  /** The folder under appsDir (the tier in seed layout, the namespace in flat layout). */
  tier: string;
  pv: K8sObject;
}

/** Instances of the convention: shared PVs named pvPrefix+ns inside `<appsDir>/.../<folder>/app/`. */
export function findInstances(scan: RepoScan, c: Conventions): FoundInstance[] {
  const out: FoundInstance[] = [];
  const prefix = `${c.appsDir}/`;
  for (const pv of sharedPvsOf(scan, c)) {
    if (!pv.name.startsWith(c.pvPrefix) || !pv.doc.file.startsWith(prefix)) continue;
    const parts = pv.doc.file.slice(prefix.length).split("/");
    const at = parts.indexOf(c.folder);
    if (at < 1 || at > 2) continue;
    const namespace = pv.name.slice(c.pvPrefix.length);
    const layout: Layout = at === 2 ? "seed" : "flat";
    out.push({
      namespace,
      dir: `${c.appsDir}/${parts.slice(0, at + 1).join("/")}`,
      layout,
      tier: parts[0] as string,
      pv,
    });
  }
  return out;
}

/** The layout: configured, else the one most existing instances use, else seed. */
export function detectLayout(instances: FoundInstance[], c: Conventions): Layout {
  if (c.layout) return c.layout;
  const seed = instances.filter((i) => i.layout === "seed").length;
  const flat = instances.length - seed;
  return flat > seed ? "flat" : "seed";
}

/** Folders directly under appsDir. */
export function listTopDirs(scan: RepoScan, c: Conventions): string[] {
  const prefix = `${c.appsDir}/`;
  return [...scan.dirs]
    .filter((d) => d.startsWith(prefix) && !d.slice(prefix.length).includes("/"))
    .map((d) => d.slice(prefix.length))
    .sort();
}

/**
 * Where the instance of `ns` goes. Seed layout: the tier that already holds a folder named `ns`, else
 * --tier / the configured tier, else the only tier there is; several tiers and no hint is a usage error.
 */
export function instanceDir(
  scan: RepoScan,
  c: Conventions,
  ns: string,
  layout: Layout,
  tierFlag?: string,
): { dir: string; tier: string; nsDir: string } {
  if (layout === "flat") {
    const nsDir = `${c.appsDir}/${ns}`;
    return { dir: `${nsDir}/${c.folder}`, tier: ns, nsDir };
  }
  const tiers = listTopDirs(scan, c);
  const holding = tiers.filter((t) => scan.dirs.has(`${c.appsDir}/${t}/${ns}`));
  let tier = tierFlag ?? (holding.length === 1 ? holding[0] : undefined) ?? c.tier;
  if (tierFlag && holding.length > 0 && !holding.includes(tierFlag)) {
    throw usageError(
      `namespace folder ${ns} already exists under tier ${holding.join(", ")}, not ${tierFlag}`,
      `drop --tier or use --tier ${holding[0]}`,
    );
  }
  if (!tier && holding.length > 1) {
    throw usageError(
      `namespace folder ${ns} exists under several tiers (${holding.join(", ")})`,
      "pick one with --tier",
    );
  }
  if (!tier && tiers.length === 1) tier = tiers[0];
  if (!tier) {
    throw usageError(
      `cannot tell which tier under ${c.appsDir}/ should hold namespace ${ns}`,
      tiers.length > 0
        ? `pass --tier (one of: ${tiers.join(", ")}), or set "tier" in kopiashare.yaml`
        : `pass --tier, or create ${c.appsDir}/<tier>/`,
    );
  }
  const nsDir = `${c.appsDir}/${tier}/${ns}`;
  return { dir: `${nsDir}/${c.folder}`, tier, nsDir };
}
