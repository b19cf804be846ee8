/**
 * resolveDelivery(scan, conventions): RepoModel: resolves what Flux would apply from a checkout.
 *
 * Shape (types in core/model.ts; queries in core/consumers.ts, claims.ts, pods.ts, backups.ts):
 *
 *   RepoModel {
 *     mode: "flux" | "files"          // "files": no Flux Kustomization in the repo, every object counts as written
 *     roots: "bootstrap" | "guessed" | "none"
 *     kustomizations: FluxKs[]        // every Flux Kustomization: id "ns/name", path/components (PathRef with
 *                                     // exists), targetNamespace, postBuild substitute/substituteFrom,
 *                                     // dependsOn, sourceRef, reachable, root, parent, objects it applies
 *     kustomizeDirs: KustomizeDir[]   // every kustomization.yaml: namespace, resources, components (PathRef)
 *     objects: ModelObject[]          // every delivered object copy: kind, name, effective namespace
 *                                     // (targetNamespace > kustomize namespace > metadata.namespace),
 *                                     // body after postBuild substitution, raw body, doc {file,index,line},
 *                                     // via (delivering Kustomization id), component, vars, literal
 *     sources, fluxInstance, issues   // GitRepository/OCIRepository/Bucket declared; parse errors, skipped files
 *   }
 *
 *   consumersIn(model, ns)    ReplicationSource/Destination (kopia), KopiaMaintenance, Kopiur objects in ns
 *   repositoryPairs(model)    the declared per-namespace PV/PVC pairs { namespace, pvc, pv, via }
 *   sharedPvs(model), repositoryClaims(model), objectsOf(model, kind, ns?), kustomizationById(model, id)
 *
 * How delivery is resolved, as Flux does it:
 * - roots: Kustomizations that deliver themselves (the bootstrap pattern), and FluxInstance sync paths;
 *   without those, Kustomizations outside the apps dir that nothing delivers (guessed);
 * - a Kustomization renders `spec.path`: its kustomization.yaml (resources, components, namespace), or
 *   when there is none, every YAML file below it (sub-folders with a kustomization.yaml are built as such),
 *   plus `spec.components` (relative to the path);
 * - `spec.postBuild` substitution runs on every rendered object (one copy per delivering Kustomization),
 *   except objects labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled`;
 * - Kustomizations delivered by a reachable Kustomization are reachable, recursively.
 * Each document is parsed once (by scan.ts); renderings of a folder are cached; only documents whose file
 * contains `${` are copied for substitution.
 */

import { readFileSync } from "node:fs";
import path from "node:path";
import type { Conventions } from "../core/config.ts";
import { type ParsedPatch, parsePatch, patchObject } from "../core/kustomize-patch.ts";
import {
  arr,
  type DocRef,
  type FluxKs,
  get,
  type InputIssue,
  isClusterScoped,
  type KustomizeDir,
  type Loc,
  type ModelObject,
  type PathRef,
  type RepoModel,
  rec,
  type SubstituteFrom,
  str,
  type VarOccurrence,
} from "../core/model.ts";
import { hasVariables, substituteTree, type Vars } from "../core/substitute.ts";
import { syncRoots } from "./roots.ts";
import { type K8sObject, locate, parseYamlText, type RepoScan, type YamlDoc } from "./scan.ts";

const KUSTOMIZE_FILES = ["kustomization.yaml", "kustomization.yml"];
const SUBSTITUTE_OFF = "kustomize.toolkit.fluxcd.io/substitute";
/** Shared empty list for objects without variables (most of them): no allocation per object. */
const NONE: VarOccurrence[] = [];
const NO_NAMES: readonly string[] = [];
const NO_OBJECTS: readonly K8sObject[] = [];
const NO_MODEL_OBJECTS: ModelObject[] = [];
const NO_REFS: readonly PathRef[] = [];
/** Folders Flux's source-controller leaves out of every artifact by default (its built-in .sourceignore). */
const SOURCE_IGNORED = new Set([".git", ".github", ".circleci"]);

/**
 * The list itself, or an exact-size copy of a short one: an array that grew from [] keeps room for 16
 * elements, and the model keeps thousands of lists of one to five.
 */
function compact<T>(list: T[]): T[] {
  return list.length < 16 ? list.slice() : list;
}

/** Adds to the list of `key`, created with its first element (exactly sized). */
function addTo<K, V>(m: Map<K, V[]>, key: K, value: V): void {
  const list = m.get(key);
  if (list) list.push(value);
  else m.set(key, [value]);
}

/** Adds value to the list of key unless it is there. */
function addOnce<K, V>(m: Map<K, V[]>, key: K, value: V): void {
  const list = m.get(key);
  if (!list) m.set(key, [value]);
  else if (!list.includes(value)) list.push(value);
}

/** A path in a dot-folder (`.archive/`, `.taskfiles/`, `.github/`): never a root, never reported as not applied. */
export function isHidden(file: string): boolean {
  return file.charCodeAt(0) === 46 /* . */ || file.includes("/.");
}

function sourceKey(kind: string | undefined, namespace: string, name: string | undefined): string {
  return `${kind ?? "GitRepository"}/${namespace}/${name ?? ""}`;
}

/** What a kustomization.yaml or Flux's generated kustomization reads directly: files and folders. */
interface Edges {
  files: string[];
  dirs: string[];
}

/** A ConfigMap or Secret a substituteFrom can read: its values, or null ones when they are not in Git. */
interface VarSource {
  body: Record<string, unknown>;
  /** Values unknown offline (SOPS-encrypted, made by an ExternalSecret, or generated from a file). */
  opaque: boolean;
  /** Its keys are known (false for an ExternalSecret that extracts whole remote secrets). */
  keysKnown: boolean;
}

interface Rendered {
  obj: K8sObject;
  /** The outermost kustomize `namespace:` that applies. */
  ns: string | undefined;
  component: string | undefined;
}

/** A document's identity: the scan's YamlDoc object (one per document, shared by every copy). */
const docKey = (d: DocRef): DocRef => d;
/** The scan's YamlDoc is a DocRef (plus its value): shared, not copied, to keep allocations down. */
const refOf = (d: YamlDoc): DocRef => d;

function isFluxKs(o: { kind: string; apiVersion: string }): boolean {
  return o.kind === "Kustomization" && o.apiVersion.startsWith("kustomize.toolkit.fluxcd.io/");
}

function isKustomizeConfig(o: { kind: string; apiVersion: string }): boolean {
  return (o.kind === "Kustomization" || o.kind === "Component") && o.apiVersion.startsWith("kustomize.config.k8s.io/");
}

function isRemote(entry: string): boolean {
  // The usual "./x" and "../x" cannot match the first two patterns.
  if (entry.charCodeAt(0) === 46 /* . */) return entry.includes("?ref=");
  return (
    /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ||
    /^(github\.com|gitlab\.com|bitbucket\.org)\//.test(entry) ||
    entry.includes("?ref=")
  );
}

/** '' or folder names joined by single slashes, none of them starting with a dot. */
const PLAIN_PATH = /^(?:[^./][^/]*(?:\/[^./][^/]*)*)?$/;

