/** lint over a checkout: scan once, build the model, find the cluster's version, run the rules with a locator for nested fields. */
import type { Conventions } from "../core/config.ts";
import type { DocRef, RepoModel } from "../core/model.ts";
import { type Finding, type KubeVersion, runRules } from "../core/rules/index.ts";
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
  const model = resolveDelivery(scan, c);
  const kube = lookupKubernetesVersion({ flag, config: c.kubernetesVersion, scan, model });
  const at = (doc: DocRef, keys: (string | number)[]) =>
    locate(scan, { file: doc.file, index: doc.index, line: doc.line, value: undefined }, keys);
  const findings = runRules(model, c, {
    kubernetesVersion: kube.stated?.version,
    kubernetesVersionCandidates: kube.conflict ? kube.statements : [],
    at,
  });
  return { root: scan.root, model, findings, files: scan.texts.size, kubernetesVersion: kube };
}
