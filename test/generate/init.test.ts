import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { removeEntry } from "../../src/gitops/kustomize-edit.ts";
import { EXAMPLE, read, run, tempRepo, treeOf, writeFiles } from "../helpers.ts";
import { FRESH_FLAGS, freshRepo, golden, HANDLE, init, KOPIUR_FLAGS, lint } from "./util.ts";

const NS_DIR = "kubernetes/apps/system/volsync-system";
const CENTRAL = [
  `${NS_DIR}/kopia/ks.yaml`,
  `${NS_DIR}/kopia/app/kustomization.yaml`,
  `${NS_DIR}/kopia/app/externalsecret.yaml`,
  `${NS_DIR}/kopia/app/kopia-init-job.yaml`,
  `${NS_DIR}/kopia/app/kopiamaintenance.yaml`,
  `${NS_DIR}/kopia/app/mutatingadmissionpolicy.yaml`,
  "kubernetes/components/volsync/kustomization.yaml",
  "kubernetes/components/volsync/externalsecret.yaml",
  "kubernetes/components/volsync/pvc.yaml",
  "kubernetes/components/volsync/replicationdestination.yaml",
  "kubernetes/components/volsync/replicationsource.yaml",
];

/** 1-based line of the first line of `text` that contains `needle`. */
const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

/** A volsync-0.17 init of a new static repository PV in tier system, with nothing but its root path. */
const STATIC_017 = (rootPath: string) => [
  "--mover",
  "volsync-0.17",
  "--tier",
  "system",
  "--style",
  "static",
  "--root-path",
  rootPath,
];

/** A StorageClass of ceph-csi's CephFS driver with its node-stage secret. */
const cephfsClass = (name: string, clusterId: string, fsName: string, driver = "cephfs.csi.ceph.com") => `---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${name}
provisioner: ${driver}
parameters:
  clusterID: ${clusterId}
  fsName: ${fsName}
  csi.storage.k8s.io/node-stage-secret-name: ${name}-node
  csi.storage.k8s.io/node-stage-secret-namespace: ceph-csi
reclaimPolicy: Retain
`;

