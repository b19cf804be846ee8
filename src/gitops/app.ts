/**
 * Plans `app`: wires an app's Flux Kustomization (its ks.yaml) to the Volsync component. The file is
 * parsed with the `yaml` CST only to find positions; every edit splices text, so comments, blank lines,
 * anchors, quoting and the indentation of every untouched line stay byte for byte.
 */
import path from "node:path";
import { type Document, isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from "yaml";
import { type Conventions, ksName } from "../core/config.ts";
import { checkLabel, checkSubdomain, isQuantity } from "../core/names.ts";
import { componentDefaults } from "../core/render/component.ts";
import { scalar } from "../core/yaml-text.ts";
import { usageError } from "../errors.ts";
import { FLUX_KS_API, findInstances } from "./discover.ts";
import { type EnableOptions, planEnable, validateNamespace } from "./enable.ts";
import { allowedNamespacesChange, detectState } from "./init.ts";
import { appendToFlow, lineEnd, lineStart, parseDocs, sameEntry, seqIndent } from "./kustomize-edit.ts";
import { type FileChange, type Plan, readMaybe } from "./plan.ts";
import type { RepoScan } from "./scan.ts";

// ---------------------------------------------------------------------------------------------------
// Text-splicing edits of a Flux Kustomization
// ---------------------------------------------------------------------------------------------------

type Ranged = { range?: [number, number, number] | null };

function rangeOf(n: unknown): [number, number, number] {
  const r = (n as Ranged).range;
  if (!r) throw new Error("node without a source range");
  return r;
}

/** End of a node's own text (trailing blank lines and newlines excluded). */
function contentEnd(text: string, n: unknown): number {
  let end = rangeOf(n)[1];
  while (end > 0 && /\s/.test(text[end - 1] as string)) end--;
  return end;
}

function col(text: string, pos: number): number {
  return pos - lineStart(text, pos);
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key) as Pair | undefined;
}

function scalarOf(map: YAMLMap, key: string): unknown {
  const n = map.get(key, true);
  return isScalar(n) ? n.value : undefined;
}

interface FluxDoc {
  doc: Document.Parsed;
  root: YAMLMap;
  spec: YAMLMap;
  specPair: Pair;
}

function parseFluxDoc(text: string, file: string, name: string | undefined): FluxDoc {
  const flux = parseDocs(text, file).filter((d) => {
    if (!isMap(d.contents)) return false;
    const api = scalarOf(d.contents, "apiVersion");
    return scalarOf(d.contents, "kind") === "Kustomization" && typeof api === "string" && api.startsWith(FLUX_KS_API);
  });
  const pick =
    flux.find((d) => {
      const meta = (d.contents as YAMLMap).get("metadata", true);
      return isMap(meta) && scalarOf(meta, "name") === name;
    }) ?? flux[0];
  if (!pick) throw usageError(`${file} holds no Flux Kustomization (kustomize.toolkit.fluxcd.io)`);
  const root = pick.contents as YAMLMap;
  const specPair = pairOf(root, "spec");
  if (!specPair || !isMap(specPair.value) || specPair.value.flow) {
    throw usageError(`${file}: the Flux Kustomization has no block \`spec:\` mapping to edit`, "add it by hand");
  }
  return { doc: pick, root, spec: specPair.value, specPair };
}

/** Column of a block map's keys. */
function keysCol(text: string, map: YAMLMap): number {
  const first = map.items[0];
  if (!first) throw new Error("empty map");
  return col(text, rangeOf(first.key)[0]);
}

