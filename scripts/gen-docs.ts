/**
 * Generates the rules table at the top of docs/rules.md from the rule registry (RULES in
 * src/core/rules/index.ts): id (linked to its section), severity (with the rule's severityNote), the
 * transports it is about and its title. Only the region between the rules-table markers is written; the sections are hand-written,
 * and every rule id must have exactly one `## <id>` section (and every such section a rule).
 *
 *   npm run docs              # rewrite the table in docs/rules.md
 *   npm run docs -- --check   # exit 1 when docs/rules.md is not what this would write
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { RULES, ruleAnchor } from "../src/core/rules/index.ts";
import { ALL_TRANSPORTS, type Rule, type RuleTransport } from "../src/core/rules/types.ts";

export const RULES_MD = path.resolve(import.meta.dirname, "..", "docs", "rules.md");
export const TABLE_START = "<!-- rules-table:start -->";
export const TABLE_END = "<!-- rules-table:end -->";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

/** The markdown table, one row per rule in registry order. */
/** "any" when a rule holds whatever the transport, else the transports it is about. */
function transportsCell(transports: readonly RuleTransport[]): string {
  return ALL_TRANSPORTS.every((t) => transports.includes(t)) ? "any" : transports.join(", ");
}

export function rulesTable(rules: readonly Rule[] = RULES): string {
  const rows = rules.map(({ meta }) => {
    const severity = meta.severityNote ? `${meta.severity} (${meta.severityNote})` : meta.severity;
    return `| [\`${meta.id}\`](#${ruleAnchor(meta.id)}) | ${cell(severity)} | ${transportsCell(meta.transports)} | ${cell(meta.title)} |`;
  });
  return ["| id | severity | transports | checks |", "|---|---|---|---|", ...rows].join("\n");
}

/** docs/rules.md with the region between the markers replaced by the generated table. */
export function generate(text: string, rules: readonly Rule[] = RULES): string {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) {
    throw new Error(`docs/rules.md needs the markers ${TABLE_START} and ${TABLE_END}, in that order`);
  }
  const before = text.slice(0, start + TABLE_START.length);
  const rest = text.slice(end);
  return `${before}\n${rulesTable(rules)}\n${rest}`;
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
  if (check) {
    if (want !== text) process.stderr.write("docs/rules.md: the rules table is out of date: npm run docs\n");
    process.exitCode = want !== text || problems.length ? 1 : 0;
  } else {
    if (want !== text) writeFileSync(RULES_MD, want);
    process.stdout.write(`docs/rules.md: rules table ${want === text ? "up to date" : "written"}\n`);
    process.exitCode = problems.length ? 1 : 0;
  }
}
