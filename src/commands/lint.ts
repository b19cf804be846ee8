import { Command, Option } from "@commander-js/extra-typings";
import { type Ctx, version } from "../cli.ts";
import { formatKubeVersion } from "../core/names.ts";
import { describeStated, FINDINGS_FORMATS } from "../core/rules/types.ts";
import { EXIT_OK, EXIT_PROBLEM, EXIT_USAGE } from "../errors.ts";
import type { KubeVersionLookup } from "../gitops/kube-version.ts";
import { kubeVersionFlag, loadRepo, repoOption } from "./shared.ts";

export function lintCommand(ctx: Ctx) {
  return new Command("lint")
    .description(
      "check the shared-repository setup of a GitOps checkout offline: volume, binding, delivery, paths, identities, permissions, admission, Flux substitution",
    )
    .addOption(repoOption())
    .addOption(
      new Option("-o, --output <format>", `output format: ${FINDINGS_FORMATS.join(", ")}`)
        .choices(FINDINGS_FORMATS)
        .default("text" as const),
    )
    .option(
      "--kubernetes-version <1.NN>",
      "the cluster's Kubernetes minor version, for version-dependent rules (default: kubernetesVersion in kopiashare.yaml, else what the repository states: Talos talconfig.yaml/talenv.yaml, a Talos machine config, a tuppr KubernetesUpgrade or system-upgrade-controller Plan; none when those disagree)",
    )
    .option("--strict", "exit 1 on warnings too")
    .addHelpText(
      "after",
      `
Examples:
  kopiashare lint                                  # the enclosing checkout, text report
  kopiashare lint --repo ~/home-ops --kubernetes-version 1.34
  kopiashare lint -o github                        # annotations in a GitHub Actions job
  kopiashare lint -o sarif > kopiashare.sarif      # upload with github/codeql-action/upload-sarif
  kopiashare lint -o json | jq '.findings[] | select(.severity == "error")'
  kopiashare lint --strict                         # CI gate: warnings fail too

Exit codes: 0 no errors (warnings allowed unless --strict), 1 errors (or warnings with --strict),
2 usage error, or a path that could not be read (lint still reports on the rest). Reads only; never writes and never needs a network. Rules: docs/rules.md`,
    )
    .action(async (opts) => {
      // The lint code loads while the repository is read.
      const [{ root, conventions, scan }, { lintScan }, { summarize }, { renderFindings }] = await Promise.all([
        loadRepo(ctx, opts.repo),
        import("../gitops/lint.ts"),
        import("../core/rules/index.ts"),
        import("../output/findings.ts"),
      ]);
      const flag = kubeVersionFlag(opts.kubernetesVersion, conventions);
      const result = lintScan(scan, conventions, flag);
      const stated = result.kubernetesVersion.stated;
      const format = opts.output;
      if (format === "text") ctx.say(kubeVersionLine(result.kubernetesVersion));
      ctx.io.stdout.write(
        renderFindings(format, result.findings, ctx.colors("stdout"), {
          repo: opts.repo ?? root,
          version: version(),
          kubernetesVersion: stated ? formatKubeVersion(stated.version) : undefined,
          kubernetesVersionSource: stated?.source,
          files: result.files,
        }),
      );
      const s = summarize(result.findings);
      if (format !== "text") {
        ctx.say(`kopiashare lint: ${s.errors} error(s), ${s.warnings} warning(s), ${s.infos} info`);
      }
      ctx.exitCode = s.errors > 0 || (opts.strict && s.warnings > 0) ? EXIT_PROBLEM : EXIT_OK;
      // a path it could not read means lint did not see the whole repository: never a success
      const unread = scan.issues.filter((i) => i.kind === "unreadable");
      if (unread.length > 0) {
        ctx.say(`error: lint could not read ${unread.length} path(s); it checked the rest:`);
        for (const i of unread) ctx.say(`  ${i.message}`);
        ctx.exitCode = EXIT_USAGE;
      }
    });
}

const VERSION_RULES = "admission/api-version and volume/old-kubernetes";

/** The stderr line of a text report: which version the rules used and where it was stated, or why none. */
export function kubeVersionLine(k: KubeVersionLookup): string {
  if (k.stated) {
    const from = k.stated.source === "flag" ? "--kubernetes-version" : k.stated.source;
    return `kubernetes version ${formatKubeVersion(k.stated.version)} (from ${from})`;
  }
  if (k.conflict) {
    return `kubernetes version unknown: the repository states ${describeStated(k.statements)}; ${VERSION_RULES} report info at most (pass --kubernetes-version 1.NN)`;
  }
  return `kubernetes version unknown (nothing in the repository states it): ${VERSION_RULES} are not checked (pass --kubernetes-version 1.NN)`;
}
