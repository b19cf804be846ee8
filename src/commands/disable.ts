import { Argument, Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import { pvName } from "../core/config.ts";
import { dryRunOption, forceOption, loadRepo, lockFor, outputOption, repoOption, runPlan } from "./shared.ts";

export function disableCommand(ctx: Ctx) {
  return new Command("disable")
    .description("remove a namespace's PV, PVC `kopia` and their Flux Kustomization from the GitOps repo")
    .addArgument(new Argument("<namespace>", "the namespace that no longer takes backups"))
    .addOption(repoOption())
    .addOption(
      forceOption(
        "disable even though the namespace still has Volsync/Kopiur consumers in the repo, or its files were edited by hand",
      ),
    )
    .addOption(dryRunOption())
    .addOption(outputOption(["text", "json"]))
    .addHelpText(
      "after",
      `
Examples:
  kopiashare disable media --dry-run     # the diff, nothing written
  kopiashare disable media               # remove it; prints the cluster-side steps
  kopiashare disable media --force       # even though ReplicationSources still use it

Refuses (exit 2) the repository's own namespace (volsync-system), and without --force a namespace with
consumers or whose instance files differ from what enable writes (hand edits, shown as a diff). The shared
data is never touched: a Retain PV keeps every backup on the subvolume when its object is deleted; a PV that
is not Retain gets a \`kubectl patch\` to Retain as the first cluster step.`,
    )
    .action(async (namespace, opts) => {
      const { conventions: c, scan } = await loadRepo(ctx, opts.repo, { lock: lockFor("disable", opts), writer: true });
      const [{ planDisable }, { resolveDelivery }, { consumersIn }] = await Promise.all([
        import("../gitops/enable.ts"),
        import("../gitops/delivery.ts"),
        import("../core/consumers.ts"),
      ]);
      const model = resolveDelivery(scan, c);
      const d = planDisable(scan, c, { namespace, force: opts.force }, (ns) =>
        consumersIn(model, ns).map((o) => ({ kind: o.kind, name: o.name, file: o.file, line: o.line })),
      );
      const never = `Never delete the original volume or ${pvName(c, c.repositoryNamespace)}: it holds every namespace's backups.`;
      const steps = [
        d.retain
          ? "Cluster side: once this is pushed, Flux prunes the PVC and the PV object. By hand, in this order:"
          : "Cluster side: run step 1 BEFORE you push (once this is pushed, Flux prunes the PVC and the PV object). By hand, in this order:",
        ...d.clusterSteps.map((s, i) => `  ${i + 1}. ${s}`),
        d.retain ? `The PV is Retain: deleting the PV object keeps the data. ${never}` : never,
      ];
      await runPlan(
        ctx,
        {
          verb: "disable",
          plan: d.plan,
          manifests: {},
          done: `disabled backups in namespace ${namespace}`,
          upToDate: `namespace ${namespace} is not enabled in this repository; nothing to change`,
          notes: [],
          warnings: d.warnings,
          next: d.dir ? steps : [],
        },
        { dryRun: opts.dryRun, output: opts.output, force: opts.force },
        d.dir ? { clusterSteps: d.clusterSteps } : {},
      );
    });
}