describe("init reproduces the example's central files", () => {
  it("removing them from a copy of the example and running init --mover volsync-0.16 --kubernetes-version 1.34 gives them back byte for byte", async () => {
    const dir = tempRepo(EXAMPLE);
    const original = treeOf(dir);
    for (const f of CENTRAL) rmSync(path.join(dir, f));
    const nsK = `${NS_DIR}/kustomization.yaml`;
    writeFileSync(path.join(dir, nsK), removeEntry(read(dir, nsK), nsK, "./kopia/ks.yaml"));
    const wrote = await init(dir, ["--mover", "volsync-0.16", "--kubernetes-version", "1.34"]);
    for (const f of CENTRAL) assert.equal(read(dir, f), original.get(f), `${f} differs from the example`);
    assert.equal(read(dir, nsK), original.get(nsK));
    // nothing else changed, except that kopiashare.yaml now records the version (no policy left to read it from)
    assert.deepEqual([...wrote.keys()].sort(), [...CENTRAL, nsK, "kopiashare.yaml"].sort());
    assert.equal(read(dir, "kopiashare.yaml"), `${original.get("kopiashare.yaml")}kubernetesVersion: "1.34"\n`);
  });

  it("reports up to date on the example and writes nothing", async () => {
    const dir = tempRepo(EXAMPLE);
    const before = treeOf(dir);
    const r = await run(["init", "--repo", dir], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /already initialised for volsync-0\.16, Kubernetes 1\.34; nothing to change/);
    assert.deepEqual(treeOf(dir), before);
  });

  it("refuses to overwrite a hand-edited generated file without --force, showing the diff", async () => {
    const dir = tempRepo(EXAMPLE);
    const f = `${NS_DIR}/kopia/app/kopiamaintenance.yaml`;
    writeFileSync(path.join(dir, f), read(dir, f).replace('"0 3 * * *"', '"0 4 * * *"'));
    const before = treeOf(dir);
    const r = await run(["init", "--repo", dir], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /kopiamaintenance\.yaml exists with different content/);
    assert.match(r.err, /-\s+schedule: "0 4 \* \* \*"/);
    assert.deepEqual(treeOf(dir), before);
    const forced = await run(["init", "--repo", dir, "--force"], { cwd: dir });
    assert.equal(forced.code, 0, forced.err);
    assert.match(read(dir, f), /"0 3 \* \* \*"/);
  });

  it("refuses to switch generations and points at migrate", async () => {
    const dir = tempRepo(EXAMPLE);
    const r = await run(["init", "--repo", dir, "--mover", "volsync-0.17"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /kopiashare migrate --to volsync-0\.17/);
  });
});

describe("init on a repository without the shared repository (golden files)", () => {
  const cases: [string, string[]][] = [
    ["volsync-0.16-k8s-1.32", ["--mover", "volsync-0.16", "--kubernetes-version", "1.32"]],
    ["volsync-0.16-k8s-1.34", ["--mover", "volsync-0.16", "--kubernetes-version", "1.34"]],
    ["volsync-0.16-k8s-1.36", ["--mover", "volsync-0.16", "--kubernetes-version", "1.36"]],
    ["volsync-0.17", ["--mover", "volsync-0.17"]],
    ["kopiur", ["--mover", "kopiur", ...KOPIUR_FLAGS]],
  ];
  for (const [name, args] of cases) {
    it(`${name}`, async () => {
      const dir = freshRepo();
      const wrote = await init(dir, [...args, ...FRESH_FLAGS]);
      golden(name, wrote);
      const again = await run(["init", "--repo", dir], { cwd: dir });
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /nothing to change/);
    });
  }

  it("volsync-0.17 and kopiur output does not depend on the Kubernetes version", async () => {
    for (const mover of ["volsync-0.17", "kopiur"]) {
      const more = mover === "kopiur" ? KOPIUR_FLAGS : [];
      const a = await init(freshRepo(), ["--mover", mover, "--kubernetes-version", "1.30", ...FRESH_FLAGS, ...more]);
      const b = await init(freshRepo(), ["--mover", mover, "--kubernetes-version", "1.36", ...FRESH_FLAGS, ...more]);
      assert.deepEqual(a, b, mover);
    }
  });

  it("the 0.16 policy apiVersion follows the band", async () => {
    for (const [v, api] of <[string, string][]>[
      ["1.32", "v1alpha1"],
      ["1.33", "v1alpha1"],
      ["1.34", "v1beta1"],
      ["1.35", "v1beta1"],
      ["1.36", "v1"],
      ["1.40", "v1"],
    ]) {
      const wrote = await init(freshRepo(), ["--mover", "volsync-0.16", "--kubernetes-version", v, ...FRESH_FLAGS]);
      const map = wrote.get("kubernetes/apps/system/volsync-system/kopia/app/mutatingadmissionpolicy.yaml") ?? "";
      assert.match(map, new RegExp(`^apiVersion: admissionregistration\\.k8s\\.io/${api}$`, "m"), v);
      assert.match(wrote.get("kopiashare.yaml") ?? "", new RegExp(`kubernetesVersion: "${v.replace(".", "\\.")}"`));
    }
  });

  it("static style writes a ceph-csi static volume with its own handle", async () => {
    const dir = freshRepo();
    const wrote = await init(dir, [
      "--mover",
      "volsync-0.17",
      "--tier",
      "system",
      "--style",
      "static",
      "--root-path",
      "/volumes/backups/kopia/abc",
      "--cluster-id",
      "407036f5-1f73-44ff-ba81-1f219b7a8a64",
      "--fs-name",
      "backups",
      "--storage-class",
      "csi-cephfs-backups-sc",
      "--node-stage-secret",
      "ceph-csi/csi-cephfs-static",
    ]);
    const pv = wrote.get("kubernetes/apps/system/volsync-system/volsync-repository-pvc/app/pvc.yaml") ?? "";
    assert.match(pv, /staticVolume: "true"/);
    assert.match(pv, /rootPath: \/volumes\/backups\/kopia\/abc/);
    assert.match(pv, /volumeHandle: kopia-repository-pv-volsync-system/);
    assert.match(pv, /persistentVolumeReclaimPolicy: Retain/);
  });

  it("the repository's own Flux Kustomization waits for the PVC", async () => {
    const wrote = await init(freshRepo(), ["--mover", "volsync-0.17", ...FRESH_FLAGS]);
    const ks = wrote.get("kubernetes/apps/system/volsync-system/volsync-repository-pvc/ks.yaml") ?? "";
    assert.match(ks, /wait: true/);
    assert.match(ks, /healthChecks:\n {4}- apiVersion: v1\n {6}kind: PersistentVolumeClaim\n {6}name: kopia/);
  });
});