/** Where to insert a new key block inside `map`: before the first of `before` present, else after the last pair. */
function insertionPoint(text: string, map: YAMLMap, before: string[]): number {
  const anchor = map.items.find((p) => isScalar(p.key) && before.includes(String(p.key.value)));
  if (anchor) {
    let at = lineStart(text, rangeOf(anchor.key)[0]);
    // keep the comment lines right above that key with it
    for (;;) {
      if (at === 0) break;
      const prevStart = lineStart(text, at - 1);
      const prev = text.slice(prevStart, at);
      if (/^[ \t]*#/.test(prev)) at = prevStart;
      else break;
    }
    return at;
  }
  const last = map.items[map.items.length - 1] as Pair;
  return lineEnd(text, contentEnd(text, last.value ?? last.key));
}

function splice(text: string, at: number, insert: string): string {
  const nl = at === text.length && at > 0 && !text.endsWith("\n") ? "\n" : "";
  return `${text.slice(0, at)}${nl}${insert}${text.slice(at)}`;
}

/**
 * Adds an item to the sequence at spec.<key> (creating the key before `before` keys), unless `has` finds
 * it already. `item` is the text after "- " (e.g. "name: x" or "../components/volsync").
 */
function addSeqItem(
  text: string,
  file: string,
  name: string | undefined,
  key: string,
  item: string,
  flowItem: string,
  has: (n: unknown) => boolean,
  before: string[],
): string {
  const { spec } = parseFluxDoc(text, file, name);
  const pair = pairOf(spec, key);
  const ind = " ".repeat(keysCol(text, spec));
  const seqInd = " ".repeat(seqIndent(text));
  if (!pair) {
    const at = insertionPoint(text, spec, before);
    return splice(text, at, `${ind}${key}:\n${ind}${seqInd}- ${item}\n`);
  }
  const value = pair.value;
  if (isSeq(value)) {
    if (value.items.some(has)) return text;
    if (value.flow) return appendToFlow(text, value, flowItem);
    const first = value.items[0];
    const last = value.items[value.items.length - 1];
    const prefix = text.slice(lineStart(text, rangeOf(first)[0]), rangeOf(first)[0]);
    const at = lineEnd(text, contentEnd(text, last));
    return splice(text, at, `${prefix}${item}\n`);
  }
  if (value === null || (isScalar(value) && (value.value === null || value.value === ""))) {
    const at = lineEnd(text, rangeOf(pair.key)[1]);
    return splice(text, at, `${ind}${seqInd}- ${item}\n`);
  }
  throw usageError(`${file}: spec.${key} is not a list; fix it by hand`);
}

/** Adds `entry` to spec.components. */
export function addComponent(text: string, file: string, name: string | undefined, entry: string): string {
  return addSeqItem(
    text,
    file,
    name,
    "components",
    entry,
    entry,
    (n) => isScalar(n) && sameEntry(String(n.value), entry),
    ["dependsOn", "path"],
  );
}

/** Adds `{name: dep}` to spec.dependsOn. */
export function addDependsOn(text: string, file: string, name: string | undefined, dep: string): string {
  return addSeqItem(
    text,
    file,
    name,
    "dependsOn",
    `name: ${scalar(dep)}`,
    `{name: ${scalar(dep)}}`,
    (n) => isMap(n) && scalarOf(n, "name") === dep,
    ["path"],
  );
}

/**
 * Sets spec.postBuild.substitute.<key> to `value` (raw YAML text, e.g. "*app" or "10Gi"), creating the
 * maps as needed. `replace: false` keeps a value that is already there.
 */
export function setSubstitute(
  text: string,
  file: string,
  name: string | undefined,
  key: string,
  value: string,
  replace = true,
): string {
  const { spec } = parseFluxDoc(text, file, name);
  const specCol = keysCol(text, spec);
  const unit = specCol > 0 ? specCol : 2;
  const ind = (n: number) => " ".repeat(n);
  const post = pairOf(spec, "postBuild");
  if (!post) {
    const at = insertionPoint(text, spec, []);
    return splice(
      text,
      at,
      `${ind(specCol)}postBuild:\n${ind(specCol + unit)}substitute:\n${ind(specCol + 2 * unit)}${key}: ${value}\n`,
    );
  }
  if (!isMap(post.value) || post.value.flow || post.value.items.length === 0) {
    throw usageError(`${file}: spec.postBuild is not a block mapping; add ${key}: ${value} under substitute by hand`);
  }
  const postCol = keysCol(text, post.value);
  const sub = pairOf(post.value, "substitute");
  if (!sub) {
    const at = insertionPoint(text, post.value, []);
    return splice(text, at, `${ind(postCol)}substitute:\n${ind(postCol + unit)}${key}: ${value}\n`);
  }
  const map = sub.value;
  if (map === null || (isScalar(map) && (map.value === null || map.value === ""))) {
    const at = lineEnd(text, rangeOf(sub.key)[1]);
    return splice(text, at, `${ind(postCol + unit)}${key}: ${value}\n`);
  }
  if (!isMap(map)) throw usageError(`${file}: spec.postBuild.substitute is not a mapping; fix it by hand`);
  const existing = pairOf(map, key);
  if (existing) {
    if (!replace) return text;
    const v = existing.value as Node | null;
    if (!v) return `${text.slice(0, rangeOf(existing.key)[1] + 1)} ${value}${text.slice(rangeOf(existing.key)[1] + 1)}`;
    const [a, b] = rangeOf(v);
    if (text.slice(a, b) === value) return text;
    return `${text.slice(0, a)}${value}${text.slice(b)}`;
  }
  if (map.flow) return appendToFlow(text, map, `${key}: ${value}`);
  const at = insertionPoint(text, map, []);
  return splice(text, at, `${ind(keysCol(text, map))}${key}: ${value}\n`);
}

// ---------------------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------------------

export interface AppOptions {
  namespace: string;
  app: string;
  pvc?: string;
  capacity?: string;
  uid?: number;
  gid?: number;
  /** Enable the namespace first when it is not (plans both). */
  enable?: boolean;
  enableOptions?: Omit<EnableOptions, "namespace">;
}

export interface AppPlan {
  plan: Plan;
  /** The ks.yaml edited. */
  file: string;
  notes: string[];
  /** Files `-o yaml` prints (the edited ks.yaml and, with --enable, the instance). */
  manifests: Record<string, string>;
  enabled: boolean;
}

function validate(o: AppOptions): void {
  validateNamespace(o.namespace);
  const appProblem = checkLabel(o.app, "app name");
  if (appProblem) throw usageError(appProblem, "app names follow RFC 1123: at most 63 characters of a-z, 0-9 and '-'");
  if (o.pvc !== undefined) {
    const p = checkSubdomain(o.pvc, "--pvc");
    if (p) throw usageError(p, "PVC names follow RFC 1123 (lowercase letters, digits, '-' and '.')");
  }
  if (o.capacity !== undefined && !isQuantity(o.capacity)) {
    throw usageError(`--capacity ${o.capacity}: not a Kubernetes quantity`, "use e.g. 5Gi or 500Mi");
  }
  for (const [flag, v] of [
    ["--uid", o.uid],
    ["--gid", o.gid],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 2147483647)) {
      throw usageError(`${flag} ${v}: not a UID/GID (a non-negative integer)`);
    }
  }
}

