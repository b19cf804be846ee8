/**
 * Byte-preserving edits of a kustomize `kustomization.yaml` list (`resources`, `components`), and the
 * text-splicing primitives every YAML edit of kopiashare uses (app.ts edits Flux Kustomizations with them).
 * A file is parsed with the `yaml` CST only to find positions; the edit itself splices text, so
 * comments, blank lines, quoting and sequence indentation of every other line stay exactly as they were.
 */
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Pair,
  parseAllDocuments,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import { usageError } from "../errors.ts";

// ---------------------------------------------------------------------------------------------------
// Splicing primitives
// ---------------------------------------------------------------------------------------------------

type Range = [number, number, number];

/** "./a/", "a" and "./a" name the same entry (of a kustomization list or of spec.components). */
export function sameEntry(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/^\.\//, "").replace(/\/+$/, "");
  return norm(a) === norm(b);
}

/** Offset of the first character of the line holding `pos`. */
export function lineStart(text: string, pos: number): number {
  return text.lastIndexOf("\n", pos - 1) + 1;
}

/** Offset just after the newline that ends the line holding `pos` (the text's end on the last line). */
export function lineEnd(text: string, pos: number): number {
  const i = text.indexOf("\n", pos);
  return i === -1 ? text.length : i + 1;
}

/** The file's own block-sequence indentation relative to its key (2 for "  - ", 0 for "- "), from its first block sequence; default 2. */
export function seqIndent(text: string): number {
  const m = /^( *)[^\s#-][^\n]*:[ \t]*(#[^\n]*)?\n(?:[ \t]*(?:#[^\n]*)?\n)*( *)- /m.exec(text);
  if (!m) return 2;
  return Math.max(0, (m[3] as string).length - (m[1] as string).length);
}

/** Every document of `text`; the first parse error is a usage error with file:line:col (nothing is written). */
export function parseDocs(text: string, file: string): Document.Parsed[] {
  const docs = parseAllDocuments(text, { lineCounter: new LineCounter() });
  const list = Array.isArray(docs) ? docs : [];
  for (const d of list) {
    const err = d.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      throw usageError(
        `${file}:${pos?.line ?? 1}:${pos?.col ?? 1}: not valid YAML: ${err.message.split("\n")[0]}`,
        "fix the file (or restore it from git) and run the command again; nothing was written",
      );
    }
  }
  return list;
}

/** Appends `item` (raw text, e.g. "a" or "k: v") to a flow sequence `[…]` or flow mapping `{…}`. */
export function appendToFlow(text: string, node: YAMLSeq | YAMLMap, item: string): string {
  const close = text.lastIndexOf(isSeq(node) ? "]" : "}", (node.range as Range)[1]);
  const last = node.items[node.items.length - 1] as unknown;
  if (last === undefined) return `${text.slice(0, close)}${item}${text.slice(close)}`;
  const lastNode = isSeq(node) ? last : ((last as Pair).value ?? (last as Pair).key);
  const end = ((lastNode as { range: Range }).range as Range)[1];
  return `${text.slice(0, end)}, ${item}${text.slice(end)}`;
}

// ---------------------------------------------------------------------------------------------------
// kustomization.yaml lists
// ---------------------------------------------------------------------------------------------------

export type ListKey = "resources" | "components";

interface Located {
  doc: Document.Parsed;
  pair: Pair | undefined;
}

function locateList(text: string, file: string, key: ListKey): Located {
  const list = parseDocs(text, file);
  const doc = list.find((d) => isMap(d.contents) && (d.contents.get("kind") as unknown) === "Kustomization") ?? list[0];
  if (!doc) return { doc: undefined as unknown as Document.Parsed, pair: undefined };
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw usageError(`${file}: expected a mapping (a kustomization), found ${doc.contents.constructor.name}`);
  }
  const pair = isMap(doc.contents) ? doc.contents.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
  return { doc, pair };
}

