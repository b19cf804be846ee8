/**
 * Plans `init`: the repository's own PV/PVC (unless the repo already has them), the kopia folder (secret,
 * init Job, maintenance, mover wiring) and the Volsync component, for one mover generation, plus the
 * `mover` (and Kubernetes version) in kopiashare.yaml so every later command and lint agree on it.
 * Also holds what `app` and `migrate` share: the detected state of an initialised repository.
 */
import { isMap, isScalar, parseDocument } from "yaml";
import {
  type Conventions,
  kopiurClaimName,
  type Layout,
  MOVERS,
  type Mover,
  moverMountPath,
  repositoryPath,
} from "../core/config.ts";
import { checkSubdomain, KUBE_VERSION_FORMS, normalizeKubeVersion } from "../core/names.ts";
import { type CentralSpec, kopiaPaths, renderCentral, renderRepositoryKs } from "../core/render/central.ts";
import { instancePaths, renderAppKustomization, renderKopiurPvc, renderPvc } from "../core/render/instance.ts";
import {
  KOPIUR_API,
  MAP_NAME,
  MAP_SUPPORTED,
  mapBand,
  renderClusterRepository,
  renderMutatingAdmissionPolicy,
  versionOfMapApi,
} from "../core/render/wiring.ts";
import {
  attribute,
  clusterIdFromHandle,
  type RepositoryVolume,
  type SourceRef,
  type VolumeStyle,
} from "../core/topology.ts";
import { usageError } from "../errors.ts";
import { discoverCephfs, type Found } from "./cephfs.ts";
import { planController } from "./controller-init.ts";
import {
  detectLayout,
  discoverSource,
  type FoundInstance,
  findInstances,
  findRepositoryPv,
  instanceDir,
  isFluxKustomization,
  resolveVolume,
  type VolumeFlags,
  volumeOf,
} from "./discover.ts";
import { kopiurInstanceChanges, kopiurVolume } from "./kopiur.ts";
import { type FileChange, type Plan, readMaybe } from "./plan.ts";
import { registerInNamespaceFolder } from "./register.ts";
import { CONFIG_FILE } from "./repo.ts";
import { get, type K8sObject, locate, type RepoScan, str } from "./scan.ts";

// ---------------------------------------------------------------------------------------------------
// State of a repository
// ---------------------------------------------------------------------------------------------------

export interface RepoState {
  /** The generation an initialised repository is wired for; undefined when not initialised. */
  mover: Mover | undefined;
  /** The repository namespace's folder, when known. */
  nsDir: string | undefined;
  /** The component's kustomization.yaml exists. */
  component: boolean;
  /** The kopia folder's ks.yaml exists. */
  kopia: boolean;
  /** Read back from an existing MutatingAdmissionPolicy's apiVersion. */
  kubernetesVersion: string | undefined;
  repositoryInstance: FoundInstance | undefined;
}

function repositoryNsDir(scan: RepoScan, c: Conventions, instance: FoundInstance | undefined): string | undefined {
  if (instance) return instance.dir.slice(0, instance.dir.lastIndexOf("/"));
  const ns = c.repositoryNamespace;
  const candidates = [...scan.dirs].filter((d) => {
    if (!d.startsWith(`${c.appsDir}/`)) return false;
    const parts = d.slice(c.appsDir.length + 1).split("/");
    return (parts.length === 2 && parts[1] === ns) || (parts.length === 1 && parts[0] === ns);
  });
  return candidates.sort()[0];
}

