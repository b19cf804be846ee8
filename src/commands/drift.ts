import { Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import { CliError, EXIT_PROBLEM, EXIT_UNCHECKED } from "../errors.ts";
import {
  allNamespacesOption,
  checkKubeFlags,
  connectKube,
  contextOption,
  kubeconfigOption,
  liveOutputOption,
  liveSink,
  namespaceOption,
  requestTimeoutOption,
  retryBudgetOption,
  scopeOf,
  withKube,
} from "./kube-common.ts";
import { loadRepo, repoOption } from "./shared.ts";

export function driftCommand(ctx: Ctx) {
  return new Command("drift")
    .description("compare the PVs and PVCs the GitOps repo declares with the ones in the cluster")
    .addOption(repoOption())
    .addOption(namespaceOption())
    .addOption(allNamespacesOption("every namespace the repo or the cluster has a kopia PV or PVC in"))
    .addOption(liveOutputOption())
    .addOption(kubeconfigOption())
    .addOption(contextOption())
    .addOption(requestTimeoutOption())
    .addOption(retryBudgetOption())
    .addHelpText(
      "after",
      `
Examples:
  kopiashare drift --repo ~/home-ops              # everything, text
  kopiashare drift --repo . -n media              # one namespace
  kopiashare drift --repo . -A                    # every namespace (the default)
  kopiashare drift --repo . -o json | jq '.items[] | select(.change == "differs")'

Reports PVs/PVCs in the cluster the repo does not declare (not-in-repo), declared ones missing in the
cluster (missing-in-cluster), and differing volumeHandle, rootPath, claimRef, volumeName or reclaim
policy (differs), each with the fix. Exit 1 when there is drift, 3 when the cluster could not be
checked (unreachable, 401, timed out, listing PVs or PVCs forbidden), 2 on a usage error.`,
    )
    .action((opts) =>
      withKube(async () => {
        const scope = scopeOf(opts);
        checkKubeFlags(opts);
        const { conventions, scan } = await loadRepo(ctx, opts.repo);
        const [{ resolveDelivery }, { repositoryPairs }, { computeDrift, desiredFromPairs }, { permissionText }] =
          await Promise.all([
            import("../gitops/delivery.ts"),
            import("../core/claims.ts"),
            import("../core/drift.ts"),
            import("../core/live.ts"),
          ]);
        const model = resolveDelivery(scan, conventions);
        const desired = desiredFromPairs(repositoryPairs(model));
        const kube = await connectKube(ctx, opts);
        const { takeSnapshot } = await import("../kube/snapshot.ts");
        const observed = await takeSnapshot(kube, { conventions, depth: "storage" });
        const denied = observed.denied[0];
        if (denied) throw new CliError(`could not check: ${permissionText(denied)}`, EXIT_UNCHECKED);
        const report = computeDrift(desired, observed, conventions, scope);
        if (report.drift) ctx.exitCode = EXIT_PROBLEM;
        const { renderDriftJson, renderDriftText } = await import("../output/checks.ts");
        if (opts.output === "json") ctx.io.stdout.write(renderDriftJson(report, scan.root, observed.server));
        else renderDriftText(liveSink(ctx), report, scan.root, observed.server);
      }),
    );
}