/** Entries of `key` as written. */
export function listEntries(text: string, file: string, key: ListKey = "resources"): string[] {
  const { pair } = locateList(text, file, key);
  if (!pair || !isSeq(pair.value)) return [];
  return pair.value.items.map((i) => (isScalar(i) ? String(i.value) : "")).filter((s) => s !== "");
}

function quoteLike(sample: string | undefined, entry: string): string {
  if (sample === '"' || sample === "'") return `${sample}${entry}${sample}`;
  return entry;
}

/** Adds `entry` to the list (at its end), creating the key when missing. Returns the text unchanged if present. */
export function addEntry(text: string, file: string, entry: string, key: ListKey = "resources"): string {
  const { doc, pair } = locateList(text, file, key);
  if (pair && isSeq(pair.value) && pair.value.items.some((i) => isScalar(i) && sameEntry(String(i.value), entry))) {
    return text;
  }
  if (!doc || !pair) {
    const body = `${key}:\n${" ".repeat(seqIndent(text))}- ${entry}\n`;
    if (!doc) return text === "" ? body : `${text.endsWith("\n") ? text : `${text}\n`}${body}`;
    const end = (doc.contents?.range?.[2] ?? text.length) as number;
    const at = end > 0 && text[end - 1] !== "\n" ? lineEnd(text, end) : end;
    const prefix = at > 0 && text[at - 1] !== "\n" ? "\n" : "";
    return text.slice(0, at) + prefix + body + text.slice(at);
  }
  const value = pair.value;
  if (isSeq(value) && value.flow) return appendToFlow(text, value, entry);
  if (isSeq(value) && value.items.length > 0) {
    const last = value.items[value.items.length - 1] as { range: [number, number, number] };
    const first = value.items[0] as { range: [number, number, number] };
    const start = lineStart(text, last.range[0]);
    const prefix = text.slice(start, last.range[0]);
    const at = lineEnd(text, last.range[1]);
    const nl = at === text.length && !text.endsWith("\n") ? "\n" : "";
    return `${text.slice(0, at)}${nl}${prefix}${quoteLike(text[first.range[0]], entry)}\n${text.slice(at)}`;
  }
  // `resources:` with no value (null): put the first item on the next line.
  const keyNode = pair.key as { range: [number, number, number] };
  const keyIndent = keyNode.range[0] - lineStart(text, keyNode.range[0]);
  const at = lineEnd(text, keyNode.range[1]);
  const nl = at === text.length && !text.endsWith("\n") ? "\n" : "";
  return `${text.slice(0, at)}${nl}${" ".repeat(keyIndent + seqIndent(text))}- ${entry}\n${text.slice(at)}`;
}

/** Removes `entry` from the list; the key stays (as `[]` when it was the last entry). Unchanged if absent. */
export function removeEntry(text: string, file: string, entry: string, key: ListKey = "resources"): string {
  const { pair } = locateList(text, file, key);
  if (!pair || !isSeq(pair.value)) return text;
  const seq = pair.value;
  const idx = seq.items.findIndex((i) => isScalar(i) && sameEntry(String(i.value), entry));
  if (idx === -1) return text;
  const item = seq.items[idx] as { range: [number, number, number] };
  if (seq.flow) {
    const prev = idx > 0 ? (seq.items[idx - 1] as { range: [number, number, number] }) : undefined;
    const next = seq.items[idx + 1] as { range: [number, number, number] } | undefined;
    if (prev) return text.slice(0, prev.range[1]) + text.slice(item.range[1]);
    if (next) return text.slice(0, item.range[0]) + text.slice(next.range[0]);
    return text.slice(0, item.range[0]) + text.slice(item.range[1]);
  }
  const from = lineStart(text, item.range[0]);
  const to = lineEnd(text, item.range[1]);
  let out = text.slice(0, from) + text.slice(to);
  if (seq.items.length === 1) {
    const keyNode = pair.key as { range: [number, number, number] };
    const colon = text.indexOf(":", keyNode.range[1]);
    out = `${out.slice(0, colon + 1)} []${out.slice(colon + 1)}`;
  }
  return out;
}
