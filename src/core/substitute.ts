/**
 * Flux `postBuild` variable substitution, as kustomize-controller performs it (fluxcd/pkg/envsubst):
 * only the `${...}` form is replaced (`$VAR` is left alone), `$${VAR}` is an escape for a literal
 * `${VAR}`, and these operators are understood, with defaults that may nest (`${A:=${B:=x}}`):
 *
 *   ${VAR}            the value; with no value and no default Flux >= 2.9 fails (strict substitution)
 *   ${VAR:=d} ${VAR:-d}  d when VAR is unset or empty
 *   ${VAR=d}  ${VAR-d}   d when VAR is unset
 *   ${VAR^^} ${VAR,,} ${VAR^} ${VAR,}  case changes; ${#VAR} length
 *
 * Pure string work: no Kubernetes knowledge here. Variables are a map of name -> value, where
 * `null` means "defined, but the value is not known offline" (e.g. a SOPS-encrypted Secret); an
 * expression using such a variable is left in the output as written and marked unknown.
 */

export type Vars = ReadonlyMap<string, string | null>;

export interface VarUse {
  name: string;
  /** How the expression got its value. */
  how: "value" | "default" | "missing" | "unknown";
  /** The value it produced ("" when missing). */
  value: string;
  /** The expression as written, e.g. "${NAMESPACE:-default}". */
  expr: string;
}

export interface SubstResult {
  text: string;
  uses: VarUse[];
  /** Some expression used a variable whose value is not known offline: `text` keeps it as written. */
  unknown: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Index of the `}` closing the `${` whose `{` is at `open`, honouring nested `${...}`; -1 if none. */
function closingBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 123) depth++;
    else if (ch === 125) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

// A string is compiled once into literal parts and expressions; evaluating it per Kustomization is
// then concatenation only (a component rendered for thousands of apps is not re-parsed each time).

interface Expr {
  expr: string;
  name: string;
  /** "", ":=", ":-", "=", "-", "^^", ",,", "^", ",", "#" (length), "?" (other operators). */
  op: string;
  def: Template | undefined;
  /** With a default that is plain text: its "default" use, shared by every evaluation that records it. */
  defaultUse: VarUse | undefined;
}

type Template = (string | Expr)[];

const compiled = new Map<string, Template>();
/** Uses that `run` shares between evaluations (plain defaults): their occurrences can be shared too. */
const sharedUses = new WeakSet<VarUse>();

function compile(text: string): Template {
  let t = compiled.get(text);
  if (t) return t;
  t = [];
  let lit = "";
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf("$", i);
    if (at === -1) {
      lit += text.slice(i);
      break;
    }
    lit += text.slice(i, at);
    const next = text[at + 1];
    if (next === "$") {
      // `$$` is a literal `$` (so `$${VAR}` stays `${VAR}` for a shell script).
      lit += "$";
      i = at + 2;
      continue;
    }
    if (next !== "{") {
      lit += "$";
      i = at + 1;
      continue;
    }
    const close = closingBrace(text, at + 1);
    if (close === -1) {
      lit += text.slice(at);
      break;
    }
    const expr = text.slice(at, close + 1);
    const inner = text.slice(at + 2, close);
    let e: Expr | undefined;
    if (inner.startsWith("#")) e = { expr, name: inner.slice(1), op: "#", def: undefined, defaultUse: undefined };
    else {
      const m = NAME.exec(inner);
      if (m) {
        const name = m[0];
        const rest = inner.slice(name.length);
        const d = /^(:=|:-|=|-)([\s\S]*)$/.exec(rest);
        if (d) {
          const def = compile(d[2] as string);
          const plain = def.every((x) => typeof x === "string");
          const defaultUse: VarUse | undefined = plain
            ? { name, how: "default", value: def.join(""), expr }
            : undefined;
          if (defaultUse) sharedUses.add(defaultUse);
          e = { expr, name, op: d[1] as string, def, defaultUse };
        } else {
          const op = ["", "^^", ",,", "^", ","].includes(rest) ? rest : "?";
          e = { expr, name, op, def: undefined, defaultUse: undefined };
        }
      }
    }
    if (e) {
      if (lit) t.push(lit);
      lit = "";
      t.push(e);
    } else lit += expr;
    i = close + 1;
  }
  if (lit) t.push(lit);
  compiled.set(text, t);
  return t;
}

/** Set by `run`: the last evaluation used a variable whose value is not known offline. */
let runUnknown = false;

