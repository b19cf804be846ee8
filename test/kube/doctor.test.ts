/**
 * doctor: every check has a scenario in which it passes and one in which it does not, through the
 * real client over HTTP to the simulator. Missing RBAC turns the affected checks into warnings.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { CHECK_IDS, CHECKS, PROBE_CHECK } from "../../src/core/doctor.ts";
import { kubectlPath, ROOT } from "../helpers.ts";
import type { SimOptions } from "../kube-sim/index.ts";
import {
  ensureNamespace,
  kopiaMaintenance,
  kopiurRepository,
  kopiurRoot,
  mismatchedHandle,
  pendingPvc,
  privilegedMovers,
  pvcObject,
  pvObject,
  releasedPv,
  replicationSource,
  sharedRepository,
  stolenPv,
} from "../kube-sim/scenarios.ts";
import { doctorJson, kube, type Sim, withSim } from "./util.ts";

interface Scenario {
  options?: SimOptions;
  seed(sim: Sim): void;
}

const MOVER_VOLUMES = {
  moverVolumes: [{ mountPath: "repository", volumeSource: { persistentVolumeClaim: { claimName: "kopia" } } }],
};

/** Two healthy namespaces plus volsync-system, shared-handle style, and the repository's maintenance where served. */
function healthy(sim: Sim): void {
  sharedRepository(sim, { namespaces: ["media", "home"], style: "shared-handle" });
  if (sim.store.registry.find("kopiamaintenances.volsync.backube")) kopiaMaintenance(sim);
  else if (sim.store.registry.find("maintenances.kopiur.home-operations.com")) kopiurRoot(sim, ["media", "home"]);
}

/** The healthy cluster with a scheduled Kopia ReplicationSource that synced a minute ago (nothing to skip). */
function healthyWithBackups(sim: Sim): void {
  healthy(sim);
  replicationSource(sim, "media", "app", {
    lastSyncTime: new Date(Date.now() - 60_000).toISOString(),
    kopia: MOVER_VOLUMES,
  });
}

const base: Scenario = { options: { crds: ["volsync"] }, seed: healthy };
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const HOUR = 3_600_000;

function admissionPolicy(
  sim: Sim,
  version: string,
  bind: boolean,
  name = "volsync-mover-repository",
  expression = "[]",
): void {
  const apiVersion = `admissionregistration.k8s.io/${version}`;
  sim.store.create({
    apiVersion,
    kind: "MutatingAdmissionPolicy",
    metadata: { name },
    spec: {
      matchConstraints: { resourceRules: [] },
      mutations: [{ patchType: "JSONPatch", jsonPatch: { expression } }],
    },
  });
  if (bind) {
    sim.store.create({
      apiVersion,
      kind: "MutatingAdmissionPolicyBinding",
      metadata: { name },
      spec: { policyName: name },
    });
  }
}

/** A bound policy of someone else: it adds a label, not the repository. */
const unrelatedPolicy = (sim: Sim, version: string) =>
  admissionPolicy(
    sim,
    version,
    true,
    "add-team-label",
    "[JSONPatch{op: 'add', path: '/metadata/labels/team', value: 'media'}]",
  );

/** The repository's volume, as a policy under another name writes it. */
const MOUNTS_KOPIA = `[JSONPatch{op: 'add', path: '/spec/template/spec/volumes/-', value: Object.spec.template.spec.volumes{
  name: 'repo', persistentVolumeClaim: Object.spec.template.spec.volumes.persistentVolumeClaim{claimName: 'kopia'}}}]`;

const setReclaim = (sim: Sim, pv: string, policy: "Delete" | "Recycle" | "Retain") =>
  sim.store.patch("persistentvolumes", pv, undefined, "application/merge-patch+json", {
    spec: { persistentVolumeReclaimPolicy: policy },
  });

/** The patch every delete fix must start with when the PV is not Retain. */
const RETAIN_FIRST = (pv: string) =>
  `kubectl patch pv ${pv} -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}' && `;
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

interface Case {
  /** Scenarios in which the check passes (the healthy baseline is always one). */
  pass: Scenario[];
  /** Scenarios in which it fails (or warns), with the expected status and a pattern on `what`. */
  bad: (Scenario & { status: "fail" | "warn"; what: RegExp; fix?: RegExp | string; notFix?: RegExp })[];
}