describe("init: bad input exits 2 and writes nothing", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "unknown mover",
      ["--mover", "velero"],
      /--mover velero: unknown mover[\s\S]*volsync-0\.16, volsync-0\.17, kopiur/,
    ],
    [
      "a version without a policy API for volsync-0.16",
      ["--mover", "volsync-0.16", "--kubernetes-version", "1.31"],
      /Kubernetes 1\.31 serves no MutatingAdmissionPolicy API[\s\S]*Kubernetes 1\.32 or later/,
    ],
    [
      "a malformed version",
      ["--mover", "volsync-0.17", "--kubernetes-version", "1.34.x"],
      /expected a Kubernetes version such as 1\.34 \(1\.34, v1\.34, 1\.34\.2 or v1\.34\.2\)/,
    ],
    [
      "a version of another major",
      ["--mover", "volsync-0.17", "--kubernetes-version", "2.0"],
      /expected a Kubernetes version/,
    ],
    ["volsync-0.16 without any version", ["--mover", "volsync-0.16"], /pass --kubernetes-version/],
    ["unknown style", ["--mover", "volsync-0.17", "--style", "nfs"], /--style nfs: unknown volume style/],
    [
      "conflicting handle and root path",
      ["--mover", "volsync-0.17", "--root-path", "/v"],
      /--volume-handle and --root-path cannot be used together/,
    ],
    [
      "secret store not RFC 1123",
      ["--mover", "volsync-0.17", "--secret-store", "One Password"],
      /not a valid RFC 1123 subdomain/,
    ],
  ];
  for (const [name, args, msg] of cases) {
    it(name, async () => {
      const dir = freshRepo();
      const before = treeOf(dir);
      const r = await run(["init", "--repo", dir, ...args, ...FRESH_FLAGS], { cwd: dir });
      assert.equal(r.code, 2, `${name}: ${r.err}`);
      assert.match(r.err, msg);
      assert.deepEqual(treeOf(dir), before);
    });
  }

  it("a repository without a repository PV and no volume flags", async () => {
    const dir = freshRepo();
    const before = treeOf(dir);
    const r = await run(["init", "--repo", dir, "--mover", "kopiur", "--tier", "system"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /no repository PV found/);
    assert.deepEqual(treeOf(dir), before);
  });

  it("a static style without --root-path (the one thing init cannot find)", async () => {
    const dir = freshRepo();
    const before = treeOf(dir);
    const r = await run(["init", "--repo", dir, "--mover", "kopiur", "--tier", "system", "--style", "static"], {
      cwd: dir,
    });
    assert.equal(r.code, 2);
    assert.match(r.err, /static-style repository volume needs --root-path/);
    assert.match(r.err, /ceph fs subvolume getpath/);
    assert.deepEqual(treeOf(dir), before);
  });

  it("two CephFS storage classes that both fit: asks which, naming both", async () => {
    const dir = freshRepo();
    writeFiles(dir, {
      "kubernetes/apps/system/sc.yaml": [cephfsClass("a", "c1", "fs1"), cephfsClass("b", "c1", "fs1")].join(""),
    });
    const before = treeOf(dir);
    const r = await run(["init", "--repo", dir, ...STATIC_017("/v/x")], {
      cwd: dir,
    });
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /several CephFS storage classes could hold the repository: a \(kubernetes\/apps\/system\/sc\.yaml\), b/,
    );
    assert.deepEqual(treeOf(dir), before);
  });

  it("a style that differs from the repository PV's", async () => {
    const dir = tempRepo(EXAMPLE);
    const before = treeOf(dir);
    const r = await run(["init", "--repo", dir, "--style", "static", "--root-path", "/x"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /must not mix the two styles/);
    assert.deepEqual(treeOf(dir), before);
  });
});