export function detectState(scan: RepoScan, c: Conventions): RepoState {
  const repositoryInstance = findInstances(scan, c).find((i) => i.namespace === c.repositoryNamespace);
  const nsDir = repositoryNsDir(scan, c, repositoryInstance);
  const component = scan.texts.has(`${c.componentDir}/kustomization.yaml`);
  const kopia = nsDir !== undefined && scan.texts.has(kopiaPaths(nsDir).ks);
  const map = scan.objects.find((o) => o.kind === "MutatingAdmissionPolicy" && o.name === MAP_NAME);
  const kubernetesVersion = map ? versionOfMapApi(map.apiVersion) : undefined;
  let mover: Mover | undefined;
  if (kopia || component) {
    const rs = scan.texts.get(`${c.componentDir}/replicationsource.yaml`) ?? "";
    if (scan.objects.some((o) => o.kind === "ClusterRepository" && o.apiVersion === KOPIUR_API)) mover = "kopiur";
    else if (scan.texts.has(`${c.componentDir}/snapshotpolicy.yaml`)) mover = "kopiur";
    else if (map) mover = "volsync-0.16";
    else if (/^\s*moverVolumes:/m.test(rs)) mover = "volsync-0.17";
    else mover = c.mover;
  }
  return { mover, nsDir, component, kopia, kubernetesVersion, repositoryInstance };
}

/** Enabled namespaces (per-namespace instances) plus the repository namespace. */
export function enabledNamespaces(scan: RepoScan, c: Conventions): string[] {
  return [...new Set([...findInstances(scan, c).map((i) => i.namespace), c.repositoryNamespace])].sort();
}

/**
 * The namespaces the ClusterRepository in `file` allows now (spec.allowedNamespaces.list); undefined when
 * the file holds none or lists something else than names.
 */
export function currentAllowedNamespaces(scan: RepoScan, file: string): string[] | undefined {
  const cr = scan.objects.find((o) => o.doc.file === file && o.kind === "ClusterRepository");
  const list = cr ? get(cr.body, "spec", "allowedNamespaces", "list") : undefined;
  return Array.isArray(list) && list.every((x) => typeof x === "string") ? (list as string[]) : undefined;
}

/**
 * What kopiashare expects to find in clusterrepository.yaml: its rendering with the namespaces the file
 * allows now. allowedNamespaces is kopiashare's to keep in step with the enabled namespaces, so a list that
 * differs is re-rendered, never taken for a hand edit; any other difference is one.
 */
export function expectedClusterRepository(scan: RepoScan, c: Conventions, file: string): string {
  return renderClusterRepository(c, currentAllowedNamespaces(scan, file) ?? enabledNamespaces(scan, c));
}

/**
 * Kopiur gates its ClusterRepository with allowedNamespaces: the change that makes it list the enabled
 * namespaces plus `add` minus `remove`. Undefined when the repo does not use Kopiur or nothing changes.
 */
export function allowedNamespacesChange(
  scan: RepoScan,
  c: Conventions,
  edit: { add?: string; remove?: string },
): FileChange | undefined {
  const state = detectState(scan, c);
  if (state.mover !== "kopiur" || !state.nsDir) return undefined;
  const file = kopiaPaths(state.nsDir).clusterRepository;
  const before = readMaybe(scan.root, file);
  if (before === null) return undefined;
  const allowed = enabledNamespaces(scan, c).filter((ns) => ns !== edit.remove);
  if (edit.add) allowed.push(edit.add);
  const after = renderClusterRepository(c, allowed);
  return after === before
    ? undefined
    : { path: file, before, after, expected: expectedClusterRepository(scan, c, file) };
}

// ---------------------------------------------------------------------------------------------------
// Discovery of the Flux Kustomizations to depend on
// ---------------------------------------------------------------------------------------------------

