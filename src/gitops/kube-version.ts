/**
 * The cluster's Kubernetes version, where it is stated, in this precedence:
 *
 * 1. `--kubernetes-version` (source "flag");
 * 2. `kubernetesVersion` in kopiashare.yaml (source "kopiashare.yaml");
 * 3. what the repository states (source "<repo-relative file>:<line>"), in this order:
 *    - a Talos cluster file: top-level `kubernetesVersion` of talhelper's `talconfig.yaml` or topf's
 *      `topf.yaml`, where a `${VAR}` is resolved from a `talenv.yaml` / `talenv.yml` / `talenv.sops.yaml` /
 *      `talenv.sops.yml` in the same folder (talhelper's env files; the source is then the talenv line);
 *    - `kubernetesVersion` (or `KUBERNETES_VERSION`) of a talenv file in a folder without a cluster file;
 *    - a Talos machine config or patch: the tag of `cluster.apiServer.image`, else of `machine.kubelet.image`;
 *    - a delivered tuppr `KubernetesUpgrade` (`spec.kubernetes.version`) or system-upgrade-controller `Plan`
 *      that upgrades Kubernetes (k3s-upgrade / rke2-upgrade image, or talosctl `upgrade-k8s`): `spec.version`,
 *      after Flux's postBuild substitution (a `${KUBERNETES_VERSION}` set in a ks.yaml resolves).
 *
 * Talos files may be anywhere in the repository (`talos/`, `kubernetes/bootstrap/talos/`,
 * `clusters/<name>/talos/`), except below hidden folders (`.archive/`, `.github/`). When the repository's
 * statements disagree on the minor (two clusters, or a Talos file left behind by an upgrade controller),
 * none is used: a rule must not raise an error on a guess. A kubectl pin (`.mise.toml`, `.tool-versions`)
 * is the client's version, not the cluster's, and is never read. Patch versions are ignored.
 */
import { type ModelObject, objectsOf, type RepoModel } from "../core/model.ts";
import { formatKubeVersion, type KubeVersion, parseKubeVersion, type StatedKubeVersion } from "../core/names.ts";
import { get, locate, type RepoScan, str, type YamlDoc } from "./scan.ts";

export type { StatedKubeVersion };

export type StatementKind = "talos" | "talenv" | "machine-config" | "tuppr" | "system-upgrade-controller";

/** One statement of the cluster's version in the repository. */
export interface KubeVersionStatement extends StatedKubeVersion {
  kind: StatementKind;
  /** The version as written, e.g. "v1.34.1". */
  raw: string;
}

export interface KubeVersionLookup {
  /** The version to use and where it comes from; undefined when nothing states one, or statements disagree. */
  stated: StatedKubeVersion | undefined;
  /** What the repository states, in precedence order (not read when the flag or kopiashare.yaml decides). */
  statements: KubeVersionStatement[];
  /** The statements disagree on the minor version, so none is used. */
  conflict: boolean;
}

export interface LookupInput {
  /** --kubernetes-version, already parsed. */
  flag?: KubeVersion | undefined;
  /** kubernetesVersion of kopiashare.yaml ("1.NN"). */
  config?: string | undefined;
  scan: RepoScan;
  model: RepoModel;
}

export function lookupKubernetesVersion(input: LookupInput): KubeVersionLookup {
  if (input.flag) return { stated: { version: input.flag, source: "flag" }, statements: [], conflict: false };
  const config = input.config === undefined ? undefined : parseKubeVersion(input.config);
  if (config) return { stated: { version: config, source: "kopiashare.yaml" }, statements: [], conflict: false };
  const statements = repositoryStatements(input.scan, input.model);
  const minors = new Set(statements.map((s) => formatKubeVersion(s.version)));
  const first = statements[0];
  if (minors.size === 1 && first) {
    return { stated: { version: first.version, source: first.source }, statements, conflict: false };
  }
  return { stated: undefined, statements, conflict: minors.size > 1 };
}

/**
 * A Kubernetes version as repositories write it: `v1.34.1`, `1.34`, k3s `v1.34.1+k3s1`, a pre-release
 * `v1.35.0-alpha.3`. Undefined for anything else (an unresolved `${VAR}`, a SOPS `ENC[...]` value).
 */