describe("init: registration, adopted volumes and Kubernetes versions", () => {
  const MAP = `${NS_DIR}/kopia/app/mutatingadmissionpolicy.yaml`;
  const REPOSITORY_PV = `${NS_DIR}/volsync-repository-pvc/app/pvc.yaml`;

  it("never creates a kustomization.yaml over a namespace folder Flux already builds from its files", async () => {
    const dir = freshRepo();
    writeFiles(dir, {
      [`${NS_DIR}/helmrelease.yaml`]:
        "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: volsync\n  namespace: volsync-system\nspec:\n  interval: 30m\n",
    });
    const before = treeOf(dir);
    const r = await run(["init", "--repo", dir, "--mover", "volsync-0.17", ...FRESH_FLAGS], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.equal(existsSync(path.join(dir, `${NS_DIR}/kustomization.yaml`)), false, "would hide helmrelease.yaml");
    assert.match(
      r.err,
      /kubernetes\/apps\/system\/volsync-system\/ has manifests but no kustomization\.yaml: make sure whatever applies it includes \.\/volsync-repository-pvc\/ks\.yaml, \.\/kopia\/ks\.yaml/,
    );
    assert.equal(
      read(dir, "kubernetes/apps/system/kustomization.yaml"),
      before.get("kubernetes/apps/system/kustomization.yaml"),
    );
    assert.equal(existsSync(path.join(dir, `${NS_DIR}/namespace.yaml`)), false);
    assert.ok(existsSync(path.join(dir, `${NS_DIR}/kopia/ks.yaml`)));
  });

  // flag, a value the PV does not have, the PV's value, the text of the line the error points at
  for (const [flag, value, has, at] of [
    ["--volume-handle", "0001-0024-x", HANDLE, `volumeHandle: ${HANDLE}`],
    ["--cluster-id", "c", "407036f5-1f73-44ff-ba81-1f219b7a8a64", "clusterID: 407036f5"],
    ["--fs-name", "other", "backups", "fsName: backups"],
    ["--driver", "other.csi.ceph.com", "cephfs.csi.ceph.com", "driver: cephfs.csi.ceph.com"],
    ["--storage-class", "other", "csi-cephfs-backups-sc", "storageClassName: csi-cephfs-backups-sc"],
    ["--capacity", "10Gi", "200Gi", "storage: 200Gi"],
    ["--node-stage-secret", "ns/name", "ceph-csi/csi-ceph-admin-secret", "nodeStageSecretRef:"],
  ] as const) {
    it(`refuses ${flag} when it disagrees with the repository PV it adopts, naming the PV's value and line`, async () => {
      const dir = tempRepo(EXAMPLE);
      const before = treeOf(dir);
      const r = await run(["init", "--repo", dir, flag, value], { cwd: dir });
      assert.equal(r.code, 2, r.err);
      const file = REPOSITORY_PV.replaceAll("/", "\\/").replaceAll(".", "\\.");
      assert.match(r.err, /the repository PV kopia-repository-pv-volsync-system .* is adopted as it is/);
      const line = lineOf(read(dir, REPOSITORY_PV), at);
      assert.match(r.err, new RegExp(`${flag} ${value}: the PV has ${has} \\(${file}:${line}\\)`));
      assert.deepEqual(treeOf(dir), before);
    });
  }

  it("the same volume flags as the PV has: up to date, nothing written (re-running a command is safe)", async () => {
    const dir = tempRepo(EXAMPLE);
    const before = treeOf(dir);
    const r = await run(
      [
        "init",
        "--repo",
        dir,
        "--style",
        "shared-handle",
        "--volume-handle",
        HANDLE,
        "--fs-name",
        "backups",
        "--cluster-id",
        "407036f5-1f73-44ff-ba81-1f219b7a8a64",
        "--storage-class",
        "csi-cephfs-backups-sc",
        "--node-stage-secret",
        "ceph-csi/csi-ceph-admin-secret",
        "--capacity",
        "200Gi",
      ],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /nothing to change/);
    assert.deepEqual(treeOf(dir), before);
  });

  it("a --style that the PV has is accepted; another is refused", async () => {
    const dir = tempRepo(EXAMPLE);
    assert.equal((await run(["init", "--repo", dir, "--style", "shared-handle"], { cwd: dir })).code, 0);
    const r = await run(["init", "--repo", dir, "--style", "static"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /must not mix the two styles/);
  });

  it("names every flag that disagrees", async () => {
    const dir = tempRepo(EXAMPLE);
    const r = await run(
      ["init", "--repo", dir, "--fs-name", "x", "--capacity", "1Gi", "--driver", "cephfs.csi.ceph.com"],
      {
        cwd: dir,
      },
    );
    assert.equal(r.code, 2);
    assert.match(r.err, /these flags disagree/);
    assert.match(r.err, /--fs-name x: the PV has backups/);
    assert.match(r.err, /--capacity 1Gi: the PV has 200Gi/);
    assert.doesNotMatch(r.err, /--driver/);
  });

  it("accepts v1.NN, 1.NN.P and v1.NN.P and records 1.NN", async () => {
    for (const [v, api, minor] of <[string, string, string][]>[
      ["v1.36.1", "v1", "1.36"],
      ["1.34.2", "v1beta1", "1.34"],
      ["v1.33", "v1alpha1", "1.33"],
    ]) {
      const wrote = await init(freshRepo(), ["--mover", "volsync-0.16", "--kubernetes-version", v, ...FRESH_FLAGS]);
      assert.match(wrote.get(MAP) ?? "", new RegExp(`^apiVersion: admissionregistration\\.k8s\\.io/${api}$`, "m"), v);
      assert.match(wrote.get("kopiashare.yaml") ?? "", new RegExp(`kubernetesVersion: "${minor.replace(".", "\\.")}"`));
    }
  });

  it("kubernetesVersion in kopiashare.yaml may be written v1.NN.P too, for init and lint alike", async () => {
    const dir = freshRepo();
    writeFiles(dir, { "kopiashare.yaml": 'kubernetesVersion: "v1.34.2"\n' });
    const wrote = await init(dir, ["--mover", "volsync-0.16", ...FRESH_FLAGS]);
    assert.match(wrote.get(MAP) ?? "", /^apiVersion: admissionregistration\.k8s\.io\/v1beta1$/m);
    const lint = await run(["lint", "--repo", dir, "-o", "json"], { cwd: dir });
    assert.notEqual(lint.code, 2, lint.err);
    assert.equal((JSON.parse(lint.out) as { kubernetesVersion: string }).kubernetesVersion, "1.34");
  });

  it("a new Kubernetes version re-renders the policy without --force (no hand edit)", async () => {
    const dir = tempRepo(EXAMPLE);
    const r = await run(["init", "--repo", dir, "--kubernetes-version", "1.36"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`updated ${MAP}`));
    assert.match(read(dir, MAP), /^apiVersion: admissionregistration\.k8s\.io\/v1$/m);
    assert.match(read(dir, "kopiashare.yaml"), /^kubernetesVersion: "1\.36"$/m);
    // a hand edit of that policy is still refused
    writeFileSync(path.join(dir, MAP), `${read(dir, MAP)}# mine\n`);
    const again = await run(["init", "--repo", dir, "--kubernetes-version", "1.34"], { cwd: dir });
    assert.equal(again.code, 2, again.err);
    assert.match(again.err, /mutatingadmissionpolicy\.yaml exists with different content/);
  });
});

describe("init finds what a new repository PV needs, and asks only for the root path", () => {
  const PV = "kubernetes/apps/system/volsync-system/volsync-repository-pvc/app/pvc.yaml";
  const FSID = "407036f5-1f73-44ff-ba81-1f219b7a8a64";
  const JELLYFIN_KS = `---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: jellyfin
  namespace: flux-system
spec:
  targetNamespace: media
  path: ./kubernetes/apps/system/media/jellyfin/app
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  interval: 30m
`;
  const SEED = [
    "--style",
    "static",
    "--root-path",
    "/volumes/csi/kopia/abc",
    "--cluster-id",
    FSID,
    "--fs-name",
    "backups",
  ];

  it("the seed's flags alone (no storage class, no secret): Rook's defaults, each said to be assumed; the same command again is up to date", async () => {
    const dir = freshRepo();
    const args = ["init", "--repo", dir, "--tier", "system", ...SEED, "--kubernetes-version", "1.35"];
    const r = await run(args, { cwd: dir });
    assert.equal(r.code, 0, r.err);
    const pv = read(dir, PV);
    assert.match(pv, /driver: cephfs\.csi\.ceph\.com\n/, "a Ceph fsid as cluster ID: ceph-csi's driver, not Rook's");
    assert.match(pv, /storageClassName: ceph-filesystem/);
    assert.match(pv, /name: rook-csi-cephfs-node\n\s+namespace: rook-ceph/);
    assert.match(
      r.err,
      /--storage-class ceph-filesystem: assumed \(Rook's default\); pass --storage-class to change it/,
    );
    assert.match(r.err, /--node-stage-secret rook-ceph\/rook-csi-cephfs-node: assumed/);
    assert.doesNotMatch(r.err, /--cluster-id|--fs-name/, "given flags are not notes");
    const before = treeOf(dir);
    const again = await run(args, { cwd: dir });
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /nothing to change/);
    assert.deepEqual(treeOf(dir), before);
  });

  for (const mover of ["volsync-0.16", "volsync-0.17", "kopiur"]) {
    it(`closed loop, ${mover}: init with the seed's flags, enable, app, lint clean, the same init again up to date`, async () => {
      const dir = freshRepo();
      const initArgs = [
        "init",
        "--repo",
        dir,
        "--mover",
        mover,
        "--tier",
        "system",
        ...SEED,
        "--kubernetes-version",
        "1.35",
      ];
      for (const args of [initArgs, ["enable", "media", "--repo", dir, "--tier", "system"]]) {
        const r = await run(args, { cwd: dir });
        assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
      }
      // An app of the user's own, listed in the namespace folder enable made.
      const media = "kubernetes/apps/system/media";
      writeFiles(dir, {
        [`${media}/jellyfin/ks.yaml`]: JELLYFIN_KS,
        [`${media}/jellyfin/app/kustomization.yaml`]: "resources: []\n",
        [`${media}/kustomization.yaml`]: `${read(dir, `${media}/kustomization.yaml`)}  - ./jellyfin/ks.yaml\n`,
      });
      const app = await run(["app", "media", "jellyfin", "--repo", dir], { cwd: dir });
      assert.equal(app.code, 0, app.err);
      const l = await lint(dir);
      assert.deepEqual(
        l.findings.filter((f) => f.severity !== "info").map((f) => `${f.rule ?? f.id} ${f.file}: ${f.what}`),
        [],
        l.text,
      );
      const before = treeOf(dir);
      const again = await run(initArgs, { cwd: dir });
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /nothing to change/);
      assert.deepEqual(treeOf(dir), before);
    });
  }

  it("a CephFS StorageClass in the repository: driver, secret, cluster and file system are read from it, with file:line", async () => {
    const dir = freshRepo();
    writeFiles(dir, {
      "kubernetes/apps/system/ceph/sc.yaml":
        cephfsClass("cephfs-other", "other-cluster", "fs9") +
        cephfsClass("cephfs-backups", FSID, "backups", "rook-ceph.cephfs.csi.ceph.com"),
    });
    const wrote = await init(dir, [
      "--mover",
      "volsync-0.17",
      "--tier",
      "system",
      "--style",
      "static",
      "--root-path",
      "/v/kopia",
      "--fs-name",
      "backups",
    ]);
    const pv = wrote.get(PV) ?? "";
    assert.match(pv, /driver: rook-ceph\.cephfs\.csi\.ceph\.com/);
    assert.match(pv, /storageClassName: cephfs-backups/);
    assert.match(pv, /name: cephfs-backups-node\n\s+namespace: ceph-csi/);
    assert.match(pv, new RegExp(`clusterID: ${FSID}`));
  });

  it("the Rook cluster's HelmRelease: its file system, storage class, namespace and operator namespace", async () => {
    const dir = freshRepo();
    writeFiles(dir, {
      "kubernetes/apps/rook-ceph/cluster/helmrelease.yaml": `---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: rook-ceph-cluster
  namespace: storage
spec:
  chart:
    spec:
      chart: rook-ceph-cluster
  values:
    operatorNamespace: rook-system
    cephFileSystems:
      - name: ceph-fs
        storageClass:
          enabled: true
          name: ceph-fs-sc
`,
    });
    const r = await run(["init", "--repo", dir, ...STATIC_017("/volumes/csi/x")], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    const pv = read(dir, PV);
    assert.match(pv, /driver: rook-system\.cephfs\.csi\.ceph\.com/);
    assert.match(pv, /storageClassName: ceph-fs-sc/);
    assert.match(pv, /clusterID: storage\n/);
    assert.match(pv, /fsName: ceph-fs\n/);
    assert.match(pv, /name: rook-csi-cephfs-node\n\s+namespace: storage/);
    assert.match(r.err, /--fs-name ceph-fs: read from kubernetes\/apps\/rook-ceph\/cluster\/helmrelease\.yaml:\d+/);
  });
});
