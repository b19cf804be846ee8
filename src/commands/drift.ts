import { Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import type { DriftReport } from "../core/drift.ts";
import { CliError, EXIT_PROBLEM, EXIT_UNCHECKED } from "../errors.ts";
import {
  allNamespacesOption,
  checkKubeFlags,
  connectKube,
  contextOption,
  kubeconfigOption,
  liveOutputOption,
  namespaceOption,
  requestTimeoutOption,
  retryBudgetOption,
  scopeOf,
  table,
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
        if (opts.output === "json") {
          ctx.io.stdout.write(`${JSON.stringify({ repo: scan.root, server: observed.server, ...report }, null, 2)}\n`);
          return;
        }
        printDrift(ctx, report, scan.root, observed.server);
      }),
    );
}

function printDrift(ctx: Ctx, r: DriftReport, root: string, server: string): void {
  const c = ctx.colors("stdout");
  ctx.say(
    `drift: repo ${root} (${r.repoNamespaces.length} namespace(s)) vs ${server} (${r.clusterNamespaces.length} namespace(s))`,
  );
  if (!r.drift) {
    ctx.io.stdout.write("no drift: the cluster has exactly the PVs and PVCs the repo declares\n");
    return;
  }
  const label = (ch: string) =>
    ch === "not-in-repo" ? c.yellow(ch) : ch === "missing-in-cluster" ? c.red(ch) : c.red(ch);
  const rows = r.items.map((i) => [
    i.namespace || "-",
    i.kind === "PersistentVolume" ? `pv/${i.name}` : `pvc/${i.name}`,
    label(i.change),
    i.field ? `${i.field}: repo ${i.repo} ≠ cluster ${i.cluster}` : (i.where ?? ""),
  ]);
  ctx.io.stdout.write(table(["NAMESPACE", "OBJECT", "DRIFT", "DETAIL"], rows));
  ctx.io.stdout.write("\nfixes:\n");
  for (const i of r.items)
    ctx.io.stdout.write(`  ${i.kind === "PersistentVolume" ? "pv" : "pvc"}/${i.name}: ${i.fix}\n`);
  ctx.say(`${r.items.length} difference(s)`);
}