export function parseStatedVersion(raw: string): KubeVersion | undefined {
  const m = /^\s*(v?\d+\.\d+(?:\.\d+)?)(?:[-+][0-9A-Za-z.+-]*)?\s*$/.exec(raw);
  return m?.[1] === undefined ? undefined : parseKubeVersion(m[1]);
}

/** Every statement of the repository, in precedence order. */
export function repositoryStatements(scan: RepoScan, model: RepoModel): KubeVersionStatement[] {
  return [...talosStatements(scan), ...upgradeStatements(scan, model)];
}

// ---------------------------------------------------------------------------------------------
// Talos files

const CLUSTER_FILES = new Set(["talconfig.yaml", "talconfig.yml", "topf.yaml", "topf.yml"]);
/** talhelper's default --env-file list, in its order. */
const TALENV_FILES = ["talenv.yaml", "talenv.sops.yaml", "talenv.yml", "talenv.sops.yml"];
const TALENV_KEYS = ["kubernetesVersion", "KUBERNETES_VERSION"];

const dirOf = (file: string) => (file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : "");
const baseOf = (file: string) => file.slice(file.lastIndexOf("/") + 1);
const hidden = (file: string) => file.split("/").some((part, i, all) => i < all.length - 1 && part.startsWith("."));
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A top-level key of a document, as written (a number such as 1.30 is read from the text, not as 1.3). */
interface Scalar {
  raw: string;
  source: string;
}

