/** lint over a checkout: scan once, build the model, find the cluster's version, run the rules with a locator for nested fields. */
import type { Conventions } from "../core/config.ts";
import type { DocRef, RepoModel } from "../core/model.ts";
import { type Finding, type KubeVersion, type LintOptions, runRules } from "../core/rules/index.ts";
import { resolveDelivery } from "./delivery.ts";
import { type KubeVersionLookup, lookupKubernetesVersion } from "./kube-version.ts";
import { locate, type RepoScan } from "./scan.ts";

export interface LintResult {
  root: string;
  model: RepoModel;
  findings: Finding[];
  /** YAML files read. */
  files: number;
  /** The Kubernetes version the rules used, and where it was stated (or why none was). */
  kubernetesVersion: KubeVersionLookup;
}

/**
 * `flag` is --kubernetes-version; without it the version comes from kopiashare.yaml, else from what the
 * repository states (gitops/kube-version.ts). Statements that disagree are passed to the rules as
 * candidates, which they may mention as info only.
 */
export function lintScan(scan: RepoScan, c: Conventions, flag: KubeVersion | undefined): LintResult {
  const prepared = prepareLint(scan, c, flag);
  return lintResult(scan, prepared, runRules(prepared.model, c, prepared.opts));
}

/** What the rules run on: the model, the cluster's version and the rules' options (a locator in `scan`). */
export interface PreparedLint {
  model: RepoModel;
  kube: KubeVersionLookup;
  opts: LintOptions;
}

/** lintScan before the rules: the same on both threads of gitops/lint-parallel.ts. */
export function prepareLint(scan: RepoScan, c: Conventions, flag: KubeVersion | undefined): PreparedLint {
  const model = resolveDelivery(scan, c);
  const kube = lookupKubernetesVersion({ flag, config: c.kubernetesVersion, scan, model });
  const at = (doc: DocRef, keys: (string | number)[]) =>
    locate(scan, { file: doc.file, index: doc.index, line: doc.line, value: undefined }, keys);
  const opts: LintOptions = {
    kubernetesVersion: kube.stated?.version,
    kubernetesVersionCandidates: kube.conflict ? kube.statements : [],
    at,
  };
  return { model, kube, opts };
}

export function lintResult(scan: RepoScan, p: PreparedLint, findings: Finding[]): LintResult {
  return { root: scan.root, model: p.model, findings, files: scan.texts.size, kubernetesVersion: p.kube };
}
