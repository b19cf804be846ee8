/**
 * Where Flux starts applying a checkout: the sync of a Flux Operator instance. The instance is declared
 * as a `FluxInstance` object, or (more often in home-ops repositories) as a HelmRelease of the
 * `flux-instance` chart whose values carry `instance.sync`, inline or through `valuesFrom` a ConfigMap
 * that a kustomization.yaml generates from a values file (sometimes wrapped in a ResourceSet).
 *
 * The instance creates a source and a Kustomization, both named after `sync.name` (default: the
 * instance's namespace), that apply `sync.path`. For a GitRepository the path is relative to the git
 * root. For an OCIRepository or Bucket it is relative to the pushed artifact, whose root in this
 * checkout is found from `artifactRoots` in kopiashare.yaml, else from the instance itself (the sync path
 * usually delivers the file that declares the instance), else not at all.
 */
import { load as loadYaml } from "js-yaml";
import { get, rec, str } from "../core/model.ts";
import type { K8sObject, RepoScan, YamlDoc } from "./scan.ts";

export interface SyncRoot {
  /** The source and Kustomization the instance creates. */
  name: string;
  namespace: string;
  sourceKind: string;
  /** sync.path as written. */
  path: string;
  /** Repo-relative folder the path is relative to; undefined when it cannot be determined. */
  base: string | undefined;
  /** How base was found, for messages. */
  baseFrom: "git" | "kopiashare.yaml" | "instance" | undefined;
  /** The document that declares the instance (or holds its sync values). */
  doc: YamlDoc;
  declaredBy: "FluxInstance" | "HelmRelease";
}

const isHidden = (file: string): boolean => file.startsWith(".") || file.includes("/.");

/** Sync roots declared in the checkout (instances in dot-folders such as `.archive/` are not). */
export function syncRoots(scan: RepoScan, fluxNamespace: string, artifactRoots: Record<string, string>): SyncRoot[] {
  const out: SyncRoot[] = [];
  const seen = new Set<string>();
  const add = (sync: Record<string, unknown>, ns: string, doc: YamlDoc, by: SyncRoot["declaredBy"]) => {
    const path = str(sync, "path") ?? "./";
    const sourceKind = str(sync, "kind") ?? "GitRepository";
    const name = str(sync, "name") ?? ns;
    const key = `${sourceKind}/${ns}/${name}\0${path}\0${doc.file}`;
    if (seen.has(key)) return;
    seen.add(key);
    const root: SyncRoot = {
      name,
      namespace: ns,
      sourceKind,
      path,
      base: undefined,
      baseFrom: undefined,
      doc,
      declaredBy: by,
    };
    const configured = artifactRoots[`${sourceKind}/${name}`] ?? artifactRoots[`${sourceKind}/${ns}/${name}`];
    if (sourceKind === "GitRepository") {
      root.base = "";
      root.baseFrom = "git";
    } else if (configured !== undefined) {
      root.base = configured.replace(/^\.\/?/, "").replace(/\/$/, "");
      root.baseFrom = "kopiashare.yaml";
    } else {
      const found = artifactBase(doc.file, path, scan);
      if (found !== undefined) {
        root.base = found;
        root.baseFrom = "instance";
      }
    }
    out.push(root);
  };
  // Sources of the flux-instance chart, found once (a repository has thousands of HelmReleases).
  const charts = new Set<string>();
  for (const s of scan.objects)
    if (
      (s.kind === "OCIRepository" || s.kind === "HelmChart") &&
      /\/flux-instance\/?$/.test(str(s.body, "spec", "url") ?? "")
    )
      charts.add(s.name);
  for (const o of scan.objects) {
    if (o.kind !== "FluxInstance" && o.kind !== "HelmRelease" && o.kind !== "ResourceSet") continue;
    if (isHidden(o.doc.file)) continue;
    if (o.kind === "FluxInstance") {
      const sync = rec(o.body, "spec", "sync");
      if (sync) add(sync, o.namespace ?? fluxNamespace, o.doc, "FluxInstance");
      continue;
    }
    for (const hr of helmReleasesIn(o)) {
      if (!isFluxInstanceChart(hr, charts)) continue;
      const ns = str(hr, "metadata", "namespace") ?? o.namespace ?? fluxNamespace;
      const fromValues = rec(hr, "spec", "values", "instance", "sync");
      if (fromValues) {
        add(fromValues, ns, o.doc, "HelmRelease");
        continue;
      }
      for (const v of valuesFromConfigMaps(hr, o.doc.file, scan)) {
        const sync = rec(v.value, "instance", "sync");
        if (sync) add(sync, ns, v.doc, "HelmRelease");
      }
    }
  }
  return out;
}