/** Repo-relative normalised path ('' is the root), or undefined when it leaves the repository. */
function join(base: string, rel: string): string | undefined {
  // Fast path for the common "./a/b" and "a/b" forms (no "..", no "//", no "/.").
  if (!rel.startsWith("/") && !rel.includes("..") && !rel.includes("//") && !rel.includes("/./")) {
    let r = rel.startsWith("./") ? rel.slice(2) : rel === "." ? "" : rel;
    if (r.endsWith("/")) r = r.slice(0, -1);
    if (r === ".") r = "";
    return base === "" ? r : r === "" ? base : `${base}/${r}`;
  }
  // "../../components/volsync" (a component in every app's ks.yaml): drop one folder of a plain base per "../".
  if (rel.startsWith("../") && PLAIN_PATH.test(base)) {
    let b = base;
    let r = rel;
    while (r.startsWith("../")) {
      b = b.slice(0, Math.max(0, b.lastIndexOf("/")));
      r = r.slice(3);
    }
    if (PLAIN_PATH.test(r) && r !== "") return b === "" ? r : `${b}/${r}`;
  }
  // What path.posix.normalize("/" + base + "/" + rel) gives, without the path module (it is slow here):
  // ".." above the root stays at the root, and a first segment starting with ".." counts as leaving.
  const out: string[] = [];
  for (const seg of `${base}/${rel}`.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  if (out[0]?.startsWith("..")) return undefined;
  return out.join("/");
}

class Builder {
  readonly fileObjects = new Map<string, K8sObject[]>();
  readonly childFiles = new Map<string, string[]>();
  readonly childDirs = new Map<string, string[]>();
  /** Folders that have a kustomization.yaml (or .yml) file. */
  readonly kustomizationDirs = new Set<string>();
  readonly kdirs = new Map<string, KustomizeDir>();
  /** The kustomization.yaml body of each folder in kdirs. */
  readonly kbodies = new Map<string, Record<string, unknown>>();
  readonly skipped = new Set<string>();
  readonly hasVars = new Map<string, boolean>();
  /** Documents whose file has a `${` (only those are substituted) -> substitution is switched off on the object. */
  readonly varDocs = new Map<DocRef, boolean>();
  /** The `${...}` of a document applied literally (no postBuild): the same for every copy. */
  readonly literalVars = new Map<DocRef, VarOccurrence[]>();
  readonly renderCache = new Map<string, Rendered[]>();
  readonly componentCache = new Map<string, Rendered[]>();
  readonly rendering = new Set<string>();
  /** What each rendered folder reads directly (to know which files and folders a Kustomization applies). */
  readonly edges = new Map<string, Edges>();
  /** Problems kustomize would fail on that are not missing paths (a patch that does not parse). */
  readonly renderIssues: InputIssue[] = [];

  /** Sources (kind/namespace/name) the roots sync this checkout from -> the folder their paths start at. */
  readonly selfSources = new Map<string, string>();
  /** Sources of roots whose artifact root in this checkout is unknown. */
  readonly unfollowedSources = new Set<string>();
  /** No root is known: every source counts as this checkout. */
  anySource = false;

  constructor(
    readonly scan: RepoScan,
    readonly c: Conventions,
  ) {
    for (const o of scan.objects) addTo(this.fileObjects, o.doc.file, o);
    for (const file of scan.texts.keys()) {
      const dir = parentOf(file);
      addTo(this.childFiles, dir, file);
      if (isKustomizationFile(file)) this.kustomizationDirs.add(dir);
    }
    for (const d of scan.dirs) {
      if (d === "") continue;
      addTo(this.childDirs, parentOf(d), d);
    }
    for (const i of scan.issues) if (i.kind !== "parse") this.skipped.add(i.file);
    for (const o of scan.objects) {
      if (!this.fileHasVars(o.doc.file)) continue;
      const off =
        str(o.body, "metadata", "annotations", SUBSTITUTE_OFF) === "disabled" ||
        str(o.body, "metadata", "labels", SUBSTITUTE_OFF) === "disabled";
      this.varDocs.set(o.doc, off);
    }
    // kustomize accepts a kustomization.yaml without apiVersion/kind: recognise it by its file name.
    for (const d of scan.docs) {
      if (!isKustomizationFile(d.file)) continue;
      const v = d.value;
      if (v === null || typeof v !== "object" || Array.isArray(v)) continue;
      const body = v as Record<string, unknown>;
      const kind = body.kind;
      if (kind !== undefined && !isKustomizeConfig({ kind: String(kind), apiVersion: String(body.apiVersion ?? "") }))
        continue;
      const dir = parentOf(d.file);
      if (this.kdirs.has(dir)) continue;
      this.kdirs.set(dir, this.kustomizeDir(body, d, dir));
      this.kbodies.set(dir, body);
    }
  }

  at(doc: YamlDoc | DocRef, keys: (string | number)[]): Loc {
    const d: YamlDoc = { file: doc.file, index: doc.index, line: doc.line, value: undefined };
    return { file: doc.file, line: locate(this.scan, d, keys) };
  }

  exists(target: string | undefined): boolean {
    if (target === undefined) return false;
    return this.scan.dirs.has(target) || this.scan.texts.has(target) || this.skipped.has(target);
  }

  /** `here`: the document's own location, shared by the references that exist (read-only). */
  pathRef(
    entry: string,
    base: string,
    doc: YamlDoc | DocRef,
    keys: (string | number)[],
    kind: "dir" | "any",
    here: Loc,
  ): PathRef {
    const remote = isRemote(entry);
    const target = remote ? undefined : join(base, entry);
    let exists = remote || this.exists(target);
    // Only folders and YAML files are known to the scan: anything else is assumed present.
    if (!exists && !remote && target !== undefined && kind === "any" && /\.[A-Za-z0-9]+$/.test(target)) {
      exists = !/\.ya?ml$/.test(target);
    }
    return { entry, target, exists, remote, loc: exists ? here : this.at(doc, keys) };
  }

  kustomizeDir(body: Record<string, unknown>, doc: YamlDoc, dir: string): KustomizeDir {
    const here: Loc = { file: doc.file, line: doc.line };
    const list = (key: "resources" | "components"): PathRef[] => {
      const v = body[key];
      if (!Array.isArray(v)) return [];
      const out: PathRef[] = [];
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        if (typeof e !== "string") continue;
        const ref = this.pathRef(e, dir, doc, [key, i], "any", here);
        if (ref.exists && ref.target !== undefined && this.scan.dirs.has(ref.target)) {
          if (!this.hasKustomization(ref.target)) {
            ref.noKustomization = true;
            ref.loc = this.at(doc, [key, i]);
          }
        }
        out.push(ref);
      }
      return compact(out);
    };
    return {
      dir,
      doc: refOf(doc),
      kind: body.kind === "Component" ? "Component" : "Kustomization",
      namespace: typeof body.namespace === "string" ? body.namespace : undefined,
      resources: list("resources"),
      components: list("components"),
      deliveredBy: [],
    };
  }

  hasKustomization(dir: string): boolean {
    return this.kustomizationDirs.has(dir);
  }

  /** What kustomize build (or Flux's generated kustomization) of `dir` yields, before substitution. */
  render(dir: string): Rendered[] {
    const cached = this.renderCache.get(dir);
    if (cached) return cached;
    if (this.rendering.has(dir)) return [];
    this.rendering.add(dir);
    const kd = this.kdirs.get(dir);
    const edges: Edges = { files: [], dirs: [] };
    let out: Rendered[];
    if (kd) {
      out = this.build(kd, NO_REFS, edges);
    } else if (this.hasKustomization(dir)) {
      out = []; // a kustomization.yaml that did not parse: kustomize fails, Flux applies nothing
      for (const f of KUSTOMIZE_FILES)
        if (this.scan.texts.has(join(dir, f) ?? "")) edges.files.push(join(dir, f) as string);
    } else {
      out = [];
      this.walk(dir, out, edges);
    }
    this.edges.set(dir, edges);
    this.rendering.delete(dir);
    out = compact(out);
    this.renderCache.set(dir, out);
    return out;
  }

  /**
   * kustomize build of a kustomization.yaml, with `extra` components appended to its own (what Flux does
   * with a Kustomization's spec.components): resources, components (each with its patches), generators,
   * patches, the namespace field, transformers.
   */
  build(kd: KustomizeDir, extra: readonly PathRef[], edges: Edges): Rendered[] {
    let out: Rendered[] = [];
    const dir = kd.dir;
    edges.files.push(kd.doc.file);
    const body = this.kbodies.get(dir) as Record<string, unknown>;
    for (const r of kd.resources) this.renderRef(r, out, undefined, edges);
    for (const r of extra.length === 0 ? kd.components : [...kd.components, ...extra]) {
      this.renderRef(r, out, r.target, edges);
      // A component's patches apply to everything accumulated so far, as kustomize does.
      const comp = r.exists && r.target !== undefined ? this.kbodies.get(r.target) : undefined;
      if (comp && r.target !== undefined) out = this.applyPatches(out, this.patchesOf(comp, r.target, edges), kd.doc);
    }
    for (const g of this.generated(body, dir)) out.push({ obj: g, ns: undefined, component: undefined });
    if (kd.kind !== "Component") out = this.applyPatches(out, this.patchesOf(body, dir, edges), kd.doc);
    if (kd.namespace !== undefined) out = withNamespace(out, kd.namespace);
    return this.transform(out, body, dir, edges);
  }

  /** A component folder's rendering, each document marked as coming through that component. */
  renderComponent(dir: string): Rendered[] {
    let out = this.componentCache.get(dir);
    if (!out) {
      out = this.render(dir).map((x) => (x.component ? x : { ...x, component: dir }));
      this.componentCache.set(dir, out);
    }
    return out;
  }

  renderRef(r: PathRef, out: Rendered[], component: string | undefined, edges: Edges): void {
    if (r.remote || !r.exists || r.target === undefined || r.noKustomization) return;
    if (this.scan.dirs.has(r.target)) {
      edges.dirs.push(r.target);
      for (const x of component ? this.renderComponent(r.target) : this.render(r.target)) out.push(x);
      return;
    }
    edges.files.push(r.target);
    for (const obj of this.fileObjects.get(r.target) ?? NO_OBJECTS)
      if (!isKustomizeConfig(obj)) out.push({ obj, ns: undefined, component });
  }

  /** Flux's generated kustomization: every YAML file below `dir`; folders with a kustomization are built. */
  walk(dir: string, out: Rendered[], edges: Edges): void {
    for (const f of this.childFiles.get(dir) ?? NO_NAMES) {
      edges.files.push(f);
      for (const obj of this.fileObjects.get(f) ?? NO_OBJECTS)
        if (!isKustomizeConfig(obj)) out.push({ obj, ns: undefined, component: undefined });
    }
    for (const sub of this.childDirs.get(dir) ?? NO_NAMES) {
      if (SOURCE_IGNORED.has(sub.slice(sub.lastIndexOf("/") + 1))) continue; // source-controller's default ignore list
      if (this.hasKustomization(sub)) {
        edges.dirs.push(sub);
        out.push(...this.render(sub));
      } else this.walk(sub, out, edges);
    }
  }

  /** Text of a repository file kustomize reads as data (patch, env file): from the scan, else from disk. */
  readText(file: string): string | undefined {
    const t = this.scan.texts.get(file);
    if (t !== undefined) return t;
    try {
      return readFileSync(path.join(this.scan.root, file), "utf8");
    } catch {
      return undefined;
    }
  }

  /** The patches of a kustomization.yaml (patches, patchesStrategicMerge, patchesJson6902), parsed once. */
  private readonly patchCache = new Map<string, ParsedPatch[]>();

  patchesOf(body: Record<string, unknown>, dir: string, edges: Edges): ParsedPatch[] {
    const cached = this.patchCache.get(dir);
    if (cached) return cached;
    const out: ParsedPatch[] = [];
    const kd = this.kdirs.get(dir);
    const fromEntry = (entry: unknown, key: string, i: number) => {
      let e = entry;
      const file = typeof e === "string" ? e : str(e, "path");
      if (typeof e === "string" && /\n|^\s*(\{|\[|apiVersion:|kind:|-\s)/.test(e)) e = { patch: e };
      else if (file !== undefined) {
        const target = join(dir, file);
        const text = target === undefined ? undefined : this.readText(target);
        if (target !== undefined) edges.files.push(target);
        if (text === undefined) return; // reported by delivery/missing-path? not a resource: kustomize fails
        e = {
          patch: text,
          target: typeof e === "object" && e !== null ? (e as Record<string, unknown>).target : undefined,
        };
      }
      const parsed = parsePatch(e as { patch?: unknown; target?: unknown });
      if (parsed.error && kd)
        this.renderIssues.push({
          file: kd.doc.file,
          kind: "parse",
          line: this.at(kd.doc, [key, i]).line,
          message: `${kd.doc.file}: ${key}[${i}]: ${parsed.error}`,
        });
      out.push(...parsed.patches);
    };
    // kustomize's order: patchesStrategicMerge, patches, patchesJson6902.
    for (const key of ["patchesStrategicMerge", "patches", "patchesJson6902"]) {
      const list = body[key];
      if (Array.isArray(list)) for (let i = 0; i < list.length; i++) fromEntry(list[i], key, i);
    }
    this.patchCache.set(dir, out);
    return out;
  }

  /** Patches that kustomize fails on (a JSON 6902 op on a missing path, a type clash), by the document that holds them. */
  readonly patchErrors = new Map<DocRef, string[]>();

  applyPatches(list: Rendered[], patches: readonly ParsedPatch[], owner: DocRef): Rendered[] {
    if (patches.length === 0) return list;
    const out: Rendered[] = [];
    for (const r of list) {
      const { obj, deleted, errors } = patchObject(r.obj.body, patches);
      if (errors.length > 0) for (const e of errors) addOnce(this.patchErrors, owner, e);
      if (deleted) continue; // `$patch: delete` removes the object from the build
      out.push(obj === r.obj.body ? r : { ...r, obj: withBody(r.obj, obj) });
    }
    return out;
  }

  /** `transformers:`: the builtin NamespaceTransformer sets the namespace of every namespaced object. */
  transform(list: Rendered[], body: Record<string, unknown>, dir: string, edges: Edges): Rendered[] {
    const entries = body.transformers;
    if (!Array.isArray(entries)) return list;
    let out = list;
    for (const e of entries) {
      if (typeof e !== "string") continue;
      let configs: unknown[];
      if (e.includes("\n")) configs = this.inlineDocs(e);
      else {
        const target = join(dir, e);
        if (target === undefined) continue;
        if (this.scan.dirs.has(target)) {
          edges.dirs.push(target);
          configs = this.render(target).map((r) => r.obj.body);
        } else {
          edges.files.push(target);
          configs = (this.fileObjects.get(target) ?? NO_OBJECTS).map((o) => o.body);
        }
      }
      for (const t of configs) {
        if (str(t, "kind") !== "NamespaceTransformer") continue;
        const ns = str(t, "metadata", "namespace");
        if (ns === undefined) continue;
        const unsetOnly = get(t, "unsetOnly") === true;
        out = out.map((r) =>
          isClusterScoped(r.obj.kind) || (unsetOnly && (r.ns ?? r.obj.namespace) !== undefined) ? r : { ...r, ns },
        );
      }
    }
    return out;
  }

  inlineDocs(text: string): unknown[] {
    const scratch: RepoScan = { root: "", texts: new Map(), docs: [], objects: [], issues: [], dirs: new Set() };
    parseYamlText(scratch, "inline", text);
    return scratch.docs.map((d) => d.value);
  }

  /**
   * The ConfigMaps and Secrets of `configMapGenerator` and `secretGenerator` (their names without the
   * hash suffix). Values come from `literals` and `envs`; `files` give keys whose content is data.
   */
  private readonly generatedCache = new Map<string, K8sObject[]>();

  generated(body: Record<string, unknown>, dir: string): K8sObject[] {
    let out = this.generatedCache.get(dir);
    if (out) return out;
    out = [];
    const kd = this.kdirs.get(dir);
    for (const [key, kind] of [
      ["configMapGenerator", "ConfigMap"],
      ["secretGenerator", "Secret"],
    ] as const) {
      const list = body[key];
      if (!Array.isArray(list) || !kd) continue;
      for (const g of list) {
        const name = str(g, "name");
        if (name === undefined) continue;
        const data: Record<string, string> = {};
        const inputs: string[] = [];
        for (const l of Array.isArray(get(g, "literals")) ? (get(g, "literals") as unknown[]) : []) {
          if (typeof l !== "string") continue;
          const eq = l.indexOf("=");
          if (eq > 0) data[l.slice(0, eq)] = unquote(l.slice(eq + 1));
        }
        for (const e of Array.isArray(get(g, "envs")) ? (get(g, "envs") as unknown[]) : []) {
          if (typeof e !== "string") continue;
          const f = join(dir, e);
          if (f === undefined) continue;
          inputs.push(f);
          for (const line of (this.readText(f) ?? "").split(/\r?\n/)) {
            const m = /^\s*([^#=\s][^=]*?)\s*=(.*)$/.exec(line);
            if (m) data[m[1] as string] = unquote((m[2] as string).trim());
          }
        }
        for (const e of Array.isArray(get(g, "files")) ? (get(g, "files") as unknown[]) : []) {
          if (typeof e !== "string") continue;
          const eq = e.indexOf("=");
          const rel = eq === -1 ? e : e.slice(eq + 1);
          const f = join(dir, rel);
          if (f !== undefined) inputs.push(f);
          data[eq === -1 ? rel.slice(rel.lastIndexOf("/") + 1) : e.slice(0, eq)] = "";
        }
        const namespace = str(g, "namespace");
        const generatedBody: Record<string, unknown> = {
          apiVersion: "v1",
          kind,
          metadata: namespace === undefined ? { name } : { name, namespace },
          [kind === "Secret" ? "stringData" : "data"]: data,
        };
        out.push({
          apiVersion: "v1",
          kind,
          name,
          namespace,
          body: generatedBody,
          doc: kd.doc as YamlDoc,
          generatedFrom: inputs,
        } as K8sObject);
      }
    }
    // Generator inputs are data (a recyclarr config, a values file), not manifests: not in `edges`.
    this.generatedCache.set(dir, out);
    return out;
  }

  fileHasVars(file: string): boolean {
    let v = this.hasVars.get(file);
    if (v === undefined) {
      v = hasVariables(this.scan.texts.get(file) ?? "");
      this.hasVars.set(file, v);
    }
    return v;
  }

  /** Where the paths of a source start in this checkout; undefined: not this checkout (not followed). */
  baseOf(sourceRef: { kind: string; name: string; namespace: string } | undefined): string | undefined {
    if (this.anySource || sourceRef === undefined) return "";
    return this.selfSources.get(sourceKey(sourceRef.kind, sourceRef.namespace, sourceRef.name));
  }

  /** A FluxKs from a Kustomization body (as delivered), not yet rendered. */
  fluxKs(
    body: Record<string, unknown>,
    doc: DocRef,
    namespace: string,
    pathKeys: (string | number)[] = ["spec", "path"],
  ): FluxKs {
    const name = str(body, "metadata", "name") ?? "";
    const spec = rec(body, "spec") ?? {};
    const rawPath = str(spec, "path");
    // One location object for every reference that points at the document itself (read-only).
    const here: Loc = { file: doc.file, line: doc.line };
    const sr = rec(spec, "sourceRef");
    const sourceRef = sr
      ? {
          kind: str(sr, "kind") ?? "GitRepository",
          name: str(sr, "name") ?? "",
          namespace: str(sr, "namespace") ?? namespace,
          loc: here,
        }
      : undefined;
    const base = this.baseOf(sourceRef);
    const external = base === undefined;
    const p = this.pathRef(rawPath ?? "./", base ?? "", doc, pathKeys, "dir", here);
    if (p.exists && p.target !== undefined && !this.scan.dirs.has(p.target)) {
      // a file, not a folder: Flux fails ("not a directory")
      p.exists = false;
      p.loc = this.at(doc, pathKeys);
    }
    const components: PathRef[] = [];
    if (Array.isArray(spec.components)) {
      spec.components.forEach((e, i) => {
        if (typeof e === "string")
          components.push(this.pathRef(e, p.target ?? "", doc, ["spec", "components", i], "dir", here));
      });
    }
    const substitute: Record<string, string> = {};
    const sub = rec(spec, "postBuild", "substitute");
    if (sub) for (const [k, v] of Object.entries(sub)) if (v !== null && v !== undefined) substitute[k] = String(v);
    const substituteFrom: SubstituteFrom[] = [];
    const from = get(spec, "postBuild", "substituteFrom");
    if (Array.isArray(from)) {
      from.forEach((f, i) => {
        const kind = str(f, "kind") ?? "ConfigMap";
        const n = str(f, "name") ?? "";
        const source = this.findVarSource(kind, n, namespace, doc.file);
        const found = source !== undefined;
        substituteFrom.push({
          kind,
          name: n,
          optional: get(f, "optional") === true,
          found,
          keysKnown: source?.keysKnown ?? false,
          loc: found ? here : this.at(doc, ["spec", "postBuild", "substituteFrom", i]),
        });
      });
    }
    const dependsOn: FluxKs["dependsOn"] = [];
    const deps = spec.dependsOn;
    if (Array.isArray(deps)) {
      for (const d of deps) {
        const dn = str(d, "name");
        if (dn)
          dependsOn.push({
            name: dn,
            namespace: str(d, "namespace") ?? namespace,
            loc: here,
          });
      }
    }
    return {
      id: `${namespace}/${name}`,
      name,
      namespace,
      doc,
      body,
      path: p,
      components: compact(components),
      targetNamespace: str(spec, "targetNamespace"),
      postBuild: spec.postBuild !== undefined && spec.postBuild !== null,
      substitute,
      substituteFrom: compact(substituteFrom),
      dependsOn: compact(dependsOn),
      sourceRef,
      reachable: false,
      external,
      excluded: false,
      root: false,
      parent: undefined,
      objects: [],
      wouldApply: NO_MODEL_OBJECTS,
    };
  }

  private varSources: Map<string, { namespace: string | undefined; file: string; source: VarSource }[]> | undefined;

  /**
   * The ConfigMap or Secret a substituteFrom names: declared in a file, generated by a kustomization.yaml,
   * or (a Secret) made by an ExternalSecret's target; SOPS and ExternalSecret values are unknown offline.
   */
  findVarSource(kind: string, name: string, namespace: string, near: string): VarSource | undefined {
    if (!this.varSources) {
      const m = new Map<string, { namespace: string | undefined; file: string; source: VarSource }[]>();
      const add = (k: string, n: string, ns: string | undefined, source: VarSource, file: string) =>
        addTo(m, `${k}/${n}`, { namespace: ns, file, source });
      for (const o of this.scan.objects) {
        if (o.kind === "ConfigMap" || o.kind === "Secret")
          add(
            o.kind,
            o.name,
            o.namespace,
            { body: o.body, opaque: o.body.sops !== undefined, keysKnown: true },
            o.doc.file,
          );
        else if (o.kind === "ExternalSecret")
          add(
            "Secret",
            str(o.body, "spec", "target", "name") ?? o.name,
            o.namespace,
            externalSecretSource(o.body),
            o.doc.file,
          );
      }
      for (const [dir, body] of this.kbodies) {
        const kd = this.kdirs.get(dir);
        for (const g of this.generated(body, dir))
          add(
            g.kind,
            g.name,
            g.namespace ?? kd?.namespace,
            {
              body: g.body,
              opaque: g.kind === "Secret" && /\.sops\./.test(generatorFiles(g).join(" ")),
              keysKnown: !generatorFiles(g).some((f) => /\.sops\./.test(f)),
            },
            g.doc.file,
          );
      }
      this.varSources = m;
    }
    // Several clusters in one repository each declare their own cluster-settings: take the nearest.
    let best: { file: string; source: VarSource } | undefined;
    let bestShared = -1;
    for (const o of this.varSources.get(`${kind}/${name}`) ?? []) {
      if (o.namespace !== undefined && o.namespace !== namespace) continue;
      const shared = sharedPrefix(o.file, near);
      if (shared > bestShared) {
        best = o;
        bestShared = shared;
      }
    }
    return best?.source;
  }

  /** The variables a Kustomization substitutes: substituteFrom in order, then substitute (which wins). */
  varsOf(ks: FluxKs): Vars {
    const vars = new Map<string, string | null>();
    for (const f of ks.substituteFrom) {
      const src = this.findVarSource(f.kind, f.name, ks.namespace, ks.doc.file);
      if (!src) continue;
      const data = rec(src.body, "data") ?? {};
      const stringData = rec(src.body, "stringData") ?? {};
      for (const [k, v] of Object.entries(data)) {
        if (src.opaque || typeof v !== "string") vars.set(k, null);
        else vars.set(k, f.kind === "Secret" ? Buffer.from(v, "base64").toString("utf8") : v);
      }
      for (const [k, v] of Object.entries(stringData)) vars.set(k, src.opaque || typeof v !== "string" ? null : v);
    }
    for (const [k, v] of Object.entries(ks.substitute)) vars.set(k, v);
    return vars;
  }

  /** A Flux Kustomization's spec.patches entry, parsed once per text (a parent often gives every child the same). */
  private readonly fluxPatchCache = new Map<string, ParsedPatch[]>();

  parsedFluxPatch(entry: unknown): ParsedPatch[] {
    const key = JSON.stringify(entry);
    let parsed = this.fluxPatchCache.get(key);
    if (!parsed) {
      parsed = parsePatch(entry as { patch?: unknown; target?: unknown }).patches;
      this.fluxPatchCache.set(key, parsed);
    }
    return parsed;
  }

  /** What a Kustomization would apply if its path were relative to `base` (a source that is not followed). */
  deliverFrom(ks: FluxKs, base: string): ModelObject[] {
    const target = join(base, str(ks.body, "spec", "path") ?? "./");
    if (target === undefined || !this.scan.dirs.has(target)) return NO_MODEL_OBJECTS;
    const path: PathRef = {
      entry: target,
      target,
      exists: true,
      remote: false,
      loc: { file: ks.doc.file, line: ks.doc.line },
    };
    // spec.components are resolved against the path as read from this checkout: they hold when it is the same.
    return this.deliver({ ...ks, path, components: ks.path?.target === target ? ks.components : [] });
  }

  /** Applies a Kustomization: one ModelObject per rendered document, after its spec.patches. */
  deliver(ks: FluxKs): ModelObject[] {
    if (!ks.path?.exists || ks.path.target === undefined) return [];
    const vars = ks.postBuild ? this.varsOf(ks) : undefined;
    let rendered: Rendered[] = this.render(ks.path.target);
    const components = ks.components.filter((c) => c.exists && c.target !== undefined);
    const kd = this.kdirs.get(ks.path.target);
    if (components.length > 0 && kd) {
      // Flux appends spec.components to the path's kustomization.yaml: its namespace, patches and
      // transformers reach the components' objects too.
      rendered = this.build(kd, components, { files: [], dirs: [] });
    } else {
      for (const comp of components) {
        const target = comp.target as string;
        rendered = rendered.concat(this.renderComponent(target));
        const body = this.kbodies.get(target);
        if (body) rendered = this.applyPatches(rendered, this.patchesOf(body, target, { files: [], dirs: [] }), ks.doc);
      }
    }
    const patches = get(ks.body, "spec", "patches");
    if (Array.isArray(patches) && patches.length > 0) {
      const parsed: ParsedPatch[] = [];
      for (const p of patches) parsed.push(...this.parsedFluxPatch(p));
      rendered = this.applyPatches(rendered, parsed, ks.doc);
    }
    const out: ModelObject[] = [];
    for (const r of rendered) out.push(this.objectOf(r, ks, vars));
    return compact(out);
  }

  objectOf(r: Rendered, ks: FluxKs | undefined, vars: Vars | undefined): ModelObject {
    const o = r.obj;
    let body = o.body;
    let occ: VarOccurrence[] = NONE;
    let literal: VarOccurrence[] = NONE;
    const off = this.varDocs.get(o.doc);
    // A patched or generated copy is not the document as written: its `${...}` are not cached per document.
    const asWritten = o.body === o.doc.value;
    if (off !== undefined) {
      if (vars && !off) {
        const t = substituteTree(o.body, vars, "notable");
        body = t.value as Record<string, unknown>;
        occ = t.occurrences;
      } else if (!vars) {
        let lit = asWritten ? this.literalVars.get(o.doc) : undefined;
        if (!lit) {
          lit = substituteTree(o.body, new Map()).occurrences;
          if (asWritten) this.literalVars.set(o.doc, lit);
        }
        literal = lit;
      }
    }
    let name = o.name;
    let declared = o.namespace;
    if (body !== o.body) {
      const meta = body.metadata as Record<string, unknown> | undefined;
      if (meta && typeof meta.name === "string") name = meta.name;
      declared = meta && typeof meta.namespace === "string" ? meta.namespace : undefined;
    }
    const namespace = isClusterScoped(o.kind) ? undefined : (ks?.targetNamespace ?? r.ns ?? declared);
    // Flux's targetNamespace is the kustomize `namespace:` of the build: it renames Namespace objects too.
    if (o.kind === "Namespace" && ks?.targetNamespace !== undefined) name = ks.targetNamespace;
    return {
      apiVersion: o.apiVersion,
      kind: o.kind,
      name,
      namespace,
      body,
      raw: o.body,
      doc: refOf(o.doc),
      file: o.doc.file,
      line: o.doc.line,
      via: ks?.id,
      component: r.component,
      vars: occ,
      literal,
    };
  }

  /**
   * Records, for every kustomization.yaml and every file, the reachable Kustomizations that apply it
   * (through their path, their components and every folder those read).
   */
  readonly fileKs = new Map<string, string[]>();

  markDelivery(model: RepoModel): void {
    // Only a parse error asks which Kustomizations apply its file (issuesInScope): other files are not recorded.
    const broken = new Set<string>();
    for (const i of this.scan.issues) if (i.kind === "parse") broken.add(i.file);
    for (const i of this.renderIssues) if (i.kind === "parse") broken.add(i.file);
    // Sets while collecting: a component is built by thousands of Kustomizations.
    const dirKs = new Map<KustomizeDir, Set<string>>();
    const fileKs = new Map<string, Set<string>>();
    const into = <K>(m: Map<K, Set<string>>, key: K, id: string) => {
      const set = m.get(key);
      if (set) set.add(id);
      else m.set(key, new Set([id]));
    };
    // Folder -> number of the Kustomization that last visited it (one map, not a set per Kustomization).
    const visited = new Map<string, number>();
    let n = 0;
    for (const ks of model.kustomizations) {
      if (!ks.reachable || ks.external || !ks.path?.exists || ks.path.target === undefined) continue;
      const k = ++n;
      const visit = (dir: string) => {
        if (visited.get(dir) === k) return;
        visited.set(dir, k);
        const kd = this.kdirs.get(dir);
        if (kd) into(dirKs, kd, ks.id);
        const e = this.edges.get(dir);
        if (!e) return;
        if (kd) this.excludedClaimsIn(kd, e, ks, model);
        if (broken.size > 0) for (const f of e.files) if (broken.has(f)) into(fileKs, f, ks.id);
        for (const d of e.dirs) visit(d);
      };
      visit(ks.path.target);
      for (const comp of ks.components) if (comp.exists && comp.target !== undefined) visit(comp.target);
    }
    for (const [kd, ids] of dirKs) kd.deliveredBy = [...ids];
    for (const [file, ids] of fileKs) this.fileKs.set(file, [...ids]);
  }

  /** Per kustomization.yaml: the PVCs `claimName` in files of its folder that it leaves out (usually none). */
  private readonly leftOut = new Map<KustomizeDir, { file: string; claim: K8sObject }[]>();

  /** PVCs `claimName` in files of the folder that its kustomization.yaml leaves out. */
  excludedClaimsIn(kd: KustomizeDir, e: Edges, ks: FluxKs, model: RepoModel): void {
    let list = this.leftOut.get(kd);
    if (!list) {
      list = [];
      for (const f of this.childFiles.get(kd.dir) ?? NO_NAMES) {
        if (e.files.includes(f)) continue;
        for (const o of this.fileObjects.get(f) ?? NO_OBJECTS)
          if (o.kind === "PersistentVolumeClaim" && o.name === this.c.claimName) list.push({ file: f, claim: o });
      }
      this.leftOut.set(kd, list);
    }
    for (const { file: f, claim: o } of list) {
      const namespace = ks.targetNamespace ?? kd.namespace ?? o.namespace;
      if (namespace === undefined || model.excludedClaims.some((x) => x.namespace === namespace && x.file === f))
        continue;
      model.excludedClaims.push({ namespace, name: o.name, file: f });
    }
  }

  /** Patch failures, with the reachable Kustomizations that fail: the owner itself, or those that build its folder. */
  buildErrors(model: RepoModel): RepoModel["buildErrors"] {
    const out: RepoModel["buildErrors"] = [];
    for (const [doc, errors] of this.patchErrors) {
      const kd = this.kdirs.get(parentOf(doc.file));
      const ids =
        kd && kd.doc === doc
          ? kd.deliveredBy
          : model.kustomizations.filter((k) => k.reachable && k.doc === doc).map((k) => k.id);
      if (ids.length === 0) continue;
      for (const message of errors) out.push({ loc: { file: doc.file, line: doc.line }, message, kustomizations: ids });
    }
    return out;
  }

  /** Did a line that is commented out in a nearby kustomization.yaml list this file (a deliberate exclusion)? */
  commentedOut(file: string): boolean {
    const dir = parentOf(file);
    const folder = dir.slice(dir.lastIndexOf("/") + 1);
    for (const d of [dir, parentOf(dir)]) {
      for (const k of KUSTOMIZE_FILES) {
        const text = this.scan.texts.get(d === "" ? k : `${d}/${k}`);
        if (text === undefined) continue;
        for (const m of text.matchAll(/^\s*#+\s*-\s*(\S+)/gm)) {
          const entry = (m[1] as string).replace(/^\.\//, "").replace(/\/$/, "");
          const target = join(d, entry);
          if (target === file || target === dir || (d === parentOf(dir) && entry === folder)) return true;
        }
      }
    }
    return false;
  }

  /**
   * The scan's issues that concern what Flux applies. A parse error counts when a reachable Kustomization
   * applies the file (or, when no root is known, when the file looks like a manifest: apiVersion and
   * kind); Helm templates, generator inputs, Ansible, Terraform and scratch folders are not manifests.
   */
  issuesInScope(rootsKnown: boolean): InputIssue[] {
    const out: InputIssue[] = [];
    for (const i of [...this.scan.issues, ...this.renderIssues]) {
      if (i.kind !== "parse") {
        out.push({ ...i });
        continue;
      }
      const by = this.fileKs.get(i.file);
      if (by) out.push({ ...i, deliveredBy: by });
      else if (!rootsKnown && !isHidden(i.file) && looksLikeManifest(this.scan.texts.get(i.file) ?? ""))
        out.push({ ...i });
    }
    return out;
  }
}

/**
 * The Secret an ExternalSecret makes: values unknown offline; its keys are known only when it lists them
 * (`data[].secretKey`, template keys) and extracts nothing whole (`dataFrom`).
 */
function externalSecretSource(es: Record<string, unknown>): VarSource {
  const data: Record<string, null> = {};
  const list = get(es, "spec", "data");
  if (Array.isArray(list)) for (const d of list) if (str(d, "secretKey")) data[str(d, "secretKey") as string] = null;
  for (const k of Object.keys(rec(es, "spec", "target", "template", "data") ?? {})) data[k] = null;
  const dataFrom = get(es, "spec", "dataFrom");
  return {
    body: { stringData: data },
    opaque: true,
    keysKnown:
      !(Array.isArray(dataFrom) && dataFrom.length > 0) &&
      rec(es, "spec", "target", "template", "templateFrom") === undefined,
  };
}

/** The files a generated ConfigMap or Secret reads. */
function generatorFiles(o: K8sObject): string[] {
  return (o as K8sObject & { generatedFrom?: string[] }).generatedFrom ?? [];
}

/**
 * Where an ArtifactGenerator's artifact starts in this checkout: the base of its source when every
 * `copy` keeps the path (`@repo/apps/x/` to `@artifact/apps/x/`); undefined otherwise.
 */
function artifactBase(
  gen: Record<string, unknown>,
  artifact: unknown,
  ns: string,
  b: { selfSources: Map<string, string> },
): string | undefined {
  const aliases = new Map<string, string>();
  for (const src of arr(gen, "spec", "sources")) {
    const alias = str(src, "alias");
    if (alias) aliases.set(alias, sourceKey(str(src, "kind"), str(src, "namespace") ?? ns, str(src, "name")));
  }
  let base: string | undefined;
  const copies = arr(artifact, "copy");
  if (copies.length === 0) return undefined;
  for (const cp of copies) {
    const from = /^@([^/]+)\/(.*)$/.exec(str(cp, "from") ?? "");
    const to = /^@artifact\/(.*)$/.exec(str(cp, "to") ?? "");
    if (!from || !to) return undefined;
    const trim = (p: string) => p.replace(/\/+$/, "");
    if (trim(from[2] as string) !== trim(to[1] as string)) return undefined;
    const key = aliases.get(from[1] as string);
    const sourceBase = key === undefined ? undefined : b.selfSources.get(key);
    if (sourceBase === undefined || (base !== undefined && base !== sourceBase)) return undefined;
    base = sourceBase;
  }
  return base;
}

/** Length of the common leading path segments of two files. */
function sharedPrefix(a: string, b: string): number {
  const x = a.split("/");
  const y = b.split("/");
  let i = 0;
  while (i < x.length - 1 && i < y.length - 1 && x[i] === y[i]) i++;
  return i;
}

function unquote(v: string): string {
  return v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0] ? v.slice(1, -1) : v;
}

function looksLikeManifest(text: string): boolean {
  return /^apiVersion:/m.test(text) && /^kind:/m.test(text);
}

/** A copy of a scanned object with another body (patched): same document, name and namespace re-read. */
function withBody(o: K8sObject, body: Record<string, unknown>): K8sObject {
  const meta = (body.metadata ?? {}) as Record<string, unknown>;
  return {
    ...o,
    body,
    name: typeof meta.name === "string" ? meta.name : o.name,
    namespace: typeof meta.namespace === "string" ? meta.namespace : undefined,
  };
}

/** kustomize's `namespace:`: sets the namespace of namespaced objects and renames Namespace objects. */
function withNamespace(list: Rendered[], ns: string): Rendered[] {
  return list.map((r) => {
    if (r.obj.kind !== "Namespace") return { ...r, ns };
    if (r.obj.name === ns) return r;
    const body = { ...r.obj.body, metadata: { ...((r.obj.body.metadata as object) ?? {}), name: ns } };
    return { ...r, obj: { ...r.obj, body, name: ns } };
  });
}

/** The file is a kustomization.yaml (or .yml). */
function isKustomizationFile(file: string): boolean {
  for (const name of KUSTOMIZE_FILES) {
    if (file.endsWith(name) && (file.length === name.length || file.charCodeAt(file.length - name.length - 1) === 47))
      return true;
  }
  return false;
}

function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i === -1 ? "" : p.slice(0, i);
}

export function resolveDelivery(scan: RepoScan, c: Conventions): RepoModel {
  const b = new Builder(scan, c);
  const sources = scan.objects
    .filter(
      (o) =>
        o.apiVersion.startsWith("source.toolkit.fluxcd.io/") &&
        (o.kind === "GitRepository" || o.kind === "OCIRepository" || o.kind === "Bucket"),
    )
    .map((o) => ({ kind: o.kind, name: o.name, namespace: o.namespace, doc: refOf(o.doc) }));
  const syncs = syncRoots(scan, c.fluxNamespace, c.artifactRoots ?? {});
  const declared = (s: { kind: string; name: string }) => sources.some((x) => x.kind === s.kind && x.name === s.name);
  for (const r of syncs) sources.push({ kind: r.sourceKind, name: r.name, namespace: r.namespace, doc: refOf(r.doc) });
  const model: RepoModel = {
    root: scan.root,
    conventions: c,
    mode: "flux",
    roots: "none",
    kustomizations: [],
    kustomizeDirs: [...b.kdirs.values()],
    objects: [],
    sources,
    fluxInstance: syncs.length > 0,
    issues: [],
    buildErrors: [],
    excludedClaims: [],
    unfollowed: [],
  };
  const rawKs = scan.objects.filter(isFluxKs);
  if (rawKs.length === 0 && syncs.length === 0) {
    model.mode = "files";
    filesMode(b, model);
    model.issues = b.issuesInScope(false);
    return model;
  }

  // Which raw Kustomization documents each raw Kustomization's path delivers (to find the roots).
  const rawById = new Map<DocRef, K8sObject>();
  for (const k of rawKs) rawById.set(docKey(k.doc), k);
  const children = new Map<DocRef, DocRef[]>();
  const parents = new Map<DocRef, DocRef[]>();
  for (const k of rawKs) {
    const kids: DocRef[] = [];
    const p = str(k.body, "spec", "path");
    const target = join("", p ?? "./");
    if (target !== undefined && scan.dirs.has(target)) {
      const visit = (list: Rendered[]) => {
        for (const r of list) if (isFluxKs(r.obj)) kids.push(docKey(r.obj.doc));
      };
      visit(b.render(target));
      const comps = get(k.body, "spec", "components");
      if (Array.isArray(comps)) {
        for (const e of comps) {
          const ct = typeof e === "string" ? join(target, e) : undefined;
          if (ct !== undefined && scan.dirs.has(ct)) visit(b.renderComponent(ct));
        }
      }
    }
    const key = docKey(k.doc);
    children.set(key, kids);
    for (const kid of kids) addOnce(parents, kid, key);
  }
  // Roots: Kustomizations in a delivery cycle (bootstrap delivers itself), and the syncs of Flux Operator
  // instances; never a document in a dot-folder such as `.archive/`.
  const rootKeys: DocRef[] = [];
  const reaches = (from: DocRef, to: DocRef): boolean => {
    const seen = new Set<DocRef>();
    const stack = [from];
    while (stack.length > 0) {
      const k = stack.pop() as DocRef;
      for (const kid of children.get(k) ?? []) {
        if (kid === to) return true;
        if (!seen.has(kid) && (children.get(kid)?.length ?? 0) > 0) {
          seen.add(kid);
          stack.push(kid);
        }
      }
    }
    return false;
  };
  for (const k of rawKs) {
    const key = docKey(k.doc);
    // Only a Git source's path is a folder of this checkout (an OCIRepository such as the Flux
    // distribution's `flux-manifests` with path "./" would otherwise "deliver" the whole repository).
    if (isHidden(k.doc.file) || (str(k.body, "spec", "sourceRef", "kind") ?? "GitRepository") !== "GitRepository")
      continue;
    if ((children.get(key)?.length ?? 0) > 0 && reaches(key, key)) rootKeys.push(key);
  }
  // An app's ks.yaml inside its own path delivers itself too, but bootstrap applies only the sync
  // Kustomization: the one declared beside its GitRepository (gotk-sync.yaml), or named flux-system.
  const bootstrapped = rootKeys.filter((key) => {
    const k = rawById.get(key) as K8sObject;
    const src = str(k.body, "spec", "sourceRef", "name");
    return (
      k.name === "flux-system" ||
      (b.fileObjects.get(k.doc.file) ?? NO_OBJECTS).some((o) => o.kind === "GitRepository" && o.name === src)
    );
  });
  if (bootstrapped.length > 0 || syncs.length > 0) rootKeys.splice(0, rootKeys.length, ...bootstrapped);
  model.roots = rootKeys.length > 0 || syncs.length > 0 ? "bootstrap" : "guessed";
  if (model.roots === "guessed") {
    const appsPrefix = `${c.appsDir}/`;
    const orphans = rawKs.filter((k) => (parents.get(docKey(k.doc))?.length ?? 0) === 0 && !isHidden(k.doc.file));
    const outside = orphans.filter((k) => !k.doc.file.startsWith(appsPrefix));
    for (const k of outside.length > 0 ? outside : orphans) rootKeys.push(docKey(k.doc));
  }

  // The sources this checkout is synced from, and the folder their paths start at.
  for (const key of rootKeys) {
    const k = rawById.get(key) as K8sObject;
    const sr = rec(k.body, "spec", "sourceRef");
    const ns = k.namespace ?? c.fluxNamespace;
    if (sr) b.selfSources.set(sourceKey(str(sr, "kind"), str(sr, "namespace") ?? ns, str(sr, "name")), "");
  }
  for (const r of syncs) {
    const key = sourceKey(r.sourceKind, r.namespace, r.name);
    if (r.base !== undefined) b.selfSources.set(key, r.base);
    else {
      b.unfollowedSources.add(key);
      model.unfollowed.push({
        source: `${r.sourceKind}/${r.name}`,
        path: r.path,
        loc: { file: r.doc.file, line: r.doc.line },
      });
    }
  }
  // ExternalArtifacts an ArtifactGenerator makes: declared; followed where they copy paths unchanged.
  for (const o of scan.objects) {
    if (o.kind !== "ArtifactGenerator" || isHidden(o.doc.file)) continue;
    const ns = o.namespace ?? c.fluxNamespace;
    for (const a of arr(o.body, "spec", "artifacts")) {
      const name = str(a, "name");
      if (name === undefined) continue;
      sources.push({ kind: "ExternalArtifact", name, namespace: ns, doc: refOf(o.doc) });
      const base = artifactBase(o.body, a, ns, b);
      if (base !== undefined) b.selfSources.set(sourceKey("ExternalArtifact", ns, name), base);
    }
  }
  // Without a known root every source counts as this checkout, from its root folder.
  b.anySource = model.roots === "guessed";

  // Deliver from the roots, breadth first, applying each parent's patches and substitution to its children.
  const expanded = new Set<DocRef>();
  const queue: FluxKs[] = [];
  const addKs = (ks: FluxKs, key: DocRef) => {
    if (expanded.has(key)) return;
    expanded.add(key);
    ks.reachable = true;
    model.kustomizations.push(ks);
    queue.push(ks);
  };
  for (const key of rootKeys) {
    const k = rawById.get(key) as K8sObject;
    const ks = b.fluxKs(k.body, refOf(k.doc), k.namespace ?? c.fluxNamespace);
    ks.root = true;
    addKs(ks, key);
  }
  for (const r of syncs) {
    if (r.base === undefined) continue;
    const body: Record<string, unknown> = {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: r.name, namespace: r.namespace },
      spec: { path: r.path, sourceRef: { kind: r.sourceKind, name: r.name, namespace: r.namespace } },
    };
    const ks = b.fluxKs(body, refOf(r.doc), r.namespace, ["spec", "values", "instance", "sync", "path"]);
    ks.root = true;
    addKs(ks, { file: r.doc.file, index: r.doc.index, line: -1 });
  }
  for (let qi = 0; qi < queue.length; qi++) {
    const ks = queue[qi] as FluxKs;
    if (ks.external) {
      // A Git source nobody declares: what it would apply from this checkout tells what its failure costs.
      if (ks.sourceRef?.kind === "GitRepository" && !declared(ks.sourceRef)) ks.wouldApply = b.deliverFrom(ks, "");
      continue;
    }
    ks.objects = b.deliver(ks);
    for (const o of ks.objects) {
      model.objects.push(o);
      if (isFluxKs(o)) {
        const child = b.fluxKs(o.body, o.doc, o.namespace ?? c.fluxNamespace);
        child.parent = ks.id;
        addKs(child, docKey(o.doc));
      }
    }
  }
  for (const k of rawKs) {
    const key = docKey(k.doc);
    if (expanded.has(key)) continue;
    const ks = b.fluxKs(k.body, refOf(k.doc), k.namespace ?? c.fluxNamespace);
    const parent = parents.get(key)?.[0];
    if (parent) {
      const p = rawById.get(parent);
      if (p) ks.parent = `${p.namespace ?? c.fluxNamespace}/${p.name}`;
    }
    ks.excluded = isHidden(k.doc.file) || b.commentedOut(k.doc.file);
    if (!ks.excluded && !ks.external) ks.wouldApply = b.deliver(ks);
    model.kustomizations.push(ks);
  }
  b.markDelivery(model);
  model.issues = b.issuesInScope(model.roots === "bootstrap");
  model.buildErrors = b.buildErrors(model);
  return model;
}

/** No Flux Kustomization: every object counts once, namespaced by the kustomization.yaml that lists its file. */
function filesMode(b: Builder, model: RepoModel): void {
  const nsOfFile = new Map<string, string>();
  for (const kd of b.kdirs.values()) {
    if (kd.namespace === undefined) continue;
    for (const r of kd.resources) {
      if (r.target === undefined) continue;
      if (b.fileObjects.has(r.target)) nsOfFile.set(r.target, kd.namespace);
      else
        for (const x of b.render(r.target))
          if (!nsOfFile.has(x.obj.doc.file)) nsOfFile.set(x.obj.doc.file, kd.namespace);
    }
  }
  for (const o of b.scan.objects) {
    if (isKustomizeConfig(o)) continue;
    model.objects.push(
      b.objectOf({ obj: o, ns: nsOfFile.get(o.doc.file), component: undefined }, undefined, undefined),
    );
  }
}
