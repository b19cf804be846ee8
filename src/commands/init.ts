import { Command, Option } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import { MOVERS } from "../core/config.ts";
import { MAP_SUPPORTED } from "../core/render/wiring.ts";
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
  volumeOptions,
} from "./shared.ts";

export function initCommand(ctx: Ctx) {
  const cmd = new Command("init")
    .description(
      "write the central repository (PV/PVC, Kopia secret, init Job, maintenance), the mover wiring and the Volsync component",
    )
    .addOption(repoOption())
    .option("--mover <mover>", `mover generation: ${MOVERS.join(", ")} (default: kopiashare.yaml, else volsync-0.16)`)
    .addOption(kubeVersionOption(`cluster version; volsync-0.16 needs ${MAP_SUPPORTED}`))
    .option("--style <style>", "repository volume style when the repo has no repository PV: shared-handle or static")
    .option("--root-path <path>", "static style: the subvolume's path (ceph-csi rootPath)")
    .option(
      "--subvolume-path <path>",
      "kopiur, shared-handle style: the subvolume's path (`ceph fs subvolume getpath <fs> <subvolume> <group>`), for the static PV whose root is the repository",
    );
  return volumeOptions(cmd, "init")
    .addOption(
      checkedOption(
        "--secret-store <name>",
        "ClusterSecretStore the ExternalSecrets read (default: kopiashare.yaml, else onepassword)",
        "name",
      ),
    )
    .addOption(
      checkedOption(
        "--tier <tier>",
        "tier folder for the repository namespace when its folder does not exist yet",
        "folder",
      ),
    )
    .addOption(new Option("--layout <layout>", "seed or flat (default: detected)").choices(["seed", "flat"] as const))
    .addOption(
      checkedOption("--source <name>", "GitRepository that sourceRef names (default: the one in the repo)", "name"),
    )
    .option(
      "--controller",
      "also write the kopiashare-controller folder: Deployment (2 replicas), RBAC, PodDisruptionBudget, metrics Service and, on Kubernetes 1.28+, a ValidatingAdmissionPolicy",
    )
    .addOption(dryRunOption())
    .addOption(outputOption())
    .addOption(forceOption("overwrite generated files that were edited by hand"))
    .addHelpText(
      "after",
      `
Examples:
  kopiashare init --mover volsync-0.16 --kubernetes-version 1.34 --dry-run
  kopiashare init --mover volsync-0.17                        # moverVolumes, no admission policy
  kopiashare init --mover kopiur --dry-run -o yaml            # only the API objects, to stdout
  kopiashare init --controller                                # also deploy \`kopiashare controller\`
  kopiashare init --tier system --volume-handle 0001-0024-…-841e604c-… --fs-name backups \\
      --storage-class csi-cephfs-backups-sc --kubernetes-version 1.34   # no repository PV in the repo yet
  kopiashare init --style static --root-path /volumes/backups/kopia --cluster-id 4070… --fs-name backups \\
      --mover volsync-0.17                                    # storage class and node-stage secret from the repo

Writes, next to the repository namespace's PVC (<apps>/<tier>/volsync-system/):
  kopia/ks.yaml, kopia/app/{externalsecret,kopia-init-job,kopiamaintenance}.yaml and the mover wiring
  (volsync-0.16: mutatingadmissionpolicy.yaml; kopiur: clusterrepository.yaml and maintenance.yaml),
  volsync-repository-pvc/ when the repo has no repository PV yet, the component in
  kubernetes/components/volsync, and mover (and kubernetesVersion) in kopiashare.yaml.
The volume flags (--style, --volume-handle, --root-path, --cluster-id, --fs-name, --driver, --storage-class,
--capacity, --node-stage-secret) describe the repository PV init creates; what is not given is read from a
CephFS StorageClass or the Rook/ceph-csi HelmRelease in the repo, else Rook's defaults (each printed).
When the repo already has a repository PV, init adopts it as it is: flags that agree with it are fine,
one that disagrees is refused (exit 2).
--controller also writes kopiashare-controller/ks.yaml and kopiashare-controller/app/{serviceaccount,clusterrole,
role,configmap,deployment,service,poddisruptionbudget}.yaml, plus validatingadmissionpolicy.yaml on Kubernetes
1.28+ (v1beta1 on 1.28-1.29, v1 from 1.30); the image is controllerImage in kopiashare.yaml.
Running it again changes nothing; a hand-edited generated file is refused (with its diff) unless --force.`,
    )
    .action(async (opts) => {
      const { conventions, scan } = await loadRepo(ctx, opts.repo, { lock: lockFor("init", opts), writer: true });
      const { planInit } = await import("../gitops/init.ts");
      const controller = opts.controller
        ? {
            image:
              conventions.controllerImage ??
              (await import("../core/render/controller.ts")).defaultControllerImage(
                (await import("../cli.ts")).version(),
              ),
          }
        : undefined;
      const p = planInit(scan, conventions, {
        mover: opts.mover,
        kubernetesVersion: opts.kubernetesVersion,
        style: opts.style,
        volumeHandle: opts.volumeHandle,
        rootPath: opts.rootPath,
        subvolumePath: opts.subvolumePath,
        clusterId: opts.clusterId,
        fsName: opts.fsName,
        storageClass: opts.storageClass,
        capacity: opts.capacity,
        nodeStageSecret: opts.nodeStageSecret,
        driver: opts.driver,
        secretStore: opts.secretStore,
        tier: opts.tier,
        layout: opts.layout,
        source: opts.source,
        controller,
      });
      const k8s = p.kubernetesVersion ? `, Kubernetes ${p.kubernetesVersion}` : "";
      const and = controller ? " and its controller" : "";
      await runPlan(
        ctx,
        {
          verb: "init",
          plan: p.plan,
          manifests: p.manifests,
          done: `initialised the shared Kopia repository${and} for ${p.mover}${k8s} in ${p.nsDir}`,
          upToDate: `the repository${and} ${controller ? "are" : "is"} already initialised for ${p.mover}${k8s}; nothing to change`,
          notes: p.notes,
          next: ["next: review with `git diff`, commit and push; wire apps with `kopiashare app <namespace> <app>`"],
        },
        { dryRun: opts.dryRun, output: opts.output, force: opts.force },
      );
    });
}
