import { Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import { MOVERS } from "../core/config.ts";
import {
  checkedOption,
  dryRunOption,
  forceOption,
  kubeVersionOption,
  loadRepo,
  lockFor,
  outputOption,
  repoOption,
  runPlan,
} from "./shared.ts";

export function migrateCommand(ctx: Ctx) {
  return new Command("migrate")
    .description("rewrite an initialised repository for another mover generation, keeping snapshot identities")
    .requiredOption("--to <mover>", `target generation: ${MOVERS.join(", ")}`)
    .addOption(repoOption())
    .addOption(kubeVersionOption("cluster version (needed for --to volsync-0.16)"))
    .addOption(
      checkedOption("--source <name>", "GitRepository that sourceRef names (default: the one in the repo)", "name"),
    )
    .option(
      "--subvolume-path <path>",
      "--to kopiur on a shared-handle volume: the subvolume's path (`ceph fs subvolume getpath <fs> <subvolume> <group>`)",
    )
    .addOption(dryRunOption())
    .addOption(outputOption())
    .addOption(forceOption("migrate even though generated files were edited by hand (the edits are replaced)"))
    .addHelpText(
      "after",
      `
Examples:
  kopiashare migrate --to volsync-0.17 --dry-run     # the plan as a diff, nothing written
  kopiashare migrate --to volsync-0.17               # drop the admission policy, add moverVolumes
  kopiashare migrate --to kopiur                     # ClusterRepository, SnapshotPolicy, Restore
  kopiashare migrate --to volsync-0.16 --kubernetes-version 1.34

Re-renders the kopia folder and the component for the target generation, deletes files it no longer
uses and sets mover in kopiashare.yaml. App ks.yaml files are not touched: every generation reads the
same postBuild variables. ReplicationSource names, namespaces and sourceIdentity stay as they are.
A generated file that differs from what kopiashare renders for the current generation (a hand edit) is
refused with its diff unless --force; --dry-run (also with -o yaml) still shows the plan.`,
    )
    .action(async (opts) => {
      const { conventions, scan } = await loadRepo(ctx, opts.repo, { lock: lockFor("migrate", opts), writer: true });
      const { planMigrate } = await import("../gitops/migrate.ts");
      const p = planMigrate(scan, conventions, {
        to: opts.to,
        kubernetesVersion: opts.kubernetesVersion,
        source: opts.source,
        subvolumePath: opts.subvolumePath,
      });
      await runPlan(
        ctx,
        {
          verb: "migrate",
          plan: p.plan,
          manifests: p.manifests,
          done: `migrated the repository from ${p.from} to ${p.to}`,
          upToDate: `the repository is already wired for ${p.to}; nothing to change`,
          notes: p.notes,
          next: p.next,
        },
        { dryRun: opts.dryRun, output: opts.output, force: opts.force },
      );
    });
}
