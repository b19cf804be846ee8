import { Argument, Command, Option } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import {
  checkedOption,
  dryRunOption,
  forceOption,
  loadRepo,
  lockFor,
  outputOption,
  repoOption,
  runPlan,
  volumeOptions,
} from "./shared.ts";

export function enableCommand(ctx: Ctx) {
  const cmd = new Command("enable")
    .description(
      "write the static PV, the PVC `kopia` and their Flux Kustomization for a namespace into the GitOps repo",
    )
    .addArgument(new Argument("<namespace>", "the namespace that will take backups"))
    .addOption(repoOption())
    .addOption(
      checkedOption(
        "--tier <tier>",
        "folder under the apps dir that holds the namespace (seed layout; default: detected)",
        "folder",
      ),
    )
    .addOption(
      new Option("--layout <layout>", "seed: <apps>/<tier>/<ns>/…; flat: <apps>/<ns>/… (default: detected)").choices([
        "seed",
        "flat",
      ] as const),
    )
    .addOption(
      checkedOption("--source <name>", "GitRepository that sourceRef names (default: the one in the repo)", "name"),
    );
  return volumeOptions(cmd, "enable")
    .option("--no-claim-ref", "do not reserve the PV for the claim with spec.claimRef (reproduces the seed exactly)")
    .addOption(dryRunOption())
    .addOption(outputOption())
    .addOption(forceOption("overwrite generated files that were edited by hand"))
    .addHelpText(
      "after",
      `
Examples:
  kopiashare enable media --dry-run           # the diff, nothing written
  kopiashare enable media                     # write it; commit and push, Flux does the rest
  kopiashare enable media --dry-run -o yaml   # only the API objects, to stdout; nothing written
  kopiashare enable media --tier main         # first namespace of a new folder
  kopiashare enable media --repo ~/home-ops --source flux-system
  kopiashare enable media --volume-handle 0001-0024-…-841e604c-… --fs-name backups   # no repository PV in the repo yet

Writes <apps>/<tier>/<ns>/volsync-repository-pvc/{ks.yaml,app/pvc.yaml,app/kustomization.yaml} and lists
./volsync-repository-pvc/ks.yaml in <apps>/<tier>/<ns>/kustomization.yaml, keeping its comments.
Running it again changes nothing. Refuses (exit 2) a generated file edited by hand (unless --force), and a
namespace whose PV or PVC \`kopia\` the repository already declares elsewhere.`,
    )
    .action(async (namespace, opts) => {
      const { conventions, scan } = await loadRepo(ctx, opts.repo, { lock: lockFor("enable", opts), writer: true });
      const { planEnable } = await import("../gitops/enable.ts");
      const conv = opts.claimRef === false ? { ...conventions, claimRef: false } : conventions;
      const e = planEnable(scan, conv, {
        namespace,
        tier: opts.tier,
        layout: opts.layout,
        source: opts.source,
        volumeHandle: opts.volumeHandle,
        clusterId: opts.clusterId,
        fsName: opts.fsName,
        driver: opts.driver,
        storageClass: opts.storageClass,
        capacity: opts.capacity,
        nodeStageSecret: opts.nodeStageSecret,
      });
      await runPlan(
        ctx,
        {
          verb: "enable",
          plan: e.plan,
          manifests: e.manifests,
          done: `enabled backups in namespace ${namespace} (${e.layout} layout, ${e.volume.style} volume, sourceRef ${e.source.name})`,
          upToDate: `namespace ${namespace} is already enabled; nothing to change`,
          notes: e.notes,
          next: [
            `next: review with \`git diff\`, commit and push; once Flux applied it: kopiashare verify -n ${namespace}`,
          ],
        },
        { dryRun: opts.dryRun, output: opts.output, force: opts.force },
      );
    });
}
