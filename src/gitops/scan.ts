/**
 * Reads every YAML document of a checkout once (walk.ts walks and reads). The read-only path parses
 * plain block YAML with yaml-lite.ts and everything else with js-yaml (about ten times faster than the
 * `yaml` Document API), to the same values; exact positions of nested fields are recovered lazily,
 * only for the few places a finding points at (see `locate`).
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { DEFAULT_SCHEMA, type LoadOptions, load as loadYaml, Type, YAMLException } from "js-yaml";
import type * as Yaml from "yaml";
import {
  readYamlFile,
  type ScanIssue,
  type Sink,
  WALKER,
  WALKER_PROGRESS,
  WALKER_READY,
  Walk,
  type WalkerMessage,
  walkRepo,
} from "./walk.ts";
import { type Implicit, NOT_LITE, parseLite } from "./yaml-lite.ts";

export { isYamlFile, MAX_FILE_BYTES, type ScanIssue, type SkipReason } from "./walk.ts";

export interface YamlDoc {
  /** Repo-relative path with '/' separators. */
  file: string;
  /** 0-based index of the document in its file. */
  index: number;
  /** 1-based line of the document's first content line. */
  line: number;
  value: unknown;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  name: string;
  /** metadata.namespace as written (the effective namespace is the model's business). */
  namespace: string | undefined;
  body: Record<string, unknown>;
  doc: YamlDoc;
}

export interface RepoScan {
  root: string;
  /** Every YAML file read, repo-relative, with its text. */
  texts: Map<string, string>;
  docs: YamlDoc[];
  objects: K8sObject[];
  issues: ScanIssue[];
  /** Every directory seen, repo-relative ('' is the root). */
  dirs: Set<string>;
}

export function scanRepo(root: string): RepoScan {
  const scan = emptyScan(root);
  walkRepo(root, sinkInto(scan));
  return scan;
}

/**
 * scanRepo with the walk and the file reads in a worker thread (walk.ts): this thread parses each batch
 * of files while the worker reads the next, so on a multi-core machine the reads cost no time here.
 * Starting a worker takes a while (about the time a small repository takes to scan): this thread walks
 * until the worker is ready and then hands it the rest of the walk (a repository that is done by then
 * needs no worker). The same scan, built in the same order by the same code; an error in the walk is
 * thrown here with its message and code. Run from TypeScript source (tsx), a worker thread cannot load
 * walk.ts (tsx does not hook workers on Node 20), so the scan stays in this thread.
 */
export async function scanRepoParallel(root: string): Promise<RepoScan> {
  if (import.meta.url.endsWith(".ts")) return scanRepo(root);
  // Set to 1 by the worker once it waits for the walk (shared memory: read between two files, no event loop).
  const ready = new Int32Array(new SharedArrayBuffer(4));
  // Files taken in here so far: the worker leaves files for this thread to read when it has caught up.
  const progress = new Int32Array(new SharedArrayBuffer(4));
  let worker: Worker;
  try {
    worker = new Worker(new URL("./walk.js", import.meta.url), {
      workerData: { [WALKER]: root, [WALKER_READY]: ready, [WALKER_PROGRESS]: progress },
    });
  } catch {
    return scanRepo(root);
  }
  const scan = emptyScan(root);
  const sink = sinkInto(scan);
  let walk: Walk;
  try {
    walk = Walk.start(root, sink);
    if (walk.run(() => Atomics.load(ready, 0) === 1)) {
      void worker.terminate();
      return scan;
    }
  } catch (e) {
    void worker.terminate();
    throw e;
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      reject(e);
    };
    // The worker itself failed (not the walk, whose errors it sends): scan in this thread instead.
    const fallBack = () => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      try {
        resolve(scanRepo(root));
      } catch (e) {
        reject(e);
      }
    };
    worker.on("message", (m: WalkerMessage) => {
      if (settled) return;
      try {
        let files = 0;
        for (const f of m.found) {
          if (f[0] === "dir") sink.dir(f[1]);
          else if (f[0] === "issue") sink.issue(f[1]);
          else {
            if (f[0] === "file") sink.file(f[1], f[2]);
            else readYamlFile(sink, f[1], f[2], f[3]);
            files++;
          }
        }
        Atomics.add(progress, 0, files);
      } catch (e) {
        fail(e);
        return;
      }
      if (m.error) fail(Object.assign(new Error(m.error.message), m.error));
      else if (m.done) {
        settled = true;
        resolve(scan);
      }
    });
    worker.on("error", fallBack);
    worker.on("exit", fallBack);
    worker.postMessage(walk.state());
  });
}

