/**
 * A fast path for the plain YAML most manifests are written in: block mappings and sequences of
 * one-line scalars. `parseLite` reads a document that uses nothing else and gives exactly the value
 * js-yaml gives; for anything else it gives `NOT_LITE` and the caller parses the document with js-yaml
 * (which then also reports any error, with its position). It never accepts a document js-yaml rejects.
 *
 * Read here: ASCII text without tabs or carriage returns; `key: value`, `key:` with a nested block
 * (or a sequence at the key's own indentation), `- item` and `- key: value` items; plain scalars on one
 * line (typed by js-yaml's own implicit types: null, bool, int, float, timestamp), single-quoted and
 * double-quoted scalars on one line (double-quoted without escapes), `[]` and `{}`, comments.
 * Left to js-yaml: block scalars (`|`, `>`), flow collections with content, anchors, aliases, tags,
 * multi-line scalars, explicit keys, merge keys, keys that are not strings, duplicate keys, directives.
 */
/** The result for a document the fast path does not read. */
export const NOT_LITE: unique symbol = Symbol("not lite");

/** Anything outside printable ASCII and newline (tabs, CR, a BOM, control and non-ASCII characters). */
const OUTSIDE = /[^\x20-\x7e\n]/;
/** Nesting deeper than this is left to js-yaml (it enforces its own maximum depth). */
const MAX_DEPTH = 64;
const MERGE = "tag:yaml.org,2002:merge";
const TIMESTAMP = "tag:yaml.org,2002:timestamp";

/**
 * The objects of parsed mappings: plain objects (prototype Object.prototype, constructor Object) whose
 * hidden classes grow from their own root, not from the one every `{}` of the program grows from (the
 * modules that load while the scan parses changed those classes and made the optimised parser
 * deoptimise).
 */
const Mapping = function Mapping() {} as unknown as new () => Record<string, unknown>;
Mapping.prototype = Object.prototype;

/** Thrown (and caught in parseLite) when the document leaves the subset. */
const NOT = new Error("not lite");

/** The implicit types of the schema, in js-yaml's order (null, bool, int, float, timestamp, merge). */
export type Implicit = readonly { tag: string; resolve(data: string): boolean; construct(data: string): unknown }[];

/**
 * Reads `src` (one document, as scan.ts splits a file) with the schema's implicit types `implicit`;
 * NOT_LITE when it uses anything the fast path leaves to js-yaml.
 */
export function parseLite(src: string, implicit: Implicit): unknown {
  if (OUTSIDE.test(src)) return NOT_LITE;
  try {
    return new LiteParser(src, implicit).document();
  } catch (e) {
    if (e === NOT) return NOT_LITE;
    throw e;
  }
}

/** How a one-line plain scalar ends (see `plainEnd`). */
const AT_EOL = 0;
const AT_COMMENT = 1;
const AT_COLON = 2;

class LiteParser {
  /** Start of the current line, its indentation (-1 past the last line) and its end (newline or text end). */
  private pos = 0;
  private indent = 0;
  private end = 0;
  private depth = 0;
  /** Set by plainEnd: how the scalar ended, and the end of its text (trailing spaces excluded). */
  private stop = AT_EOL;
  private textEnd = 0;
  /** Set by key: the offset just after the key's colon. */
  private colon = 0;
  /** Set by quoted: the offset just after the closing quote. */
  private next = 0;

  constructor(
    private readonly src: string,
    private readonly implicit: Implicit,
  ) {}

  document(): unknown {
    this.line(0);
    if (!this.content() && !this.nextContent()) throw NOT;
    const at = this.pos + this.indent;
    // js-yaml takes `---` at the start of a document as its marker even when no space follows (`---# x`).
    if (this.indent === 0 && this.src.startsWith("---", at)) throw NOT;
    const value = this.isDash(at) ? this.sequence(this.indent) : this.mapping(this.indent, -1);
    if (this.indent !== -1) throw NOT; // content after the top-level node: js-yaml fails on it
    return value;
  }

  /** Moves to the line starting at `pos`. */
  private line(pos: number): void {
    const src = this.src;
    this.pos = pos;
    let i = pos;
    // Bounded reads only: one past the end makes optimised code deoptimise.
    while (i < src.length && src.charCodeAt(i) === 32) i++;
    this.indent = i - pos;
    const nl = src.indexOf("\n", i);
    this.end = nl === -1 ? src.length : nl;
  }

  /** The current line holds something other than spaces and a comment. */
  private content(): boolean {
    const at = this.pos + this.indent;
    return at < this.end && this.src.charCodeAt(at) !== 35 /* # */;
  }

  /** Moves to the next line with content; false (and indent -1) at the end of the text. */
  private nextContent(): boolean {
    while (this.end < this.src.length) {
      this.line(this.end + 1);
      if (this.content()) return true;
    }
    this.pos = this.end = this.src.length;
    this.indent = -1;
    return false;
  }

  /** A sequence entry indicator: `-` followed by a space or the end of the line. */
  private isDash(at: number): boolean {
    return this.src.charCodeAt(at) === 45 && (at + 1 >= this.end || this.src.charCodeAt(at + 1) === 32);
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw NOT;
  }

