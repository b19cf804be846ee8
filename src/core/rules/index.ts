/**
 * The rule registry: every rule id, its default severity and its documentation anchor. Ids are stable;
 * docs/rules.md has one section per id (what, why, a failing example, the fix).
 */
import type { Conventions } from "../config.ts";
import type { DocRef, RepoModel } from "../model.ts";
import { admissionRules } from "./admission.ts";
import { bindingRules } from "./binding.ts";
import { deliveryRules } from "./delivery.ts";
import { fluxRules } from "./flux.ts";
import { identityRules } from "./identity.ts";
import { inputRules } from "./input.ts";
import { pathRules } from "./path.ts";
import { permissionRules } from "./permissions.ts";
import { repositoryRules } from "./repository.ts";
import type { Finding, KubeVersion, Rule, RuleMeta, Severity, StatedKubeVersion } from "./types.ts";
import { volumeRules } from "./volume.ts";

export const RULES: readonly Rule[] = [
  ...inputRules,
  ...volumeRules,
  ...bindingRules,
  ...deliveryRules,
  ...pathRules,
  ...identityRules,
  ...repositoryRules,
  ...permissionRules,
  ...admissionRules,
  ...fluxRules,
];

export const RULE_META: ReadonlyMap<string, RuleMeta> = new Map(RULES.map((r) => [r.meta.id, r.meta]));

/** docs/rules.md anchor of a rule id: "path/mismatch" -> "pathmismatch" (GitHub's heading slug). */
export function ruleAnchor(id: string): string {
  return id.toLowerCase().replace(/[^a-z0-9 -]/g, "");
}

const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export interface LintOptions {
  /** Known: stated by the flag, kopiashare.yaml or the repository. */
  kubernetesVersion: KubeVersion | undefined;
  /** The repository's statements when they disagree (kubernetesVersion is then undefined). */
  kubernetesVersionCandidates?: StatedKubeVersion[];
  at(doc: DocRef, keys: (string | number)[]): number;
}

/**
 * Runs every rule. Findings at the same file:line with the same rule and message (one component
 * rendered for several apps) are merged, their subjects joined. Sorted by severity, rule, file, line.
 */
export function runRules(model: RepoModel, conventions: Conventions, opts: LintOptions): Finding[] {
  const ctx = {
    model,
    conventions,
    kubernetesVersion: opts.kubernetesVersion,
    kubernetesVersionCandidates: opts.kubernetesVersionCandidates ?? [],
    at: opts.at,
  };
  const merged = new Map<string, { finding: Finding; subjects: Set<string> }>();
  for (const rule of RULES) {
    for (const f of rule.check(ctx)) {
      const key = [f.rule, f.severity, f.file, f.line, f.what].join("\0");
      const prev = merged.get(key);
      if (!prev) merged.set(key, { finding: f, subjects: new Set([f.subject]) });
      else prev.subjects.add(f.subject);
    }
  }
  const out: Finding[] = [];
  for (const { finding, subjects } of merged.values()) {
    const list = [...subjects];
    finding.subject =
      list.length <= MAX_SUBJECTS
        ? list.join(", ")
        : `${list.slice(0, MAX_SUBJECTS).join(", ")} and ${list.length - MAX_SUBJECTS} more`;
    out.push(finding);
  }
  return sortFindings(out);
}

/** Subjects listed in one merged finding before "and N more". */
const MAX_SUBJECTS = 5;

export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort(
    (a, b) =>
      ORDER[a.severity] - ORDER[b.severity] ||
      (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0) ||
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line,
  );
}

export interface Summary {
  errors: number;
  warnings: number;
  infos: number;
}

export function summarize(findings: Finding[]): Summary {
  return {
    errors: findings.filter((f) => f.severity === "error").length,
    warnings: findings.filter((f) => f.severity === "warning").length,
    infos: findings.filter((f) => f.severity === "info").length,
  };
}

export type { Finding, KubeVersion, Rule, RuleMeta, Severity };
