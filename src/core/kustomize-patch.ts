/**
 * Kustomize patches applied to plain JSON objects, as `kustomize build` (v5.5, the one in kubectl
 * 1.32) applies a kustomization.yaml's `patches:` (and the legacy `patchesStrategicMerge:` /
 * `patchesJson6902:`) and Flux applies a Kustomization's `spec.patches` to what it renders.
 * Every rule below was checked against `kubectl kustomize`; test/lint/kustomize-patch.test.ts
 * replays its table through kubectl when it is installed.
 *
 * Parsing a patch string (kustomize tries both forms; exactly one must succeed):
 * - JSON 6902 is a list of ops. Text starting with `[` must be strict JSON (a flow-style YAML list
 *   such as `[{op: add, ...}]` is rejected); any other text is YAML 1.1, so `value: on` is `true`.
 *   It needs a target.
 * - Strategic merge is one or more `---` documents, each a map with `kind` and `metadata.name`
 *   (apiVersion may be omitted). Each document is a separate patch.
 *
 * Selecting objects:
 * - With a target, every given field must match: group, version, kind, name and namespace are
 *   regular expressions anchored at both ends; an empty field is no constraint (so `group: ""`
 *   matches every group, not only the core group); the namespace of an object without one is
 *   `default` (cluster-scoped kinds have none); label/annotation selectors use the Kubernetes syntax.
 *   A strategic-merge body's apiVersion, kind, name and namespace are then ignored.
 * - Without a target, a strategic-merge patch applies to the object with its exact apiVersion, kind
 *   and name, and its namespace (no namespace and `default` are the same).
 * - Patches apply in order, each to the object as the previous ones left it (a label added by one
 *   patch is seen by the next one's labelSelector).
 *
 * Strategic merge:
 * - Maps merge recursively; `null` deletes a key; `$patch: delete` on a map deletes it,
 *   `$patch: replace` replaces it; `$patch: delete` at the top deletes the whole object, while
 *   `$patch: replace` at the top makes the patch do nothing. Other `$` keys (`$retainKeys`,
 *   `$setElementOrder/...`, `$deleteFromPrimitiveList/...`) are not interpreted: they are merged in
 *   as ordinary keys, as kustomize does.
 * - Lists are replaced as written (nulls and `$patch` keys inside included), except the keyed lists
 *   of the built-in Kubernetes schema (kustomize's embedded schema is Kubernetes 1.21: containers by
 *   name, container ports by containerPort+protocol, env by name, volumeMounts by mountPath, Service
 *   ports by port+protocol, finalizers as a set, ...; see SCHEMA). So every list in a custom
 *   resource, e.g. a Flux Kustomization's spec.patches or spec.postBuild.substituteFrom, is replaced,
 *   never appended to, and never merged by name. Keyed lists merge element by element; the result
 *   lists the patch's elements first, in patch order, then the object's remaining elements. An
 *   element with `$patch: delete` removes its match; a `{$patch: replace}` element replaces the list.
 *   New values are added without their nulls and directives.
 * - A map, list and scalar never merge into each other: that is an error.
 *
 * JSON 6902 (RFC 6902 with the quirks of kustomize's json-patch library): add / remove / replace /
 * move / copy / test, pointer escapes `~1` (/) and `~0` (~), `-` appends on add, negative indexes
 * count from the end; `replace` of a missing map key adds it; `test` of a missing path against
 * `null` passes; a missing `value` is null. Any failing op leaves the object unpatched by that patch.
 *
 * Left to the caller: kustomize applies `patchesStrategicMerge`, then `patches`, then
 * `patchesJson6902` (same target rules for all three), and fails the build when a patch without a
 * target matches no object. Not modelled: `options.allowNameChange/allowKindChange`, matching
 * objects by their name before a namePrefix, built-in keyed lists outside SCHEMA (replaced here),
 * and two kustomize v5.5 bugs that silently lose list elements (a container port whose protocol is
 * given on one side only, a keyed-list element without its key): here the first adds a separate
 * element and the second is an error. Pointers without the leading `/` are an error here.
 */
import { createRequire } from "node:module";
import { isDeepStrictEqual } from "node:util";
import type * as Yaml from "yaml";

export type Obj = Record<string, unknown>;

export interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

export type JsonOp =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; from: string; path: string };

export type ParsedPatch =
  | { type: "strategic-merge"; body: Obj; target: PatchTarget | undefined }
  | { type: "json6902"; ops: JsonOp[]; target: PatchTarget | undefined };

