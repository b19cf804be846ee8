/**
 * Conventions: every name and path kopiashare writes or expects. Defaults follow the seed;
 * `kopiashare.yaml` at the repo root can change them; flags override both.
 * Pure: the caller reads and parses the file, this module validates and merges.
 */
import { checkLabel, checkSubdomain, isQuantity, KUBE_VERSION_FORMS, normalizeKubeVersion } from "./names.ts";

export type Layout = "seed" | "flat";
export type Mover = "volsync-0.16" | "volsync-0.17" | "kopiur";
export const MOVERS: readonly Mover[] = ["volsync-0.16", "volsync-0.17", "kopiur"];

export interface Conventions {
  /** Folder holding the apps tree, relative to the repo root. */
  appsDir: string;
  /** Folder of the Volsync component apps include. */
  componentDir: string;
  /** seed: <appsDir>/<tier>/<namespace>/<folder>; flat: <appsDir>/<namespace>/<folder>. Undefined: detect. */
  layout: Layout | undefined;
  /** Tier used when a namespace folder does not exist yet (seed layout). Undefined: detect. */
  tier: string | undefined;
  /** Folder name of each per-namespace instance. */
  folder: string;
  /** Name of the PVC in every namespace. */
  claimName: string;
  /** The PV of namespace ns is named pvPrefix + ns. */
  pvPrefix: string;
  /** The Flux Kustomization of namespace ns is named ksPrefix + ns. */
  ksPrefix: string;
  /** Namespace that holds the repository itself (never disabled). */
  repositoryNamespace: string;
  /** Namespace of Flux Kustomizations. */
  fluxNamespace: string;
  /** Overrides of values discovered from the repository PV. */
  capacity: string | undefined;
  storageClassName: string | undefined;
  /** GitRepository that sourceRef names. Undefined: discover. */
  sourceName: string | undefined;
  /** Where containers mount the PVC, and the Kopia repository directory inside it. */
  mountPath: string;
  repositoryDir: string;
  /** Reserve every PV for its claim with spec.claimRef. */
  claimRef: boolean;
  mover: Mover;
  uid: number;
  gid: number;
  /** ClusterSecretStore that the generated ExternalSecrets read the Kopia password from. */
  secretStore: string;
  /** Kubernetes minor version of the cluster, "1.NN" (picks the MutatingAdmissionPolicy API). Undefined: detect. */
  kubernetesVersion: string | undefined;
  /**
   * Where the root of a pushed OCI artifact (or Bucket) is in this checkout, per source: keys
   * "OCIRepository/<name>" (or "<kind>/<namespace>/<name>"), values repo-relative folders. Lint follows a
   * root that syncs from such a source only when it knows this.
   */
  artifactRoots?: Record<string, string>;
  /**
   * Image of `kopiashare controller` that `init --controller` writes into its Deployment.
   * Undefined: ghcr.io/kopiashare/kopiashare:<the running kopiashare's version>.
   */
  controllerImage: string | undefined;
  /** Flux Kustomization timings. */
  interval: string;
  retryInterval: string;
  timeout: string;
}

export const DEFAULTS: Conventions = {
  appsDir: "kubernetes/apps",
  componentDir: "kubernetes/components/volsync",
  layout: undefined,
  tier: undefined,
  folder: "volsync-repository-pvc",
  claimName: "kopia",
  pvPrefix: "kopia-repository-pv-",
  ksPrefix: "volsync-repository-pvc-",
  repositoryNamespace: "volsync-system",
  fluxNamespace: "flux-system",
  capacity: undefined,
  storageClassName: undefined,
  sourceName: undefined,
  mountPath: "/repository",
  repositoryDir: "repository",
  claimRef: true,
  mover: "volsync-0.16",
  uid: 1000,
  gid: 1000,
  secretStore: "onepassword",
  kubernetesVersion: undefined,
  controllerImage: undefined,
  interval: "30m",
  retryInterval: "1m",
  timeout: "5m",
};

/** The one directory on the volume that holds the Kopia repository, as movers see it. */
export function repositoryPath(c: Conventions): string {
  return `${c.mountPath.replace(/\/+$/, "")}/${c.repositoryDir}`;
}

/** The name under /mnt that Volsync >= 0.17 mounts `moverVolumes` entries at: the last segment of mountPath. */
export function moverVolumeName(c: Conventions): string {
  const parts = c.mountPath.split("/").filter(Boolean);
  return parts[parts.length - 1] ?? "repository";
}

