/**
 * One failing and one passing case per rule. Each case copies the correct base repository
 * (test/fixtures/lint/base), breaks one thing and asserts the finding's rule, severity and file:line.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  APP_KS,
  C,
  type Edit,
  INIT,
  KM,
  KOPIA_ES,
  type LintRun,
  lineOf,
  lint,
  M,
  MAP,
  ofRule,
  PV_MEDIA,
  PV_SYS,
  repoWith,
  V,
  where,
} from "./helpers.ts";

async function broken(edits: Edit[], args: string[] = []): Promise<{ dir: string; r: LintRun }> {
  const dir = repoWith(edits);
  return { dir, r: await lint(dir, args) };
}

const STATIC_SYS: Edit[] = [
  [
    PV_SYS,
    "      fsName: backups\n",
    '      fsName: backups\n      staticVolume: "true"\n      rootPath: /volumes/csi/backups/repo\n',
  ],
  [PV_SYS, "volumeHandle: 0001-0024", "volumeHandle: kopia-repository-pv-volsync-system\n# was: 0001-0024"],
];
const STATIC_MEDIA: Edit[] = [
  [
    PV_MEDIA,
    "      fsName: backups\n",
    '      fsName: backups\n      staticVolume: "true"\n      rootPath: /volumes/csi/backups/repo\n',
  ],
  [PV_MEDIA, "volumeHandle: 0001-0024", "volumeHandle: kopia-repository-pv-media\n# was: 0001-0024"],
];

describe("lint rules", () => {
  let base: LintRun;
  before(async () => {
    base = await lint(repoWith(), ["--kubernetes-version", "1.34"]);
  });

  it("the base repository is clean (the passing case of every rule below that does not name one)", () => {
    assert.deepEqual(base.findings, []);
    assert.equal(base.code, 0);
  });

  describe("volume/mixed-style", () => {
    it("fails: one static PV among shared-handle PVs", async () => {
      const { dir, r } = await broken(STATIC_MEDIA);
      assert.deepEqual(where(r, "volume/mixed-style"), [`${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "csi:")}`]);
      assert.match(
        ofRule(r, "volume/mixed-style")[0]?.what ?? "",
        /static style, but the repository PV .* shared-handle/,
      );
    });
    it("passes: every PV static, same rootPath, unique handles", async () => {
      const { r } = await broken([...STATIC_SYS, ...STATIC_MEDIA]);
      assert.deepEqual(r.findings, []);
    });
    // The repository PV's handle names subvolume csi-vol-841e604c-...; a static rootPath names its path.
    const staticOn = (uuid: string): Edit[] => [
      [
        STATIC_MEDIA[0]?.[0] as string,
        "      fsName: backups\n",
        `      fsName: backups\n      staticVolume: "true"\n      rootPath: /volumes/csi/csi-vol-${uuid}/6f1c9e55-0d3b-4c3e-9a39-2f6a7d0c1b11\n`,
      ],
      STATIC_MEDIA[1] as Edit,
    ];
    it("a warning: a static PV on the subvolume the shared handle names (both reach one repository)", async () => {
      const { r } = await broken(staticOn("841e604c-1dd5-4a09-8763-84e672d78c4e"));
      const [f] = ofRule(r, "volume/mixed-style");
      assert.equal(f?.severity, "warning");
      assert.match(f?.what ?? "", /on the same subvolume \(841e604c-1dd5-4a09-8763-84e672d78c4e\)/);
    });
    it("an error: a static PV on another subvolume (a separate, empty repository)", async () => {
      const { r } = await broken(staticOn("99999999-1dd5-4a09-8763-84e672d78c4e"));
      const [f] = ofRule(r, "volume/mixed-style");
      assert.equal(f?.severity, "error");
      assert.match(f?.what ?? "", /reaches another subvolume/);
    });
    it("a warning: a static rootPath that names no subvolume (which one it reaches is not known)", async () => {
      const { r } = await broken(STATIC_MEDIA);
      assert.equal(ofRule(r, "volume/mixed-style")[0]?.severity, "warning");
    });
  });

  describe("volume/attribute-mismatch", () => {
    it("fails: another fsName", async () => {
      const { dir, r } = await broken([[PV_MEDIA, "fsName: backups", "fsName: other"]]);
      assert.deepEqual(where(r, "volume/attribute-mismatch"), [`${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "fsName")}`]);
      assert.match(ofRule(r, "volume/attribute-mismatch")[0]?.what ?? "", /fsName is "other"/);
    });
    it("passes: same driver, clusterID, fsName and secret", () => {
      assert.deepEqual(ofRule(base, "volume/attribute-mismatch"), []);
    });
  });

  describe("volume/handle-mismatch", () => {
    it("fails: a shared-handle PV with another handle", async () => {
      const { dir, r } = await broken([[PV_MEDIA, "84e672d78c4e", "000000000000"]]);
      assert.deepEqual(where(r, "volume/handle-mismatch"), [`${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "volumeHandle")}`]);
      assert.match(ofRule(r, "volume/handle-mismatch")[0]?.fix ?? "", /the data stays \(Retain\)/);
    });
    it("fails: the fix for a PV that is not Retain makes it Retain before it is recreated", async () => {
      const { r } = await broken([
        [PV_MEDIA, "84e672d78c4e", "000000000000"],
        [PV_MEDIA, "persistentVolumeReclaimPolicy: Retain", "persistentVolumeReclaimPolicy: Delete"],
      ]);
      const fix = ofRule(r, "volume/handle-mismatch")[0]?.fix ?? "";
      assert.match(fix, /first make it Retain \(kubectl patch pv kopia-repository-pv-media -p/);
      assert.doesNotMatch(fix, /the data stays/);
    });
    it("passes: one handle", () => assert.deepEqual(ofRule(base, "volume/handle-mismatch"), []));
  });

  describe("volume/static-layout", () => {
    it("fails: another rootPath, and a static handle used twice", async () => {
      const { dir, r } = await broken([
        ...STATIC_SYS,
        ...STATIC_MEDIA,
        [PV_MEDIA, "rootPath: /volumes/csi/backups/repo", "rootPath: /volumes/csi/backups/other"],
        [PV_MEDIA, "volumeHandle: kopia-repository-pv-media", "volumeHandle: kopia-repository-pv-volsync-system"],
      ]);
      assert.deepEqual(where(r, "volume/static-layout"), [
        `${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "rootPath")}`,
        `${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "volumeHandle")}`,
      ]);
    });
    it("passes: same rootPath, unique handles", async () => {
      const { r } = await broken([...STATIC_SYS, ...STATIC_MEDIA]);
      assert.deepEqual(ofRule(r, "volume/static-layout"), []);
    });
  });

  describe("volume/reclaim-policy", () => {
    it("fails: Delete on a shared handle is an error, on a static volume a warning", async () => {
      const { dir, r } = await broken([[PV_MEDIA, "ReclaimPolicy: Retain", "ReclaimPolicy: Delete"]]);
      const line = lineOf(dir, PV_MEDIA, "persistentVolumeReclaimPolicy");
      assert.deepEqual(
        ofRule(r, "volume/reclaim-policy").map((f) => `${f.severity} ${f.file}:${f.line}`),
        [`error ${PV_MEDIA}:${line}`],
      );
      const s = await broken([
        ...STATIC_SYS,
        ...STATIC_MEDIA,
        [PV_MEDIA, "ReclaimPolicy: Retain", "ReclaimPolicy: Delete"],
      ]);
      assert.deepEqual(
        ofRule(s.r, "volume/reclaim-policy").map((f) => f.severity),
        ["warning"],
      );
    });
    it("passes: Retain (also when unset: static PVs default to Retain)", async () => {
      const { r } = await broken([[PV_MEDIA, "  persistentVolumeReclaimPolicy: Retain\n", ""]]);
      assert.deepEqual(ofRule(r, "volume/reclaim-policy"), []);
    });
  });

  describe("volume/old-kubernetes", () => {
    it("fails: shared handle on 1.23", async () => {
      const dir = repoWith();
      const r = await lint(dir, ["--kubernetes-version", "1.23"]);
      assert.deepEqual(where(r, "volume/old-kubernetes"), [`${PV_SYS}:${lineOf(dir, PV_SYS, "volumeHandle")}`]);
    });
    it("passes: 1.24", async () => {
      const r = await lint(repoWith(), ["--kubernetes-version", "1.24"]);
      assert.deepEqual(ofRule(r, "volume/old-kubernetes"), []);
    });
  });

  describe("binding/no-claim-ref", () => {
    it("fails: PV without claimRef", async () => {
      const { r } = await broken([
        [
          PV_MEDIA,
          "  claimRef:\n    apiVersion: v1\n    kind: PersistentVolumeClaim\n    namespace: media\n    name: kopia\n",
          "",
        ],
      ]);
      assert.deepEqual(
        ofRule(r, "binding/no-claim-ref").map((f) => `${f.severity} ${f.file}:${f.line} ${f.subject}`),
        [`warning ${PV_MEDIA}:6 PersistentVolume kopia-repository-pv-media`],
      );
      assert.match(ofRule(r, "binding/no-claim-ref")[0]?.fix ?? "", /namespace: media, name: kopia/);
    });
    it("passes: claimRef namespace and name", () => assert.deepEqual(ofRule(base, "binding/no-claim-ref"), []));
  });

  describe("binding/stale-claim-ref", () => {
    it("fails: claimRef with uid", async () => {
      const { dir, r } = await broken([
        [PV_MEDIA, "    name: kopia\n  csi:", "    name: kopia\n    uid: 1234-5678\n  csi:"],
      ]);
      assert.deepEqual(where(r, "binding/stale-claim-ref"), [`${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "uid:")}`]);
    });
    it("passes: no uid, no resourceVersion", () => assert.deepEqual(ofRule(base, "binding/stale-claim-ref"), []));
  });

  describe("binding/unknown-volume", () => {
    it("fails: volumeName names a PV the repo does not declare", async () => {
      const { dir, r } = await broken([
        [PV_MEDIA, "volumeName: kopia-repository-pv-media", "volumeName: kopia-repository-pv-nope"],
      ]);
      assert.deepEqual(
        ofRule(r, "binding/unknown-volume").map((f) => `${f.severity} ${f.file}:${f.line}`),
        [`error ${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "volumeName")}`],
      );
    });
    it("passes: a dynamically provisioned PV is only info", async () => {
      const { r } = await broken([
        [
          PV_SYS,
          "volumeName: kopia-repository-pv-volsync-system",
          "volumeName: pvc-0a1b2c3d-1111-2222-3333-444455556666",
        ],
      ]);
      assert.deepEqual(
        ofRule(r, "binding/unknown-volume").map((f) => f.severity),
        ["info"],
      );
    });
  });

  describe("binding/no-volume-name", () => {
    it("fails: PVC kopia without volumeName", async () => {
      const { r } = await broken([[PV_MEDIA, "  volumeName: kopia-repository-pv-media\n", ""]]);
      assert.deepEqual(
        ofRule(r, "binding/no-volume-name").map((f) => `${f.severity} ${f.subject}`),
        ["error PersistentVolumeClaim media/kopia"],
      );
    });
    it("passes: the repository namespace's dynamic claim is info only", async () => {
      const { r } = await broken([[PV_SYS, "  volumeName: kopia-repository-pv-volsync-system\n", ""]]);
      assert.deepEqual(
        ofRule(r, "binding/no-volume-name").map((f) => f.severity),
        ["info"],
      );
    });
  });

  describe("binding/mismatch", () => {
    it("fails: PVC requests more than the PV offers, and another class", async () => {
      const { dir, r } = await broken([
        [PV_MEDIA, "      storage: 200Gi\n", "      storage: 300Gi\n"],
        [
          PV_MEDIA,
          "    - ReadWriteMany\n  storageClassName: csi-cephfs-backups-sc\n  volumeName",
          "    - ReadWriteMany\n  storageClassName: ceph-block\n  volumeName",
        ],
      ]);
      assert.deepEqual(where(r, "binding/mismatch"), [
        `${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "storageClassName: ceph-block")}`,
        `${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "storage: 300Gi")}`,
      ]);
    });
    it("passes: 200Gi PVC on a 200Gi PV of the same class", () =>
      assert.deepEqual(ofRule(base, "binding/mismatch"), []));
  });

  describe("binding/not-rwx", () => {
    it("fails: ReadWriteOnce on PV and PVC", async () => {
      const dir = repoWith();
      const text = (await import("node:fs"))
        .readFileSync(`${dir}/${PV_MEDIA}`, "utf8")
        .replaceAll("ReadWriteMany", "ReadWriteOnce");
      (await import("node:fs")).writeFileSync(`${dir}/${PV_MEDIA}`, text);
      const r = await lint(dir);
      assert.deepEqual(where(r, "binding/not-rwx"), [
        `${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "accessModes", 1)}`,
        `${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "accessModes", 2)}`,
      ]);
    });
    it("passes: ReadWriteMany", () => assert.deepEqual(ofRule(base, "binding/not-rwx"), []));
  });

  describe("binding/claim-ref-mismatch", () => {
    it("fails: the PV is reserved for a claim in another namespace", async () => {
      const { dir, r } = await broken([
        [PV_MEDIA, "    namespace: media\n    name: kopia\n  csi", "    namespace: default\n    name: kopia\n  csi"],
      ]);
      assert.deepEqual(where(r, "binding/claim-ref-mismatch"), [`${PV_MEDIA}:${lineOf(dir, PV_MEDIA, "claimRef")}`]);
      assert.match(ofRule(r, "binding/claim-ref-mismatch")[0]?.what ?? "", /claimRef names default\/kopia/);
    });
    it("passes: claimRef and volumeName name each other", () =>
      assert.deepEqual(ofRule(base, "binding/claim-ref-mismatch"), []));
  });

  describe("binding/duplicate-namespace", () => {
    it("fails: a second PV reserved for media", async () => {
      const extra = [
        "---",
        "apiVersion: v1",
        "kind: PersistentVolume",
        "metadata:",
        "  name: kopia-repository-pv-media-2",
        "spec:",
        "  claimRef:",
        "    namespace: media",
        "    name: kopia",
        "",
      ].join("\n");
      const { r } = await broken([
        [`${M}/volsync-repository-pvc/app/extra.yaml`, extra],
        [
          `${M}/volsync-repository-pvc/app/kustomization.yaml`,
          "  - ./pvc.yaml\n",
          "  - ./pvc.yaml\n  - ./extra.yaml\n",
        ],
      ]);
      assert.deepEqual(where(r, "binding/duplicate-namespace"), [`${M}/volsync-repository-pvc/app/extra.yaml:2`]);
    });
    it("passes: one PV per namespace", () => assert.deepEqual(ofRule(base, "binding/duplicate-namespace"), []));
  });

  describe("binding/duplicate-name", () => {
    it("fails: the same PV declared in two files", async () => {
      const dir = repoWith([
        [`${M}/volsync-repository-pvc/app/kustomization.yaml`, "  - ./pvc.yaml\n", "  - ./pvc.yaml\n  - ./copy.yaml\n"],
      ]);
      const { readFileSync, writeFileSync } = await import("node:fs");
      writeFileSync(`${dir}/${M}/volsync-repository-pvc/app/copy.yaml`, readFileSync(`${dir}/${PV_MEDIA}`, "utf8"));
      const r = await lint(dir);
      assert.deepEqual(where(r, "binding/duplicate-name"), [
        `${M}/volsync-repository-pvc/app/copy.yaml:2`,
        `${M}/volsync-repository-pvc/app/copy.yaml:${lineOf(dir, PV_MEDIA, "kind: PersistentVolumeClaim", 2) - 1}`,
      ]);
    });
    it("passes: each declared once", () => assert.deepEqual(ofRule(base, "binding/duplicate-name"), []));
  });

  describe("delivery/not-applied", () => {
    it("fails: a ks.yaml no kustomization.yaml lists", async () => {
      const { r } = await broken([[`${M}/kustomization.yaml`, "  - ./jellyfin/ks.yaml\n", ""]]);
      const f = ofRule(r, "delivery/not-applied");
      assert.deepEqual(
        f.map((x) => `${x.severity} ${x.file}:${x.line}`),
        [`warning ${APP_KS}:2`],
      );
      assert.match(
        f[0]?.fix ?? "",
        /add "\.\/jellyfin\/ks\.yaml" to the resources of kubernetes\/apps\/media\/kustomization\.yaml/,
      );
    });
    it("passes: every ks.yaml is listed", () => assert.deepEqual(ofRule(base, "delivery/not-applied"), []));
  });

  describe("delivery/missing-path", () => {
    it("fails: a Flux path, a component and a kustomize resource that do not exist", async () => {
      const { dir, r } = await broken([
        [APP_KS, "path: ./kubernetes/apps/media/jellyfin/app", "path: ./kubernetes/apps/media/jelyfin/app"],
        [`${V}/kopia/ks.yaml`, "prune: true", "prune: true\n  components:\n    - ../../nope"],
        [
          `${V}/kopia/app/kustomization.yaml`,
          "  - ./kopiamaintenance.yaml\n",
          "  - ./kopiamaintenance.yaml\n  - ./missing.yaml\n",
        ],
      ]);
      assert.deepEqual(where(r, "delivery/missing-path"), [
        `${APP_KS}:${lineOf(dir, APP_KS, "path:")}`,
        `${V}/kopia/app/kustomization.yaml:${lineOf(dir, `${V}/kopia/app/kustomization.yaml`, "missing.yaml")}`,
        `${V}/kopia/ks.yaml:${lineOf(dir, `${V}/kopia/ks.yaml`, "../../nope")}`,
      ]);
    });
    it("passes: everything exists", () => assert.deepEqual(ofRule(base, "delivery/missing-path"), []));
  });

  describe("delivery/unknown-source", () => {
    it("fails: sourceRef names a GitRepository the repo does not declare", async () => {
      const { dir, r } = await broken([[APP_KS, "name: home-kubernetes", "name: flux-system"]]);
      assert.deepEqual(where(r, "delivery/unknown-source"), [`${APP_KS}:${lineOf(dir, APP_KS, "name: flux-system")}`]);
      assert.match(ofRule(r, "delivery/unknown-source")[0]?.fix ?? "", /home-kubernetes/);
      // Its spec.components (the volsync component) would deliver backups from this checkout: an error.
      assert.equal(ofRule(r, "delivery/unknown-source")[0]?.severity, "error");
    });
    it("passes: home-kubernetes is declared", () => assert.deepEqual(ofRule(base, "delivery/unknown-source"), []));
  });

  describe("delivery/no-claim", () => {
    it("fails: consumers in media but no PVC kopia delivered there", async () => {
      const { r } = await broken([[`${M}/kustomization.yaml`, "  - ./volsync-repository-pvc/ks.yaml\n", ""]]);
      const f = ofRule(r, "delivery/no-claim");
      assert.deepEqual(
        f.map((x) => `${x.severity} ${x.subject} ${x.fix}`),
        ["error namespace media kopiashare enable media"],
      );
      assert.equal(f[0]?.file, `${C}/replicationsource.yaml`);
    });
    it("passes: every namespace with consumers has its PVC", () =>
      assert.deepEqual(ofRule(base, "delivery/no-claim"), []));
  });

  describe("delivery/orphan", () => {
    it("fails (info): a PV/PVC in a namespace nothing uses", async () => {
      const { r } = await broken([[APP_KS, "  components:\n    - ../../../../components/volsync\n", ""]]);
      assert.deepEqual(
        ofRule(r, "delivery/orphan").map((f) => `${f.severity} ${f.subject}`),
        ["info namespace media"],
      );
      assert.equal(r.code, 0, "info only");
    });
    it("passes: media has consumers", () => assert.deepEqual(ofRule(base, "delivery/orphan"), []));
  });

  describe("delivery/missing-depends-on", () => {
    it("fails: the app does not depend on its namespace's repository PVC", async () => {
      const { r } = await broken([[APP_KS, "  dependsOn:\n    - name: volsync-repository-pvc-media\n", ""]]);
      const f = ofRule(r, "delivery/missing-depends-on");
      assert.deepEqual(
        f.map((x) => `${x.severity} ${x.file}`),
        [`warning ${APP_KS}`],
      );
      assert.match(f[0]?.fix ?? "", /name: volsync-repository-pvc-media/);
    });
    it("passes: dependsOn names it", () => assert.deepEqual(ofRule(base, "delivery/missing-depends-on"), []));
    it("passes: an app whose movers write an NFS export does not need the PVC, nor a dependsOn on it", async () => {
      const nfs =
        "    copyMethod: Snapshot\n    moverVolumes:\n      - mountPath: nas\n        volumeSource:\n          nfs:\n            server: nas.lan\n            path: /export/kopia\n";
      const { r } = await broken([
        [APP_KS, "  dependsOn:\n    - name: volsync-repository-pvc-media\n", ""],
        [
          "kubernetes/components/volsync/externalsecret.yaml",
          "KOPIA_REPOSITORY: filesystem:///repository/repository",
          "KOPIA_REPOSITORY: filesystem:///mnt/nas/repository",
        ],
        ["kubernetes/components/volsync/replicationsource.yaml", "    copyMethod: Snapshot\n", nfs],
        ["kubernetes/components/volsync/replicationdestination.yaml", "    copyMethod: Snapshot\n", nfs],
      ]);
      assert.deepEqual(
        ofRule(r, "path/mismatch").filter((f) => f.file.startsWith("kubernetes/components")),
        [],
        "the movers resolve to the NFS export",
      );
      assert.deepEqual(ofRule(r, "delivery/missing-depends-on"), []);
    });
  });

  describe("delivery/no-root", () => {
    it("fails (info): no self-delivering Kustomization, roots are guessed", async () => {
      const { r } = await broken([
        [
          "kubernetes/flux/config/cluster.yaml",
          "---\napiVersion: kustomize.toolkit.fluxcd.io/v1",
          "---\napiVersion: example.com/v1",
        ],
      ]);
      assert.deepEqual(
        ofRule(r, "delivery/no-root").map((f) => `${f.severity} ${f.subject}`),
        ["info Kustomization flux-system/cluster-apps"],
      );
    });
    it("passes: the cluster Kustomization delivers itself", () =>
      assert.deepEqual(ofRule(base, "delivery/no-root"), []));
  });

  describe("path/mismatch", () => {
    it("fails: the maintenance secret names another directory", async () => {
      const { dir, r } = await broken([
        [KOPIA_ES, "filesystem:///repository/repository", "filesystem:///repository/kopia"],
      ]);
      assert.deepEqual(where(r, "path/mismatch"), [`${KOPIA_ES}:${lineOf(dir, KOPIA_ES, "KOPIA_REPOSITORY")}`]);
      assert.match(ofRule(r, "path/mismatch")[0]?.what ?? "", /"\/repository\/kopia" is "kopia\/" on the volume/);
    });
    it("fails: moverVolumes mounts at /mnt/<mountPath>, but KOPIA_REPOSITORY still names /repository/…", async () => {
      const { dir, r } = await broken([
        [
          `${C}/replicationsource.yaml`,
          "    copyMethod: Snapshot\n",
          "    copyMethod: Snapshot\n    moverVolumes:\n      - mountPath: repository\n        volumeSource:\n          persistentVolumeClaim:\n            claimName: kopia\n",
        ],
      ]);
      const f = ofRule(r, "path/mismatch");
      const es = `${C}/externalsecret.yaml`;
      assert.deepEqual(
        f.map((x) => `${x.file}:${x.line}`),
        [`${es}:${lineOf(dir, es, "KOPIA_REPOSITORY")}`],
      );
      assert.match(f[0]?.what ?? "", /no directory of the shared volume/);
      assert.match(f[0]?.what ?? "", /moverVolumes mounts PVC kopia at \/mnt\/repository/);
    });
    it("passes: under moverVolumes, /mnt/repository/repository is the same directory as /repository/repository", async () => {
      const mv =
        "    moverVolumes:\n      - mountPath: repository\n        volumeSource:\n          persistentVolumeClaim:\n            claimName: kopia\n";
      const { r } = await broken([
        [`${C}/replicationsource.yaml`, "    copyMethod: Snapshot\n", `    copyMethod: Snapshot\n${mv}`],
        [`${C}/replicationdestination.yaml`, "    copyMethod: Snapshot\n", `    copyMethod: Snapshot\n${mv}`],
        [`${C}/externalsecret.yaml`, "filesystem:///repository/repository", "filesystem:///mnt/repository/repository"],
      ]);
      assert.deepEqual(ofRule(r, "path/mismatch"), []);
    });
    it("passes: one directory everywhere", () => assert.deepEqual(ofRule(base, "path/mismatch"), []));
  });

  describe("path/not-mounted", () => {
    it("fails: no admission policy delivered, movers get no volume", async () => {
      const { dir, r } = await broken([
        [`${V}/volsync/app/kustomization.yaml`, "  - ./mutatingadmissionpolicy.yaml\n", ""],
      ]);
      assert.deepEqual(where(r, "path/not-mounted"), [
        `${KM}:${lineOf(dir, KM, "repository: kopia-secret")}`,
        `${C}/replicationdestination.yaml:${lineOf(dir, `${C}/replicationdestination.yaml`, "repository: ${APP}")}`,
        `${C}/replicationsource.yaml:${lineOf(dir, `${C}/replicationsource.yaml`, "repository: ${APP}")}`,
      ]);
    });
    it("passes: moverVolumes mounts it without a policy", async () => {
      const mv =
        "    moverVolumes:\n      - mountPath: repository\n        volumeSource:\n          persistentVolumeClaim:\n            claimName: kopia\n";
      const { r } = await broken([
        [`${V}/volsync/app/kustomization.yaml`, "  - ./mutatingadmissionpolicy.yaml\n", ""],
        [`${C}/replicationsource.yaml`, "    copyMethod: Snapshot\n", `    copyMethod: Snapshot\n${mv}`],
        [`${C}/replicationdestination.yaml`, "    copyMethod: Snapshot\n", `    copyMethod: Snapshot\n${mv}`],
        [KM, "  trigger:", `${mv.replaceAll("\n    ", "\n  ").replace(/^ {2}/, "")}  trigger:`],
      ]);
      assert.deepEqual(ofRule(r, "path/not-mounted"), []);
    });
  });

  describe("identity/no-source", () => {
    it("fails: sourceName names no ReplicationSource", async () => {
      const { dir, r } = await broken([
        [`${C}/replicationdestination.yaml`, "sourceName: ${APP}", "sourceName: ${APP}-old"],
      ]);
      assert.deepEqual(where(r, "identity/no-source"), [
        `${C}/replicationdestination.yaml:${lineOf(dir, `${C}/replicationdestination.yaml`, "sourceName")}`,
      ]);
      assert.match(ofRule(r, "identity/no-source")[0]?.what ?? "", /jellyfin-old@media:\/data/);
    });
    it("passes: sourceNamespace defaults to the destination's namespace", () =>
      assert.deepEqual(ofRule(base, "identity/no-source"), []));
  });

  describe("identity/defaulted-namespace", () => {
    const second: Edit[] = [
      [
        `${V}/restore/ks.yaml`,
        [
          "---",
          "apiVersion: kustomize.toolkit.fluxcd.io/v1",
          "kind: Kustomization",
          "metadata:",
          "  name: jellyfin-restore",
          "  namespace: flux-system",
          "spec:",
          "  targetNamespace: volsync-system",
          "  components:",
          "    - ../../../../../components/volsync",
          "  dependsOn:",
          "    - name: volsync-repository-pvc-volsync-system",
          "  path: ./kubernetes/apps/system/volsync-system/restore/app",
          "  sourceRef:",
          "    kind: GitRepository",
          "    name: home-kubernetes",
          "  interval: 30m",
          "  postBuild:",
          "    substitute:",
          "      APP: jellyfin",
          "",
        ].join("\n"),
      ],
      [`${V}/restore/app/kustomization.yaml`, "resources: []\n"],
      [`${V}/kustomization.yaml`, "  - ./kopia/ks.yaml\n", "  - ./kopia/ks.yaml\n  - ./restore/ks.yaml\n"],
    ];
    it("fails: ${SOURCE_NS:-media} unset restores media's snapshots into volsync-system", async () => {
      const { dir, r } = await broken([
        ...second,
        [
          `${C}/replicationdestination.yaml`,
          "      sourceName: ${APP}\n",
          "      sourceName: ${APP}\n      sourceNamespace: ${SOURCE_NS:-media}\n",
        ],
      ]);
      const f = ofRule(r, "identity/defaulted-namespace");
      assert.deepEqual(
        f.map((x) => `${x.severity} ${x.file}:${x.line} ${x.subject}`),
        [
          `warning ${C}/replicationdestination.yaml:${lineOf(dir, `${C}/replicationdestination.yaml`, "sourceNamespace")} ReplicationDestination volsync-system/jellyfin-dst`,
        ],
      );
      assert.match(f[0]?.what ?? "", /took its default "media" because SOURCE_NS is not set/);
    });
    it("passes: the variable is set", async () => {
      const { r } = await broken([
        ...second,
        [
          `${C}/replicationdestination.yaml`,
          "      sourceName: ${APP}\n",
          "      sourceName: ${APP}\n      sourceNamespace: ${SOURCE_NS:-media}\n",
        ],
        [`${V}/restore/ks.yaml`, "      APP: jellyfin\n", "      APP: jellyfin\n      SOURCE_NS: media\n"],
        [APP_KS, "      APP: jellyfin\n", "      APP: jellyfin\n      SOURCE_NS: media\n"],
      ]);
      assert.deepEqual(ofRule(r, "identity/defaulted-namespace"), []);
      assert.deepEqual(r.findings, []);
    });
  });

  describe("identity/collision", () => {
    const long = "a-very-long-application-name-that-goes-on-and-on-x";
    const rs = (name: string) =>
      `---\napiVersion: volsync.backube/v1alpha1\nkind: ReplicationSource\nmetadata:\n  name: ${name}\nspec:\n  sourcePVC: jellyfin\n  kopia:\n    repository: jellyfin-volsync-secret\n`;
    it("fails: two names that share their first 50 characters", async () => {
      assert.equal(long.length, 50);
      const { r } = await broken([
        [`${M}/jellyfin/app/sources.yaml`, rs(`${long}-one`) + rs(`${long}-two`)],
        [
          `${M}/jellyfin/app/kustomization.yaml`,
          "  - ./helmrelease.yaml\n",
          "  - ./helmrelease.yaml\n  - ./sources.yaml\n",
        ],
      ]);
      const f = ofRule(r, "identity/collision");
      assert.deepEqual(
        f.map((x) => `${x.file}:${x.line} ${x.subject}`),
        [`${M}/jellyfin/app/sources.yaml:14 ReplicationSource media/${long}-two`],
      );
      assert.match(f[0]?.what ?? "", new RegExp(`${long}@media:/data`));
    });
    it("passes: distinct within 50 characters", async () => {
      const { r } = await broken([
        [`${M}/jellyfin/app/sources.yaml`, rs("one") + rs("two")],
        [
          `${M}/jellyfin/app/kustomization.yaml`,
          "  - ./helmrelease.yaml\n",
          "  - ./helmrelease.yaml\n  - ./sources.yaml\n",
        ],
      ]);
      assert.deepEqual(ofRule(r, "identity/collision"), []);
    });
  });

  describe("permissions/uid-mismatch", () => {
    it("fails: maintenance runs as another UID than the movers and the init Job", async () => {
      const { dir, r } = await broken([[KM, "runAsUser: 1000", "runAsUser: 568"]]);
      const f = ofRule(r, "permissions/uid-mismatch");
      assert.deepEqual(
        f.map((x) => `${x.file}:${x.line}`),
        [`${KM}:${lineOf(dir, KM, "podSecurityContext")}`],
      );
      assert.match(f[0]?.what ?? "", /runAsUser 568 \(others: 1000\)/);
    });
    it("passes: one UID/GID", () => assert.deepEqual(ofRule(base, "permissions/uid-mismatch"), []));
  });

  describe("permissions/unset-uid", () => {
    it("fails: the init Job runs as the image's user", async () => {
      const { r } = await broken([[INIT, "        runAsUser: 1000\n        runAsGroup: 1000\n", ""]]);
      assert.deepEqual(
        ofRule(r, "permissions/unset-uid").map((x) => `${x.severity} ${x.subject}`),
        ["warning Job volsync-system/kopia-init container kopia"],
      );
    });
    it("passes: runAsUser set", () => assert.deepEqual(ofRule(base, "permissions/unset-uid"), []));
  });

  describe("permissions/fsgroup-change-policy", () => {
    it("fails: fsGroup without OnRootMismatch", async () => {
      const { dir, r } = await broken([[KM, "    fsGroupChangePolicy: OnRootMismatch\n", ""]]);
      assert.deepEqual(where(r, "permissions/fsgroup-change-policy"), [`${KM}:${lineOf(dir, KM, "fsGroup")}`]);
    });
    it("passes: OnRootMismatch everywhere", () =>
      assert.deepEqual(ofRule(base, "permissions/fsgroup-change-policy"), []));
  });

  describe("permissions/privileged-movers", () => {
    const annotate = (ns: string): Edit => [
      `${ns === "media" ? M : V}/namespace.yaml`,
      `  name: ${ns}\n`,
      `  name: ${ns}\n  annotations:\n    volsync.backube/privileged-movers: "true"\n`,
    ];
    it("fails: media's movers run as root", async () => {
      const { r } = await broken([annotate("media")]);
      assert.deepEqual(
        ofRule(r, "permissions/privileged-movers").map((x) => `${x.severity} ${x.file}:${x.line}`),
        [`warning ${M}/namespace.yaml:7`],
      );
    });
    it("passes: annotated namespace without Volsync consumers of the shared repository", async () => {
      const { r } = await broken([
        annotate("media"),
        [APP_KS, "  components:\n    - ../../../../components/volsync\n", ""],
      ]);
      assert.deepEqual(ofRule(r, "permissions/privileged-movers"), []);
    });
  });

  describe("admission/api-version", () => {
    it("fails: v1beta1 on 1.33", async () => {
      const dir = repoWith();
      const r = await lint(dir, ["--kubernetes-version", "1.33"]);
      assert.deepEqual(where(r, "admission/api-version"), [
        `${MAP}:2`,
        `${MAP}:${lineOf(dir, MAP, "apiVersion: admissionregistration", 2)}`,
      ]);
      assert.match(ofRule(r, "admission/api-version")[0]?.fix ?? "", /admissionregistration\.k8s\.io\/v1alpha1/);
    });
    it("warns: v1beta1 on 1.36 is deprecated, still served while --runtime-config enables it", async () => {
      const r = await lint(repoWith(), ["--kubernetes-version", "1.36"]);
      const found = ofRule(r, "admission/api-version");
      assert.deepEqual(
        found.map((f) => f.severity),
        ["warning", "warning"],
      );
      assert.match(
        found[0]?.what ?? "",
        /deprecated on Kubernetes 1\.36 \(it serves v1; v1beta1 only while --runtime-config/,
      );
      assert.match(found[0]?.fix ?? "", /admissionregistration\.k8s\.io\/v1 /);
    });
    it("passes: v1beta1 on 1.35, v1 on 1.36, nothing without a version", async () => {
      assert.deepEqual(ofRule(await lint(repoWith(), ["--kubernetes-version", "1.35"]), "admission/api-version"), []);
      const v1 = repoWith([
        [MAP, "admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1"],
        [MAP, "admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1"],
      ]);
      assert.deepEqual(ofRule(await lint(v1, ["--kubernetes-version", "1.36"]), "admission/api-version"), []);
      assert.deepEqual(ofRule(await lint(v1), "admission/api-version"), []);
    });
  });

  describe("admission/no-binding", () => {
    it("fails: a policy nothing binds", async () => {
      const dir = repoWith();
      const { readFileSync, writeFileSync } = await import("node:fs");
      const text = readFileSync(`${dir}/${MAP}`, "utf8");
      writeFileSync(`${dir}/${MAP}`, text.slice(0, text.lastIndexOf("---")));
      const r = await lint(dir);
      assert.deepEqual(where(r, "admission/no-binding"), [`${MAP}:2`]);
      assert.ok(ofRule(r, "path/not-mounted").length > 0, "and the movers get no volume");
    });
    it("passes: bound", () => assert.deepEqual(ofRule(base, "admission/no-binding"), []));
  });

  describe("admission/no-guard", () => {
    it("fails: no 'no volume named repository yet' condition", async () => {
      const { dir, r } = await broken([
        [
          MAP,
          "    - name: no-repository-volume-yet\n      expression: >-\n        !object.spec.template.spec.?volumes.orValue([]).exists(v, v.name == 'repository')\n",
          "",
        ],
      ]);
      assert.deepEqual(where(r, "admission/no-guard"), [`${MAP}:${lineOf(dir, MAP, "matchConditions")}`]);
    });
    it("passes: guarded", () => assert.deepEqual(ofRule(base, "admission/no-guard"), []));
  });

  describe("admission/claim-name", () => {
    it("fails: the policy mounts another claim", async () => {
      const { dir, r } = await broken([[MAP, "claimName: 'kopia'", "claimName: 'backup'"]]);
      assert.deepEqual(where(r, "admission/claim-name"), [`${MAP}:${lineOf(dir, MAP, "mutations:")}`]);
    });
    it("passes: claimName kopia", () => assert.deepEqual(ofRule(base, "admission/claim-name"), []));
  });

  describe("flux/undefined-variable", () => {
    it("fails: ${CACHE} with no value and no default; a shell variable gets the $$ hint", async () => {
      const { dir, r } = await broken([
        [
          `${C}/replicationsource.yaml`,
          "    copyMethod: Snapshot\n",
          "    copyMethod: Snapshot\n    cacheCapacity: ${CACHE}\n",
        ],
        [`${C}/replicationsource.yaml`, "  trigger:\n", "  trigger:\n    note: echo ${home}\n"],
      ]);
      const f = ofRule(r, "flux/undefined-variable");
      assert.deepEqual(
        f.map((x) => `${x.severity} ${x.file}:${x.line}`),
        [
          `error ${C}/replicationsource.yaml:${lineOf(dir, `${C}/replicationsource.yaml`, "note:")}`,
          `error ${C}/replicationsource.yaml:${lineOf(dir, `${C}/replicationsource.yaml`, "cacheCapacity")}`,
        ],
      );
      assert.match(f[0]?.fix ?? "", /escape it as \$\$\{home\}/);
      assert.match(f[1]?.fix ?? "", /set CACHE in spec\.postBuild\.substitute of flux-system\/jellyfin/);
    });
    it("passes: a default, and an escaped $${VAR}", async () => {
      const { r } = await broken([
        [
          `${C}/replicationsource.yaml`,
          "    copyMethod: Snapshot\n",
          "    copyMethod: Snapshot\n    cacheCapacity: ${CACHE:=1Gi}\n",
        ],
        [`${C}/replicationsource.yaml`, "  trigger:\n", "  trigger:\n    note: echo $${home}\n"],
      ]);
      assert.deepEqual(r.findings, []);
    });
  });

  describe("flux/no-post-build", () => {
    it("fails: the component's ${APP} applied literally", async () => {
      const { r } = await broken([[APP_KS, "  postBuild:\n    substitute:\n      APP: jellyfin\n", ""]]);
      const f = ofRule(r, "flux/no-post-build");
      assert.deepEqual(f.map((x) => `${x.file}:${x.line}`).sort(), [
        `${C}/externalsecret.yaml:5`,
        `${C}/replicationdestination.yaml:5`,
        `${C}/replicationsource.yaml:5`,
      ]);
      assert.match(f[0]?.what ?? "", /flux-system\/jellyfin has no spec\.postBuild, so \$\{APP\}/);
    });
    it("passes: postBuild.substitute sets APP", () => assert.deepEqual(ofRule(base, "flux/no-post-build"), []));
  });

  describe("flux/substitute-from-missing", () => {
    const from: Edit = [
      APP_KS,
      "    substitute:\n",
      "    substituteFrom:\n      - kind: ConfigMap\n        name: cluster-settings\n    substitute:\n",
    ];
    it("fails: substituteFrom a ConfigMap the repo does not declare", async () => {
      const { dir, r } = await broken([from]);
      assert.deepEqual(where(r, "flux/substitute-from-missing"), [
        `${APP_KS}:${lineOf(dir, APP_KS, "- kind: ConfigMap")}`,
      ]);
    });
    it("passes: declared, and its variables are used", async () => {
      const { r } = await broken([
        from,
        [
          "kubernetes/flux/config/settings.yaml",
          "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-settings\n  namespace: flux-system\ndata:\n  CACHE: 2Gi\n",
        ],
        [
          "kubernetes/flux/config/kustomization.yaml",
          "  - ./cluster.yaml\n",
          "  - ./cluster.yaml\n  - ./settings.yaml\n",
        ],
        [
          `${C}/replicationsource.yaml`,
          "    copyMethod: Snapshot\n",
          "    copyMethod: Snapshot\n    cacheCapacity: ${CACHE}\n",
        ],
      ]);
      assert.deepEqual(r.findings, []);
    });
  });
});