/** The Flux Kustomization whose spec.path holds `file` (the deepest one). */
export function ksDelivering(scan: RepoScan, file: string): string | undefined {
  let best: { name: string; len: number } | undefined;
  for (const o of scan.objects) {
    if (!isFluxKustomization(o)) continue;
    const p = str(o.body, "spec", "path");
    if (!p) continue;
    const dir = p.replace(/^\.\//, "").replace(/\/+$/, "");
    if (dir !== "" && !file.startsWith(`${dir}/`)) continue;
    if (!best || dir.length > best.len) best = { name: o.name, len: dir.length };
  }
  return best?.name;
}

function chartOf(o: K8sObject): string | undefined {
  return str(o.body, "spec", "chart", "spec", "chart") ?? str(o.body, "spec", "chartRef", "name");
}

/** The Flux Kustomization that installs the mover's operator (Volsync or Kopiur), when the repo has one. */
export function operatorKs(scan: RepoScan, mover: Mover): string[] {
  const chart = mover === "kopiur" ? "kopiur" : "volsync";
  const hr = scan.objects.find((o) => o.kind === "HelmRelease" && (chartOf(o) === chart || o.name === chart));
  const ks = hr ? ksDelivering(scan, hr.doc.file) : undefined;
  if (ks) return [ks];
  return scan.objects.some((o) => isFluxKustomization(o) && o.name === chart) ? [chart] : [];
}

/** The Flux Kustomization that delivers the storage class (or the Ceph CSI / Rook release), when found. */
export function storageKs(scan: RepoScan, storageClass: string): string | undefined {
  const sc = scan.objects.find((o) => o.kind === "StorageClass" && o.name === storageClass);
  if (sc) return ksDelivering(scan, sc.doc.file);
  const hr = scan.objects.find(
    (o) => o.kind === "HelmRelease" && ["rook-ceph-cluster", "ceph-csi-cephfs", "rook-ceph"].includes(chartOf(o) ?? ""),
  );
  return hr ? ksDelivering(scan, hr.doc.file) : undefined;
}

// ---------------------------------------------------------------------------------------------------
// kopiashare.yaml
// ---------------------------------------------------------------------------------------------------

/** Sets top-level keys of kopiashare.yaml by splicing text (comments and other keys stay). */
export function setConfigKeys(text: string | null, entries: [string, string][]): string {
  let out = text ?? "# kopiashare conventions for this repository (docs/config.md lists every key).\n";
  for (const [key, value] of entries) {
    const doc = parseDocument(out);
    const root = doc.contents;
    const pair = isMap(root) ? root.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
    const v = pair?.value as { range?: [number, number, number] } | null | undefined;
    if (pair && v?.range) {
      if (out.slice(v.range[0], v.range[1]) === value) continue;
      out = `${out.slice(0, v.range[0])}${value}${out.slice(v.range[1])}`;
    } else {
      out = `${out}${out === "" || out.endsWith("\n") ? "" : "\n"}${key}: ${value}\n`;
    }
  }
  return out;
}

/**
 * kopiashare.yaml gets `mover` when it differs from what the conventions already say, and
 * `kubernetesVersion` (volsync-0.16) when the repository does not already imply its policy API band.
 * Undefined when nothing needs to change.
 */
export function configChange(
  root: string,
  c: Conventions,
  mover: Mover,
  kubernetesVersion: string | undefined,
  inferredVersion: string | undefined,
): FileChange | undefined {
  const entries: [string, string][] = [];
  if (mover !== c.mover) entries.push(["mover", mover]);
  if (
    mover === "volsync-0.16" &&
    kubernetesVersion !== undefined &&
    kubernetesVersion !== c.kubernetesVersion &&
    mapBand(kubernetesVersion)?.api !== mapBand(c.kubernetesVersion ?? inferredVersion ?? "")?.api
  ) {
    entries.push(["kubernetesVersion", `"${kubernetesVersion}"`]);
  }
  if (entries.length === 0) return undefined;
  const before = readMaybe(root, CONFIG_FILE);
  return { path: CONFIG_FILE, before, after: setConfigKeys(before, entries) };
}

// ---------------------------------------------------------------------------------------------------
// Validation shared by init and migrate
// ---------------------------------------------------------------------------------------------------

export function parseMover(value: string | undefined, flag: string): Mover | undefined {
  if (value === undefined) return undefined;
  if (!(MOVERS as readonly string[]).includes(value)) {
    throw usageError(`${flag} ${value}: unknown mover`, `supported: ${MOVERS.join(", ")}`);
  }
  return value as Mover;
}

/**
 * The Kubernetes version a generation needs, as "1.NN": required and served a MutatingAdmissionPolicy API
 * for 0.16.
 */
export function checkKubernetesVersion(mover: Mover, raw: string | undefined): string | undefined {
  const version = raw === undefined ? undefined : normalizeKubeVersion(raw);
  if (raw !== undefined && version === undefined) {
    throw usageError(`--kubernetes-version ${raw}: expected a Kubernetes version such as 1.34 (${KUBE_VERSION_FORMS})`);
  }
  if (mover !== "volsync-0.16") return version;
  if (version === undefined) {
    throw usageError(
      "volsync-0.16 wires movers with a MutatingAdmissionPolicy, whose API depends on the Kubernetes version",
      `pass --kubernetes-version 1.NN (or set kubernetesVersion in kopiashare.yaml); supported: ${MAP_SUPPORTED}`,
    );
  }
  if (!mapBand(version)) {
    throw usageError(
      `Kubernetes ${version} serves no MutatingAdmissionPolicy API, which volsync-0.16 needs to mount the repository into mover Jobs`,
      `supported: ${MAP_SUPPORTED}; or use --mover volsync-0.17 (moverVolumes, no policy needed)`,
    );
  }
  return version;
}

// ---------------------------------------------------------------------------------------------------
// init
// ---------------------------------------------------------------------------------------------------

export interface InitOptions extends VolumeFlags {
  mover?: string;
  kubernetesVersion?: string;
  style?: string;
  rootPath?: string;
  /** Kopiur on a shared-handle volume: the subvolume's path (gitops/kopiur.ts). */
  subvolumePath?: string;
  secretStore?: string;
  tier?: string;
  layout?: Layout;
  source?: string;
  /** Also write the kopiashare-controller folder (Deployment, RBAC, policy) with this image. */
  controller?: { image: string };
}

export interface InitPlan {
  plan: Plan;
  mover: Mover;
  kubernetesVersion: string | undefined;
  /** Generated files (path -> content): what -o yaml prints. */
  manifests: Record<string, string>;
  notes: string[];
  nsDir: string;
  /** The repository volume: the repository PV's when init adopted one as it is, else the one made from the flags. */
  volume: RepositoryVolume;
  createdInstance: boolean;
  source: SourceRef;
}

function staticVolume(c: Conventions, o: InitOptions): RepositoryVolume {
  if (!o.rootPath) {
    throw usageError(
      "a static-style repository volume needs --root-path",
      "the subvolume's path, as `ceph fs subvolume getpath <fs> <subvolume> <group>` prints it (ceph-csi's rootPath)",
    );
  }
  const [ns, name] = (o.nodeStageSecret as string).split("/");
  if (!ns || !name) throw usageError(`--node-stage-secret ${o.nodeStageSecret}: expected <namespace>/<name>`);
  return {
    driver: o.driver ?? "cephfs.csi.ceph.com",
    volumeHandle: "",
    volumeAttributes: [
      ["clusterID", o.clusterId as string],
      ["fsName", o.fsName as string],
      ["staticVolume", "true"],
      ["rootPath", o.rootPath],
    ],
    nodeStageSecretRef: { namespace: ns, name },
    capacity: o.capacity ?? c.capacity ?? "200Gi",
    storageClassName: o.storageClass ?? c.storageClassName ?? "",
    style: "static",
    origin: "flags",
  };
}

/**
 * The volume flags of a new repository PV, completed from the repository (gitops/cephfs.ts: a CephFS
 * StorageClass, the Rook or ceph-csi HelmRelease) or Rook's defaults. Each value taken from there is a
 * note: where it was found, or that it is assumed and which flag changes it.
 */
function completeVolumeFlags(
  scan: RepoScan,
  c: Conventions,
  o: InitOptions,
  style: VolumeStyle,
  notes: string[],
): InitOptions {
  const fromHandle = style === "shared-handle" && o.volumeHandle ? clusterIdFromHandle(o.volumeHandle) : undefined;
  const clusterId = o.clusterId ?? fromHandle;
  const { facts, ambiguous } = discoverCephfs(scan, c, { storageClass: o.storageClass, clusterId, fsName: o.fsName });
  const out: InitOptions = { ...o };
  const missing: string[] = [];
  const take = <K extends "driver" | "storageClass" | "nodeStageSecret" | "clusterId" | "fsName">(
    key: K,
    flag: string,
    found: Found<string | { namespace: string; name: string }>,
  ) => {
    if (o[key] !== undefined) return;
    if (key === "storageClass" && c.storageClassName !== undefined) return;
    if (key === "clusterId" && fromHandle !== undefined) return;
    if (ambiguous.length > 0) {
      missing.push(flag);
      return;
    }
    const value = typeof found.value === "string" ? found.value : `${found.value.namespace}/${found.value.name}`;
    out[key] = value;
    notes.push(
      found.assumed
        ? `${flag} ${value}: assumed (${found.source}); pass ${flag} to change it`
        : `${flag} ${value}: read from ${found.source}`,
    );
  };
  take("clusterId", "--cluster-id", facts.clusterId);
  take("fsName", "--fs-name", facts.fsName);
  take("driver", "--driver", facts.driver);
  take("storageClass", "--storage-class", facts.storageClass);
  take("nodeStageSecret", "--node-stage-secret", facts.nodeStageSecret);
  if (missing.length > 0) {
    throw usageError(
      `several CephFS storage classes could hold the repository: ${ambiguous.join(", ")}`,
      `pass ${missing.join(", ")} (or --storage-class alone, to pick one of them)`,
    );
  }
  return out;
}

/**
 * Flags that disagree with the repository PV init adopts, each as "--flag value: <what the PV says>
 * (file:line)". A flag that agrees is accepted, so re-running the command that created the volume is fine.
 */
function disagreements(scan: RepoScan, pv: K8sObject, found: RepositoryVolume, o: InitOptions): string[] {
  const at = (...keys: string[]) => `${pv.doc.file}:${locate(scan, pv.doc, ["spec", ...keys])}`;
  const secret = found.nodeStageSecretRef
    ? `${found.nodeStageSecretRef.namespace}/${found.nodeStageSecretRef.name}`
    : "";
  const checks: [keyof InitOptions, string, string | undefined, string][] = [
    ["volumeHandle", "--volume-handle", found.volumeHandle, at("csi", "volumeHandle")],
    ["rootPath", "--root-path", attribute(found, "rootPath"), at("csi", "volumeAttributes", "rootPath")],
    ["clusterId", "--cluster-id", attribute(found, "clusterID"), at("csi", "volumeAttributes", "clusterID")],
    ["fsName", "--fs-name", attribute(found, "fsName"), at("csi", "volumeAttributes", "fsName")],
    ["driver", "--driver", found.driver, at("csi", "driver")],
    ["storageClass", "--storage-class", found.storageClassName, at("storageClassName")],
    ["capacity", "--capacity", found.capacity, at("capacity", "storage")],
    ["nodeStageSecret", "--node-stage-secret", secret, at("csi", "nodeStageSecretRef")],
  ];
  const out: string[] = [];
  for (const [key, flag, has, where] of checks) {
    const given = o[key];
    if (given === undefined || given === has) continue;
    out.push(`${flag} ${given}: the PV has ${has === undefined || has === "" ? "none" : has} (${where})`);
  }
  return out;
}

export function planInit(scan: RepoScan, c: Conventions, o: InitOptions): InitPlan {
  const state = detectState(scan, c);
  const wanted = parseMover(o.mover, "--mover");
  const mover = wanted ?? state.mover ?? c.mover;
  if (state.mover !== undefined && wanted !== undefined && state.mover !== wanted && state.kopia) {
    throw usageError(
      `this repository is initialised for ${state.mover}; init does not switch generations`,
      `run \`kopiashare migrate --to ${wanted}\` to rewrite it for ${wanted}`,
    );
  }
  const kubernetesVersion = checkKubernetesVersion(
    mover,
    o.kubernetesVersion ?? c.kubernetesVersion ?? state.kubernetesVersion,
  );
  if (o.secretStore !== undefined) {
    const p = checkSubdomain(o.secretStore, "--secret-store");
    if (p) throw usageError(p);
  }
  if (o.style !== undefined && o.style !== "shared-handle" && o.style !== "static") {
    throw usageError(`--style ${o.style}: unknown volume style`, "supported: shared-handle, static");
  }
  if (o.volumeHandle && o.rootPath) throw usageError("--volume-handle and --root-path cannot be used together");
  if (o.style === "static" && o.volumeHandle) {
    throw usageError("--style static and --volume-handle cannot be used together", "static volumes use --root-path");
  }
  if (o.style === "shared-handle" && o.rootPath) {
    throw usageError(
      "--style shared-handle and --root-path cannot be used together",
      "shared-handle uses --volume-handle",
    );
  }
  const conv: Conventions = {
    ...c,
    mover,
    layout: o.layout ?? c.layout,
    secretStore: o.secretStore ?? c.secretStore,
    kubernetesVersion,
  };
  const notes: string[] = [];
  const changes: FileChange[] = [];
  const manifests: Record<string, string> = {};
  const source = discoverSource(scan, conv, o.source);

  // The repository volume: adopt the repository PV the repo has, or make one from the flags.
  const existingPv = findRepositoryPv(scan, conv);
  let volume: RepositoryVolume;
  if (existingPv) {
    const found = volumeOf(existingPv);
    const style = o.style ?? (o.rootPath ? "static" : undefined);
    if (style && style !== found.style) {
      throw usageError(
        `the repository PV ${existingPv.name} (${found.origin}) uses the ${found.style} style, not ${style}`,
        "a repository must not mix the two styles; drop --style/--root-path",
      );
    }
    const differ = disagreements(scan, existingPv, found, o);
    if (differ.length > 0) {
      throw usageError(
        `the repository PV ${existingPv.name} (${found.origin}) is adopted as it is, and ${differ.length === 1 ? "this flag disagrees" : "these flags disagree"} with it:\n  ${differ.join("\n  ")}`,
        "drop the flag (a flag that agrees with the PV is fine); to move the repository, change the PV by hand (spec.csi is immutable: a new volume needs a new PV)",
      );
    }
    volume = found;
  } else if ((o.style ?? (o.rootPath ? "static" : "shared-handle")) === "static") {
    if (!o.rootPath) staticVolume(conv, o);
    volume = staticVolume(conv, completeVolumeFlags(scan, conv, o, "static", notes));
  } else {
    if (o.volumeHandle && !o.clusterId && !clusterIdFromHandle(o.volumeHandle)) {
      throw usageError(`--volume-handle ${o.volumeHandle}: cannot read the cluster ID from it`, "pass --cluster-id");
    }
    volume = resolveVolume(scan, conv, o.volumeHandle ? completeVolumeFlags(scan, conv, o, "shared-handle", notes) : o);
  }

  // The repository namespace's folder.
  const instances = findInstances(scan, conv);
  const layout = state.repositoryInstance?.layout ?? detectLayout(instances, conv);
  const where = state.repositoryInstance
    ? {
        dir: state.repositoryInstance.dir,
        nsDir: state.repositoryInstance.dir.slice(0, state.repositoryInstance.dir.lastIndexOf("/")),
      }
    : state.nsDir
      ? { dir: `${state.nsDir}/${conv.folder}`, nsDir: state.nsDir }
      : instanceDir(scan, conv, conv.repositoryNamespace, layout, o.tier);
  const nsDir = where.nsDir;
  const operators = operatorKs(scan, mover);
  if (operators.length === 0) {
    notes.push(
      `no Flux Kustomization installing ${mover === "kopiur" ? "Kopiur" : "Volsync"} found: add it to dependsOn of ${kopiaPaths(nsDir).ks} once you have one`,
    );
  }

  // Kopiur's movers mount a static PV whose root is the repository directory, in every enabled namespace.
  const kopiur = mover === "kopiur" ? kopiurVolume(scan, conv, volume, o.subvolumePath) : undefined;
  const entries: string[] = [];
  let createdInstance = false;
  if (!existingPv) {
    const paths = instancePaths(where.dir);
    const spec = {
      namespace: conv.repositoryNamespace,
      dir: where.dir,
      volume,
      source,
      conventions: conv,
      kopiurVolume: kopiur,
    };
    const storage = storageKs(scan, conv.storageClassName ?? volume.storageClassName);
    if (!storage) {
      notes.push(
        `no Flux Kustomization delivering storage class ${conv.storageClassName ?? volume.storageClassName} found: add it to dependsOn of ${paths.ks} if you have one`,
      );
    }
    manifests[paths.pvc] = renderPvc(spec);
    if (kopiur) manifests[paths.kopiur] = renderKopiurPvc(spec.namespace, kopiur, conv);
    manifests[paths.kustomization] = renderAppKustomization(spec);
    manifests[paths.ks] = renderRepositoryKs(conv, source, where.dir, [...(storage ? [storage] : []), ...operators]);
    entries.push(`./${conv.folder}/ks.yaml`);
    createdInstance = true;
  } else if (!state.repositoryInstance) {
    notes.push(
      `the repository PV ${existingPv.name} is declared in ${existingPv.doc.file}, outside ${conv.appsDir}/…/${conv.folder}/; left as it is`,
    );
  }
  const central: CentralSpec = {
    conventions: conv,
    mover,
    kubernetesVersion,
    source,
    nsDir,
    operatorKs: operators,
    allowedNamespaces: enabledNamespaces(scan, conv),
  };
  Object.assign(manifests, renderCentral(central));
  entries.push(`./${kopiaPaths(nsDir).dir.slice(nsDir.length + 1)}/ks.yaml`);
  // Generated files are expected as kopiashare renders them now, except what it re-renders from inputs
  // that changed: the policy of a 0.16 repository (expected for the API its file declares, so moving to
  // another Kubernetes version is no hand edit) and Kopiur's allowedNamespaces (expected as the file lists them).
  const expected: Record<string, string> = { ...manifests };
  const cr = kopiaPaths(nsDir).clusterRepository;
  if (mover === "kopiur" && state.mover === mover) expected[cr] = expectedClusterRepository(scan, conv, cr);
  const declared = state.kubernetesVersion;
  if (
    mover === "volsync-0.16" &&
    state.mover === mover &&
    declared &&
    declared !== kubernetesVersion &&
    mapBand(declared)
  ) {
    expected[kopiaPaths(nsDir).map] = renderMutatingAdmissionPolicy(conv, declared);
  }
  if (o.controller) {
    const ctl = planController(scan, conv, { nsDir, source, image: o.controller.image, kubernetesVersion });
    Object.assign(manifests, ctl.manifests);
    Object.assign(expected, ctl.expected);
    entries.push(ctl.entry);
    notes.push(...ctl.notes);
  }
  for (const [path, after] of Object.entries(manifests)) {
    changes.push({ path, before: readMaybe(scan.root, path), after, expected: expected[path] ?? after });
  }
  // Instances that exist already (the repository's own, when adopted, and every enabled namespace's).
  if (kopiur) changes.push(...kopiurInstanceChanges(scan, conv, instances, kopiur, true));
  registerInNamespaceFolder(
    scan,
    { namespace: conv.repositoryNamespace, nsDir, entries },
    { changes, notes, manifests },
  );
  const config = configChange(scan.root, c, mover, kubernetesVersion, state.kubernetesVersion);
  if (config) changes.push(config);
  if (mover === "kopiur") {
    notes.push(
      `Kopiur mounts the PVC \`${kopiurClaimName(conv)}\` at spec.backend.filesystem.path (${moverMountPath(conv, "kopiur")}) and keeps the repository at its root: its PV is a ceph-csi static volume whose rootPath is the subvolume's path plus /${conv.repositoryDir} (${attribute(kopiur as RepositoryVolume, "rootPath")}), the directory the init Job writes as ${repositoryPath(conv)}; the ClusterRepository has create: false, so it fails loudly rather than creating a second repository if it cannot open that one`,
    );
  }
  return {
    plan: { root: scan.root, changes },
    mover,
    kubernetesVersion,
    manifests,
    notes,
    nsDir,
    volume,
    createdInstance,
    source,
  };
}