export interface PatchResult {
  /** The patched object; the input itself (same reference) when no patch applied. */
  obj: Obj;
  /** One message per patch that applied but failed; that patch left the object as it was. */
  errors: string[];
  /** A strategic-merge `$patch: delete` at the top removed the object from the build. */
  deleted?: boolean;
}

const isMap = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const firstLine = (e: unknown): string =>
  String((e as Error).message ?? e)
    .split("\n")[0]!
    .replace(/:$/, "");
/** Own properties only, so keys such as `constructor` or `__proto__` are plain keys. */
const own = (o: Obj, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);
const put = (o: Obj, key: string, value: unknown) =>
  Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });

class PatchError extends Error {}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * One entry of `patches:` ({patch: string, target?} or {path, target?}; the caller resolves `path`
 * to text and passes it as `patch`). A patch string may hold several `---` documents (strategic
 * merge), or a YAML/JSON list of ops (JSON 6902). Returns errors as strings, never throws.
 */
export function parsePatch(entry: { patch?: unknown; target?: unknown }): { patches: ParsedPatch[]; error?: string } {
  const fail = (error: string) => ({ patches: [], error });
  if (typeof entry.patch !== "string" || entry.patch.trim() === "") return fail("patch is empty or not a string");
  let target: PatchTarget | undefined;
  if (entry.target !== undefined && entry.target !== null) {
    if (!isMap(entry.target)) return fail("target must be a map");
    target = {};
    for (const key of TARGET_KEYS) {
      const v = entry.target[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== "string") return fail(`target.${key} must be a string`);
      if (v !== "") target[key] = v;
    }
    const compiled = compileTarget(target);
    if (typeof compiled === "string") return fail(compiled);
  }

  const json = parseOps(entry.patch);
  if (json.ops) {
    if (!target) return fail("a JSON 6902 patch must have a target");
    return { patches: [{ type: "json6902", ops: json.ops, target }] };
  }
  if (json.list) return fail(`invalid JSON 6902 patch: ${json.error}`);
  const smp = parseSmp(entry.patch);
  if (smp.bodies) return { patches: smp.bodies.map((body) => ({ type: "strategic-merge", body, target })) };
  return fail(
    `unable to parse the patch as a strategic merge patch (${smp.error}) or a JSON 6902 patch (${json.error})`,
  );
}

const TARGET_KEYS = ["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"] as const;
const OPS = new Set(["add", "remove", "replace", "move", "copy", "test"]);

/**
 * The `yaml` package (CommonJS, about as long to load as the rest of lint's modules) reads only patches
 * written as text, which most repositories do not have: loaded on first use, not when lint starts.
 */
let yamlLib: typeof Yaml | undefined;
const yaml = (): typeof Yaml => (yamlLib ??= createRequire(import.meta.url)("yaml") as typeof Yaml);

/** YAML 1.1 as kustomize's YAML-to-JSON step reads it: yes/no/on/off/y/n are booleans, 010 is 8; no timestamps or 1:20 sexagesimals. */
const YAML_11 = {
  version: "1.1" as const,
  customTags: (tags: Yaml.Tags) =>
    tags.filter((t) => typeof t === "string" || (t.format !== "TIME" && t.tag !== "tag:yaml.org,2002:timestamp")),
};

/** The ops of a JSON 6902 patch; `list` tells that the text is a list (so it cannot be a strategic merge patch). */
function parseOps(text: string): { ops?: JsonOp[]; error?: string; list?: boolean } {
  let list: unknown;
  try {
    list = text.trimStart().startsWith("[") ? JSON.parse(text) : yaml().parse(text, YAML_11);
  } catch (e) {
    return { error: firstLine(e) };
  }
  if (!Array.isArray(list)) return { error: "not a list of operations" };
  if (list.length === 0) return { error: "no operations", list: true };
  const ops: JsonOp[] = [];
  for (const [i, raw] of list.entries()) {
    if (!isMap(raw)) return { error: `operation ${i + 1} is not a map`, list: true };
    const { op, path, from } = raw;
    const where = `operation ${i + 1} (${String(op)} ${String(path)})`;
    if (typeof op !== "string" || !OPS.has(op)) {
      return { error: `${where}: unknown op, expected one of ${[...OPS].join(", ")}`, list: true };
    }
    const pointers = op === "move" || op === "copy" ? { path, from } : { path };
    for (const [field, p] of Object.entries(pointers)) {
      if (typeof p !== "string" || !pointer(p)) {
        return { error: `${where}: ${field} is not a JSON pointer ("/a/b")`, list: true };
      }
    }
    ops.push({ ...raw, value: raw.value ?? null } as JsonOp);
  }
  return { ops };
}

