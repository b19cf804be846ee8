import { Argument, Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import { usageError } from "../errors.ts";
import {
  checkedOption,
  dryRunOption,
  forceOption,
  idOption,
  loadRepo,
  lockFor,
  outputOption,
  repoOption,
  runPlan,
} from "./shared.ts";

export function appCommand(ctx: Ctx) {
  return new Command("app")
    .description("wire an app's Flux Kustomization (its ks.yaml) to the Volsync component, keeping its comments")
    .addArgument(new Argument("<namespace>", "the app's namespace (must be enabled)"))
    .addArgument(new Argument("<app>", "the app's folder under the namespace folder, holding ks.yaml"))
    .addOption(repoOption())
    .addOption(checkedOption("--pvc <name>", "the PVC to back up, if not named like the app (becomes APP)", "name"))
    .addOption(
      checkedOption(
        "--capacity <quantity>",
        "size of the PVC and its restores (VOLSYNC_CAPACITY; default 5Gi)",
        "quantity",
      ),
    )
    .addOption(idOption("uid", "mover UID for this app (VOLSYNC_PUID; default: the repository's)"))
    .addOption(idOption("gid", "mover GID for this app (VOLSYNC_PGID; default: the repository's)"))
    .option("--enable", "enable the namespace too when it is not (same as running `kopiashare enable` first)")
    .addOption(checkedOption("--tier <tier>", "with --enable: tier folder for a new namespace folder", "folder"))
    .addOption(dryRunOption())
    .addOption(outputOption())
    .addOption(
      forceOption(
        "overwrite generated files that were edited by hand (the namespace's instance with --enable; Kopiur's clusterrepository.yaml)",
      ),
    )
    .addHelpText(
      "after",
      `
Examples:
  kopiashare app default paperless --dry-run          # the diff of ks.yaml, nothing written
  kopiashare app default paperless --capacity 15Gi
  kopiashare app media jellyfin --pvc jellyfin-config --enable

Adds to <apps>/<tier>/<namespace>/<app>/ks.yaml: the component under spec.components, APP and the values
that differ from the component's defaults under spec.postBuild.substitute, and dependsOn the namespace's
volsync-repository-pvc-<namespace>. Every other byte of the file stays. Running it again changes nothing.
Refuses (exit 2) a namespace that is not enabled, unless --enable.`,
    )
    .action(async (namespace, app, opts) => {
      if (opts.tier !== undefined && !opts.enable) throw usageError("--tier only applies with --enable");
      const { conventions, scan } = await loadRepo(ctx, opts.repo, { lock: lockFor("app", opts), writer: true });
      const { planApp } = await import("../gitops/app.ts");
      const p = planApp(scan, conventions, {
        namespace,
        app,
        pvc: opts.pvc,
        capacity: opts.capacity,
        uid: opts.uid,
        gid: opts.gid,
        enable: opts.enable,
        enableOptions: { tier: opts.tier },
      });
      await runPlan(
        ctx,
        {
          verb: "app",
          plan: p.plan,
          manifests: p.manifests,
          done: `wired ${app} in namespace ${namespace} to the Volsync component${p.enabled ? ` (and enabled ${namespace})` : ""}`,
          upToDate: `${app} in namespace ${namespace} is already wired; nothing to change`,
          notes: p.notes,
          next: ["next: review with `git diff`, commit and push"],
        },
        { dryRun: opts.dryRun, output: opts.output, force: opts.force },
      );
    });
}