/**
 * Evaluates a compiled string. `uses` collects how each expression got its value; with `notable`,
 * expressions that simply took a set value are not recorded (no allocation on the common path).
 */
function run(t: Template, vars: Vars, uses: VarUse[], notable = false): string {
  let out = "";
  let unknown = false;
  for (let i = 0; i < t.length; i++) {
    const seg = t[i] as string | Expr;
    if (typeof seg === "string") {
      out += seg;
      continue;
    }
    const v = vars.get(seg.name);
    if (v === null) {
      uses.push({ name: seg.name, how: "unknown", value: seg.expr, expr: seg.expr });
      out += seg.expr;
      unknown = true;
      continue;
    }
    if (seg.def) {
      const colon = seg.op.charCodeAt(0) === 58; /* ':' */
      if (v !== undefined && !(colon && v === "")) {
        if (!notable) uses.push({ name: seg.name, how: "value", value: v, expr: seg.expr });
        out += v;
        continue;
      }
      const d = run(seg.def, vars, uses, notable);
      if (runUnknown) unknown = true;
      // Notable uses end up in the model, one per object copy: a plain default's use is shared.
      uses.push(
        notable && seg.defaultUse ? seg.defaultUse : { name: seg.name, how: "default", value: d, expr: seg.expr },
      );
      out += d;
      continue;
    }
    if (v === undefined) {
      uses.push({ name: seg.name, how: "missing", value: "", expr: seg.expr });
      if (seg.op === "#") out += "0";
      continue;
    }
    if (!notable) uses.push({ name: seg.name, how: "value", value: v, expr: seg.expr });
    switch (seg.op) {
      case "":
        out += v;
        break;
      case "^^":
        out += v.toUpperCase();
        break;
      case ",,":
        out += v.toLowerCase();
        break;
      case "^":
        out += v.charAt(0).toUpperCase() + v.slice(1);
        break;
      case ",":
        out += v.charAt(0).toLowerCase() + v.slice(1);
        break;
      case "#":
        out += String(v.length);
        break;
      default:
        // substring and pattern operators (not needed by any rule: the value is close enough)
        out += v;
    }
  }
  runUnknown = unknown;
  return out;
}

/** Substitutes every `${...}` in `text`. */
export function substitute(text: string, vars: Vars): SubstResult {
  const uses: VarUse[] = [];
  if (!text.includes("$")) return { text, uses, unknown: false };
  const out = run(compile(text), vars, uses);
  return { text: out, uses, unknown: runUnknown };
}

/** True when `text` has a `${` that substitution would touch (not counting `$${` escapes). */
export function hasVariables(text: string): boolean {
  let i = text.indexOf("${");
  while (i !== -1) {
    if (i === 0 || text[i - 1] !== "$") return true;
    i = text.indexOf("${", i + 2);
  }
  return false;
}

/** Names referenced by `${...}` expressions in `text` (nested defaults included). */
export function variableNames(text: string): string[] {
  const uses: VarUse[] = [];
  run(compile(text), new Map(), uses);
  return [...new Set(uses.map((u) => u.name))];
}

export interface Occurrence {
  /** Key path to the string (keys and sequence indexes). Shared between results: do not mutate. */
  path: (string | number)[];
  use: VarUse;
}

export interface TreeResult {
  /** The substituted value; the input itself when nothing was substituted (never mutated). */
  value: unknown;
  changed: boolean;
  /** Each expression substituted (with record "notable": only those that did not take a set value). */
  occurrences: Occurrence[];
}

/** A string of a tree that substitution touches, found once per tree. */
interface Hole {
  path: (string | number)[];
  tpl: Template;
  /** The string is one expression: a number/boolean result is read back as such. */
  whole: boolean;
  /** The occurrence of each shared use (a plain default) at this hole, made once. */
  shared: Map<VarUse, Occurrence> | undefined;
}

/**
 * The objects and arrays on the paths to a tree's holes, as a tree of their own (keys in walk order):
 * substitution visits only these and copies an object only when something below it changes.
 */
interface Branch {
  keys: (string | number)[];
  /** Per key: the hole there, or the branch below it. */
  next: (Hole | Branch)[];
  /** The keys of the (always the same) object this branch copies, listed on its first copy. */
  own: string[] | undefined;
}

interface Holes {
  root: Branch;
  /** Some object is reached along two paths (YAML aliases): each gets one copy, shared the same way. */
  aliased: boolean;
}

