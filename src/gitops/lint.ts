/** lint over a checkout: scan once, build the model, run the rules with a locator for nested fields. */
import type { Conventions } from "../core/config.ts";
import type { DocRef, RepoModel } from "../core/model.ts";
import { type Finding, type KubeVersion, runRules } from "../core/rules/index.ts";
import { buildModel } from "./model.ts";
import { locate, type RepoScan } from "./scan.ts";

export interface LintResult {
  root: string;
  model: RepoModel;
  findings: Finding[];
  /** YAML files read. */
  files: number;
}

export function lintScan(scan: RepoScan, c: Conventions, kubernetesVersion: KubeVersion | undefined): LintResult {
  const model = buildModel(scan, c);
  const at = (doc: DocRef, keys: (string | number)[]) =>
    locate(scan, { file: doc.file, index: doc.index, line: doc.line, value: undefined }, keys);
  const findings = runRules(model, c, { kubernetesVersion, at });
  return { root: scan.root, model, findings, files: scan.texts.size };
}
