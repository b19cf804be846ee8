import { Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import { MOVERS } from "../core/config.ts";
import { usageError } from "../errors.ts";
import { planMigrate } from "../gitops/migrate.ts";
import { makeColors } from "../output/colors.ts";
import { renderDiff } from "../output/diff.ts";
import { conflicting, loadRepo, outputOption, repoOption, runPlan } from "./shared.ts";

export function migrateCommand(ctx: Ctx) {
  return new Command("migrate")
    .description("rewrite an initialised repository for another mover generation, keeping snapshot identities")
    .requiredOption("--to <mover>", `target generation: ${MOVERS.join(", ")}`)
    .addOption(repoOption())
    .option("--kubernetes-version <1.NN>", "cluster version (needed for --to volsync-0.16)")
    .option("--source <name>", "GitRepository that sourceRef names (default: the one in the repo)")
    .option("--dry-run", "print the change as a unified diff; write nothing")
    .addOption(outputOption())
    .option("--force", "migrate even though generated files were edited by hand (the edits are replaced)")
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
same postBuild variables. ReplicationSource names, namespaces and sourceIdentity stay as they are.`,
    )
    .action((opts) => {
      conflicting([["--dry-run", opts.dryRun, "-o yaml", opts.output === "yaml"]]);
      const { conventions, scan } = loadRepo(ctx, opts.repo);
      const p = planMigrate(scan, conventions, {
        to: opts.to,
        kubernetesVersion: opts.kubernetesVersion,
        source: opts.source,
      });
      if (p.handEdited.length > 0 && !opts.force) {
        throw usageError(
          `${p.handEdited.map((e) => e.path).join(", ")} ${p.handEdited.length === 1 ? "differs" : "differ"} from what kopiashare generates for ${p.from} (edited by hand?); nothing was written`,
          "review the diff below (generated → current); pass --force to migrate anyway (the edits are replaced)",
          renderDiff(p.handEdited, makeColors(false)),
        );
      }
      runPlan(
        ctx,
        {
          plan: p.plan,
          manifests: p.manifests,
          done: `migrated the repository from ${p.from} to ${p.to}`,
          upToDate: `the repository is already wired for ${p.to}; nothing to change`,
          generated: [],
          notes: p.notes,
          next: p.next,
        },
        { dryRun: opts.dryRun, output: opts.output, force: true },
      );
    });
}
