/**
 * Generates the rules table at the top of docs/rules.md from the rule registry (RULES in
 * src/core/rules/index.ts): id (linked to its section), severity (with the rule's severityNote), the
 * transports it is about and its title. Only the region between the rules-table markers is written; the sections are hand-written,
 * and every rule id must have exactly one `## <id>` section (and every such section a rule).
 *
 * It also writes the doctor checks table of docs/commands.md (between the doctor-checks markers) from the
 * check registry (CHECKS in src/core/doctor.ts, plus `--probe`'s check), and the table of the checks'
 * former flat ids (between the doctor-renames markers).
 *
 *   npm run docs              # rewrite the table in docs/rules.md
 *   npm run docs -- --check   # exit 1 when docs/rules.md is not what this would write
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CHECKS, type CheckDef, PROBE_CHECK } from "../src/core/doctor.ts";
import { RULES, ruleAnchor } from "../src/core/rules/index.ts";
import { ALL_TRANSPORTS, type Rule, type RuleTransport } from "../src/core/rules/types.ts";

export const RULES_MD = path.resolve(import.meta.dirname, "..", "docs", "rules.md");
export const TABLE_START = "<!-- rules-table:start -->";
export const TABLE_END = "<!-- rules-table:end -->";
export const COMMANDS_MD = path.resolve(import.meta.dirname, "..", "docs", "commands.md");
export const CHECKS_START = "<!-- doctor-checks:start -->";
export const CHECKS_END = "<!-- doctor-checks:end -->";
export const RENAMES_START = "<!-- doctor-renames:start -->";
export const RENAMES_END = "<!-- doctor-renames:end -->";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

/** The markdown table, one row per rule in registry order. */
/** "any" when a rule holds whatever the transport, else the transports it is about. */
function transportsCell(transports: readonly RuleTransport[]): string {
  return ALL_TRANSPORTS.every((t) => transports.includes(t)) ? "any" : transports.join(", ");
}

export function rulesTable(rules: readonly Rule[] = RULES, doctor = checksByRule()): string {
  const rows = rules.map(({ meta }) => {
    const severity = meta.severityNote ? `${meta.severity} (${meta.severityNote})` : meta.severity;
    const live = (doctor.get(meta.id) ?? []).map((id) => `[\`${id}\`](commands.md#doctor)`).join(", ") || "—";
    return `| [\`${meta.id}\`](#${ruleAnchor(meta.id)}) | ${cell(severity)} | ${transportsCell(meta.transports)} | ${cell(meta.title)} | ${live} |`;
  });
  return ["| id | severity | transports | checks | doctor check |", "|---|---|---|---|---|", ...rows].join("\n");
}

/** `text` with the region between two markers replaced by `table`. */
function between(text: string, file: string, startMark: string, endMark: string, table: string): string {
  const start = text.indexOf(startMark);
  const end = text.indexOf(endMark);
  if (start < 0 || end < start) throw new Error(`${file} needs the markers ${startMark} and ${endMark}, in that order`);
  return `${text.slice(0, start + startMark.length)}\n${table}\n${text.slice(end)}`;
}

/** docs/rules.md with the region between the markers replaced by the generated table. */
export function generate(text: string, rules: readonly Rule[] = RULES): string {
  return between(text, "docs/rules.md", TABLE_START, TABLE_END, rulesTable(rules));
}

type DocCheck = Pick<CheckDef, "meta" | "doc" | "lint">;
const ALL_CHECKS: readonly DocCheck[] = [...CHECKS, PROBE_CHECK];

/** The doctor checks table of docs/commands.md: every check of the registry, then `--probe`'s. */
export function checksTable(checks: readonly DocCheck[] = ALL_CHECKS): string {
  const rows = checks.map((c) => {
    const lint = (c.lint ?? []).map((id) => `[\`${id}\`](rules.md#${ruleAnchor(id)})`).join(", ") || "—";
    const cells = [c.doc.checks, c.meta.why, c.doc.warn, c.doc.fail, c.doc.fix].map(cell);
    return `| \`${c.meta.id}\` | ${cells.join(" | ")} | ${lint} |`;
  });
  return [
    "| id | what it checks | why it matters | Warn when | Fail when | fix | lint rule |",
    "|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** The former flat id of every check that had one and its grouped id, in registry order. */
export function renamesTable(checks: readonly DocCheck[] = ALL_CHECKS): string {
  const rows = checks.flatMap((c) => (c.meta.formerly ? [`| \`${c.meta.formerly}\` | \`${c.meta.id}\` |`] : []));
  return ["| before | now |", "|---|---|", ...rows].join("\n");
}

/** Doctor checks (ids) that look for the problem of each lint rule, from the checks' `lint` lists. */
export function checksByRule(checks: readonly DocCheck[] = ALL_CHECKS): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of checks) for (const id of c.lint ?? []) out.set(id, [...(out.get(id) ?? []), c.meta.id]);
  return out;
}

/** docs/commands.md with its doctor checks table and the table of former ids generated from the registry. */
export function generateCommands(text: string): string {
  const checks = between(text, "docs/commands.md", CHECKS_START, CHECKS_END, checksTable());
  return between(checks, "docs/commands.md", RENAMES_START, RENAMES_END, renamesTable());
}

/** Rule ids of the `## <group>/<name>` headings, in document order (headings in code blocks excluded). */
export function ruleSections(text: string): string[] {
  const ids: string[] = [];
  let fence = false;
  for (const line of text.split("\n")) {
    if (/^(```|~~~)/.test(line)) fence = !fence;
    const m = !fence && /^## +(\S+\/\S+)\s*$/.exec(line);
    if (m) ids.push(m[1] as string);
  }
  return ids;
}

/** What is wrong between the registry and the sections of docs/rules.md (empty when they agree). */
export function sectionProblems(text: string, rules: readonly Rule[] = RULES): string[] {
  const ids = rules.map((r) => r.meta.id);
  const sections = ruleSections(text);
  const problems: string[] = [];
  for (const id of ids) {
    const n = sections.filter((s) => s === id).length;
    if (n === 0) problems.push(`rule ${id} has no "## ${id}" section in docs/rules.md`);
    if (n > 1) problems.push(`rule ${id} has ${n} "## ${id}" sections in docs/rules.md`);
  }
  for (const s of new Set(sections)) {
    if (!ids.includes(s)) problems.push(`section "## ${s}" of docs/rules.md names no rule in RULES`);
  }
  return problems;
}

if (import.meta.filename === process.argv[1]) {
  const check = process.argv.includes("--check");
  const text = readFileSync(RULES_MD, "utf8");
  const want = generate(text);
  const problems = sectionProblems(want);
  for (const p of problems) process.stderr.write(`${p}\n`);
  const commands = readFileSync(COMMANDS_MD, "utf8");
  const wantCommands = generateCommands(commands);
  if (check) {
    if (want !== text) process.stderr.write("docs/rules.md: the rules table is out of date: npm run docs\n");
    if (wantCommands !== commands)
      process.stderr.write("docs/commands.md: the doctor checks tables are out of date: npm run docs\n");
    process.exitCode = want !== text || wantCommands !== commands || problems.length ? 1 : 0;
  } else {
    if (want !== text) writeFileSync(RULES_MD, want);
    if (wantCommands !== commands) writeFileSync(COMMANDS_MD, wantCommands);
    process.stdout.write(`docs/rules.md: rules table ${want === text ? "up to date" : "written"}\n`);
    process.stdout.write(
      `docs/commands.md: doctor checks tables ${wantCommands === commands ? "up to date" : "written"}\n`,
    );
    process.exitCode = problems.length ? 1 : 0;
  }
}
