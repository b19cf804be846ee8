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
export const VALID_VAR_NAME = /^[_A-Za-z][_A-Za-z0-9]*$/;

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
}

type Template = (string | Expr)[];

const compiled = new Map<string, Template>();

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
    if (inner.startsWith("#")) e = { expr, name: inner.slice(1), op: "#", def: undefined };
    else {
      const m = NAME.exec(inner);
      if (m) {
        const name = m[0];
        const rest = inner.slice(name.length);
        const d = /^(:=|:-|=|-)([\s\S]*)$/.exec(rest);
        if (d) e = { expr, name, op: d[1] as string, def: compile(d[2] as string) };
        else e = { expr, name, op: ["", "^^", ",,", "^", ","].includes(rest) ? rest : "?", def: undefined };
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
      uses.push({ name: seg.name, how: "default", value: d, expr: seg.expr });
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
}

const holeCache = new WeakMap<object, Hole[] | null>();

/** The strings with `$` in a tree; null when a map key has one (then the tree is walked each time). */
function holesOf(value: object): Hole[] | null {
  const cached = holeCache.get(value);
  if (cached !== undefined) return cached;
  const holes: Hole[] = [];
  let keyed = false;
  const stack: (string | number)[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") {
      if (v.includes("$") && (v.includes("${") || v.includes("$$"))) {
        const tpl = compile(v);
        holes.push({
          path: stack.slice(),
          tpl,
          whole: tpl.length === 1 && typeof tpl[0] !== "string" && v.startsWith("${"),
        });
      }
      return;
    }
    if (v === null || typeof v !== "object") return;
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
  const out = keyed ? null : holes;
  holeCache.set(value, out);
  return out;
}

const clone = (v: unknown): Record<string | number, unknown> =>
  (Array.isArray(v) ? v.slice() : { ...(v as Record<string, unknown>) }) as Record<string | number, unknown>;

/**
 * Substitutes every string (and map key) in a parsed YAML tree, copying only what changes.
 * Flux substitutes the serialized YAML, so a scalar that was only `${...}` and becomes a number or
 * boolean is read back as one: that is reproduced for whole-value expressions.
 */
export function substituteTree(value: unknown, vars: Vars, record: "all" | "notable" = "all"): TreeResult {
  if (typeof value === "string") {
    const holes: Hole[] = value.includes("$") ? [{ path: [], tpl: compile(value), whole: value.startsWith("${") }] : [];
    return applyHoles(value, holes, vars, record);
  }
  if (value === null || typeof value !== "object") return { value, changed: false, occurrences: [] };
  const holes = holesOf(value);
  if (holes === null) return walkTree(value, vars);
  return applyHoles(value, holes, vars, record);
}

const NO_OCCURRENCES: Occurrence[] = [];

/** record "notable": only expressions that did not take a set value (defaults, missing, unknown). */
function applyHoles(value: unknown, holes: Hole[], vars: Vars, record: "all" | "notable"): TreeResult {
  let occurrences = NO_OCCURRENCES;
  if (holes.length === 0) return { value, changed: false, occurrences };
  let root: unknown = value;
  const clones = new Map<unknown, Record<string | number, unknown>>();
  const uses: VarUse[] = [];
  const notable = record === "notable";
  for (const h of holes) {
    uses.length = 0;
    const text = run(h.tpl, vars, uses, notable);
    const unknown = runUnknown;
    for (const use of uses) {
      if (occurrences === NO_OCCURRENCES) occurrences = [];
      occurrences.push({ path: h.path, use });
    }
    let next: unknown = text;
    if (!unknown && h.whole) {
      if (/^-?(0|[1-9][0-9]*)$/.test(text)) next = Number(text);
      else if (text === "true" || text === "false") next = text === "true";
    }
    let orig: unknown = value;
    for (let i = 0; i < h.path.length; i++) orig = (orig as Record<string | number, unknown>)[h.path[i] as string];
    if (next === orig) continue;
    if (h.path.length === 0) {
      root = next;
      continue;
    }
    let src: unknown = value;
    let cur = clones.get(value);
    if (!cur) {
      cur = clone(value);
      clones.set(value, cur);
      root = cur;
    }
    for (let i = 0; i < h.path.length - 1; i++) {
      const key = h.path[i] as string | number;
      const child = (src as Record<string | number, unknown>)[key];
      let copy = clones.get(child);
      if (!copy) {
        copy = clone(child);
        clones.set(child, copy);
      }
      cur[key] = copy;
      cur = copy;
      src = child;
    }
    cur[h.path[h.path.length - 1] as string | number] = next;
  }
  return { value: root, changed: root !== value, occurrences };
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