const CASES: Record<string, Case> = {
  "repository/pv": {
    pass: [],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          sim.store.delete("persistentvolumeclaims", "kopia", "volsync-system");
          sim.store.delete("persistentvolumes", "kopia-repository-pv-volsync-system");
        },
        status: "fail",
        what: /no repository PV/,
      },
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          sim.store.patch(
            "persistentvolumes",
            "kopia-repository-pv-volsync-system",
            undefined,
            "application/merge-patch+json",
            { spec: { persistentVolumeReclaimPolicy: "Delete" } },
          );
        },
        status: "fail",
        what: /reclaim policy Delete/,
        fix: /^kubectl patch pv kopia-repository-pv-volsync-system -p '\{"spec":\{"persistentVolumeReclaimPolicy":"Retain"\}\}'/,
      },
      {
        ...base,
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "static" });
          setReclaim(sim, "kopia-repository-pv-volsync-system", "Delete");
        },
        status: "warn",
        what: /repository PV kopia-repository-pv-volsync-system \(static\) has reclaim policy Delete/,
        fix: /^kubectl patch pv kopia-repository-pv-volsync-system /,
      },
    ],
  },
  "volume/reclaim-retain": {
    pass: [],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          sim.store.patch("persistentvolumes", "kopia-repository-pv-media", undefined, "application/merge-patch+json", {
            spec: { persistentVolumeReclaimPolicy: "Delete" },
          });
        },
        status: "fail",
        what: /kopia-repository-pv-media \(shared-handle\) has reclaim policy Delete/,
      },
      {
        // lint says the same (volume/reclaim-policy): a static volume with Delete is a warning, not an error.
        ...base,
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media", "home"], style: "static" });
          setReclaim(sim, "kopia-repository-pv-home", "Delete");
        },
        status: "warn",
        what: /kopia-repository-pv-home \(static\) has reclaim policy Delete/,
        fix: /^kubectl patch pv kopia-repository-pv-home /,
      },
    ],
  },
  "volume/style": {
    pass: [{ ...base, seed: (sim) => sharedRepository(sim, { namespaces: ["media"], style: "static" }) }],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          ensureNamespace(sim, "games");
          sim.store.create(pvObject("games", { style: "static" }));
          sim.store.create(pvcObject("games"));
        },
        status: "fail",
        what: /mix both styles.*static: kopia-repository-pv-games/,
        fix: /kubectl delete pvc -n games kopia && kubectl delete pv kopia-repository-pv-games/,
        notFix: /kubectl patch pv/,
      },
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          ensureNamespace(sim, "games");
          sim.store.create(pvObject("games", { style: "static", reclaimPolicy: "Delete" }));
          sim.store.create(pvcObject("games"));
        },
        status: "fail",
        what: /mix both styles.*static: kopia-repository-pv-games/,
        fix: new RegExp(
          `^${reEscape(RETAIN_FIRST("kopia-repository-pv-games"))}kopiashare enable games --force && .* && kubectl delete pvc -n games kopia && kubectl delete pv kopia-repository-pv-games`,
        ),
        notFix: /the data stays/,
      },
    ],
  },
  "volume/same-subvolume": {
    pass: [],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          mismatchedHandle(sim, "media");
        },
        status: "fail",
        what: /kopia-repository-pv-media points at handle .* not the repository's handle/,
        fix: /\nkubectl delete pvc -n media kopia && kubectl delete pv kopia-repository-pv-media .*# Retain: the data stays$/,
      },
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          mismatchedHandle(sim, "media");
          setReclaim(sim, "kopia-repository-pv-media", "Delete");
        },
        status: "fail",
        what: /kopia-repository-pv-media points at handle .* not the repository's handle/,
        fix: new RegExp(
          `\\n${reEscape(RETAIN_FIRST("kopia-repository-pv-media"))}kubectl delete pvc -n media kopia && kubectl delete pv kopia-repository-pv-media`,
        ),
        notFix: /the data stays|Retain keeps/,
      },
      {
        ...base,
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "static" });
          sim.store.delete("persistentvolumeclaims", "kopia", "media");
          sim.store.delete("persistentvolumes", "kopia-repository-pv-media");
          sim.store.create(pvObject("media", { style: "static", rootPath: "/volumes/csi/other/x" }));
          sim.store.create(pvcObject("media"));
        },
        status: "fail",
        what: /rootPath \/volumes\/csi\/other\/x/,
      },
    ],
  },
  "volume/server-version": {
    pass: [
      {
        options: { crds: ["volsync"], version: { major: "1", minor: "23" } },
        seed: (sim) => sharedRepository(sim, { namespaces: ["media"], style: "static" }),
      },
    ],
    bad: [
      {
        options: { crds: ["volsync"], version: { major: "1", minor: "23" } },
        seed: healthy,
        status: "fail",
        what: /v1\.23\.0 and 3 PVs share one volumeHandle/,
      },
    ],
  },
  "cluster/backup-crds": {
    pass: [{ options: { crds: ["kopiur"] }, seed: healthy }],
    bad: [{ options: { crds: [] }, seed: healthy, status: "fail", what: /neither volsync\.backube nor kopiur/ }],
  },
  "repository/maintenance": {
    pass: [
      { options: { crds: ["kopiur"] }, seed: healthy },
      { options: { crds: ["volsync", "kopiur"], omit: ["kopiamaintenances.volsync.backube"] }, seed: healthy },
    ],
    bad: [
      {
        // An older Volsync: ReplicationSource and ReplicationDestination are served, KopiaMaintenance is not.
        options: { crds: ["volsync"], omit: ["kopiamaintenances.volsync.backube"] },
        seed: healthy,
        status: "warn",
        what: /^the repository has no maintenance: KopiaMaintenance is not installed \(volsync\.backube\/v1alpha1 serves no kopiamaintenances\) and no Kopiur Maintenance exists \(Kopiur is not installed\)$/,
        fix: /upgrade Volsync/,
      },
      {
        ...base,
        seed: (sim) => sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" }),
        status: "warn",
        what: /no maintenance: no KopiaMaintenance exists/,
        fix: /kopiamaintenance\.yaml/,
      },
      {
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
          kopiurRepository(sim, ["media"], { maintenance: false });
        },
        status: "warn",
        what: /KopiaMaintenance is not installed \(the API server serves no volsync\.backube \(not installed\)\) and no Kopiur Maintenance exists$/,
        fix: /maintenance\.yaml/,
      },
    ],
  },
  "kopiur/repository-ready": {
    pass: [
      { options: { crds: ["kopiur"] }, seed: healthy },
      {
        // The seed's claim: a ClusterRepository on PVC kopia is still looked at.
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
          kopiurRepository(sim, ["media"]);
        },
      },
    ],
    bad: [
      {
        // kopiashare's own setup: the ClusterRepository on PVC kopia-kopiur is checked, not skipped.
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "static" });
          kopiurRoot(sim, ["media"], { phase: "Stalled", message: "repository not found at /repository" });
        },
        status: "fail",
        what: /^ClusterRepository kopia is Stalled \(Stalled: repository not found at \/repository\)$/,
        fix: /^kubectl describe clusterrepository kopia /,
      },
      {
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
          kopiurRoot(sim, ["media"], { phase: "Initializing", message: "connecting" });
        },
        status: "warn",
        what: /^ClusterRepository kopia is still Initializing \(Initializing: connecting\)$/,
        fix: /kubectl -n volsync-system get pvc kopia-kopiur {2}# the backend mounts this claim$/,
      },
      {
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
          kopiurRepository(sim, ["media"], {
            phase: "Stalled",
            message: "repository not found at /repository/repository",
          });
        },
        status: "fail",
        what: /^ClusterRepository kopia is Stalled \(Stalled: repository not found at \/repository\/repository\)$/,
        fix: /^kubectl describe clusterrepository kopia /,
      },
      {
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
          kopiurRepository(sim, ["media"], { phase: "Initializing", message: "connecting" });
        },
        status: "warn",
        what: /^ClusterRepository kopia is still Initializing \(Initializing: connecting\)$/,
      },
      {
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
          kopiurRepository(sim, ["media"], { moverUid: 568 });
        },
        status: "warn",
        what: /^ClusterRepository kopia's movers run as UID 568 .* the repository's uid is 1000$/,
        fix: /runAsUser: 1000/,
      },
    ],
  },
  "kopiur/volume-root": {
    pass: [
      // kopiashare's own pair on a shared-handle repository PV (rootPath = `ceph fs subvolume getpath` + /repository)
      { options: { crds: ["kopiur"] }, seed: healthy },
      {
        // ... and on a static one (rootPath = the repository PV's rootPath + /repository).
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media", "home"], style: "static" });
          kopiurRoot(sim, ["media", "home"]);
        },
      },
    ],
    bad: [
      {
        // The ClusterRepository on the seed's claim: its PV is the subvolume's root, the repository is in repository/.
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
          kopiurRepository(sim, ["media"]);
        },
        status: "fail",
        what: /^PV kopia-repository-pv-media \(PVC media\/kopia, the backend of ClusterRepository kopia\) mounts the root of the repository's volume \(handle 0001-.*\), not repository\/ where the repository is$/,
        fix: /^kopiashare migrate --to kopiur --subvolume-path "\$\(ceph fs subvolume getpath backups csi-vol-841e604c-1dd5-4a09-8763-84e672d78c4e csi\)" .* puts the ClusterRepository's backend on kopia-kopiur/,
      },
      {
        // Kopiur's own claim, but its static PV's rootPath is the subvolume's path itself (no /repository).
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "static" });
          kopiurRoot(sim, ["media"], { dir: "" });
        },
        status: "fail",
        what: /^PV kopia-kopiur-media \(PVC media\/kopia-kopiur, the backend of ClusterRepository kopia\) mounts the root of the repository's volume \(rootPath \/volumes\/csi\/backups\/841e604c-1dd5-4a09-8763-84e672d78c4e\)/,
        fix: /^kopiashare enable media --force {2}# .*rootPath \/volumes\/csi\/backups\/841e604c-1dd5-4a09-8763-84e672d78c4e\/repository, .*\nkubectl delete pvc -n media kopia-kopiur && kubectl delete pv kopia-kopiur-media && flux reconcile kustomization volsync-repository-pvc-media --with-source$/,
      },
      {
        // Another directory of the shared-handle subvolume.
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
          kopiurRoot(sim, ["media"], { dir: "kopia" });
        },
        status: "fail",
        what: /kopia-kopiur-media .* mounts directory kopia\/ of the repository's volume/,
        fix: /^kopiashare enable media --force .*rootPath <the subvolume's path, from: ceph fs subvolume getpath backups csi-vol-841e604c-1dd5-4a09-8763-84e672d78c4e csi>\/repository/,
      },
      {
        // A namespace the ClusterRepository allows has no PVC kopia-kopiur.
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media", "home"], style: "static" });
          kopiurRoot(sim, ["media", "home"]);
          sim.store.delete("persistentvolumeclaims", "kopia-kopiur", "home");
        },
        status: "fail",
        what: /^namespace home has no PVC kopia-kopiur, the backend of ClusterRepository kopia$/,
        fix: /^kopiashare enable home --force/,
      },
      {
        // A rootPath that does not say which directory of the handle's subvolume it is.
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
          kopiurRoot(sim, ["media"], { rootPath: "/srv/kopia/repository" });
        },
        status: "warn",
        what: /^cannot tell which directory of the repository's handle .* PV kopia-kopiur-media .* mounts: its rootPath \/srv\/kopia\/repository does not say/,
      },
      {
        // A static repository and a Kopiur PV on another subvolume: not the shared repository.
        options: { crds: ["kopiur"] },
        seed: (sim) => {
          sharedRepository(sim, { namespaces: ["media"], style: "static" });
          kopiurRoot(sim, ["media"], {
            rootPath: "/volumes/csi/backups/0badc0de-0000-4000-8000-000000000001/repository",
          });
        },
        status: "fail",
        what: /kopia-kopiur-media .* reaches another volume: rootPath \/volumes\/csi\/backups\/0badc0de-/,
      },
    ],
  },
  "admission/policy": {
    pass: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { lastSyncTime: ago(60_000), kopia: MOVER_VOLUMES });
        },
      },
      {
        options: { crds: ["volsync", "mutatingadmissionpolicy-v1beta1"] },
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { lastSyncTime: ago(60_000) });
          admissionPolicy(sim, "v1beta1", true);
        },
      },
      {
        // Another name, but its mutations mount claim kopia: it is the repository's policy.
        options: { crds: ["volsync", "mutatingadmissionpolicy-v1"] },
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { lastSyncTime: ago(60_000) });
          admissionPolicy(sim, "v1", true, "mount-backups", MOUNTS_KOPIA);
        },
      },
      {
        // An unrelated policy does not make movers rely on admission: every source uses moverVolumes.
        options: { crds: ["volsync", "mutatingadmissionpolicy-v1"] },
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { lastSyncTime: ago(60_000), kopia: MOVER_VOLUMES });
          admissionPolicy(
            sim,
            "v1",
            false,
            "add-team-label",
            "[JSONPatch{op: 'add', path: '/metadata/labels/team', value: 'x'}]",
          );
        },
      },
    ],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { lastSyncTime: ago(60_000) });
        },
        status: "fail",
        what: /rely on a MutatingAdmissionPolicy .* serves no mutatingadmissionpolicies/,
        fix: /runtime-config=admissionregistration\.k8s\.io\/v1beta1=true/,
      },
      {
        options: { crds: ["volsync", "mutatingadmissionpolicy-v1alpha1"] },
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { lastSyncTime: ago(60_000) });
          admissionPolicy(sim, "v1alpha1", false);
        },
        status: "fail",
        what: /has no MutatingAdmissionPolicyBinding/,
      },
      {
        // Someone else's bound policy does not mount the repository.
        options: { crds: ["volsync", "mutatingadmissionpolicy-v1"] },
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { lastSyncTime: ago(60_000) });
          unrelatedPolicy(sim, "v1");
        },
        status: "fail",
        what: /but none mounts the repository: no volsync-mover-repository, and add-team-label add\(s\) no volume "repository"/,
      },
      {
        // The repository's policy is unbound; another policy's binding does not count.
        options: { crds: ["volsync", "mutatingadmissionpolicy-v1"] },
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { lastSyncTime: ago(60_000) });
          unrelatedPolicy(sim, "v1");
          admissionPolicy(sim, "v1", false);
        },
        status: "fail",
        what: /^MutatingAdmissionPolicy volsync-mover-repository has no MutatingAdmissionPolicyBinding$/,
        fix: /spec\.policyName: volsync-mover-repository/,
      },
    ],
  },
  "delivery/consumers-without-pvc": {
    pass: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { lastSyncTime: ago(60_000), kopia: MOVER_VOLUMES });
        },
      },
    ],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "apps", "app", { lastSyncTime: ago(60_000), kopia: MOVER_VOLUMES });
        },
        status: "fail",
        what: /namespace apps has ReplicationSource app but no PVC kopia/,
        fix: /^kopiashare enable apps/,
      },
    ],
  },
  "pv/missing": {
    pass: [],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          pendingPvc(sim, "games", "missing-pv");
        },
        status: "fail",
        what: /PVC games\/kopia is Pending: PV kopia-repository-pv-games does not exist/,
      },
    ],
  },
  "pv/bound-elsewhere": {
    pass: [],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          stolenPv(sim, "media", { namespace: "thief", name: "grab" });
        },
        status: "fail",
        what: /PVC media\/kopia is Pending: PV kopia-repository-pv-media is bound to thief\/grab/,
        fix: /^kubectl delete pvc -n thief grab/,
      },
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          stolenPv(sim, "media", { namespace: "thief", name: "grab" });
          setReclaim(sim, "kopia-repository-pv-media", "Delete");
        },
        status: "fail",
        what: /PVC media\/kopia is Pending: PV kopia-repository-pv-media is bound to thief\/grab/,
        fix: new RegExp(`^${reEscape(RETAIN_FIRST("kopia-repository-pv-media"))}kubectl delete pvc -n thief grab`),
        notFix: /Retain keeps the data/,
      },
    ],
  },
  "pv/released-stale-claim": {
    pass: [],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          releasedPv(sim, "media");
        },
        status: "fail",
        what: /PV kopia-repository-pv-media is Released and still names the deleted claim/,
        fix: `kubectl patch pv kopia-repository-pv-media --type json -p '[{"op":"remove","path":"/spec/claimRef/uid"},{"op":"remove","path":"/spec/claimRef/resourceVersion"}]'`,
      },
    ],
  },
  "pv/mismatch": {
    pass: [],
    bad: (["class", "size", "access-modes"] as const).map((reason) => ({
      ...base,
      seed: (sim: Sim) => {
        healthy(sim);
        pendingPvc(sim, "games", reason);
      },
      status: "fail" as const,
      what: new RegExp(
        `does not match: ${reason === "class" ? "storage class" : reason === "size" ? "size" : "access modes"}.*event VolumeMismatch`,
      ),
    })),
  },
  "pvc/bound": {
    pass: [],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          ensureNamespace(sim, "orphan");
          sim.store.create(pvcObject("orphan", { volumeName: null, storageClassName: "no-such-class" }));
        },
        status: "fail",
        what: /PVC orphan\/kopia is Pending and names no PV.*ProvisioningFailed/,
      },
      {
        // Explained by pv/released-stale-claim, and still not Bound: never "PASS pvc/bound 0 of 1 PVC(s) kopia Bound".
        ...base,
        seed: (sim) => {
          healthy(sim);
          releasedPv(sim, "media");
        },
        status: "fail",
        what: /^PVC media\/kopia is Pending: the cause is reported by pv\/released-stale-claim$/,
        fix: /see pv\/released-stale-claim/,
      },
    ],
  },
  "pv/claim-ref": {
    pass: [],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          sim.store.create(pvObject("spare", { claimRef: false }));
        },
        status: "warn",
        what: /PV kopia-repository-pv-spare is Available and has no spec\.claimRef/,
        fix: /"claimRef":\{"namespace":"spare","name":"kopia"\}/,
      },
    ],
  },
  "permissions/privileged-movers": {
    pass: [],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          privilegedMovers(sim, "media");
        },
        status: "fail",
        what: /namespace media has volsync\.backube\/privileged-movers: "true"/,
        fix: /kubectl annotate namespace media volsync\.backube\/privileged-movers-/,
      },
    ],
  },
  "backups/stale": {
    pass: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", {
            schedule: "0 * * * *",
            lastSyncTime: ago(HOUR),
            kopia: MOVER_VOLUMES,
          });
          replicationSource(sim, "home", "db", {
            schedule: "@daily",
            lastSyncTime: ago(30 * HOUR),
            kopia: MOVER_VOLUMES,
          });
        },
      },
    ],
    bad: [
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", {
            schedule: "0 * * * *",
            lastSyncTime: ago(5 * HOUR),
            kopia: MOVER_VOLUMES,
          });
        },
        status: "fail",
        what: /ReplicationSource media\/app last synced 5h ago.*runs at least every 1h/,
      },
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", {
            schedule: "0 3 * * 0",
            lastSyncTime: ago(15 * 24 * HOUR),
            kopia: MOVER_VOLUMES,
          });
        },
        status: "fail",
        what: /last synced 15d ago.*runs at least every 7d/,
      },
      {
        ...base,
        seed: (sim) => {
          healthy(sim);
          replicationSource(sim, "media", "app", { schedule: "every tuesday", kopia: MOVER_VOLUMES });
        },
        status: "warn",
        what: /cannot read schedule "every tuesday"/,
      },
      {
        options: { crds: ["volsync", "kopiur"] },
        seed: (sim) => {
          healthy(sim);
          // Kopiur's SnapshotSchedule: Jenkins' H reads as a fixed slot; the last success is 3 days old.
          snapshotSchedule(sim, "media", "app", "H 2 * * *", ago(3 * 24 * HOUR));
          snapshotSchedule(sim, "home", "paused", "H 2 * * *", ago(30 * 24 * HOUR), true);
        },
        status: "fail",
        what: /^SnapshotSchedule media\/app last succeeded 3d ago .*its schedule "H 2 \* \* \*" runs at least every 1d$/,
        fix: /kubectl -n media describe snapshotschedule app/,
      },
    ],
  },
};

