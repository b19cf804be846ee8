import { Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import { CliError, EXIT_PROBLEM, EXIT_UNCHECKED } from "../errors.ts";
import {
  allNamespacesOption,
  checkKubeFlags,
  connectReader,
  contextOption,
  kubeconfigOption,
  liveConventions,
  liveOutputOption,
  liveSink,
  namespaceOption,
  requestTimeoutOption,
  retryBudgetOption,
  scopeOf,
  withKube,
} from "./kube-common.ts";
import { repoOption } from "./shared.ts";

export function verifyCommand(ctx: Ctx) {
  return new Command("verify")
    .description("check every namespace's PVC kopia and its PV against the shared repository volume (live cluster)")
    .addOption(namespaceOption())
    .addOption(allNamespacesOption())
    .addOption(liveOutputOption())
    .addOption(kubeconfigOption())
    .addOption(contextOption())
    .addOption(requestTimeoutOption())
    .addOption(retryBudgetOption())
    .addOption(repoOption())
    .addHelpText(
      "after",
      `
Examples:
  kopiashare verify                     # every namespace with a PVC kopia or a kopia-repository-pv-* PV
  kopiashare verify -n media            # one namespace (the seed's Step 6)
  kopiashare verify -o json | jq '.namespaces[] | select(.healthy | not)'
  kopiashare verify --context prod --kubeconfig ~/.kube/prod.yaml

Columns: PVC (phase), PV (the PV the claim names), PV PHASE, VOLUME (✓ when the PV's volumeHandle, or
rootPath for static PVs, is the repository PV's), RECLAIM, RESERVED (✓ when spec.claimRef names this claim).
Two LIST requests (without -n also /apis and, where Kopiur is served, its ClusterRepositories, whose
allowed namespaces are in scope too), whatever the number of namespaces. Exit 1 when any namespace is unhealthy
(\`kopiashare doctor\` explains why and prints the fix), 3 when the cluster could not be checked
(unreachable, 401, timed out, listing PVs or PVCs forbidden), 2 on a usage error.`,
    )
    .action((opts) =>
      withKube(async () => {
        const scope = scopeOf(opts);
        checkKubeFlags(opts);
        const conventions = liveConventions(ctx, opts.repo);
        const kube = await connectReader(ctx, opts);
        const [{ takeSnapshot }, { permissionText, verify }] = await Promise.all([
          import("../kube/snapshot.ts"),
          import("../core/live.ts"),
        ]);
        const observed = await takeSnapshot(kube, {
          conventions,
          namespace: opts.namespace,
          depth: "storage",
          kopiurScope: scope === undefined,
        });
        const denied = observed.denied.find(
          (d) => d.source === "persistentvolumes" || d.source === "persistentvolumeclaims",
        );
        if (denied) throw new CliError(`could not check: ${permissionText(denied)}`, EXIT_UNCHECKED);
        for (const d of observed.denied) {
          if (d !== denied)
            ctx.say(`note: namespaces consuming the repository through Kopiur not read: ${permissionText(d)}`);
        }
        const report = verify(observed, conventions, scope);
        if (!report.healthy || report.namespaces.length === 0) ctx.exitCode = EXIT_PROBLEM;
        const { renderVerifyJson, renderVerifyText } = await import("../output/checks.ts");
        if (opts.output === "json") ctx.io.stdout.write(renderVerifyJson(report, kube.stats.requests));
        else renderVerifyText(liveSink(ctx), report, kube.stats.requests);
      }),
    );
}