function parseSmp(text: string): { bodies?: Obj[]; error?: string } {
  const bodies: Obj[] = [];
  for (const doc of yaml().parseAllDocuments(text)) {
    const err = doc.errors[0];
    if (err) return { error: firstLine(err) };
    const body: unknown = doc.toJS();
    if (body === null || body === undefined) continue;
    if (!isMap(body)) return { error: "a document is not a map" };
    if (!str(body.kind) || !isMap(body.metadata) || !str(body.metadata.name)) {
      return { error: "a document lacks kind or metadata.name" };
    }
    bodies.push(body);
  }
  return bodies.length > 0 ? { bodies } : { error: "no documents" };
}

// ---------------------------------------------------------------------------------------------
// Selecting

/**
 * Does the patch apply to obj? With a target: every given field must match (group, version, kind,
 * name and namespace are regular expressions anchored at both ends, as kustomize does; an empty
 * field is no constraint; labelSelector/annotationSelector use the Kubernetes selector syntax:
 * `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, comma = AND). Without a
 * target, a strategic-merge patch applies to the object with its apiVersion/kind/metadata.name
 * (and metadata.namespace, `default` when not given); a JSON 6902 patch applies to nothing.
 */
export function patchApplies(p: ParsedPatch, obj: Obj): boolean {
  const meta = isMap(obj.metadata) ? obj.metadata : {};
  if (!p.target) {
    if (p.type !== "strategic-merge") return false;
    const bm = p.body.metadata as Obj;
    return (
      str(p.body.apiVersion) === str(obj.apiVersion) &&
      str(p.body.kind) === str(obj.kind) &&
      str(bm.name) === str(meta.name) &&
      (str(bm.namespace) || "default") === (str(meta.namespace) || "default")
    );
  }
  const t = compileTarget(p.target);
  if (typeof t === "string") return false;
  const apiVersion = str(obj.apiVersion);
  const slash = apiVersion.lastIndexOf("/");
  const kind = str(obj.kind);
  const namespace = CLUSTER_SCOPED.has(kind) ? "" : str(meta.namespace) || "default";
  const fields = {
    group: slash < 0 ? "" : apiVersion.slice(0, slash),
    version: apiVersion.slice(slash + 1),
    kind,
    name: str(meta.name),
    namespace,
  };
  return (
    t.regexes.every(([field, re]) => re.test(fields[field])) &&
    t.labels.every((r) => r(stringMap(meta.labels))) &&
    t.annotations.every((r) => r(stringMap(meta.annotations)))
  );
}

/** Built-in cluster-scoped kinds: kustomize gives them no namespace, so `namespace: default` does not select them. */
const CLUSTER_SCOPED = new Set(
  `Namespace Node PersistentVolume StorageClass CSIDriver CSINode VolumeAttachment ClusterRole ClusterRoleBinding
  CustomResourceDefinition APIService PriorityClass RuntimeClass IngressClass MutatingWebhookConfiguration
  ValidatingWebhookConfiguration PodSecurityPolicy CertificateSigningRequest`.split(/\s+/),
);

const stringMap = (v: unknown): Map<string, string> =>
  new Map(isMap(v) ? Object.entries(v).map(([k, x]) => [k, String(x)]) : []);

type Requirement = (values: ReadonlyMap<string, string>) => boolean;
interface CompiledTarget {
  regexes: ["group" | "version" | "kind" | "name" | "namespace", RegExp][];
  labels: Requirement[];
  annotations: Requirement[];
}
const compiled = new WeakMap<PatchTarget, CompiledTarget | string>();

function compileTarget(t: PatchTarget): CompiledTarget | string {
  const hit = compiled.get(t);
  if (hit) return hit;
  let result: CompiledTarget | string;
  try {
    const regexes: CompiledTarget["regexes"] = [];
    for (const field of ["group", "version", "kind", "name", "namespace"] as const) {
      const pattern = t[field];
      if (pattern) regexes.push([field, new RegExp(`^(?:${pattern})$`)]);
    }
    result = {
      regexes,
      labels: t.labelSelector ? parseSelector(t.labelSelector) : [],
      annotations: t.annotationSelector ? parseSelector(t.annotationSelector) : [],
    };
  } catch (e) {
    result = `invalid target: ${firstLine(e)}`;
  }
  compiled.set(t, result);
  return result;
}