  /**
   * A block mapping with its keys at column `indent`; `first` >= 0: its first key starts there mid-line
   * (`- key: value`), else at the current line. Leaves the parser on the first content line after it.
   */
  private mapping(indent: number, first: number): Record<string, unknown> {
    this.enter();
    const out = new Mapping();
    let at = first >= 0 ? first : this.pos + this.indent;
    for (;;) {
      const key = this.key(at);
      if (Object.hasOwn(out, key)) throw NOT; // js-yaml: duplicated mapping key
      out[key] = this.valueAfter(this.colon, indent, false);
      if (this.indent < indent) break;
      if (this.indent > indent) throw NOT; // js-yaml: bad indentation of a mapping entry
      at = this.pos + this.indent;
      if (this.isDash(at)) {
        if (first >= 0) break; // the next item of the sequence this mapping is an item of
        throw NOT;
      }
    }
    this.depth--;
    return out;
  }

  /** The key starting at `at`, up to its `:` (which must be followed by a space or the line's end). */
  private key(at: number): string {
    const src = this.src;
    const c = src.charCodeAt(at);
    let key: string;
    let colon: number;
    if (c === 39 /* ' */ || c === 34 /* " */) {
      key = this.quoted(at);
      colon = this.next;
      while (src.charCodeAt(colon) === 32) colon++;
      if (colon >= this.end || src.charCodeAt(colon) !== 58) throw NOT;
      if (colon + 1 < this.end && src.charCodeAt(colon + 1) !== 32) throw NOT;
    } else {
      if (!plainStart(src, at, this.end)) throw NOT;
      colon = this.plainEnd(at);
      if (this.stop !== AT_COLON) throw NOT;
      const v = this.plain(sharedText(src, at, this.textEnd));
      if (typeof v !== "string") throw NOT; // js-yaml turns other keys into strings (1.0 -> "1")
      key = v;
    }
    if (key === "__proto__") throw NOT;
    this.colon = colon + 1;
    return key;
  }

  /**
   * The value after an indicator (a mapping's colon, a sequence's dash) ending at `from` on the current
   * line, for a node whose entries are at column `indent`; leaves the parser on the next content line.
   * `inSeq`: a sequence item (where a compact `key: value` mapping may start).
   */
  private valueAfter(from: number, indent: number, inSeq: boolean): unknown {
    const src = this.src;
    let i = from;
    while (i < this.end && src.charCodeAt(i) === 32) i++;
    if (i >= this.end || src.charCodeAt(i) === 35 /* # */) {
      // Nothing more on this line: a nested block, or (a mapping value) a sequence at the key's column.
      if (!this.nextContent()) return null;
      const dash = this.isDash(this.pos + this.indent);
      if (this.indent > indent) return dash ? this.sequence(this.indent) : this.mapping(this.indent, -1);
      if (this.indent === indent && dash && !inSeq) return this.sequence(this.indent);
      return null;
    }
    if (inSeq) {
      if (this.isDash(i)) throw NOT; // `- - a`
      if (this.startsMapping(i)) return this.mapping(i - this.pos, i);
    }
    const value = this.scalar(i);
    // A more indented line after a one-line value: a continuation (a multi-line scalar) or an error.
    if (this.nextContent() && this.indent > indent) throw NOT;
    return value;
  }

  /** Does a `key:` (plain or quoted) start at `at`? */
  private startsMapping(at: number): boolean {
    const src = this.src;
    const c = src.charCodeAt(at);
    if (c === 39 || c === 34) {
      this.quoted(at);
      let j = this.next;
      while (src.charCodeAt(j) === 32) j++;
      return j < this.end && src.charCodeAt(j) === 58;
    }
    if (!plainStart(src, at, this.end)) return false;
    this.plainEnd(at);
    return this.stop === AT_COLON;
  }

  /** A block sequence with its dashes at column `indent`, starting at the current line. */
  private sequence(indent: number): unknown[] {
    this.enter();
    const out: unknown[] = [];
    for (;;) {
      out.push(this.valueAfter(this.pos + this.indent + 1, indent, true));
      if (this.indent < indent) break;
      if (this.indent === indent && !this.isDash(this.pos + this.indent)) break; // a key of the enclosing mapping
      if (this.indent > indent) throw NOT; // js-yaml: bad indentation of a sequence entry
    }
    this.depth--;
    return out;
  }

