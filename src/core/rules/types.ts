/** Findings and rules: pure functions over the model, each finding with file:line, what, why and fix. */
import type { Conventions } from "../config.ts";
import type { DocRef, Loc, ModelObject, RepoModel } from "../model.ts";
import type { KubeVersion } from "../names.ts";

export type Severity = "error" | "warning" | "info";

/** How findings can be printed (output/findings.ts); here so that the CLI can offer them without loading the rules. */
export type FindingsFormat = "text" | "json" | "github" | "sarif";
export const FINDINGS_FORMATS: readonly FindingsFormat[] = ["text", "json", "github", "sarif"];

export const SEVERITIES: readonly Severity[] = ["error", "warning", "info"];

export interface Finding {
  /** Stable rule id, e.g. "path/mismatch"; documented in docs/rules.md. */
  rule: string;
  severity: Severity;
  /** Repo-relative file, '/'-separated. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column, when known (parse errors). */
  col?: number;
  /** What the finding is about, e.g. "PersistentVolume kopia-repository-pv-media". */
  subject: string;
  what: string;
  why: string;
  fix: string;
}

export interface RuleMeta {
  id: string;
  /** Severity of most findings (some rules downgrade or upgrade a case, and say so in docs/rules.md). */
  severity: Severity;
  /** One line, for SARIF and headings. */
  title: string;
  /** Why it matters (the default `why` of findings). */
  why: string;
}

export { formatKubeVersion, parseKubeVersion } from "../names.ts";
export type { KubeVersion };

export interface RuleContext {
  model: RepoModel;
  conventions: Conventions;
  /** From --kubernetes-version or kopiashare.yaml; undefined when unknown (version rules stay silent). */
  kubernetesVersion: KubeVersion | undefined;
  /** 1-based line of the node at `keys` in a document (falls back to the document's line). */
  at(doc: DocRef, keys: (string | number)[]): number;
}

export interface Rule {
  meta: RuleMeta;
  check(ctx: RuleContext): Finding[];
}

/** Builds findings for one rule with its default why and severity. */
export function reporter(meta: RuleMeta) {
  return (
    loc: Loc,
    subject: string,
    what: string,
    fix: string,
    opts: { severity?: Severity; why?: string; col?: number } = {},
  ): Finding => {
    const f: Finding = {
      rule: meta.id,
      severity: opts.severity ?? meta.severity,
      file: loc.file,
      line: loc.line,
      subject,
      what,
      why: opts.why ?? meta.why,
      fix,
    };
    if (opts.col !== undefined) f.col = opts.col;
    return f;
  };
}

/** The location of a key path inside an object's document. */
export function where(ctx: RuleContext, o: ModelObject | { doc: DocRef }, keys: (string | number)[] = []): Loc {
  return { file: o.doc.file, line: keys.length === 0 ? o.doc.line : ctx.at(o.doc, keys) };
}

/** -1, 0, 1 comparing v with major.minor. */
export function compareKube(v: KubeVersion, major: number, minor: number): number {
  if (v.major !== major) return v.major < major ? -1 : 1;
  return v.minor === minor ? 0 : v.minor < minor ? -1 : 1;
}

/** Key for de-duplicating one place delivered several times (a component rendered per app). */
export function placeKey(loc: Loc, ...parts: string[]): string {
  return [loc.file, loc.line, ...parts].join("\0");
}

/** A place in a document, located lazily (finding lines need a second parse; most places never become findings). */
export interface At {
  doc: DocRef;
  keys: (string | number)[];
}

export const atKey = (a: At, ...parts: string[]) => [a.doc.file, a.doc.index, a.keys.join("/"), ...parts].join("\0");

export function resolve(ctx: RuleContext, a: At): Loc {
  return { file: a.doc.file, line: a.keys.length === 0 ? a.doc.line : ctx.at(a.doc, a.keys) };
}