function scalarAt(scan: RepoScan, doc: YamlDoc, key: string): Scalar | undefined {
  const value = isMap(doc.value) ? doc.value[key] : undefined;
  if (typeof value !== "string" && typeof value !== "number") return undefined;
  const line = locate(scan, doc, [key]);
  let raw = String(value);
  if (typeof value === "number") {
    const text = scan.texts.get(doc.file)?.split("\n")[line - 1] ?? "";
    const m = /:\s*([^\s#]+)/.exec(text);
    if (m?.[1]) raw = m[1];
  }
  return { raw, source: `${doc.file}:${line}` };
}

/** `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:=default}`, `${VAR=default}`, `$VAR` (envsubst). */
const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * Resolves the variables of a talconfig value from the talenv files of its folder. The source is the
 * talenv line when one variable supplied the version, else the talconfig line. Undefined when a variable
 * has neither a value nor a default (talhelper would take it from the environment: unknown here).
 */
function resolveVars(value: Scalar, env: (name: string) => Scalar | undefined): Scalar | undefined {
  let unresolved = false;
  const used: Scalar[] = [];
  const raw = value.raw.replace(VAR, (_m, braced: string | undefined, op: string | undefined, dflt: string, bare) => {
    const name = (braced ?? bare) as string;
    const set = env(name);
    const empty = set === undefined || (set.raw === "" && op?.startsWith(":"));
    if (set && !empty) {
      used.push(set);
      return set.raw;
    }
    if (op !== undefined) return dflt;
    unresolved = true;
    return "";
  });
  if (unresolved) return undefined;
  return { raw, source: used.length === 1 && raw === used[0]?.raw ? (used[0]?.source ?? value.source) : value.source };
}

function talosStatements(scan: RepoScan): KubeVersionStatement[] {
  const byFile = new Map<string, YamlDoc>();
  const machine: KubeVersionStatement[] = [];
  for (const doc of scan.docs) {
    if (!isMap(doc.value)) continue;
    // Every cluster and talenv file name starts with "t": most files need no base name.
    const named = doc.file.charCodeAt(doc.file.lastIndexOf("/") + 1) === 116; /* t */
    const base = named ? baseOf(doc.file) : "";
    if (named && (CLUSTER_FILES.has(base) || TALENV_FILES.includes(base))) {
      if (!byFile.has(doc.file) && !hidden(doc.file)) byFile.set(doc.file, doc);
      continue;
    }
    const m = machineConfigStatement(scan, doc);
    if (m) machine.push(m);
  }
  const clusterFiles = [...byFile.keys()].filter((f) => CLUSTER_FILES.has(baseOf(f))).sort();
  const envDirs = new Set([...byFile.keys()].filter((f) => !CLUSTER_FILES.has(baseOf(f))).map(dirOf));
  const envOf = (dir: string) => (name: string) => {
    for (const base of TALENV_FILES) {
      const doc = byFile.get(dir === "" ? base : `${dir}/${base}`);
      const s = doc && scalarAt(scan, doc, name);
      if (s) return s;
    }
    return undefined;
  };
  const out: KubeVersionStatement[] = [];
  const withCluster = new Set<string>();
  for (const file of clusterFiles) {
    const doc = byFile.get(file) as YamlDoc;
    withCluster.add(dirOf(file));
    const written = scalarAt(scan, doc, "kubernetesVersion");
    const resolved = written && resolveVars(written, envOf(dirOf(file)));
    const version = resolved && parseStatedVersion(resolved.raw);
    if (resolved && version) out.push({ version, source: resolved.source, kind: "talos", raw: resolved.raw });
  }
  for (const dir of [...envDirs].sort()) {
    if (withCluster.has(dir)) continue;
    const env = envOf(dir);
    for (const key of TALENV_KEYS) {
      const s = env(key);
      const version = s && parseStatedVersion(s.raw);
      if (s && version) {
        out.push({ version, source: s.source, kind: "talenv", raw: s.raw });
        break;
      }
    }
  }
  return [...out, ...machine];
}

const APISERVER_TAG = /\/kube-apiserver:([^@\s]+)$/;
const KUBELET_TAG = /\/kubelet:([^@\s]+)$/;

/** A Talos machine config or patch (no kind; `machine:` or `cluster:`) that pins the apiserver or kubelet image. */
function machineConfigStatement(scan: RepoScan, doc: YamlDoc): KubeVersionStatement | undefined {
  const v = doc.value as Record<string, unknown>;
  if (v.kind !== undefined || (!isMap(v.machine) && !isMap(v.cluster)) || hidden(doc.file)) return undefined;
  for (const [keys, tag] of [
    [["cluster", "apiServer", "image"], APISERVER_TAG],
    [["machine", "kubelet", "image"], KUBELET_TAG],
  ] as const) {
    const raw = tag.exec(str(v, ...keys) ?? "")?.[1];
    const version = raw === undefined ? undefined : parseStatedVersion(raw);
    if (raw !== undefined && version) {
      return { version, source: `${doc.file}:${locate(scan, doc, [...keys])}`, kind: "machine-config", raw };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Upgrade controllers (delivered objects, after substitution)

/** A system-upgrade-controller Plan upgrades Kubernetes (not the OS): k3s/rke2 upgrade images, talosctl upgrade-k8s. */
function upgradesKubernetes(o: ModelObject): boolean {
  const upgrade = get(o.body, "spec", "upgrade");
  if (/(^|\/)(k3s|rke2)-upgrade(:|$)/.test(str(upgrade, "image") ?? "")) return true;
  return JSON.stringify([get(upgrade, "command") ?? [], get(upgrade, "args") ?? []]).includes("upgrade-k8s");
}

function upgradeStatements(scan: RepoScan, model: RepoModel): KubeVersionStatement[] {
  const out: KubeVersionStatement[] = [];
  const seen = new Set<string>();
  for (const kind of ["tuppr", "system-upgrade-controller"] as const) {
    // Only these kinds can state a version: read them from the model's index, in delivery order.
    for (const o of objectsOf(model, kind === "tuppr" ? "KubernetesUpgrade" : "Plan")) {
      let keys: string[];
      if (kind === "tuppr" && o.kind === "KubernetesUpgrade" && o.apiVersion.startsWith("tuppr.home-operations.com/")) {
        keys = ["spec", "kubernetes", "version"];
      } else if (
        kind === "system-upgrade-controller" &&
        o.kind === "Plan" &&
        o.apiVersion.startsWith("upgrade.cattle.io/") &&
        upgradesKubernetes(o)
      ) {
        keys = ["spec", "version"];
      } else continue;
      const raw = str(o.body, ...keys);
      const version = raw === undefined ? undefined : parseStatedVersion(raw);
      if (raw === undefined || !version) continue;
      const key = [o.doc.file, o.doc.index, raw].join("\0");
      if (seen.has(key)) continue;
      seen.add(key);
      const line = locate(scan, { ...o.doc, value: undefined }, keys);
      out.push({ version, source: `${o.doc.file}:${line}`, kind, raw });
    }
  }
  return out;
}