const KEY = "[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?";
const VALUE = "(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?";
const EXISTS = new RegExp(String.raw`^(!?)\s*(${KEY})$`);
const EQUALS = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const IN = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(\s*((?:${VALUE}\s*,\s*)*${VALUE})\s*\)$`);
const COMPARE = new RegExp(String.raw`^(${KEY})\s*([<>])\s*(-?\d+)$`);

/** A Kubernetes label selector (labels.Parse): requirements separated by commas, all must hold. */
function parseSelector(selector: string): Requirement[] {
  // Split on commas outside parentheses.
  const parts = selector.split(/,(?![^(]*\))/).map((s) => s.trim());
  return parts.map((part): Requirement => {
    let m = EXISTS.exec(part);
    if (m) {
      const [, not, key] = m as unknown as [string, string, string];
      return (v) => v.has(key) !== (not === "!");
    }
    m = EQUALS.exec(part);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return (v) => (v.get(key) === value) !== (op === "!=");
    }
    m = IN.exec(part);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const set = new Set(list.trim() ? list.split(",").map((s) => s.trim()) : []);
      return (v) => (v.has(key) && set.has(v.get(key)!)) === (op === "in");
    }
    m = COMPARE.exec(part);
    if (m) {
      const [, key, op, n] = m as unknown as [string, string, string, string];
      return (v) => {
        const x = v.get(key);
        if (x === undefined || !/^-?\d+$/.test(x)) return false;
        return op === ">" ? Number(x) > Number(n) : Number(x) < Number(n);
      };
    }
    throw new Error(`cannot parse selector requirement "${part}" in "${selector}"`);
  });
}

// ---------------------------------------------------------------------------------------------
// Applying

/**
 * Applies every patch that applies, in order. Returns the SAME object reference when no patch
 * applies (callers rely on identity); never mutates its inputs. The result may share unchanged
 * subtrees with the input, never with a patch. A failing patch adds an error and is skipped.
 */
export function patchObject(obj: Obj, patches: readonly ParsedPatch[]): PatchResult {
  let current = obj;
  const errors: string[] = [];
  for (const p of patches) {
    if (!patchApplies(p, current)) continue;
    try {
      if (p.type === "json6902") {
        current = applyOps(current, p.ops);
        continue;
      }
      const next = applySmp(current, p.body);
      if (next === DELETE) return { obj: current, errors, deleted: true };
      current = next;
    } catch (e) {
      if (!(e instanceof PatchError)) throw e;
      errors.push(
        `${p.type === "json6902" ? "JSON 6902" : "strategic merge"} patch on ${describe(current)}: ${e.message}`,
      );
    }
  }
  return { obj: current, errors };
}

function describe(obj: Obj): string {
  const meta = isMap(obj.metadata) ? obj.metadata : {};
  const ns = str(meta.namespace);
  return `${str(obj.kind)} ${ns ? `${ns}/` : ""}${str(meta.name)}`;
}

const DELETE = Symbol("delete");

/** A node of the built-in schema: map fields, or a keyed list (merged by `keys`, elements of type `item`), or a set of scalars. */
interface Schema {
  fields?: Record<string, Schema>;
  keys?: string[];
  item?: Schema;
  set?: true;
}

const META: Schema = { fields: { finalizers: { set: true }, ownerReferences: { keys: ["uid"] } } };
const CONTAINER: Schema = {
  fields: {
    ports: { keys: ["containerPort", "protocol"] },
    env: { keys: ["name"] },
    volumeMounts: { keys: ["mountPath"] },
    volumeDevices: { keys: ["devicePath"] },
  },
};
const CONTAINERS: Schema = { keys: ["name"], item: CONTAINER };
const POD_SPEC: Schema = {
  fields: {
    containers: CONTAINERS,
    initContainers: CONTAINERS,
    ephemeralContainers: CONTAINERS,
    volumes: { keys: ["name"] },
    imagePullSecrets: { keys: ["name"] },
    hostAliases: { keys: ["ip"] },
    topologySpreadConstraints: { keys: ["topologyKey", "whenUnsatisfiable"] },
  },
};
const POD_TEMPLATE: Schema = { fields: { metadata: META, spec: POD_SPEC } };
const withSpec = (spec: Record<string, Schema>): Schema => ({ fields: { metadata: META, spec: { fields: spec } } });
const WORKLOAD = withSpec({ template: POD_TEMPLATE });

/**
 * The keyed lists of kustomize's built-in schema that matter here, by `group/kind`. Other kinds of
 * the built-in groups only get the ObjectMeta lists; custom resources have no schema at all.
 */
const SCHEMA: Record<string, Schema> = {
  "/Pod": { fields: { metadata: META, spec: POD_SPEC } },
  "/PodTemplate": { fields: { metadata: META, template: POD_TEMPLATE } },
  "/ReplicationController": WORKLOAD,
  "/Service": withSpec({ ports: { keys: ["port", "protocol"] } }),
  "apps/Deployment": WORKLOAD,
  "apps/StatefulSet": WORKLOAD,
  "apps/DaemonSet": WORKLOAD,
  "apps/ReplicaSet": WORKLOAD,
  "batch/Job": WORKLOAD,
  "batch/CronJob": withSpec({ jobTemplate: { fields: { spec: { fields: { template: POD_TEMPLATE } } } } }),
};
/** API groups of kustomize's built-in schema ("core" for the core group); anything else is a custom resource. */
const BUILTIN_GROUPS = new Set(
  `core apps batch autoscaling policy extensions networking.k8s.io rbac.authorization.k8s.io storage.k8s.io
  scheduling.k8s.io coordination.k8s.io discovery.k8s.io node.k8s.io certificates.k8s.io events.k8s.io
  admissionregistration.k8s.io apiextensions.k8s.io apiregistration.k8s.io flowcontrol.apiserver.k8s.io`.split(/\s+/),
);

function schemaOf(obj: Obj): Schema | undefined {
  const apiVersion = str(obj.apiVersion);
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
  if (!BUILTIN_GROUPS.has(group || "core")) return undefined;
  return SCHEMA[`${group}/${str(obj.kind)}`] ?? { fields: { metadata: META } };
}

function applySmp(obj: Obj, body: Obj): Obj | typeof DELETE {
  if (body.$patch === "delete") return DELETE;
  if (body.$patch === "replace") return obj;
  // The object keeps its identity: the body's apiVersion, kind, name and namespace are not merged.
  const { apiVersion: _a, kind: _k, metadata, ...rest } = body;
  const { name: _n, namespace: _ns, ...meta } = metadata as Obj;
  return mergeMap(obj, { ...rest, metadata: meta }, schemaOf(obj), "") as Obj;
}

function mergeMap(dest: Obj | undefined, patch: Obj, schema: Schema | undefined, path: string): Obj | typeof DELETE {
  const directive = patch.$patch;
  if (directive === "delete") return DELETE;
  if (directive === "replace") dest = undefined;
  else if (directive !== undefined && directive !== "merge") {
    throw new PatchError(`unknown patch strategy '${directive}'`);
  }
  const out: Obj = { ...dest };
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$patch") continue;
    const fieldSchema = schema?.fields && (own(schema.fields, key) as Schema | undefined);
    const merged = value === null ? DELETE : mergeValue(own(out, key), value, fieldSchema, `${path}.${key}`);
    if (merged === DELETE) delete out[key];
    else put(out, key, merged);
  }
  return out;
}

const shape = (v: unknown) => (Array.isArray(v) ? "a list" : isMap(v) ? "a map" : "a scalar");

function mergeValue(dest: unknown, patch: unknown, schema: Schema | undefined, path: string): unknown {
  if (dest !== undefined && dest !== null && shape(dest) !== shape(patch)) {
    throw new PatchError(`cannot merge ${shape(patch)} into ${shape(dest)} at ${path.slice(1)}`);
  }
  if (isMap(patch)) return mergeMap(isMap(dest) ? dest : undefined, patch, schema, path);
  if (!Array.isArray(patch)) return patch;
  const list = Array.isArray(dest) ? dest : [];
  if (schema?.keys) return mergeKeyed(list, patch, schema, path);
  if (schema?.set) return [...new Set([...patch, ...list])];
  return structuredClone(patch);
}

function mergeKeyed(dest: unknown[], patch: unknown[], schema: Schema, path: string): unknown[] {
  const keys = schema.keys ?? [];
  const isReplace = (e: unknown) => isMap(e) && e.$patch === "replace" && Object.keys(e).length === 1;
  if (patch.some(isReplace)) {
    const others = patch.filter((e) => !isReplace(e));
    return mergeKeyed([], others, schema, path);
  }
  const keyOf = (e: unknown) => JSON.stringify(keys.map((k) => (isMap(e) ? (own(e, k) ?? null) : null)));
  const rest = [...dest];
  const out: unknown[] = [];
  for (const element of patch) {
    const key = isMap(element) ? own(element, keys[0]!) : undefined;
    if (!isMap(element) || key === undefined) throw new PatchError(`an element of ${path.slice(1)} has no ${keys[0]}`);
    const i = rest.findIndex((e) => keyOf(e) === keyOf(element));
    const [match] = i < 0 ? [undefined] : rest.splice(i, 1);
    const merged = mergeMap(isMap(match) ? match : undefined, element, schema.item, `${path}[${keys[0]}=${key}]`);
    if (merged !== DELETE) out.push(merged);
  }
  return [...out, ...rest];
}

// JSON 6902 -----------------------------------------------------------------------------------

/** "/a/b~1c" -> ["a", "b/c"]; undefined when not a pointer. The document root ("") is not patchable. */
function pointer(p: string): string[] | undefined {
  if (!p.startsWith("/")) return undefined;
  return p
    .slice(1)
    .split("/")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function applyOps(obj: Obj, ops: readonly JsonOp[]): Obj {
  const doc = structuredClone(obj);
  for (const [i, op] of ops.entries()) {
    const fail = (why: string): never => {
      throw new PatchError(`operation ${i + 1} (${op.op} ${op.path}): ${why}`);
    };
    const path = pointer(op.path) ?? fail("path is not a JSON pointer");
    const from = "from" in op ? (pointer(op.from) ?? fail("from is not a JSON pointer")) : [];
    switch (op.op) {
      case "add":
        add(doc, path, structuredClone(op.value), fail);
        break;
      case "remove":
        remove(doc, path, fail);
        break;
      case "replace": {
        const [parent, last] = locate(doc, path, fail);
        if (Array.isArray(parent)) parent[index(parent, last, false, fail)] = structuredClone(op.value);
        else put(parent, last, structuredClone(op.value));
        break;
      }
      case "move":
        add(doc, path, remove(doc, from, fail), fail);
        break;
      case "copy": {
        const value = get(doc, from);
        if (value === undefined) fail(`from ${op.from} does not exist`);
        add(doc, path, structuredClone(value), fail);
        break;
      }
      case "test": {
        const actual = get(doc, path);
        if (!(actual === undefined && op.value === null) && !isDeepStrictEqual(actual, op.value)) {
          fail(`test failed: the value is ${JSON.stringify(actual)}`);
        }
        break;
      }
    }
  }
  return doc;
}

type Fail = (why: string) => never;

/** The container holding the pointer's last token, and that token. */
function locate(doc: Obj, path: string[], fail: Fail): [Obj | unknown[], string] {
  let node: unknown = doc;
  for (const token of path.slice(0, -1)) {
    node = Array.isArray(node) ? node[index(node, token, false, fail)] : isMap(node) ? own(node, token) : undefined;
    if (node === undefined) fail("the path does not exist");
  }
  if (!isMap(node) && !Array.isArray(node)) return fail("the parent is not a map or list");
  return [node, path[path.length - 1] ?? ""];
}

/** An array index: digits, or negative from the end; `-` (append) and len are only valid for add. */
function index(list: unknown[], token: string, adding: boolean, fail: Fail): number {
  if (adding && token === "-") return list.length;
  if (!/^-?\d+$/.test(token)) return fail(`"${token}" is not a list index`);
  let i = Number(token);
  if (i < 0) i += list.length + (adding ? 1 : 0);
  if (i < 0 || i > list.length || (i === list.length && !adding)) fail(`index ${token} is out of range`);
  return i;
}

function get(doc: Obj, path: string[]): unknown {
  let node: unknown = doc;
  for (const token of path) {
    if (Array.isArray(node)) node = /^\d+$/.test(token) ? node[Number(token)] : undefined;
    else node = isMap(node) ? own(node, token) : undefined;
  }
  return node;
}

function add(doc: Obj, path: string[], value: unknown, fail: Fail): void {
  const [parent, last] = locate(doc, path, fail);
  if (Array.isArray(parent)) parent.splice(index(parent, last, true, fail), 0, value);
  else put(parent, last, value);
}

function remove(doc: Obj, path: string[], fail: Fail): unknown {
  const [parent, last] = locate(doc, path, fail);
  if (Array.isArray(parent)) return parent.splice(index(parent, last, false, fail), 1)[0];
  if (!Object.hasOwn(parent, last)) fail("the path does not exist");
  const value = parent[last];
  delete parent[last];
  return value;
}