const holeCache = new WeakMap<object, Holes | null>();

/** The strings with `$` in a tree; null when a map key has one (then the tree is walked each time). */
function holesOf(value: object): Holes | null {
  const cached = holeCache.get(value);
  if (cached !== undefined) return cached;
  const holes: Hole[] = [];
  let keyed = false;
  let aliased = false;
  const seen = new Set<object>();
  const stack: (string | number)[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") {
      if (v.includes("$") && (v.includes("${") || v.includes("$$"))) {
        const tpl = compile(v);
        holes.push({
          path: stack.slice(),
          tpl,
          whole: tpl.length === 1 && typeof tpl[0] !== "string" && v.startsWith("${"),
          shared: undefined,
        });
      }
      return;
    }
    if (v === null || typeof v !== "object") return;
    if (seen.has(v)) aliased = true;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        stack.push(i);
        walk(v[i]);
        stack.pop();
      }
      return;
    }
    for (const key of Object.keys(v)) {
      if (key.includes("$")) keyed = true;
      stack.push(key);
      walk((v as Record<string, unknown>)[key]);
      stack.pop();
    }
  };
  walk(value);
  let out: Holes | null = null;
  if (!keyed) {
    const root: Branch = { keys: [], next: [], own: undefined };
    for (const h of holes) {
      let b = root;
      for (let i = 0; i < h.path.length - 1; i++) {
        const key = h.path[i] as string | number;
        // Holes come in walk order, so only a branch's last key can lead to the next hole too.
        const last = b.keys.length - 1;
        const below = b.next[last];
        if (last >= 0 && b.keys[last] === key && below && !("tpl" in below)) b = below;
        else {
          const child: Branch = { keys: [], next: [], own: undefined };
          b.keys.push(key);
          b.next.push(child);
          b = child;
        }
      }
      b.keys.push(h.path[h.path.length - 1] as string | number);
      b.next.push(h);
    }
    out = { root, aliased };
  }
  holeCache.set(value, out);
  return out;
}

/**
 * Plain objects (prototype Object.prototype, constructor Object) whose hidden classes do not grow from
 * the one shared by every `{}`: V8 caps the shapes that can grow from one class (about 1,500 first keys),
 * and a large repository exhausts that cap (maps keyed by app names), after which each copy of a parsed
 * object got a hidden class of its own: more memory, and every later read of it slow.
 */
const PlainObject = function PlainObject() {} as unknown as new () => Record<string, unknown>;
PlainObject.prototype = Object.prototype;

/** A shallow copy (see PlainObject) of the object a branch copies; keys in the same order. */
function clone(v: unknown, b: Branch): Record<string | number, unknown> {
  if (Array.isArray(v)) return v.slice() as unknown as Record<number, unknown>;
  const src = v as Record<string, unknown>;
  const out = new PlainObject();
  b.own ??= Object.keys(src);
  for (const k of b.own) {
    // js-yaml keeps a `__proto__` key as an own property: so must the copy (an assignment would set the prototype).
    if (k === "__proto__")
      Object.defineProperty(out, k, { value: src[k], enumerable: true, writable: true, configurable: true });
    else out[k] = src[k];
  }
  return out;
}

/**
 * Substitutes every string (and map key) in a parsed YAML tree, copying only what changes.
 * Flux substitutes the serialized YAML, so a scalar that was only `${...}` and becomes a number or
 * boolean is read back as one: that is reproduced for whole-value expressions.
 */
export function substituteTree(value: unknown, vars: Vars, record: "all" | "notable" = "all"): TreeResult {
  if (typeof value === "string") {
    if (!value.includes("$")) return { value, changed: false, occurrences: NO_OCCURRENCES };
    const st = fillState(vars, record, undefined);
    const hole: Hole = { path: [], tpl: compile(value), whole: value.startsWith("${"), shared: undefined };
    const next = fill(hole, st);
    return { value: next, changed: next !== value, occurrences: occurrencesOf(st) };
  }
  if (value === null || typeof value !== "object") return { value, changed: false, occurrences: [] };
  const holes = holesOf(value);
  if (holes === null) return walkTree(value, vars);
  if (holes.root.keys.length === 0) return { value, changed: false, occurrences: NO_OCCURRENCES };
  const st = fillState(vars, record, holes.aliased ? new Map() : undefined);
  const out = applyBranch(value, holes.root, st);
  return { value: out, changed: out !== value, occurrences: occurrencesOf(st) };
}