/** A Kopiur SnapshotSchedule whose last successful firing was at `last` (suspended when asked). */
function snapshotSchedule(sim: Sim, ns: string, name: string, cron: string, last: string, suspend = false): void {
  ensureNamespace(sim, ns);
  sim.store.create({
    apiVersion: "kopiur.home-operations.com/v1alpha1",
    kind: "SnapshotSchedule",
    metadata: { name, namespace: ns },
    spec: { policyRef: { name }, schedule: { cron, ...(suspend ? { suspend: true } : {}) } },
    status: { lastSuccessfulSchedule: { at: last } },
  });
}

describe("doctor checks", () => {
  it("the list of checks is closed: every id has scenarios here and a row in docs/commands.md", () => {
    assert.deepEqual(Object.keys(CASES).sort(), [...CHECK_IDS].sort());
    const docs = readFileSync(path.join(ROOT, "docs", "commands.md"), "utf8");
    const section = docs.slice(docs.indexOf("## doctor"), docs.indexOf("\n## ", docs.indexOf("## doctor") + 3));
    for (const id of [...CHECK_IDS, "permissions/probe"]) assert.match(section, new RegExp(`\\| \`${id}\` \\|`), id);
  });

  it("each check has lint's shape: a grouped id group/name, a title, why it matters, and the flat id it replaced", () => {
    const metas = [...CHECKS, PROBE_CHECK].map((c) => c.meta);
    for (const m of metas) {
      assert.match(m.id, /^[a-z]+\/[a-z-]+$/, m.id);
      assert.ok(m.title && m.why, `${m.id}: title and why`);
    }
    // The rename is documented and scripts may have been written against the former ids: pin it. Checks
    // added since have no former id.
    assert.deepEqual(
      metas.filter((m) => !m.formerly).map((m) => m.id),
      ["kopiur/volume-root"],
    );
    assert.deepEqual(Object.fromEntries(metas.filter((m) => m.formerly).map((m) => [m.formerly, m.id])), {
      "repository-pv": "repository/pv",
      "reclaim-retain": "volume/reclaim-retain",
      "volume-style": "volume/style",
      "same-subvolume": "volume/same-subvolume",
      "server-version": "volume/server-version",
      "backup-crds": "cluster/backup-crds",
      "repository-maintenance": "repository/maintenance",
      "kopiur-repository": "kopiur/repository-ready",
      "admission-policy": "admission/policy",
      "consumers-without-pvc": "delivery/consumers-without-pvc",
      "pv-missing": "pv/missing",
      "pv-bound-elsewhere": "pv/bound-elsewhere",
      "pv-released": "pv/released-stale-claim",
      "pv-mismatch": "pv/mismatch",
      "pvc-bound": "pvc/bound",
      "pv-claimref": "pv/claim-ref",
      "privileged-movers": "permissions/privileged-movers",
      "stale-backups": "backups/stale",
      "permission-probe": "permissions/probe",
    });
    assert.equal(new Set(metas.map((m) => m.id)).size, metas.length, "ids are unique");
  });

  it("each check's row in docs/commands.md says what the check's doc says", () => {
    const docs = readFileSync(path.join(ROOT, "docs", "commands.md"), "utf8");
    const cell = (t: string) => t.replace(/\|/g, "\\|");
    for (const c of CHECKS) {
      const cells = [c.doc.checks, c.meta.why, c.doc.warn, c.doc.fail, c.doc.fix].map(cell);
      const row = `| \`${c.meta.id}\` | ${cells.join(" | ")} |`;
      assert.ok(docs.includes(`\n${row}`), `docs/commands.md lacks the row\n${row}`);
    }
  });

  it("a healthy cluster passes every check (exit 0)", async () => {
    const everything = (sim: Sim) => {
      healthyWithBackups(sim);
      kopiurRoot(sim, ["media", "home"]);
    };
    await withSim({ crds: ["volsync", "kopiur"] }, everything, async (sim) => {
      const { r, json } = await doctorJson(sim);
      assert.equal(r.code, 0, r.out);
      for (const c of json.checks) assert.equal(c.status, "pass", `${c.id}: ${JSON.stringify(c.results)}`);
      assert.deepEqual(
        json.checks.map((c) => c.id),
        [...CHECK_IDS],
      );
    });
  });

  for (const [id, c] of Object.entries(CASES)) {
    describe(id, () => {
      c.pass.forEach((s, i) => {
        it(`passes (scenario ${i + 1})`, async () => {
          await withSim(s.options ?? {}, s.seed, async (sim) => {
            const { check } = await doctorJson(sim);
            assert.equal(check(id).status, "pass", JSON.stringify(check(id).results, null, 2));
          });
        });
      });
      c.bad.forEach((s, i) => {
        it(`${s.status}s (scenario ${i + 1}) with what, why and fix`, async () => {
          await withSim(s.options ?? {}, s.seed, async (sim) => {
            const { r, check } = await doctorJson(sim);
            const rep = check(id);
            assert.equal(rep.status, s.status, JSON.stringify(rep.results, null, 2));
            const bad = rep.results.filter((x) => x.status === s.status);
            assert.ok(bad.length > 0);
            for (const x of rep.results) assert.equal(x.check, id, "the runner stamps each result with its check's id");
            const hit = bad.find((x) => s.what.test(x.what));
            assert.ok(hit, `no result matches ${s.what}: ${JSON.stringify(bad, null, 2)}`);
            assert.ok(hit.fix && hit.fix.length > 0, "a fix");
            if (s.status === "fail") assert.ok(hit.why && hit.why.length > 0, "a why");
            if (typeof s.fix === "string") assert.equal(hit.fix, s.fix);
            else if (s.fix) assert.match(hit.fix, s.fix);
            if (s.notFix) assert.doesNotMatch(hit.fix, s.notFix);
            if (s.status === "fail") assert.equal(r.code, 1);
          });
        });
      });
    });
  }
});