  /** A one-line scalar (plain, quoted, `[]` or `{}`) at `at`; after it only a comment may follow. */
  private scalar(at: number): unknown {
    const src = this.src;
    const c = src.charCodeAt(at);
    let value: unknown;
    let next: number;
    if (c === 39 || c === 34) {
      value = this.quoted(at);
      next = this.next;
    } else if (
      at + 1 < this.end &&
      ((c === 91 /* [ */ && src.charCodeAt(at + 1) === 93) || (c === 123 /* { */ && src.charCodeAt(at + 1) === 125))
    ) {
      value = c === 91 ? [] : {};
      next = at + 2;
    } else {
      if (!plainStart(src, at, this.end)) throw NOT;
      this.plainEnd(at);
      if (this.stop === AT_COLON) throw NOT; // `a: b: c`: a mapping where a scalar must be
      const e = this.textEnd;
      return this.plain(e - at <= SHARED_VALUE_MAX ? sharedText(src, at, e) : src.slice(at, e));
    }
    while (next < this.end && src.charCodeAt(next) === 32) next++;
    if (next < this.end && !(src.charCodeAt(next) === 35 && src.charCodeAt(next - 1) === 32)) throw NOT;
    return value;
  }

  /**
   * Where a one-line plain scalar at `at` ends, as js-yaml's readPlainScalar reads it outside flow
   * collections: at `: ` (or `:` at the line's end), at ` #`, or at the line's end. Sets `stop` and
   * `textEnd` (trailing spaces excluded); returns the offset where it stopped.
   */
  private plainEnd(at: number): number {
    const src = this.src;
    const end = this.end;
    let last = at;
    let i = at;
    for (; i < end; i++) {
      const c = src.charCodeAt(i);
      if (c === 58 /* : */) {
        if (i + 1 >= end || src.charCodeAt(i + 1) === 32) {
          this.stop = AT_COLON;
          this.textEnd = last;
          return i;
        }
      } else if (c === 35 /* # */ && src.charCodeAt(i - 1) === 32) {
        this.stop = AT_COMMENT;
        this.textEnd = last;
        return i;
      }
      if (c !== 32) last = i + 1;
    }
    this.stop = AT_EOL;
    this.textEnd = last;
    return i;
  }

  /** A quoted scalar on one line at `at` (double-quoted only without escapes); sets `next`. */
  private quoted(at: number): string {
    const src = this.src;
    if (src.charCodeAt(at) === 34) {
      const close = src.indexOf('"', at + 1);
      if (close === -1 || close >= this.end) throw NOT;
      const value = src.slice(at + 1, close);
      if (value.includes("\\")) throw NOT;
      this.next = close + 1;
      return value;
    }
    let value = "";
    let from = at + 1;
    for (;;) {
      const close = src.indexOf("'", from);
      if (close === -1 || close >= this.end) throw NOT;
      if (close + 1 < this.end && src.charCodeAt(close + 1) === 39) {
        // '' is one quote
        value += src.slice(from, close + 1);
        from = close + 2;
        continue;
      }
      value += src.slice(from, close);
      this.next = close + 1;
      return value;
    }
  }

  /** A plain scalar's value: the first of js-yaml's implicit types that resolves it, else the string. */
  private plain(text: string): unknown {
    const c = text.charCodeAt(0) | 32;
    // Of the implicit types only null, true and false start with a letter (n, t, f in either case).
    if (c >= 97 && c <= 122 && c !== 110 && c !== 116 && c !== 102) return text;
    for (const type of this.implicit) {
      // Both of js-yaml's timestamp patterns start with YYYY-: skip its two regular expressions otherwise.
      if (type.tag === TIMESTAMP && (text.length < 5 || text.charCodeAt(4) !== 45)) continue;
      if (type.resolve(text)) {
        if (type.tag === MERGE) throw NOT;
        return type.construct(text);
      }
    }
    return text;
  }
}

/**
 * Plain texts seen before, by length and first character. Nearly everything a scan parses survives,
 * so every string is copied by the young-generation collector on its way to the old one; manifests
 * repeat a small vocabulary of keys (apiVersion, metadata, name, ...) and many short values (v1,
 * flux-system, ReadWriteMany, ...), which are shared instead of allocated again for each document.
 */
const TEXTS = new Map<number, string[]>();
const TEXTS_PER_BUCKET = 8;
/** Longer plain values (names, paths, handles) rarely repeat: not looked up. */
const SHARED_VALUE_MAX = 64;

function sharedText(src: string, at: number, end: number): string {
  const bucket = ((end - at) << 7) | src.charCodeAt(at);
  const list = TEXTS.get(bucket);
  if (list) for (const t of list) if (src.startsWith(t, at)) return t;
  const t = src.slice(at, end);
  if (!list) TEXTS.set(bucket, [t]);
  else if (list.length < TEXTS_PER_BUCKET) list.push(t);
  return t;
}

/** Can a plain scalar start at `at`? Not at an indicator; `-`, `?` and `:` only before a non-space. */
function plainStart(src: string, at: number, end: number): boolean {
  switch (src.charCodeAt(at)) {
    case 32:
    case 44: // ,
    case 91: // [
    case 93: // ]
    case 123: // {
    case 125: // }
    case 35: // #
    case 38: // &
    case 42: // *
    case 33: // !
    case 124: // |
    case 62: // >
    case 39: // '
    case 34: // "
    case 37: // %
    case 64: // @
    case 96: // `
      return false;
    case 63: // ?
    case 45: // -
    case 58: // :
      return at + 1 < end && src.charCodeAt(at + 1) !== 32;
    default:
      return true;
  }
}