const NO_OCCURRENCES: Occurrence[] = [];

interface FillState {
  vars: Vars;
  /** Record only expressions that did not take a set value (defaults, missing, unknown). */
  notable: boolean;
  uses: VarUse[];
  occurrences: Occurrence[];
  /** With aliases: the copy made of each object, to reuse wherever the object appears again. */
  copies: Map<unknown, Record<string | number, unknown>> | undefined;
}

// One evaluation at a time (nothing here calls out): the scratch lists are reused.
const scratchUses: VarUse[] = [];
const scratchOccurrences: Occurrence[] = [];

function fillState(vars: Vars, record: "all" | "notable", copies: FillState["copies"]): FillState {
  // (Setting an array's length is a runtime call even when it is already 0: only when needed.)
  if (scratchOccurrences.length > 0) scratchOccurrences.length = 0;
  return { vars, notable: record === "notable", uses: scratchUses, occurrences: scratchOccurrences, copies };
}

/** The occurrences collected, in a list of their own (exactly sized: the model keeps one per object copy). */
function occurrencesOf(st: FillState): Occurrence[] {
  return st.occurrences.length === 0 ? NO_OCCURRENCES : st.occurrences.slice();
}

/** The value of one hole; records its uses. */
function fill(h: Hole, st: FillState): unknown {
  const uses = st.uses;
  if (uses.length > 0) uses.length = 0;
  const text = run(h.tpl, st.vars, uses, st.notable);
  const unknown = runUnknown;
  for (const use of uses) {
    let occ = h.shared?.get(use);
    if (!occ) {
      occ = { path: h.path, use };
      if (sharedUses.has(use)) {
        h.shared ??= new Map();
        h.shared.set(use, occ);
      }
    }
    st.occurrences.push(occ);
  }
  if (!unknown && h.whole) {
    if (/^-?(0|[1-9][0-9]*)$/.test(text)) return Number(text);
    if (text === "true" || text === "false") return text === "true";
  }
  return text;
}

/** Substitutes the holes below one object or array; a copy of it when something changed, else itself. */
function applyBranch(src: unknown, b: Branch, st: FillState): unknown {
  const from = src as Record<string | number, unknown>;
  let copy: Record<string | number, unknown> | undefined;
  for (let i = 0; i < b.keys.length; i++) {
    const key = b.keys[i] as string | number;
    const orig = from[key];
    const n = b.next[i] as Hole | Branch;
    const next = "tpl" in n ? fill(n, st) : applyBranch(orig, n, st);
    if (next === orig) continue;
    if (!copy) {
      copy = st.copies?.get(src);
      if (!copy) {
        copy = clone(src, b);
        st.copies?.set(src, copy);
      }
    }
    copy[key] = next;
  }
  return copy ?? src;
}

/** The general walk (a map key contains `$`): copies what changes, substitutes keys too. */
function walkTree(value: unknown, vars: Vars): TreeResult {
  const occurrences: Occurrence[] = [];
  const stack: (string | number)[] = [];
  const str = (v: string): unknown => {
    if (!v.includes("$")) return v;
    const uses: VarUse[] = [];
    const tpl = compile(v);
    const text = run(tpl, vars, uses);
    for (const use of uses) occurrences.push({ path: stack.slice(), use });
    if (!runUnknown && tpl.length === 1 && typeof tpl[0] !== "string" && v.startsWith("${")) {
      if (/^-?(0|[1-9][0-9]*)$/.test(text)) return Number(text);
      if (text === "true" || text === "false") return text === "true";
    }
    return text;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return str(v);
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const item = v[i];
        stack.push(i);
        const next = walk(item);
        stack.pop();
        if (next !== item) {
          copy ??= v.slice();
          copy[i] = next;
        }
      }
      return copy ?? v;
    }
    const obj = v as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    const keys = Object.keys(obj);
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as string;
      const item = obj[key];
      stack.push(key);
      const newKey = key.includes("$") ? String(str(key)) : key;
      const next = walk(item);
      stack.pop();
      if (!copy && (next !== item || newKey !== key)) {
        copy = {};
        for (let j = 0; j < k; j++) copy[keys[j] as string] = obj[keys[j] as string];
      }
      if (copy) copy[newKey] = next;
    }
    return copy ?? v;
  };
  const out = walk(value);
  return { value: out, changed: out !== value, occurrences };
}