describe("doctor output and scope", () => {
  it("text output: one line per check, the problem, why and fix; exit 1 only on Fail", async () => {
    await withSim(
      { crds: ["volsync"] },
      (sim) => {
        healthy(sim);
        releasedPv(sim, "media");
        sim.store.create(pvObject("spare", { claimRef: false }));
      },
      async (sim) => {
        const r = await kube(sim, ["doctor"]);
        assert.equal(r.code, 1);
        assert.match(r.out, /^PASS {2}repository\/pv +PV kopia-repository-pv-volsync-system exists/m);
        assert.match(r.out, /^FAIL {2}pv\/released-stale-claim/m);
        assert.match(r.out, /^WARN {2}pv\/claim-ref +every PV is reserved/m);
        assert.match(
          r.out,
          /^SKIP {2}backups\/stale +not checked: no Kopia ReplicationSource with spec.trigger.schedule$/m,
        );
        assert.match(r.out, /fix: kubectl patch pv kopia-repository-pv-media --type json/);
        // kopiur/volume-root is skipped too: Kopiur is not served.
        assert.match(r.out, /19 checks: 13 passed, 1 warning\(s\), 2 failed, 3 skipped/);
        assert.match(r.err, /doctor: http:\/\/127\.0\.0\.1:\d+ \(Kubernetes v1\.32\.0\)/);
      },
    );
  });

  it("warnings alone exit 0", async () => {
    await withSim(
      { crds: ["volsync"] },
      (sim) => {
        healthy(sim);
        sim.store.create(pvObject("spare", { claimRef: false }));
      },
      async (sim) => {
        const { r, json } = await doctorJson(sim);
        assert.equal(json.summary.warn, 1);
        assert.equal(json.summary.fail, 0);
        assert.equal(r.code, 0);
      },
    );
  });

  it("-n limits the namespace checks to that namespace", async () => {
    await withSim(
      { crds: ["volsync"] },
      (sim) => {
        healthy(sim);
        releasedPv(sim, "media");
      },
      async (sim) => {
        const home = await doctorJson(sim, ["-n", "home"]);
        assert.equal(home.r.code, 0, home.r.out);
        assert.equal(home.check("pv/released-stale-claim").status, "pass");
        const media = await doctorJson(sim, ["-n", "media"]);
        assert.equal(media.r.code, 1);
        assert.equal(media.check("pv/released-stale-claim").status, "fail");
      },
    );
  });
});