function emptyScan(root: string): RepoScan {
  return { root, texts: new Map(), docs: [], objects: [], issues: [], dirs: new Set() };
}

/** A sink that builds the scan: every file's text is parsed as it arrives. */
function sinkInto(scan: RepoScan): Sink {
  return {
    dir: (rel) => scan.dirs.add(rel),
    issue: (issue) => scan.issues.push(issue),
    file: (rel, text) => {
      scan.texts.set(rel, text);
      parseYamlText(scan, rel, text);
    },
  };
}

const CONTENT_LINE = /^[ \t]*[^\s#]/m;

/** Splits at document markers; a `---` at column 0 always starts a document, even after a block scalar. */
export function splitDocuments(text: string): { start: number; body: string }[] {
  const out: { start: number; body: string }[] = [];
  // Walk line starts only; a chunk's body keeps its line numbering relative to `start`.
  let chunkFrom = 0;
  let chunkLine = 0;
  let line = 0;
  let pos = 0;
  const flush = (to: number) => {
    // A chunk that starts at a marker keeps the rest of the marker line ("--- !tag", "--- {a: 1}")
    // after the three dashes; slicing (no concatenation) avoids copying the text.
    const body = text.slice(chunkFrom, Math.max(chunkFrom, to - 1));
    if (CONTENT_LINE.test(body)) out.push({ start: chunkLine, body });
  };
  while (pos < text.length) {
    const nl = text.indexOf("\n", pos);
    const end = nl === -1 ? text.length : nl;
    const c = text.charCodeAt(pos);
    if (c === 45 && text.startsWith("---", pos)) {
      const next = text.charCodeAt(pos + 3);
      if (end === pos + 3 || next === 32 || next === 9 || next === 13) {
        flush(pos);
        chunkLine = line;
        chunkFrom = pos + 3;
      }
    } else if (c === 46 && text.startsWith("...", pos) && (end === pos + 3 || text.charCodeAt(pos + 3) === 32)) {
      flush(pos);
      chunkLine = line + 1;
      chunkFrom = Math.min(end + 1, text.length);
    }
    if (nl === -1) break;
    pos = nl + 1;
    line++;
  }
  flush(text.length + 1);
  return out;
}

export function parseYamlText(scan: RepoScan, file: string, text: string): void {
  let index = 0;
  const options: LoadOptions = { filename: file, schema: SCHEMA };
  for (const chunk of splitDocuments(text)) {
    const m = CONTENT_LINE.exec(chunk.body);
    let firstContent = 0;
    if (m)
      for (let i = chunk.body.indexOf("\n"); i !== -1 && i < m.index; i = chunk.body.indexOf("\n", i + 1))
        firstContent++;
    const line = chunk.start + firstContent + 1;
    // Most documents are plain block YAML: read without js-yaml, to the same value (yaml-lite.ts).
    let value: unknown = parseLite(chunk.body, IMPLICIT);
    if (value === NOT_LITE)
      try {
        value = loadYaml(chunk.body, options);
      } catch (e) {
        if (!(e instanceof YAMLException)) throw e;
        const retried = reloadGluedAliases(chunk.body, options, e);
        if ("error" in retried) {
          const errLine = chunk.start + retried.line + 1;
          const col = retried.column + 1;
          scan.issues.push({
            file,
            kind: "parse",
            line: errLine,
            col,
            message: `${file}:${errLine}:${col}: ${retried.error.reason}`,
          });
          index++;
          continue;
        }
        value = retried.value;
      }
    // js-yaml shares an aliased node instead of copying it: a few hundred bytes of nested aliases are
    // a value of billions of nodes to anything that walks or prints it. Only a body with a '*' can alias.
    if (value !== null && typeof value === "object" && chunk.body.includes("*")) {
      const problem = tooComplex(value);
      if (problem) {
        scan.issues.push({ file, kind: "too-complex", line, message: `${file}:${line}: ${problem}; not read` });
        index++;
        continue;
      }
    }
    const doc: YamlDoc = { file, index, line, value };
    index++;
    if (value === null || value === undefined) continue;
    scan.docs.push(doc);
    const obj = asObject(doc);
    if (obj) scan.objects.push(obj);
  }
}

/** Nodes that aliases may add to one document (beyond the nodes written in it); more is an alias bomb. */
export const MAX_ALIAS_NODES = 100_000;
/** Nesting deeper than this is refused too (every reader of the value recurses). */
export const MAX_DEPTH = 1000;

/**
 * Why a parsed document is too complex to read, or undefined: aliases that expand it by more than
 * MAX_ALIAS_NODES nodes, or nesting deeper than MAX_DEPTH. Counts each shared node once per use without
 * expanding anything (memoised by identity), so a bomb is measured in the time of its written size.
 */
export function tooComplex(value: object): string | undefined {
  const expanded = new Map<object, number>();
  let written = 0;
  let deep = false;
  const count = (node: unknown, depth: number): number => {
    if (node === null || typeof node !== "object") return 1;
    const known = expanded.get(node);
    if (known !== undefined) return known;
    if (depth > MAX_DEPTH) {
      deep = true;
      return 1;
    }
    const children = Array.isArray(node) ? node : Object.values(node);
    written++;
    let n = 1;
    for (const c of children) {
      if (c === null || typeof c !== "object") written++;
      n += count(c, depth + 1);
      if (deep) break;
    }
    expanded.set(node, n);
    return n;
  };
  const total = count(value, 0);
  if (deep) return `nested deeper than ${MAX_DEPTH} levels`;
  if (total - written > MAX_ALIAS_NODES) {
    const size = total > 1e9 ? `about ${total.toExponential(1)}` : `${total}`;
    return `aliases expand this document to ${size} nodes, more than ${MAX_ALIAS_NODES} beyond the ${written} written (an alias bomb?)`;
  }
  return undefined;
}

/** The YAML 1.1 and 1.2 tags js-yaml's default schema knows; they keep their meaning (and their errors). */
const STANDARD_TAGS = new Set(
  "str seq map null bool int float timestamp merge binary omap pairs set"
    .split(" ")
    .map((t) => `tag:yaml.org,2002:${t}`),
);

/**
 * Any other tag (`!env_var`, `!Find`, `!secret`, `!!python/name:x`, `!<tag:x>`), as Flux's go-yaml
 * reads it: the node keeps its untagged value (a tagged scalar its string, `""` when empty; a
 * sequence its array; a mapping its object). A `multi` type with the empty prefix matches every tag,
 * but js-yaml looks at it only after the exact lookup of a tag has failed, so untagged and
 * standard-tagged nodes are read exactly as with the default schema, at the same cost.
 */
const anyTag = (kind: "scalar" | "sequence" | "mapping") =>
  new Type("", {
    kind,
    multi: true,
    resolve: (_data: unknown, tag?: string) => !STANDARD_TAGS.has(tag ?? ""),
    construct: kind === "scalar" ? (data: unknown) => data ?? "" : (data: unknown) => data,
  });
// The scalar type first: an empty tagged node (no kind) takes the first multi type of its kind list.
export const SCHEMA = DEFAULT_SCHEMA.extend([anyTag("scalar"), anyTag("sequence"), anyTag("mapping")]);
/** The schema's implicit types (null, bool, int, float, timestamp, merge), in the order js-yaml tries them. */
export const IMPLICIT = (SCHEMA as unknown as { compiledImplicit: Implicit }).compiledImplicit;

/** go-yaml's anchor and alias names: ASCII letters, digits, '_' and '-'; any other character ends the name. */
const GO_NAME = /^[A-Za-z0-9_-]+/;
const GO_NAME_CHAR = /^[A-Za-z0-9_-]$/;
const UNIDENTIFIED_ALIAS = /^unidentified alias "(.*)"$/s;
/** Glued aliases fixed per document at most (each fix is one more parse of the document). */
const MAX_ALIAS_FIXES = 100;

type Reloaded = { value: unknown } | { error: YAMLException; line: number; column: number };

/**
 * Called only when js-yaml has failed on a document. go-yaml (Flux) reads `*app:` as the alias `app`
 * then `:` (`*app:` used as a mapping key), where js-yaml (like YAML 1.2) reads the alias `app:` and
 * fails with "unidentified alias". For each such failure where `&app` is defined before it, a space
 * goes between the alias and the colon and the document is parsed again: lines do not move, and the
 * column of an error found later is given back in the original text. Otherwise the error is the
 * first one, with its position as js-yaml gave it.
 */
function reloadGluedAliases(body: string, options: LoadOptions, first: YAMLException): Reloaded {
  // Offsets as js-yaml counts them (it drops a leading BOM).
  let src = body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  let spaces: number[] = [];
  let error = first;
  for (let n = 0; n < MAX_ALIAS_FIXES; n++) {
    const at = gluedAlias(src, error);
    if (at === -1) break;
    src = `${src.slice(0, at)} ${src.slice(at)}`;
    spaces = spaces.map((s) => (s >= at ? s + 1 : s));
    spaces.push(at);
    try {
      return { value: loadYaml(src, options) };
    } catch (e) {
      if (!(e instanceof YAMLException)) throw e;
      error = e;
    }
  }
  const mark = error.mark as YAMLException["mark"] | undefined;
  const line = mark?.line ?? 0;
  let column = mark?.column ?? 0;
  if (mark && spaces.length > 0) {
    const lineStart = mark.position - mark.column;
    for (const s of spaces) if (s >= lineStart && s < mark.position) column--;
  }
  return { error, line, column };
}

/** Where a space makes go-yaml's reading of the alias that `error` rejects, or -1. */
function gluedAlias(src: string, error: YAMLException): number {
  const m = UNIDENTIFIED_ALIAS.exec(error.reason);
  const mark = error.mark as YAMLException["mark"] | undefined;
  if (!m || !mark) return -1;
  const name = m[1] as string;
  const goName = GO_NAME.exec(name)?.[0];
  if (!goName || name.charCodeAt(goName.length) !== 58 /* : */) return -1;
  // js-yaml stops right after the alias it could not resolve.
  const star = mark.position - name.length - 1;
  if (star < 0 || src.charCodeAt(star) !== 42 /* * */ || !src.startsWith(name, star + 1)) return -1;
  const anchor = new RegExp(`(?:^|[\\s\\[{,])&${goName}(?=[\\s,\\[\\]{}]|$)`);
  return anchor.test(src.slice(0, star)) ? star + 1 + goName.length : -1;
}

function asObject(doc: YamlDoc): K8sObject | undefined {
  const v = doc.value;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const body = v as Record<string, unknown>;
  if (typeof body.kind !== "string" || typeof body.apiVersion !== "string") return undefined;
  const meta = (body.metadata ?? {}) as Record<string, unknown>;
  const name = typeof meta.name === "string" ? meta.name : "";
  const namespace = typeof meta.namespace === "string" ? meta.namespace : undefined;
  return { apiVersion: body.apiVersion, kind: body.kind, name, namespace, body, doc };
}

/** Safe nested read: get(obj, "spec", "csi", "volumeHandle"). */
export function get(value: unknown, ...keys: (string | number)[]): unknown {
  let cur = value;
  for (const k of keys) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

export function str(value: unknown, ...keys: (string | number)[]): string | undefined {
  const v = get(value, ...keys);
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
}

/** The `yaml` package (CommonJS) is needed only to locate findings: loaded on first use, not at start-up. */
let yamlLib: typeof Yaml | undefined;
const yaml = (): typeof Yaml => (yamlLib ??= createRequire(import.meta.url)("yaml") as typeof Yaml);

type Located = { docs: ReturnType<typeof Yaml.parseAllDocuments>; lc: Yaml.LineCounter };
/** Per scan (files may change between scans in one process), per file: the CST parse used by `locate`. */
const located = new WeakMap<RepoScan, Map<string, Located>>();

/**
 * The `yaml` package reads unknown tags with a warning, but `*app:` as the alias `app:` (with a
 * BAD_ALIAS warning) and then a broken mapping: as in parseYamlText, a space between go-yaml's alias
 * name and the colon, and one more parse (lines do not move). Never throws: no documents at worst.
 */
function parseToLocate(text: string): Located {
  const { LineCounter, parseAllDocuments } = yaml();
  let lc = new LineCounter();
  try {
    let docs = parseAllDocuments(text, { lineCounter: lc });
    const at: number[] = [];
    for (const d of Array.isArray(docs) ? docs : [])
      for (const w of d.warnings) {
        // The warning points at the colon; go-yaml's name must reach back to the '*'.
        const colon = w.pos[0];
        if (w.code !== "BAD_ALIAS" || text.charCodeAt(colon) !== 58) continue;
        let i = colon;
        while (i > 0 && GO_NAME_CHAR.test(text.charAt(i - 1))) i--;
        if (i < colon && i > 0 && text.charCodeAt(i - 1) === 42) at.push(colon);
      }
    if (at.length > 0) {
      let fixed = text;
      for (const colon of at.sort((a, b) => b - a)) fixed = `${fixed.slice(0, colon)} ${fixed.slice(colon)}`;
      lc = new LineCounter();
      docs = parseAllDocuments(fixed, { lineCounter: lc });
    }
    return { docs, lc };
  } catch {
    return { docs: [], lc };
  }
}

/**
 * 1-based line of the node at `keys` inside a document, parsed again with the `yaml` CST on demand.
 * Falls back to the document's line when the path does not exist.
 */
export function locate(scan: RepoScan, doc: YamlDoc, keys: (string | number)[]): number {
  const text = scan.texts.get(doc.file);
  if (text === undefined) return doc.line;
  let perScan = located.get(scan);
  if (!perScan) {
    perScan = new Map();
    located.set(scan, perScan);
  }
  const { isAlias, isMap, isSeq } = yaml();
  let entry = perScan.get(doc.file);
  if (!entry) {
    entry = parseToLocate(text);
    perScan.set(doc.file, entry);
  }
  const docs = Array.isArray(entry.docs) ? entry.docs : [];
  // Match on the first content line: comment-only documents are counted differently by the two parsers.
  const lc = entry.lc;
  const target =
    docs.find((d) => d.contents?.range && lc.linePos(d.contents.range[0]).line === doc.line) ?? docs[doc.index];
  if (!target?.contents) return doc.line;
  let node: Yaml.Node | null | undefined = target.contents as Yaml.Node;
  let best = doc.line;
  for (const k of keys) {
    if (isMap(node)) {
      const keyOf = (key: unknown) => (isAlias(key) ? key.resolve(target) : key) as { value?: unknown } | null;
      const pair = node.items.find((p) => keyOf(p.key)?.value === k);
      if (!pair) break;
      const keyNode = pair.key as Yaml.Node;
      if (keyNode?.range) best = entry.lc.linePos(keyNode.range[0]).line;
      node = pair.value as Yaml.Node;
    } else if (isSeq(node) && typeof k === "number") {
      node = node.items[k] as Yaml.Node;
      if (node?.range) best = entry.lc.linePos(node.range[0]).line;
    } else break;
  }
  return best;
}
