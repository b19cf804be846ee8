/**
 * buildModel(scan, conventions): RepoModel: resolves what Flux would apply from a checkout.
 *
 * Shape (types in core/model.ts; queries there too, re-exported here):
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
import type { Conventions } from "../core/config.ts";
import {
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
import { type K8sObject, locate, type RepoScan, type YamlDoc } from "./scan.ts";

export type { FluxKs, ModelObject, RepoModel, RepositoryPair } from "../core/model.ts";
export {
  consumersByNamespace,
  consumersIn,
  isConsumer,
  kustomizationById,
  objectsOf,
  repositoryClaims,
  repositoryPairs,
  sharedPvs,
} from "../core/model.ts";

const KUSTOMIZE_FILES = ["kustomization.yaml", "kustomization.yml"];
const SUBSTITUTE_OFF = "kustomize.toolkit.fluxcd.io/substitute";
/** Shared empty list for objects without variables (most of them): no allocation per object. */
const NONE: VarOccurrence[] = [];
const NO_NAMES: readonly string[] = [];
const NO_OBJECTS: readonly K8sObject[] = [];

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

/** Repo-relative normalised path ('' is the root), or undefined when it leaves the repository. */
function join(base: string, rel: string): string | undefined {
  // Fast path for the common "./a/b" and "a/b" forms (no "..", no "//", no "/.").
  if (!rel.startsWith("/") && !rel.includes("..") && !rel.includes("//") && !rel.includes("/./")) {
    let r = rel.startsWith("./") ? rel.slice(2) : rel === "." ? "" : rel;
    if (r.endsWith("/")) r = r.slice(0, -1);
    if (r === ".") r = "";
    return base === "" ? r : r === "" ? base : `${base}/${r}`;
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
  readonly skipped = new Set<string>();
  readonly hasVars = new Map<string, boolean>();
  /** Documents whose file has a `${` (only those are substituted) -> substitution is switched off on the object. */
  readonly varDocs = new Map<DocRef, boolean>();
  /** The `${...}` of a document applied literally (no postBuild): the same for every copy. */
  readonly literalVars = new Map<DocRef, VarOccurrence[]>();
  readonly renderCache = new Map<string, Rendered[]>();
  readonly componentCache = new Map<string, Rendered[]>();
  readonly rendering = new Set<string>();

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
    };
  }

  hasKustomization(dir: string): boolean {
    return this.kustomizationDirs.has(dir);
  }

  /** What kustomize build (or Flux's generated kustomization) of `dir` yields, before namespaces and substitution. */
  render(dir: string): Rendered[] {
    const cached = this.renderCache.get(dir);
    if (cached) return cached;
    if (this.rendering.has(dir)) return [];
    this.rendering.add(dir);
    const kd = this.kdirs.get(dir);
    let out: Rendered[];
    if (kd) {
      out = [];
      for (const r of kd.resources) this.renderRef(r, out, undefined);
      for (const r of kd.components) this.renderRef(r, out, r.target);
      if (kd.namespace !== undefined) out = out.map((x) => ({ ...x, ns: kd.namespace }));
    } else if (this.hasKustomization(dir)) {
      out = []; // a kustomization.yaml that did not parse: kustomize fails, Flux applies nothing
    } else {
      out = [];
      this.walk(dir, out);
    }
    this.rendering.delete(dir);
    out = compact(out);
    this.renderCache.set(dir, out);
    return out;
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

  renderRef(r: PathRef, out: Rendered[], component: string | undefined): void {
    if (r.remote || !r.exists || r.target === undefined || r.noKustomization) return;
    const objs = this.fileObjects.get(r.target);
    if (objs) {
      for (const obj of objs) if (!isKustomizeConfig(obj)) out.push({ obj, ns: undefined, component });
      return;
    }
    if (this.scan.dirs.has(r.target)) {
      for (const x of component ? this.renderComponent(r.target) : this.render(r.target)) out.push(x);
    }
  }

  /** Flux's generated kustomization: every YAML file below `dir`; folders with a kustomization are built. */
  walk(dir: string, out: Rendered[]): void {
    for (const f of this.childFiles.get(dir) ?? NO_NAMES) {
      for (const obj of this.fileObjects.get(f) ?? NO_OBJECTS)
        if (!isKustomizeConfig(obj)) out.push({ obj, ns: undefined, component: undefined });
    }
    for (const sub of this.childDirs.get(dir) ?? NO_NAMES) {
      if (this.hasKustomization(sub)) out.push(...this.render(sub));
      else this.walk(sub, out);
    }
  }

  fileHasVars(file: string): boolean {
    let v = this.hasVars.get(file);
    if (v === undefined) {
      v = hasVariables(this.scan.texts.get(file) ?? "");
      this.hasVars.set(file, v);
    }
    return v;
  }

  /** A FluxKs from a Kustomization body (as delivered), not yet rendered. */
  fluxKs(body: Record<string, unknown>, doc: DocRef, namespace: string): FluxKs {
    const name = str(body, "metadata", "name") ?? "";
    const spec = rec(body, "spec") ?? {};
    const rawPath = str(spec, "path");
    // One location object for every reference that points at the document itself (read-only).
    const here: Loc = { file: doc.file, line: doc.line };
    const p = this.pathRef(rawPath ?? "./", "", doc, ["spec", "path"], "dir", here);
    if (p.exists && p.target !== undefined && !this.scan.dirs.has(p.target)) {
      // a file, not a folder: Flux fails ("not a directory")
      p.exists = false;
      p.loc = this.at(doc, ["spec", "path"]);
    }
    const base = p.target ?? "";
    const components: PathRef[] = [];
    if (Array.isArray(spec.components)) {
      spec.components.forEach((e, i) => {
        if (typeof e === "string") components.push(this.pathRef(e, base, doc, ["spec", "components", i], "dir", here));
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
        const found = this.findVarSource(kind, n, namespace) !== undefined;
        substituteFrom.push({
          kind,
          name: n,
          optional: get(f, "optional") === true,
          found,
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
    const sr = rec(spec, "sourceRef");
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
      sourceRef: sr
        ? {
            kind: str(sr, "kind") ?? "GitRepository",
            name: str(sr, "name") ?? "",
            namespace: str(sr, "namespace") ?? namespace,
            loc: here,
          }
        : undefined,
      reachable: false,
      external: false,
      root: false,
      parent: undefined,
      objects: [],
    };
  }

  private varSources: Map<string, K8sObject[]> | undefined;

  findVarSource(kind: string, name: string, namespace: string): K8sObject | undefined {
    if (!this.varSources) {
      this.varSources = new Map();
      for (const o of this.scan.objects) {
        if (o.kind !== "ConfigMap" && o.kind !== "Secret") continue;
        const k = `${o.kind}/${o.name}`;
        let list = this.varSources.get(k);
        if (!list) {
          list = [];
          this.varSources.set(k, list);
        }
        list.push(o);
      }
    }
    return this.varSources.get(`${kind}/${name}`)?.find((o) => o.namespace === undefined || o.namespace === namespace);
  }

  /** The variables a Kustomization substitutes: substituteFrom in order, then substitute (which wins). */
  varsOf(ks: FluxKs): Vars {
    const vars = new Map<string, string | null>();
    for (const f of ks.substituteFrom) {
      const src = this.findVarSource(f.kind, f.name, ks.namespace);
      if (!src) continue;
      const sops = src.body.sops !== undefined;
      const data = rec(src.body, "data") ?? {};
      const stringData = rec(src.body, "stringData") ?? {};
      for (const [k, v] of Object.entries(data)) {
        if (sops || typeof v !== "string") vars.set(k, null);
        else vars.set(k, f.kind === "Secret" ? Buffer.from(v, "base64").toString("utf8") : v);
      }
      for (const [k, v] of Object.entries(stringData)) vars.set(k, sops || typeof v !== "string" ? null : v);
    }
    for (const [k, v] of Object.entries(ks.substitute)) vars.set(k, v);
    return vars;
  }

  /** Sources (kind/namespace/name) the roots sync this checkout from; empty: any source counts. */
  readonly selfSources = new Set<string>();

  isExternal(ks: FluxKs): boolean {
    const s = ks.sourceRef;
    return s !== undefined && this.selfSources.size > 0 && !this.selfSources.has(`${s.kind}/${s.namespace}/${s.name}`);
  }

  /** Applies a Kustomization: one ModelObject per rendered document. */
  deliver(ks: FluxKs): ModelObject[] {
    if (!ks.path?.exists || ks.path.target === undefined) return [];
    const vars = ks.postBuild ? this.varsOf(ks) : undefined;
    const out: ModelObject[] = [];
    for (const r of this.render(ks.path.target)) out.push(this.objectOf(r, ks, vars));
    for (const comp of ks.components) {
      if (!comp.exists || comp.target === undefined) continue;
      for (const r of this.renderComponent(comp.target)) out.push(this.objectOf(r, ks, vars));
    }
    return compact(out);
  }

  objectOf(r: Rendered, ks: FluxKs | undefined, vars: Vars | undefined): ModelObject {
    const o = r.obj;
    let body = o.body;
    let occ: VarOccurrence[] = NONE;
    let literal: VarOccurrence[] = NONE;
    const off = this.varDocs.get(o.doc);
    if (off !== undefined) {
      if (vars && !off) {
        const t = substituteTree(o.body, vars, "notable");
        body = t.value as Record<string, unknown>;
        occ = t.occurrences;
      } else if (!vars) {
        let lit = this.literalVars.get(o.doc);
        if (!lit) {
          lit = substituteTree(o.body, new Map()).occurrences;
          this.literalVars.set(o.doc, lit);
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

export function buildModel(scan: RepoScan, c: Conventions): RepoModel {
  const b = new Builder(scan, c);
  const issues: InputIssue[] = scan.issues.map((i) => ({ ...i }));
  const sources = scan.objects
    .filter(
      (o) =>
        o.apiVersion.startsWith("source.toolkit.fluxcd.io/") &&
        (o.kind === "GitRepository" || o.kind === "OCIRepository" || o.kind === "Bucket"),
    )
    .map((o) => ({ kind: o.kind, name: o.name, namespace: o.namespace, doc: refOf(o.doc) }));
  const instances = scan.objects.filter((o) => o.kind === "FluxInstance");
  const model: RepoModel = {
    root: scan.root,
    conventions: c,
    mode: "flux",
    roots: "none",
    kustomizations: [],
    kustomizeDirs: [...b.kdirs.values()],
    objects: [],
    sources,
    fluxInstance: instances.length > 0,
    issues,
  };
  const rawKs = scan.objects.filter(isFluxKs);
  if (rawKs.length === 0 && instances.length === 0) {
    model.mode = "files";
    filesMode(b, model);
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
    for (const kid of kids) {
      let list = parents.get(kid);
      if (!list) {
        list = [];
        parents.set(kid, list);
      }
      if (!list.includes(key)) list.push(key);
    }
  }
  // Roots: Kustomizations in a delivery cycle (bootstrap delivers itself), and FluxInstance sync paths.
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
    if ((children.get(key)?.length ?? 0) > 0 && reaches(key, key)) rootKeys.push(key);
  }
  const instanceRoots: Rendered[][] = [];
  for (const fi of instances) {
    const p = str(fi.body, "spec", "sync", "path");
    const target = p !== undefined ? join("", p) : undefined;
    if (target !== undefined && scan.dirs.has(target)) instanceRoots.push(b.render(target));
  }
  model.roots = rootKeys.length > 0 || instanceRoots.length > 0 ? "bootstrap" : "guessed";
  if (model.roots === "guessed") {
    const appsPrefix = `${c.appsDir}/`;
    const orphans = rawKs.filter((k) => (parents.get(docKey(k.doc))?.length ?? 0) === 0);
    const outside = orphans.filter((k) => !k.doc.file.startsWith(appsPrefix));
    for (const k of outside.length > 0 ? outside : orphans) rootKeys.push(docKey(k.doc));
  }

  // Deliver from the roots, breadth first, applying each parent's substitution to its children.
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
  for (const ks of queue)
    if (ks.sourceRef) b.selfSources.add(`${ks.sourceRef.kind}/${ks.sourceRef.namespace}/${ks.sourceRef.name}`);
  if (instances.length > 0) {
    for (const kind of ["GitRepository", "OCIRepository"]) b.selfSources.add(`${kind}/${c.fluxNamespace}/flux-system`);
  }
  for (const rendered of instanceRoots) {
    for (const r of rendered) {
      const o = b.objectOf(r, undefined, undefined);
      model.objects.push(o);
      if (isFluxKs(o)) {
        const ks = b.fluxKs(o.body, o.doc, o.namespace ?? c.fluxNamespace);
        ks.root = true;
        addKs(ks, docKey(o.doc));
      }
    }
  }
  for (let qi = 0; qi < queue.length; qi++) {
    const ks = queue[qi] as FluxKs;
    ks.external = b.isExternal(ks);
    if (ks.external) continue;
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
    model.kustomizations.push(ks);
  }
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