/** HelmRelease bodies in a document: the document itself, or those a ResourceSet templates. */
function helmReleasesIn(o: K8sObject): Record<string, unknown>[] {
  if (o.kind === "HelmRelease") return [o.body];
  if (o.kind !== "ResourceSet") return [];
  const list = get(o.body, "spec", "resources");
  if (!Array.isArray(list)) return [];
  return list.filter(
    (r): r is Record<string, unknown> =>
      r !== null && typeof r === "object" && (r as Record<string, unknown>).kind === "HelmRelease",
  );
}

/** The chart is `flux-instance`: by name, or through a chartRef to a source whose URL ends in /flux-instance. */
function isFluxInstanceChart(hr: Record<string, unknown>, charts: ReadonlySet<string>): boolean {
  if (str(hr, "spec", "chart", "spec", "chart") === "flux-instance") return true;
  const name = str(hr, "spec", "chartRef", "name");
  return name !== undefined && (name === "flux-instance" || charts.has(name));
}

/**
 * The values documents a HelmRelease reads through `valuesFrom` ConfigMaps: a ConfigMap declared in the
 * repository, or one generated by a kustomization.yaml `configMapGenerator` from a values file.
 */
function valuesFromConfigMaps(
  hr: Record<string, unknown>,
  file: string,
  scan: RepoScan,
): { value: unknown; doc: YamlDoc }[] {
  const out: { value: unknown; doc: YamlDoc }[] = [];
  const list = get(hr, "spec", "valuesFrom");
  if (!Array.isArray(list)) return out;
  for (const v of list) {
    if ((str(v, "kind") ?? "ConfigMap") !== "ConfigMap") continue;
    const name = str(v, "name");
    if (name === undefined) continue;
    const key = str(v, "valuesKey") ?? "values.yaml";
    for (const cm of scan.objects) {
      if (cm.kind !== "ConfigMap" || cm.name !== name) continue;
      const text = str(cm.body, "data", key);
      if (text !== undefined) out.push(...parsedValues(text, cm.doc));
    }
    for (const f of generatedValuesFiles(scan, name, key, dirOf(file))) {
      const doc = scan.docs.find((d) => d.file === f);
      if (doc) out.push({ value: doc.value, doc });
    }
  }
  return out;
}

function parsedValues(text: string, doc: YamlDoc): { value: unknown; doc: YamlDoc }[] {
  try {
    return [{ value: loadYaml(text), doc }];
  } catch {
    return [];
  }
}

/**
 * Files that `configMapGenerator` entries named `name` take the key `key` from, in kustomization.yaml
 * files near the HelmRelease (its folder and its ancestors, then anywhere).
 */
function generatedValuesFiles(scan: RepoScan, name: string, key: string, near: string): string[] {
  const candidates: { dir: string; file: string }[] = [];
  for (const d of scan.docs) {
    if (!/(^|\/)kustomization\.ya?ml$/.test(d.file)) continue;
    const gens = get(d.value, "configMapGenerator");
    if (!Array.isArray(gens)) continue;
    const dir = dirOf(d.file);
    for (const g of gens) {
      if (str(g, "name") !== name) continue;
      const files = get(g, "files");
      if (!Array.isArray(files)) continue;
      for (const e of files) {
        if (typeof e !== "string") continue;
        const eq = e.indexOf("=");
        const k = eq === -1 ? e.slice(e.lastIndexOf("/") + 1) : e.slice(0, eq);
        const rel = eq === -1 ? e : e.slice(eq + 1);
        if (k !== key) continue;
        const target = joinPath(dir, rel);
        if (target !== undefined) candidates.push({ dir, file: target });
      }
    }
  }
  const close = candidates.filter((c) => near === c.dir || near.startsWith(`${c.dir}/`) || c.dir.startsWith(near));
  return (close.length > 0 ? close : candidates).map((c) => c.file);
}

/**
 * The folder the artifact's root is in this checkout: the prefix P such that P/<sync path> is a folder
 * that contains the file declaring the instance (the sync delivers the instance itself).
 */
function artifactBase(file: string, syncPath: string, scan: RepoScan): string | undefined {
  const rel = joinPath("", syncPath);
  if (rel === undefined) return undefined;
  const parts = dirOf(file).split("/");
  for (let i = parts.length; i >= 0; i--) {
    const prefix = parts.slice(0, i).join("/");
    const target = prefix === "" ? rel : rel === "" ? prefix : `${prefix}/${rel}`;
    if (!scan.dirs.has(target)) continue;
    if (file.startsWith(`${target}/`) || target === "") return prefix;
  }
  return undefined;
}

function dirOf(file: string): string {
  const i = file.lastIndexOf("/");
  return i === -1 ? "" : file.slice(0, i);
}

/** Repo-relative normalised join; undefined when it leaves the repository. */
export function joinPath(base: string, rel: string): string | undefined {
  const out: string[] = [];
  for (const seg of `${base}/${rel}`.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) return undefined;
      out.pop();
    } else out.push(seg);
  }
  return out.join("/");
}