/**
 * Where mover Jobs (and every other writer) see the volume, per mover generation. Volsync >= 0.17 mounts
 * `moverVolumes` at /mnt/<name>, which forces the mount point; the others use mountPath.
 */
export function moverMountPath(c: Conventions, mover: Mover = c.mover): string {
  return mover === "volsync-0.17" ? `/mnt/${moverVolumeName(c)}` : c.mountPath.replace(/\/+$/, "");
}

/**
 * The one Kopia repository path every writer uses under a mover generation: the mount point plus
 * repositoryDir, so the repository stays in the same directory of the volume across generations.
 */
export function moverRepositoryPath(c: Conventions, mover: Mover = c.mover): string {
  return `${moverMountPath(c, mover)}/${c.repositoryDir}`;
}

export const pvName = (c: Conventions, ns: string) => `${c.pvPrefix}${ns}`;
/**
 * Kopiur's per-namespace claim and PV: a ceph-csi static volume whose root is the repository directory
 * (rootPath = the subvolume's path plus /repositoryDir). Kopiur keeps the repository at the root of what
 * it mounts, so its movers cannot use the claim `claimName` (the subvolume's root, where the init Job and
 * Volsync see the repository in repositoryDir/). Separate names, because a bound PV's csi is immutable.
 */
export const kopiurClaimName = (c: Conventions) => `${c.claimName}-kopiur`;
export const kopiurPvName = (c: Conventions, ns: string) => `${kopiurClaimName(c)}-${ns}`;
export const ksName = (c: Conventions, ns: string) => `${c.ksPrefix}${ns}`;

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly file: string,
  ) {
    super(`${file}: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

/** What a setting is, for its one validator (kopiashare.yaml keys and flags alike). */
export type Kind =
  | "folder"
  | "prefix"
  | "nsname"
  | "path"
  | "name"
  | "label"
  | "string"
  | "quantity"
  | "duration"
  | "bool"
  | "id"
  | "layout"
  | "mover"
  | "abspath"
  | "k8sversion"
  | "pathmap"
  | "image";

const KEYS: Record<keyof Conventions, Kind> = {
  appsDir: "path",
  componentDir: "path",
  layout: "layout",
  tier: "folder",
  folder: "label",
  claimName: "name",
  pvPrefix: "prefix",
  ksPrefix: "prefix",
  repositoryNamespace: "label",
  fluxNamespace: "label",
  capacity: "quantity",
  storageClassName: "name",
  sourceName: "name",
  mountPath: "abspath",
  repositoryDir: "path",
  claimRef: "bool",
  mover: "mover",
  uid: "id",
  gid: "id",
  secretStore: "name",
  kubernetesVersion: "k8sversion",
  artifactRoots: "pathmap",
  controllerImage: "image",
  interval: "duration",
  retryInterval: "duration",
  timeout: "duration",
};

/**
 * A container image reference as the container runtime parses it: [registry[:port]/]path[:tag][@digest],
 * path components lowercase. A tag or a digest is required, so a Deployment never runs whatever `latest` is.
 */
const IMAGE =
  /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

const DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

function checkValue(key: string, kind: Kind, v: unknown): string | undefined {
  return checkSetting(kind, v, `key "${key}"`);
}

/** The longest namespace (an RFC 1123 label), which every prefix must still make a valid name with. */
const LONGEST_NAMESPACE = "n".repeat(63);

/**
 * The one validator of a setting, whether it comes from kopiashare.yaml (`where`: key "capacity") or a flag
 * (`where`: --capacity): an error message naming `where`, or undefined when `v` is valid.
 */
export function checkSetting(kind: Kind, v: unknown, where: string): string | undefined {
  switch (kind) {
    case "bool":
      return typeof v === "boolean" ? undefined : `${where} must be true or false`;
    case "id":
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 2147483647
        ? undefined
        : `${where} must be a non-negative integer (a UID or GID)`;
    default:
      break;
  }
  if (kind === "pathmap") {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return `${where} must be a mapping such as {OCIRepository/flux-system: kubernetes}`;
    }
    for (const [k, p] of Object.entries(v as Record<string, unknown>)) {
      if (!/^[A-Za-z]+\/[a-z0-9.-]+(\/[a-z0-9.-]+)?$/.test(k)) {
        return `${where}: "${k}" must be <kind>/<name> or <kind>/<namespace>/<name>, e.g. OCIRepository/flux-system`;
      }
      const problem = checkSetting("path", p === "." || p === "" ? "./" : p, where.replace(/"$/, `.${k}"`));
      if (problem) return problem;
    }
    return undefined;
  }
  if (kind === "k8sversion" && typeof v === "number") {
    return `${where} must be a quoted string such as "1.34" (unquoted, 1.30 reads as the number 1.3)`;
  }
  if (typeof v !== "string") return `${where} must be a string`;
  switch (kind) {
    case "folder":
      if (v === "" || v === "." || v === ".." || v.includes("/") || v.includes("\\") || v.includes("\0")) {
        return `${where} must be a single folder name (no "/", not "." or ".."): got "${v}"`;
      }
      return undefined;
    case "prefix": {
      // prefix + namespace must be an RFC 1123 subdomain for every namespace, the longest included
      if (v === "") return undefined;
      const problem = checkSubdomain(`${v}${LONGEST_NAMESPACE}`, "name");
      if (!problem) return undefined;
      return `${where} "${v}" does not make valid object names: followed by a namespace of up to 63 characters it must form an RFC 1123 subdomain (at most 253 characters of lowercase letters, digits, '-' and '.', starting with a letter or digit)`;
    }
    case "nsname": {
      const [ns, name, ...rest] = v.split("/");
      if (rest.length > 0 || ns === undefined || name === undefined)
        return `${where} must be <namespace>/<name>: got "${v}"`;
      return checkLabel(ns, `${where} namespace`) ?? checkSubdomain(name, `${where} name`);
    }
    case "path":
      if (v === "" || v.startsWith("/") || v.split("/").includes("..")) {
        return `${where} must be a relative path inside the repository without "..": got "${v}"`;
      }
      return undefined;
    case "abspath":
      return v.startsWith("/") && !v.split("/").includes("..")
        ? undefined
        : `${where} must be an absolute path: got "${v}"`;
    case "label":
      return checkLabel(v, where);
    case "name":
      return checkSubdomain(v, where);
    case "quantity":
      return isQuantity(v) ? undefined : `${where} must be a Kubernetes quantity such as 200Gi: got "${v}"`;
    case "image":
      if (!IMAGE.test(v) || v.length > 255) {
        return `${where} must be a container image such as ghcr.io/kopiashare/kopiashare:0.1.0: got "${v}"`;
      }
      return /:[A-Za-z0-9_][A-Za-z0-9_.-]*$|@sha256:/.test(v.slice(v.lastIndexOf("/") + 1))
        ? undefined
        : `${where} must name a tag or a digest (ghcr.io/kopiashare/kopiashare:0.1.0), not only a repository: got "${v}"`;
    case "duration":
      return DURATION.test(v) ? undefined : `${where} must be a duration such as 30m or 1h: got "${v}"`;
    case "layout":
      return v === "seed" || v === "flat" ? undefined : `${where} must be "seed" or "flat": got "${v}"`;
    case "k8sversion":
      return normalizeKubeVersion(v) !== undefined
        ? undefined
        : `${where} must be a Kubernetes version such as "1.34" (${KUBE_VERSION_FORMS}): got "${v}"`;
    case "mover":
      return (MOVERS as readonly string[]).includes(v)
        ? undefined
        : `${where} must be one of ${MOVERS.join(", ")}: got "${v}"`;
    default:
      return v === "" ? `${where} must not be empty` : undefined;
  }
}

/**
 * Validates the parsed content of kopiashare.yaml and merges it over the defaults.
 * Every problem names its key; unknown keys are errors (a typo must not be silently ignored).
 */
export function parseConventions(raw: unknown, file = "kopiashare.yaml"): Conventions {
  if (raw === null || raw === undefined) return { ...DEFAULTS };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(["the file must be a mapping of keys to values"], file);
  }
  const problems: string[] = [];
  const out: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const kind = (KEYS as Record<string, Kind>)[key];
    if (kind === undefined) {
      problems.push(`unknown key "${key}" (known keys: ${Object.keys(KEYS).join(", ")})`);
      continue;
    }
    const problem = checkValue(key, kind, value);
    if (problem) problems.push(problem);
    else out[key] = kind === "k8sversion" ? normalizeKubeVersion(value as string) : value;
  }
  if (problems.length > 0) throw new ConfigError(problems, file);
  return out as unknown as Conventions;
}
