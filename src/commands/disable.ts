import { Argument, Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import { pvName } from "../core/config.ts";
import { planDisable } from "../gitops/enable.ts";
import { buildModel, consumersIn } from "../gitops/model.ts";
import { loadRepo, outputOption, repoOption, runPlan } from "./shared.ts";

export function disableCommand(ctx: Ctx) {
  return new Command("disable")
    .description("remove a namespace's PV, PVC `kopia` and their Flux Kustomization from the GitOps repo")
    .addArgument(new Argument("<namespace>", "the namespace that no longer takes backups"))
    .addOption(repoOption())
    .option("--force", "disable even though the namespace still has Volsync/Kopiur consumers in the repo")
    .option("--dry-run", "print the change as a unified diff; write nothing")
    .addOption(outputOption(["text", "json"]))
    .addHelpText(
      "after",
      `
Examples:
  kopiashare disable media --dry-run     # the diff, nothing written
  kopiashare disable media               # remove it; prints the cluster-side steps
  kopiashare disable media --force       # even though ReplicationSources still use it

Refuses the repository's own namespace (volsync-system). The shared data is never touched: the PV is
Retain, so deleting the PV object keeps every backup on the subvolume.`,
    )
    .action((namespace, opts) => {
      const { conventions: c, scan } = loadRepo(ctx, opts.repo);
      const model = buildModel(scan, c);
      const d = planDisable(scan, c, { namespace, force: opts.force }, (ns) =>
        consumersIn(model, ns).map((o) => ({ kind: o.kind, name: o.name, file: o.file, line: o.line })),
      );
      const steps = [
        "Cluster side: once this is pushed, Flux prunes the PVC and the PV object. By hand, in this order:",
        ...d.clusterSteps.map((s, i) => `  ${i + 1}. ${s}`),
        `The PV is Retain: deleting the PV object keeps the data. Never delete the original volume or ${pvName(c, c.repositoryNamespace)}: it holds every namespace's backups.`,
      ];
      runPlan(
        ctx,
        {
          plan: d.plan,
          manifests: {},
          done: `disabled backups in namespace ${namespace}`,
          upToDate: `namespace ${namespace} is not enabled in this repository; nothing to change`,
          generated: [],
          notes: [],
          next: d.dir ? steps : [],
        },
        { dryRun: opts.dryRun, output: opts.output },
        d.dir ? { clusterSteps: d.clusterSteps } : {},
      );
    });
}