/** Relative path from the Kustomization's spec.path to the component (Flux resolves components from there). */
function componentEntry(specPath: string, componentDir: string): string {
  const from = specPath.replace(/^\.\//, "").replace(/\/+$/, "");
  const rel = path.posix.relative(from, componentDir);
  return rel.startsWith(".") ? rel : `./${rel}`;
}

export function planApp(scan: RepoScan, c: Conventions, o: AppOptions): AppPlan {
  validate(o);
  const notes: string[] = [];
  const changes: FileChange[] = [];
  const manifests: Record<string, string> = {};
  const state = detectState(scan, c);
  if (!state.component) {
    throw usageError(
      `${c.componentDir}/kustomization.yaml does not exist: the repository is not initialised`,
      "run `kopiashare init` first",
    );
  }
  const instances = findInstances(scan, c);
  let instance = instances.find((i) => i.namespace === o.namespace);
  let nsDir: string;
  let enabled = false;
  if (!instance) {
    if (!o.enable) {
      throw usageError(
        `namespace ${o.namespace} is not enabled: it has no PVC \`${c.claimName}\` on the shared repository volume`,
        `run \`kopiashare enable ${o.namespace}\` first, or pass --enable to do both`,
      );
    }
    const e = planEnable(scan, c, { ...(o.enableOptions ?? {}), namespace: o.namespace });
    changes.push(...e.plan.changes);
    Object.assign(manifests, e.manifests);
    notes.push(...e.notes);
    nsDir = e.dir.slice(0, e.dir.lastIndexOf("/"));
    enabled = true;
    instance = undefined;
  } else {
    nsDir = instance.dir.slice(0, instance.dir.lastIndexOf("/"));
  }
  const appDir = `${nsDir}/${o.app}`;
  const file = `${appDir}/ks.yaml`;
  const before = readMaybe(scan.root, file);
  if (before === null) {
    throw usageError(
      `${scan.dirs.has(appDir) ? `${file} does not exist` : `app folder ${appDir}/ does not exist`}`,
      `kopiashare app wires an existing app: create ${file} (its Flux Kustomization) first, or check the app name`,
    );
  }
  // What the file says, through the fast reader.
  const parsed = parseFluxDoc(before, file, o.app);
  const js = parsed.doc.toJS() as { spec?: Record<string, unknown> };
  const spec = js.spec ?? {};
  const target = typeof spec.targetNamespace === "string" ? spec.targetNamespace : undefined;
  if (target !== undefined && target !== o.namespace) {
    throw usageError(
      `${file} deploys into namespace ${target} (spec.targetNamespace), not ${o.namespace}`,
      `run \`kopiashare app ${target} ${o.app}\`, or fix the namespace`,
    );
  }
  if (target === undefined) {
    notes.push(
      `${file} sets no spec.targetNamespace: make sure its resources land in ${o.namespace}, where the PVC \`${c.claimName}\` is`,
    );
  }
  const specPath = typeof spec.path === "string" ? spec.path : undefined;
  if (!specPath) throw usageError(`${file}: the Flux Kustomization has no spec.path`, "add spec.path first");
  const metaNode = parsed.root.get("metadata", true);
  const nameNode = isMap(metaNode) ? metaNode.get("name", true) : undefined;
  const ksNameValue = isScalar(nameNode) ? String(nameNode.value) : o.app;

  let text = before;
  text = addComponent(text, file, ksNameValue, componentEntry(specPath, c.componentDir));
  text = addDependsOn(text, file, ksNameValue, ksName(c, o.namespace));
  const appValue = o.pvc ?? o.app;
  const anchored = isScalar(nameNode) && nameNode.anchor && String(nameNode.value) === appValue;
  const sub = (spec as { postBuild?: { substitute?: Record<string, unknown> } }).postBuild?.substitute;
  const current = sub?.APP;
  if (current !== undefined && String(current) !== appValue && o.pvc === undefined) {
    notes.push(`${file} already sets APP: ${String(current)}; kept it (pass --pvc to change it)`);
  } else {
    text = setSubstitute(
      text,
      file,
      ksNameValue,
      "APP",
      anchored ? `*${(nameNode as { anchor: string }).anchor}` : scalar(appValue),
      o.pvc !== undefined,
    );
  }
  const defaults = componentDefaults(c);
  const wanted: [string, string | undefined][] = [
    ["VOLSYNC_CAPACITY", o.capacity],
    ["VOLSYNC_PUID", o.uid === undefined ? undefined : String(o.uid)],
    ["VOLSYNC_PGID", o.gid === undefined ? undefined : String(o.gid)],
  ];
  for (const [key, value] of wanted) {
    if (value === undefined) continue;
    if (value === defaults[key] && sub?.[key] === undefined) continue;
    text = setSubstitute(text, file, ksNameValue, key, /^[0-9]+$/.test(value) ? `"${value}"` : scalar(value));
  }
  if ((o.uid !== undefined && o.uid !== c.uid) || (o.gid !== undefined && o.gid !== c.gid)) {
    notes.push(
      `${o.app} movers run as ${o.uid ?? c.uid}:${o.gid ?? c.gid}, the repository's other writers as ${c.uid}:${c.gid}; files one writes the others may not read`,
    );
  }
  changes.push({ path: file, before, after: text });
  manifests[file] = text;
  // Kopiur: the namespace must be allowed to use the ClusterRepository.
  const allowed = allowedNamespacesChange(scan, c, { add: o.namespace });
  if (allowed?.after && !changes.some((ch) => ch.path === allowed.path)) {
    changes.push(allowed);
    manifests[allowed.path] = allowed.after;
  }
  return { plan: { root: scan.root, changes }, file, notes, manifests, enabled };
}
