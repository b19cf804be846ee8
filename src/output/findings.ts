/**
 * Lint findings in four formats:
 * - text: grouped by severity, then rule (why printed once per rule), colours from the injected Colors;
 * - json: { version: 1, tool, repo, kubernetesVersion, kubernetesVersionSource, files, summary, findings[] }
 *   (documented in docs/commands.md);
 * - github: workflow commands `::error file=F,line=L,title=RULE::what ...`;
 * - sarif: SARIF 2.1.0 with every rule (help text, docs link) and results with locations.
 */
import { RULE_META, RULES, ruleAnchor, type Summary, summarize } from "../core/rules/index.ts";
import type { Finding, FindingsFormat, Severity } from "../core/rules/types.ts";
import type { Colors } from "./colors.ts";

export { FINDINGS_FORMATS, type FindingsFormat } from "../core/rules/types.ts";

/** Where each rule is documented, relative to the kopiashare source tree (the project has no published URL yet). */
export const DOCS = "docs/rules.md";

export interface ReportMeta {
  /** Repository root as given by the user (for json), not used in file paths. */
  repo: string;
  version: string;
  kubernetesVersion: string | undefined;
  /** Where kubernetesVersion was stated: "flag", "kopiashare.yaml" or "file:line" (json only). */
  kubernetesVersionSource?: string | undefined;
  files: number;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function summaryLine(s: Summary): string {
  return `${plural(s.errors, "error")}, ${plural(s.warnings, "warning")}, ${s.infos} info`;
}

export function renderText(findings: Finding[], c: Colors, meta: ReportMeta): string {
  const out: string[] = [];
  const paint = (sev: Severity, s: string) =>
    sev === "error" ? c.red(s) : sev === "warning" ? c.yellow(s) : c.cyan(s);
  let lastRule = "";
  for (const f of findings) {
    const group = `${f.severity}\0${f.rule}`;
    if (group !== lastRule) {
      if (lastRule !== "") out.push("");
      lastRule = group;
      const title = RULE_META.get(f.rule)?.title ?? "";
      const count = findings.filter((x) => x.rule === f.rule && x.severity === f.severity).length;
      out.push(
        `${paint(f.severity, c.bold(f.severity))} ${c.bold(f.rule)}${title ? c.dim(` · ${title}`) : ""} (${count})`,
      );
      out.push(`  ${c.dim("why:")} ${f.why}`);
    }
    out.push(`  ${c.bold(`${f.file}:${f.line}${f.col !== undefined ? `:${f.col}` : ""}`)} ${c.dim(f.subject)}`);
    out.push(`    ${f.what}`);
    out.push(`    ${c.green("fix:")} ${f.fix}`);
  }
  const s = summarize(findings);
  if (findings.length > 0) out.push("");
  const line = `${summaryLine(s)} in ${plural(meta.files, "YAML file")}`;
  out.push(s.errors > 0 ? c.red(line) : s.warnings > 0 ? c.yellow(line) : c.green(line));
  return `${out.join("\n")}\n`;
}

export function renderJson(findings: Finding[], meta: ReportMeta): string {
  const doc = {
    version: 1,
    tool: { name: "kopiashare", version: meta.version },
    repo: meta.repo,
    kubernetesVersion: meta.kubernetesVersion ?? null,
    kubernetesVersionSource: meta.kubernetesVersionSource ?? null,
    files: meta.files,
    summary: summarize(findings),
    findings: findings.map((f) => ({
      rule: f.rule,
      severity: f.severity,
      file: f.file,
      line: f.line,
      ...(f.col !== undefined ? { col: f.col } : {}),
      subject: f.subject,
      what: f.what,
      why: f.why,
      fix: f.fix,
      docs: `${DOCS}#${ruleAnchor(f.rule)}`,
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Escaping of workflow command data and properties (actions/toolkit command.ts). */
const escData = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
const escProp = (s: string) => escData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");

export function renderGithub(findings: Finding[]): string {
  const level: Record<Severity, string> = { error: "error", warning: "warning", info: "notice" };
  return findings
    .map((f) => {
      const props = [`file=${escProp(f.file)}`, `line=${f.line}`];
      if (f.col !== undefined) props.push(`col=${f.col}`);
      props.push(`title=${escProp(f.rule)}`);
      return `::${level[f.severity]} ${props.join(",")}::${escData(`${f.subject}: ${f.what}\nwhy: ${f.why}\nfix: ${f.fix}`)}\n`;
    })
    .join("");
}

export function renderSarif(findings: Finding[], meta: ReportMeta): string {
  const level: Record<Severity, string> = { error: "error", warning: "warning", info: "note" };
  const index = new Map(RULES.map((r, i) => [r.meta.id, i]));
  const sarif = {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "kopiashare",
            version: meta.version,
            rules: RULES.map((r) => ({
              id: r.meta.id,
              name: r.meta.id.replace(/[/-](\w)/g, (_m, ch: string) => ch.toUpperCase()),
              shortDescription: { text: r.meta.title },
              fullDescription: { text: r.meta.why },
              help: {
                text: `${r.meta.why}\nA failing example and the fix: kopiashare ${DOCS}#${ruleAnchor(r.meta.id)}`,
                markdown: `${r.meta.why}\n\nA failing example and the fix: kopiashare \`${DOCS}\`, section \`${r.meta.id}\`.`,
              },
              defaultConfiguration: { level: level[r.meta.severity] },
            })),
          },
        },
        originalUriBaseIds: { SRCROOT: { description: { text: "the repository root" } } },
        results: findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: index.get(f.rule) ?? -1,
          level: level[f.severity],
          message: { text: `${f.subject}: ${f.what}\nWhy: ${f.why}\nFix: ${f.fix}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: encodeURI(f.file), uriBaseId: "SRCROOT" },
                region: { startLine: f.line, ...(f.col !== undefined ? { startColumn: f.col } : {}) },
              },
            },
          ],
        })),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

export function renderFindings(format: FindingsFormat, findings: Finding[], c: Colors, meta: ReportMeta): string {
  switch (format) {
    case "json":
      return renderJson(findings, meta);
    case "github":
      return renderGithub(findings);
    case "sarif":
      return renderSarif(findings, meta);
    default:
      return renderText(findings, c, meta);
  }
}