describe("a pass says what was seen; nothing seen is a skip, never a pass", () => {
  it("pass texts count what was read", async () => {
    await withSim(base.options ?? {}, healthyWithBackups, async (sim) => {
      const { check } = await doctorJson(sim);
      const what = (id: string) => check(id).results[0]?.what;
      assert.equal(what("pvc/bound"), "3 PVC(s) kopia, all Bound");
      assert.equal(
        what("pv/released-stale-claim"),
        "3 PVC(s) kopia, all Bound; none waits for a PV Released with a stale claimRef.uid",
      );
      assert.equal(what("volume/reclaim-retain"), "3 PV(s), all Retain");
      assert.equal(what("pv/claim-ref"), "3 PV(s), each reserved for its claim");
      assert.equal(what("permissions/privileged-movers"), "3 namespace(s) with backups, none runs privileged movers");
      assert.equal(what("repository/maintenance"), "KopiaMaintenance volsync-system/kopia");
      assert.equal(what("backups/stale"), "1 scheduled ReplicationSource(s), each synced within twice its schedule");
    });
  });

  it("-n on a namespace without the PVC: the claim checks are skipped with the reason", async () => {
    await withSim(base.options ?? {}, healthy, async (sim) => {
      const { r, json, check } = await doctorJson(sim, ["-n", "nothing-here"]);
      assert.equal(r.code, 0, r.out);
      for (const id of ["pv/missing", "pv/bound-elsewhere", "pv/released-stale-claim", "pv/mismatch", "pvc/bound"]) {
        assert.equal(check(id).status, "skip", id);
        assert.equal(check(id).results[0]?.what, "not checked: no PVC kopia in nothing-here", id);
      }
      for (const id of [
        "volume/reclaim-retain",
        "pv/claim-ref",
        "volume/same-subvolume",
        "permissions/privileged-movers",
      ]) {
        assert.equal(check(id).status, "skip", id);
      }
      for (const c of json.checks) {
        if (c.status === "pass") assert.doesNotMatch(c.results[0]?.what ?? "", /^0 |\b0 of /, c.id);
      }
    });
  });

  it("-n elsewhere does not claim the repository has no maintenance: it did not look", async () => {
    await withSim(base.options ?? {}, healthy, async (sim) => {
      const { check } = await doctorJson(sim, ["-n", "media"]);
      const m = check("repository/maintenance");
      assert.equal(m.status, "skip", JSON.stringify(m.results));
      assert.match(m.results[0]?.what ?? "", /^not checked: -n media reads that namespace's objects only/);
    });
  });
});

describe("doctor with missing RBAC permissions", () => {
  it("a forbidden list turns the checks that need it into warnings naming the permission, not a crash", async () => {
    await withSim(
      { crds: ["volsync"] },
      (sim) => {
        healthy(sim);
        sim.denied.add({ verb: "list", resource: "namespaces" });
        sim.denied.add({ verb: "list", resource: "replicationsources" });
      },
      async (sim) => {
        const { r, check } = await doctorJson(sim);
        assert.equal(r.code, 0, r.out);
        const pm = check("permissions/privileged-movers");
        assert.equal(pm.status, "warn");
        assert.equal(pm.results[0]?.what, "not checked: missing permission: list namespaces cluster-wide");
        assert.match(
          pm.results[0]?.fix ?? "",
          /kubectl create clusterrole kopiashare-doctor --verb=get,list --resource=namespaces/,
        );
        for (const id of ["delivery/consumers-without-pvc", "backups/stale", "admission/policy"]) {
          assert.equal(check(id).status, "warn", id);
          assert.match(
            check(id).results[0]?.what ?? "",
            /missing permission: list replicationsources\.volsync\.backube cluster-wide/,
          );
        }
        assert.equal(check("pv/released-stale-claim").status, "pass");
      },
    );
  });

  it("delivery/consumers-without-pvc asks lint's question: a mover given an NFS export, or Kopiur on S3, needs no PVC", async () => {
    const NFS = {
      moverVolumes: [{ mountPath: "nas", volumeSource: { nfs: { server: "nas.lan", path: "/export/kopia" } } }],
    };
    await withSim(
      { crds: ["volsync", "kopiur"] },
      (sim) => {
        healthy(sim);
        // NFS movers in a namespace without PVC kopia (their Secret is never read by doctor).
        replicationSource(sim, "nas-apps", "app", { lastSyncTime: ago(60_000), kopia: NFS });
        // A Kopiur policy on an S3 ClusterRepository in another namespace without the PVC.
        const api = "kopiur.home-operations.com/v1alpha1";
        sim.store.create({
          apiVersion: api,
          kind: "ClusterRepository",
          metadata: { name: "s3" },
          spec: { backend: { s3: { bucket: "kopia", endpoint: "s3.lan" } }, allowedNamespaces: { all: true } },
        });
        ensureNamespace(sim, "cloud");
        sim.store.create({
          apiVersion: api,
          kind: "SnapshotPolicy",
          metadata: { name: "app", namespace: "cloud" },
          spec: { repository: { kind: "ClusterRepository", name: "s3" }, sources: [{ pvc: { name: "app" } }] },
        });
        // A mover given PVC kopia where there is none: still a failure.
        replicationSource(sim, "apps", "app", { lastSyncTime: ago(60_000), kopia: MOVER_VOLUMES });
      },
      async (sim) => {
        const { check } = await doctorJson(sim);
        const c = check("delivery/consumers-without-pvc");
        assert.equal(c.status, "fail");
        assert.deepEqual(
          c.results.filter((x) => x.status === "fail").map((x) => x.subject),
          ["apps"],
          "only the namespace whose movers mount PVC kopia",
        );
      },
    );
  });

  it("namespaced denials name the namespace (-n)", async () => {
    await withSim(
      { crds: ["volsync"] },
      (sim) => {
        healthy(sim);
        sim.denied.add({ verb: "list", resource: "persistentvolumeclaims", namespace: "media" });
      },
      async (sim) => {
        const { check, r } = await doctorJson(sim, ["-n", "media"]);
        assert.equal(r.code, 0, r.out);
        for (const id of ["pv/released-stale-claim", "pvc/bound", "delivery/consumers-without-pvc"]) {
          assert.equal(check(id).status, "warn", id);
          assert.equal(
            check(id).results[0]?.what,
            "not checked: missing permission: list persistentvolumeclaims in media",
          );
          assert.match(check(id).results[0]?.fix ?? "", /kubectl -n media create role kopiashare-doctor/);
        }
      },
    );
  });

  it("a forbidden PV list warns on every PV check and still exits 0", async () => {
    await withSim(
      { crds: ["volsync"] },
      (sim) => {
        healthy(sim);
        sim.denied.add({ verb: "list", resource: "persistentvolumes" });
      },
      async (sim) => {
        const { r, check } = await doctorJson(sim);
        assert.equal(r.code, 0, r.err);
        for (const id of [
          "repository/pv",
          "volume/reclaim-retain",
          "volume/same-subvolume",
          "pv/claim-ref",
          "pvc/bound",
        ]) {
          assert.equal(check(id).status, "warn", id);
          assert.match(check(id).results[0]?.what ?? "", /missing permission: list persistentvolumes cluster-wide/);
        }
        assert.doesNotMatch(r.err, /at .*\.ts:\d+/, "no stack trace");
      },
    );
  });
});

describe("kopiur/volume-root and kubectl agree", () => {
  it("the PV each PVC kopia-kopiur names has the repository PV's rootPath plus /repository", async (t) => {
    const kubectl = kubectlPath();
    if (!kubectl) {
      t.skip("kubectl not installed");
      return;
    }
    await withSim(
      { crds: ["kopiur"] },
      (sim) => {
        sharedRepository(sim, { namespaces: ["media", "home"], style: "static" });
        kopiurRoot(sim, ["media", "home"]);
        // One namespace's Kopiur PV is the subvolume's root: recreated, as a wrong PV would be.
        sim.store.delete("persistentvolumeclaims", "kopia-kopiur", "home");
        sim.store.delete("persistentvolumes", "kopia-kopiur-home");
        const pv = pvObject("home", { style: "static" });
        pv.metadata.name = "kopia-kopiur-home";
        Object.assign(pv.spec as object, { claimRef: { namespace: "home", name: "kopia-kopiur" } });
        sim.store.create(pv);
        sim.store.create(pvcObject("home", { name: "kopia-kopiur", volumeName: "kopia-kopiur-home" }));
      },
      async (sim) => {
        const home = mkdtempSync(path.join(tmpdir(), "kopiashare-kubectl-"));
        const env = { ...process.env, KUBECONFIG: sim.kubeconfigPath, HOME: home };
        const sh = async (cmd: string) => (await promisify(execFile)("sh", ["-c", cmd], { env, cwd: ROOT })).stdout;
        const base = await sh(
          "kubectl get pv kopia-repository-pv-volsync-system -o jsonpath='{.spec.csi.volumeAttributes.rootPath}'",
        );
        const { check } = await doctorJson(sim);
        const failed = new Set(
          check("kopiur/volume-root")
            .results.filter((x) => x.status === "fail")
            .map((x) => x.subject),
        );
        const rows = (
          await sh(
            "kubectl get pvc -A --field-selector metadata.name=kopia-kopiur -o jsonpath='{range .items[*]}{.metadata.namespace} {.spec.volumeName}{\"\\n\"}{end}'",
          )
        )
          .trim()
          .split("\n");
        assert.equal(rows.length, 3);
        for (const row of rows) {
          const [ns, volume] = row.split(" ") as [string, string];
          const root = await sh(`kubectl get pv ${volume} -o jsonpath='{.spec.csi.volumeAttributes.rootPath}'`);
          assert.equal(failed.has(`${ns}/kopia-kopiur`), root !== `${base}/repository`, `${ns}: ${root}`);
        }
        assert.deepEqual([...failed], ["home/kopia-kopiur"]);
      },
    );
  });
});
