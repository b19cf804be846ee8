/**
 * How consumers reach the shared repository (core/transport.ts): a PVC, an inline NFS volume, or an object
 * store, and the rules that depend on it (delivery/no-claim, delivery/orphan, path/*, permissions/*).
 * Small repositories written inline: Kopiur ClusterRepositories on S3, NFS and a PVC, Volsync movers wired
 * to NFS by an admission policy or by moverVolumes, and a Volsync secret on s3://.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULTS } from "../../src/core/config.ts";
import { objectsOf } from "../../src/core/model.ts";
import { claimNeeded, reachOf } from "../../src/core/transport.ts";
import { resolveDelivery } from "../../src/gitops/delivery.ts";
import { scanRepo } from "../../src/gitops/scan.ts";
import { tempRepo, writeFiles } from "../helpers.ts";
import { type LintRun, lint, ofRule } from "./helpers.ts";

const KOPIUR = "kopiur.home-operations.com/v1alpha1";

const clusterRepository = (name: string, backend: string) => `---
apiVersion: ${KOPIUR}
kind: ClusterRepository
metadata:
  name: ${name}
spec:
  allowedNamespaces:
    list:
      - media
  backend:
${backend}
  encryption:
    passwordSecretRef:
      name: kopiur-secret
      namespace: kopiur-system
      key: KOPIA_PASSWORD
`;

const S3 = `    s3:
      bucket: kopiur
      endpoint: minio.internal:9000
      region: us-east-1
      auth:
        secretRef:
          name: kopiur-secret
          namespace: kopiur-system
`;
const NFS = `    filesystem:
      path: /repo
      volume:
        nfs:
          server: nas.internal
          path: /export/kopiur
`;
const ON_PVC = `    filesystem:
      path: /repository
      volume:
        pvc:
          name: kopia
`;

/** A Kopiur app in `ns`: policy, schedule and restore, as the home-ops components write them. */
const kopiurApp = (ns: string, app: string, repo = "nas", uid = 1000) => `---
apiVersion: ${KOPIUR}
kind: SnapshotPolicy
metadata:
  name: ${app}
  namespace: ${ns}
spec:
  repository:
    kind: ClusterRepository
    name: ${repo}
  sources:
    - pvc:
        name: ${app}
  mover:
    securityContext:
      runAsUser: ${uid}
      runAsGroup: ${uid}
---
apiVersion: ${KOPIUR}
kind: SnapshotSchedule
metadata:
  name: ${app}
  namespace: ${ns}
spec:
  policyRef:
    name: ${app}
  schedule:
    cron: "H * * * *"
---
apiVersion: ${KOPIUR}
kind: Restore
metadata:
  name: ${app}
  namespace: ${ns}
spec:
  source:
    fromPolicy:
      name: ${app}
  target:
    populator: {}
`;

const pvcKopia = (ns: string) => `---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: kopia
  namespace: ${ns}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: kopia-repository-pv-${ns}
  resources:
    requests:
      storage: 1Ti
`;

/** The secret a Volsync mover reads: KOPIA_REPOSITORY as given. */
const secret = (ns: string, name: string, url: string) => `---
apiVersion: v1
kind: Secret
metadata:
  name: ${name}
  namespace: ${ns}
stringData:
  KOPIA_REPOSITORY: ${url}
  KOPIA_PASSWORD: x
`;

interface MoverOpts {
  kind?: "ReplicationSource" | "ReplicationDestination";
  uid?: number;
  /** runAsGroup (default: the uid). */
  gid?: number;
  fsGroup?: number;
  /** Extra lines under spec.kopia (4-space indented). */
  kopia?: string;
}

const mover = (ns: string, name: string, repository: string, o: MoverOpts = {}) => `---
apiVersion: volsync.backube/v1alpha1
kind: ${o.kind ?? "ReplicationSource"}
metadata:
  name: ${name}
  namespace: ${ns}
spec:
${o.kind === "ReplicationDestination" ? "  trigger:\n    manual: restore-once\n" : `  sourcePVC: ${name}\n  trigger:\n    schedule: "0 * * * *"\n`}  kopia:
    repository: ${repository}
    copyMethod: Snapshot
${o.kind === "ReplicationDestination" ? `    sourceIdentity:\n      sourceName: ${name.replace(/-dst$/, "")}\n` : ""}    moverSecurityContext:
      runAsUser: ${o.uid ?? 568}
      runAsGroup: ${o.gid ?? o.uid ?? 568}
${o.fsGroup !== undefined ? `      fsGroup: ${o.fsGroup}\n` : ""}${o.kopia ?? ""}`;

/** A MutatingAdmissionPolicy (and binding) adding an NFS volume `repository` at /repository to Volsync Jobs. */
const NFS_POLICY = `---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: volsync-mover-nfs
spec:
  policyName: volsync-mover-nfs
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: volsync-mover-nfs
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [batch]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [jobs]
  matchConditions:
    - name: has-volsync-job-name-prefix
      expression: >-
        object.metadata.name.startsWith("volsync-")
    - name: repository-volume-does-not-exist
      expression: >-
        !has(object.spec.template.spec.volumes) ||
        !object.spec.template.spec.volumes.exists(item, item.name == "repository")
  failurePolicy: Fail
  reinvocationPolicy: IfNeeded
  mutations:
    - patchType: JSONPatch
      jsonPatch:
        expression: >-
          [
            JSONPatch{
              op: "add", path: "/spec/template/spec/containers/0/volumeMounts/-",
              value: Object.spec.template.spec.containers.volumeMounts{
                name: "repository",
                mountPath: "/repository"
              }
            },
            JSONPatch{
              op: "add", path: "/spec/template/spec/volumes/-",
              value: Object.spec.template.spec.volumes{
                name: "repository",
                nfs: Object.spec.template.spec.volumes.nfs{
                  server: "nas.internal",
                  path: "/volume2/kopia"
                }
              }
            }
          ]
`;

const NFS_MOVER_VOLUMES = `    moverVolumes:
      - mountPath: repository
        volumeSource:
          nfs:
            server: nas.internal
            path: /export/volsync
`;

/** A repository without Flux Kustomizations: every object in every file counts (files mode). */
function repo(files: Record<string, string>): string {
  const dir = tempRepo();
  writeFiles(dir, files);
  return dir;
}

function model(files: Record<string, string>) {
  return resolveDelivery(scanRepo(repo(files)), DEFAULTS);
}

const rules = (r: LintRun, ...ids: string[]) =>
  r.findings.filter((f) => ids.includes(f.rule)).map((f) => `${f.rule} ${f.subject}`);

const VOLUME_RULES = [
  "delivery/no-claim",
  "delivery/orphan",
  "path/not-mounted",
  "path/mismatch",
  "permissions/fsgroup-change-policy",
];

describe("transport: how consumers reach the repository", () => {
  describe("Kopiur", () => {
    it("an S3 ClusterRepository: object store, no PVC needed, no volume findings", async () => {
      const files = {
        "kopiur/clusterrepository.yaml": clusterRepository("nas", S3),
        "media/app.yaml": kopiurApp("media", "app"),
      };
      const m = model(files);
      for (const o of objectsOf(m, "SnapshotPolicy").concat(
        objectsOf(m, "Restore"),
        objectsOf(m, "SnapshotSchedule"),
      )) {
        const r = reachOf(m, o);
        assert.equal(r.transport, "object", `${o.kind}`);
        assert.equal(r.via, "ClusterRepository nas");
        assert.equal(r.repository, "ClusterRepository/nas");
        assert.equal(r.allowed, true);
        assert.equal(claimNeeded(m, o), undefined);
      }
      assert.deepEqual(rules(await lint(repo(files)), ...VOLUME_RULES), []);
    });

    it("an NFS ClusterRepository: nfs, keyed by the export, no PVC needed", async () => {
      const files = {
        "kopiur/clusterrepository.yaml": clusterRepository("nas", NFS),
        "media/app.yaml": kopiurApp("media", "app"),
      };
      const m = model(files);
      const restore = objectsOf(m, "Restore")[0];
      assert.ok(restore);
      const r = reachOf(m, restore);
      assert.equal(r.transport, "nfs");
      assert.equal(r.repository, "nfs://nas.internal/export/kopiur");
      assert.deepEqual(r.mount, { mountPath: "/repo", nfs: { server: "nas.internal", path: "/export/kopiur" } });
      assert.deepEqual(rules(await lint(repo(files)), ...VOLUME_RULES), []);
    });

    it("a ClusterRepository on volume.pvc: no-claim still fires where the namespace lacks PVC kopia", async () => {
      const files = {
        "kopiur/clusterrepository.yaml": clusterRepository("nas", ON_PVC),
        "media/app.yaml": kopiurApp("media", "app"),
        "default/app.yaml": kopiurApp("default", "other"),
        "default/pvc.yaml": pvcKopia("default"),
      };
      const m = model(files);
      const policy = objectsOf(m, "SnapshotPolicy", "media")[0];
      assert.ok(policy);
      assert.equal(reachOf(m, policy).transport, "pvc");
      assert.equal(reachOf(m, policy).allowed, true);
      assert.equal(reachOf(m, objectsOf(m, "SnapshotPolicy", "default")[0] as typeof policy).allowed, false);
      assert.equal(claimNeeded(m, policy), "kopia");
      const r = await lint(repo(files));
      assert.deepEqual(rules(r, "delivery/no-claim"), ["delivery/no-claim namespace media"]);
      assert.match(
        ofRule(r, "delivery/no-claim")[0]?.what ?? "",
        /SnapshotPolicy app, SnapshotSchedule app, Restore app/,
      );
      assert.equal(ofRule(r, "delivery/no-claim")[0]?.fix, "kopiashare enable media");
    });

    it("allowedNamespaces: a consumer outside the list is an error at the consumer; all, a selector or a ${VAR} are not judged", async () => {
      const files = {
        "kopiur/clusterrepository.yaml": clusterRepository("nas", S3),
        "media/app.yaml": kopiurApp("media", "app"),
        "default/app.yaml": kopiurApp("default", "other"),
      };
      const r = await lint(repo(files));
      assert.deepEqual(rules(r, "delivery/not-allowed"), [
        "delivery/not-allowed SnapshotPolicy default/other",
        "delivery/not-allowed SnapshotSchedule default/other",
        "delivery/not-allowed Restore default/other",
      ]);
      const f = ofRule(r, "delivery/not-allowed").find((x) => x.subject.startsWith("SnapshotPolicy"));
      assert.equal(f?.severity, "error");
      assert.equal(f?.file, "default/app.yaml");
      assert.match(f?.what ?? "", /allowedNamespaces list \(media\) does not include default/);
      assert.match(
        f?.fix ?? "",
        /add default to spec.allowedNamespaces.list of ClusterRepository nas \(kopiur\/clusterrepository.yaml:\d+\)/,
      );
      const gate = (g: string) => clusterRepository("nas", S3).replace("    list:\n      - media\n", g);
      for (const g of [
        "    all: true\n",
        "    selector:\n      matchLabels:\n        backups: kopiur\n",
        "    list:\n      - ${APPS_NS}\n",
      ]) {
        const other = { ...files, "kopiur/clusterrepository.yaml": gate(g) };
        assert.ok(gate(g) !== clusterRepository("nas", S3), "the gate was replaced");
        assert.deepEqual(rules(await lint(repo(other)), "delivery/not-allowed"), [], g);
      }
    });

    it("a Restore from a SnapshotPolicy that is not delivered into its namespace: identity/no-source at fromPolicy", async () => {
      const files = {
        "kopiur/clusterrepository.yaml": clusterRepository("nas", S3),
        "media/app.yaml": kopiurApp("media", "app").replace(
          "    fromPolicy:\n      name: app",
          "    fromPolicy:\n      name: ap",
        ),
      };
      const r = await lint(repo(files));
      assert.deepEqual(rules(r, "identity/no-source"), ["identity/no-source Restore media/app"]);
      const f = ofRule(r, "identity/no-source")[0];
      assert.equal(f?.severity, "error");
      assert.equal(f?.line, files["media/app.yaml"].split("\n").indexOf("      name: ap") + 1);
      assert.match(f?.what ?? "", /restores from SnapshotPolicy ap, which nothing delivers into media/);
      const fine = { ...files, "media/app.yaml": kopiurApp("media", "app") };
      assert.deepEqual(rules(await lint(repo(fine)), "identity/no-source"), []);
    });

    it("a ClusterRepository the repository does not declare: unknown, a PVC only where the seed's layout is", async () => {
      const app = { "media/app.yaml": kopiurApp("media", "app", "elsewhere") };
      const m = model(app);
      const r = reachOf(m, objectsOf(m, "SnapshotPolicy")[0] as never);
      assert.equal(r.transport, "unknown");
      assert.equal(r.resolved, false);
      assert.deepEqual(rules(await lint(repo(app)), "delivery/no-claim"), []);
      const seed = { ...app, "default/pvc.yaml": pvcKopia("default") };
      assert.deepEqual(rules(await lint(repo(seed)), "delivery/no-claim"), ["delivery/no-claim namespace media"]);
    });

    it("orphan: a PVC kopia in a namespace whose consumers all use NFS", async () => {
      const r = await lint(
        repo({
          "kopiur/clusterrepository.yaml": clusterRepository("nas", NFS),
          "media/app.yaml": kopiurApp("media", "app"),
          "media/pvc.yaml": pvcKopia("media"),
        }),
      );
      assert.deepEqual(rules(r, "delivery/orphan"), ["delivery/orphan namespace media"]);
    });
  });

  describe("Volsync", () => {
    it("a secret made outside Git: the volumes the mover Job is given decide which PVC it needs", async () => {
      // The seed's layout is there (a PVC kopia in default), but the app's secret is not in the repository.
      const base = { "default/pvc.yaml": pvcKopia("default") };
      const nfs = { ...base, "media/app.yaml": mover("media", "app", "made-by-hand", { kopia: NFS_MOVER_VOLUMES }) };
      const m = model(nfs);
      const rs = objectsOf(m, "ReplicationSource")[0];
      assert.ok(rs);
      assert.equal(reachOf(m, rs).resolved, false);
      assert.equal(claimNeeded(m, rs), undefined, "an NFS export needs no PVC");
      assert.deepEqual(rules(await lint(repo(nfs)), "delivery/no-claim"), []);
      const pvc = NFS_MOVER_VOLUMES.replace(
        "          nfs:\n            server: nas.internal\n            path: /export/volsync\n",
        "          persistentVolumeClaim:\n            claimName: kopia\n",
      );
      const onPvc = { ...base, "media/app.yaml": mover("media", "app", "made-by-hand", { kopia: pvc }) };
      assert.deepEqual(rules(await lint(repo(onPvc)), "delivery/no-claim"), ["delivery/no-claim namespace media"]);
      const bare = { ...base, "media/app.yaml": mover("media", "app", "made-by-hand") };
      assert.deepEqual(rules(await lint(repo(bare)), "delivery/no-claim"), ["delivery/no-claim namespace media"]);
    });

    it("an admission policy adding an NFS volume: no no-claim, no not-mounted, no fsGroup advice", async () => {
      const files = {
        "volsync/policy.yaml": NFS_POLICY,
        "media/app.yaml":
          secret("media", "app-volsync-secret", "filesystem:///repository") +
          mover("media", "app", "app-volsync-secret", { fsGroup: 568 }) +
          mover("media", "app-dst", "app-volsync-secret", { kind: "ReplicationDestination", fsGroup: 568 }),
      };
      const m = model(files);
      const rs = objectsOf(m, "ReplicationSource")[0];
      assert.ok(rs);
      const r = reachOf(m, rs);
      assert.equal(r.transport, "nfs");
      assert.equal(r.via, "admission policy volsync-mover-nfs");
      assert.equal(r.repository, "nfs://nas.internal/volume2/kopia");
      assert.deepEqual(r.mount, { mountPath: "/repository", nfs: { server: "nas.internal", path: "/volume2/kopia" } });
      const l = await lint(repo(files));
      assert.deepEqual(rules(l, ...VOLUME_RULES, "identity/no-source", "admission/claim-name"), []);
    });

    it("moverVolumes with an nfs volumeSource: mounted at /mnt/<mountPath>, the path must lie under it", async () => {
      const ok = {
        "media/app.yaml":
          secret("media", "app-volsync-secret", "filesystem:///mnt/repository/kopia") +
          mover("media", "app", "app-volsync-secret", { kopia: NFS_MOVER_VOLUMES }),
      };
      const m = model(ok);
      const r = reachOf(m, objectsOf(m, "ReplicationSource")[0] as never);
      assert.equal(r.transport, "nfs");
      assert.equal(r.via, "moverVolumes");
      assert.equal(r.repository, "nfs://nas.internal/export/volsync/kopia");
      assert.equal(r.dir, "kopia");
      assert.deepEqual(rules(await lint(repo(ok)), ...VOLUME_RULES), []);

      const outside = {
        "media/app.yaml":
          secret("media", "app-volsync-secret", "filesystem:///repository") +
          mover("media", "app", "app-volsync-secret", { kopia: NFS_MOVER_VOLUMES }),
      };
      const l = await lint(repo(outside));
      assert.deepEqual(rules(l, ...VOLUME_RULES), [
        "path/mismatch Secret media/app-volsync-secret (used by ReplicationSource media/app)",
      ]);
      assert.match(
        ofRule(l, "path/mismatch")[0]?.what ?? "",
        /moverVolumes mounts NFS nas.internal:\/export\/volsync at \/mnt\/repository/,
      );
    });

    it("a secret on s3://: object store, no volume findings (and a PVC kopia beside it is an orphan)", async () => {
      const files = {
        "media/app.yaml":
          secret("media", "app-volsync-secret", "s3://backups/app/") +
          mover("media", "app", "app-volsync-secret", { fsGroup: 568 }),
        "media/pvc.yaml": pvcKopia("media"),
      };
      const m = model(files);
      const rs = objectsOf(m, "ReplicationSource")[0];
      assert.ok(rs);
      const r = reachOf(m, rs);
      assert.equal(r.transport, "object");
      assert.equal(r.repository, "s3://backups/app");
      assert.equal(r.via, "secret app-volsync-secret");
      assert.equal(claimNeeded(m, rs), undefined);
      assert.deepEqual(rules(await lint(repo(files)), ...VOLUME_RULES, "permissions/uid-mismatch"), [
        "delivery/orphan namespace media",
      ]);
    });

    it("a filesystem secret and no volume at all: not-mounted, and no-claim only in the seed's layout", async () => {
      const app = {
        "media/app.yaml":
          secret("media", "app-volsync-secret", "filesystem:///repository/repository") +
          mover("media", "app", "app-volsync-secret"),
      };
      const bare = await lint(repo(app));
      assert.deepEqual(rules(bare, "path/not-mounted", "delivery/no-claim"), [
        "path/not-mounted ReplicationSource media/app",
      ]);
      assert.match(ofRule(bare, "path/not-mounted")[0]?.what ?? "", /no volume is mounted into its mover Job/);
      const seed = await lint(repo({ ...app, "default/pvc.yaml": pvcKopia("default") }));
      assert.deepEqual(rules(seed, "path/not-mounted", "delivery/no-claim"), [
        "delivery/no-claim namespace media",
        "path/not-mounted ReplicationSource media/app",
      ]);
    });
  });

  describe("identities by repository", () => {
    it("one identity in two repositories is no collision; a restore must read the source's repository", async () => {
      const user = "    username: shared\n";
      const files = {
        "volsync/policy.yaml": NFS_POLICY,
        "media/nfs.yaml":
          secret("media", "nfs-secret", "filesystem:///repository") +
          mover("media", "a", "nfs-secret") +
          mover("media", "a-dst", "s3-secret", { kind: "ReplicationDestination" }) +
          mover("media", "x", "nfs-secret", { kopia: user }),
        "media/s3.yaml":
          secret("media", "s3-secret", "s3://bucket/b") + mover("media", "y", "s3-secret", { kopia: user }),
      };
      const r = await lint(repo(files));
      assert.deepEqual(rules(r, "identity/collision"), []);
      assert.deepEqual(rules(r, "identity/no-source"), ["identity/no-source ReplicationDestination media/a-dst"]);
      assert.match(
        ofRule(r, "identity/no-source")[0]?.what ?? "",
        /a@media:\/data in s3:\/\/bucket\/b, but ReplicationSource media\/a writes that identity to nfs:\/\/nas.internal\/volume2\/kopia/,
      );

      const same = {
        ...files,
        "media/s3.yaml":
          secret("media", "s3-secret", "s3://bucket/b") + mover("media", "y", "nfs-secret", { kopia: user }),
      };
      assert.deepEqual(rules(await lint(repo(same)), "identity/collision", "identity/no-source"), [
        "identity/collision ReplicationSource media/y",
        "identity/no-source ReplicationDestination media/a-dst",
      ]);
    });
  });

  describe("permissions by repository", () => {
    it("writers of different repositories never conflict; on one NFS repository, another UID is reported with NFS advice", async () => {
      const twoRepos = {
        "volsync/policy.yaml": NFS_POLICY,
        "media/a.yaml":
          secret("media", "a-secret", "filesystem:///repository") + mover("media", "a", "a-secret", { uid: 568 }),
        "media/b.yaml": secret("media", "b-secret", "s3://bucket/b") + mover("media", "b", "b-secret", { uid: 1000 }),
        "media/c.yaml":
          secret("media", "c-secret", "filesystem:///mnt/repository") +
          mover("media", "c", "c-secret", { uid: 2000, kopia: NFS_MOVER_VOLUMES }),
      };
      assert.deepEqual(rules(await lint(repo(twoRepos)), "permissions/uid-mismatch"), []);

      const oneRepo = {
        ...twoRepos,
        "media/d.yaml":
          secret("media", "d-secret", "filesystem:///repository") +
          mover("media", "d", "d-secret", { uid: 568 }) +
          mover("media", "e", "d-secret", { uid: 1000, fsGroup: 1000 }),
      };
      const r = await lint(repo(oneRepo));
      assert.deepEqual(rules(r, "permissions/uid-mismatch", "permissions/fsgroup-change-policy"), [
        "permissions/uid-mismatch ReplicationSource media/e (mover)",
      ]);
      const f = ofRule(r, "permissions/uid-mismatch")[0];
      assert.match(
        f?.what ?? "",
        /repository nfs:\/\/nas.internal\/volume2\/kopia with runAsUser 1000 \(others: 568\)/,
      );
      assert.match(f?.fix ?? "", /fsGroup does nothing/);
      assert.match(f?.fix ?? "", /supplementalGroups: \[568\]/);
    });

    it("a Job or a Kopia server mounting the NFS export inline writes the same repository as the movers", async () => {
      const job = (uid: number, path: string, dir = "/repository") => `---
apiVersion: batch/v1
kind: Job
metadata:
  name: kopia-init
  namespace: volsync-system
spec:
  template:
    spec:
      securityContext:
        runAsUser: ${uid}
        runAsGroup: ${uid}
      containers:
        - name: kopia
          image: kopia/kopia
          env:
            - name: KOPIA_REPOSITORY
              value: filesystem://${dir}
      volumes:
        - name: repo
          nfs:
            server: nas.internal
            path: ${path}
`;
      const withMount = (text: string, mountPath: string) =>
        text.replace(
          "          env:",
          `          volumeMounts:\n            - name: repo\n              mountPath: ${mountPath}\n          env:`,
        );
      const files = (init: string) => ({
        "volsync/policy.yaml": NFS_POLICY,
        "volsync/init.yaml": init,
        "media/a.yaml":
          secret("media", "a-secret", "filesystem:///repository") + mover("media", "a", "a-secret", { uid: 568 }),
      });
      // The export itself, another UID: the Job's files are the movers' problem too (NFS: a warning).
      let r = await lint(repo(files(withMount(job(0, "/volume2/kopia"), "/repository"))));
      assert.deepEqual(rules(r, "permissions/uid-mismatch"), [
        "permissions/uid-mismatch Job volsync-system/kopia-init container kopia",
      ]);
      assert.equal(ofRule(r, "permissions/uid-mismatch")[0]?.severity, "warning");
      // The directory above the export, the repository named through it: the same repository.
      r = await lint(repo(files(withMount(job(0, "/volume2", "/data/kopia"), "/data"))));
      assert.deepEqual(rules(r, "permissions/uid-mismatch"), [
        "permissions/uid-mismatch Job volsync-system/kopia-init container kopia",
      ]);
      // Another directory of the export than the movers use: two repositories where one was meant.
      r = await lint(repo(files(withMount(job(568, "/volume2/kopia", "/repository/other"), "/repository"))));
      assert.deepEqual(
        rules(r, "path/mismatch").map((x) => x.split(" ")[0]),
        ["path/mismatch"],
      );
      // The same UID, the same directory: nothing to say; another export of the server is another volume.
      assert.deepEqual(
        rules(
          await lint(repo(files(withMount(job(568, "/volume2/kopia"), "/repository")))),
          "permissions/uid-mismatch",
          "path/mismatch",
        ),
        [],
      );
      assert.deepEqual(
        rules(
          await lint(repo(files(withMount(job(0, "/volume3"), "/repository")))),
          "permissions/uid-mismatch",
          "path/mismatch",
        ),
        [],
      );
    });

    it("the same UID with another GID is a warning: Kopia's files are owner-only", async () => {
      const files = {
        "volsync/policy.yaml": NFS_POLICY,
        "media/d.yaml":
          secret("media", "d-secret", "filesystem:///repository") +
          mover("media", "d", "d-secret", { uid: 568 }) +
          mover("media", "f", "d-secret", { uid: 568 }) +
          mover("media", "g", "d-secret", { uid: 568, gid: 2000 }),
      };
      const found = ofRule(await lint(repo(files)), "permissions/uid-mismatch");
      assert.deepEqual(
        found.map((f) => [f.severity, f.subject, f.what]),
        [["warning", "ReplicationSource media/g (mover)", "writes the repository with runAsGroup 2000 (others: 568)"]],
      );
      assert.match(found[0]?.why ?? "", /owner only/);
    });

    it("the majority counts writers, not files: one file delivered to three namespaces outweighs two files", async () => {
      const ks = (name: string, p: string, extra = "") =>
        `---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: flux-system\nspec:\n  path: ${p}\n  postBuild:\n    substitute:\n      APP: app\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n${extra}`;
      const gitRepository =
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  url: https://example.com/repo\n";
      const shared = (uid: number) =>
        secret("x", "app-secret", "filesystem:///repository").replace("  namespace: x\n", "") +
        mover("x", "app", "app-secret", { uid }).replace("  namespace: x\n", "");
      const files = {
        "clusters/main/flux-system/gotk.yaml": ks("flux-system", "./clusters/main") + gitRepository,
        "clusters/main/apps.yaml":
          ks("a", "./apps/common", "  targetNamespace: a\n") +
          ks("b", "./apps/common", "  targetNamespace: b\n") +
          ks("c", "./apps/common", "  targetNamespace: c\n") +
          ks("d", "./apps/d", "  targetNamespace: d\n") +
          ks("e", "./apps/e", "  targetNamespace: e\n") +
          ks("policy", "./apps/policy"),
        "apps/common/app.yaml": shared(1000),
        "apps/d/app.yaml": shared(568),
        "apps/e/app.yaml": shared(568),
        "apps/policy/policy.yaml": NFS_POLICY,
      };
      const r = await lint(repo(files));
      assert.deepEqual(
        ofRule(r, "permissions/uid-mismatch").map((f) => f.file),
        ["apps/d/app.yaml", "apps/e/app.yaml"],
        "the 568 movers are the minority: 2 writers against 3",
      );
      assert.match(ofRule(r, "permissions/uid-mismatch")[0]?.what ?? "", /\(others: 1000\)/);

      // Inverted: the shared file is the minority; its one finding names every namespace it is delivered to.
      const inverted = { ...files, "apps/common/app.yaml": shared(568), "apps/d/app.yaml": shared(1000) };
      inverted["apps/e/app.yaml"] = shared(1000);
      inverted["clusters/main/apps.yaml"] =
        `${files["clusters/main/apps.yaml"]}${ks("f", "./apps/e", "  targetNamespace: f\n")}${ks("g", "./apps/d", "  targetNamespace: g\n")}`;
      const found = ofRule(await lint(repo(inverted)), "permissions/uid-mismatch");
      assert.deepEqual(
        found.map((f) => [f.file, f.subject]),
        [
          [
            "apps/common/app.yaml",
            "ReplicationSource a/app (mover), ReplicationSource b/app (mover) and ReplicationSource c/app (mover)",
          ],
        ],
      );
      assert.match(found[0]?.what ?? "", /^write the repository .* \(3 writers\)$/);
    });

    it("the fix proposes a UID:GID pair some writer uses, never one made of two majorities", async () => {
      const files = {
        "volsync/policy.yaml": NFS_POLICY,
        "media/d.yaml":
          secret("media", "d-secret", "filesystem:///repository") +
          mover("media", "a", "d-secret", { uid: 1000, gid: 1000 }) +
          mover("media", "b", "d-secret", { uid: 1000, gid: 1000 }) +
          mover("media", "c", "d-secret", { uid: 2000, gid: 3000 }) +
          mover("media", "d", "d-secret", { uid: 4000, gid: 3000 }) +
          mover("media", "e", "d-secret", { uid: 5000, gid: 3000 }),
      };
      // The most common UID is 1000 and the most common GID 3000, but no writer runs as 1000:3000.
      const found = ofRule(await lint(repo(files)), "permissions/uid-mismatch");
      assert.deepEqual(
        found.map((f) => f.subject),
        ["ReplicationSource media/c (mover)", "ReplicationSource media/d (mover)", "ReplicationSource media/e (mover)"],
      );
      for (const f of found) assert.match(f.fix, /run it as runAsUser: 1000, runAsGroup: 1000 /);
    });
  });

  describe("Kopiur mover identities", () => {
    // The policy and its schedule (a Restore is a mover of its own, with its own context).
    const policy = (app: string, uid = 1000) =>
      kopiurApp("media", app, "nas", uid)
        .split("---\n")
        .filter((d) => !d.includes("kind: Restore"))
        .join("---\n");
    const withMover = (app: string, mover: string) =>
      policy(app).replace(/ {2}mover:\n {4}securityContext:\n {6}runAsUser: \d+\n {6}runAsGroup: \d+\n/, mover);
    const defaults = (uid: number) =>
      clusterRepository("nas", NFS).replace(
        "  encryption:",
        `  moverDefaults:\n    securityContext:\n      runAsUser: ${uid}\n      runAsGroup: ${uid}\n  encryption:`,
      );

    it("a mover without a security context runs as Kopiur's 65532, the repository's bootstrap mover too", async () => {
      const files = {
        "kopiur/clusterrepository.yaml": clusterRepository("nas", NFS),
        "media/a.yaml": policy("a"),
        "media/b.yaml": policy("b"),
        "media/c.yaml": withMover("c", ""),
      };
      const found = ofRule(await lint(repo(files)), "permissions/uid-mismatch");
      assert.deepEqual(
        found.map((f) => [f.subject, f.file]),
        [
          ["ClusterRepository nas (mover)", "kopiur/clusterrepository.yaml"],
          ["SnapshotPolicy media/c (mover)", "media/c.yaml"],
        ],
      );
      assert.match(found[1]?.what ?? "", /runAsUser 65532 \(others: 1000\).*from Kopiur's default \(65532\)/);
      assert.match(
        found[1]?.fix ?? "",
        /spec\.mover\.securityContext, or once for every mover in ClusterRepository nas spec\.moverDefaults/,
      );
    });

    it("the repository's moverDefaults reach every mover; a recipe's own context wins over them", async () => {
      const clean = {
        "kopiur/clusterrepository.yaml": defaults(1000),
        "media/a.yaml": policy("a"),
        "media/c.yaml": withMover("c", ""),
      };
      assert.deepEqual(ofRule(await lint(repo(clean)), "permissions/uid-mismatch"), []);
      const pinned = { ...clean, "media/c.yaml": policy("c", 2000) };
      const found = ofRule(await lint(repo(pinned)), "permissions/uid-mismatch");
      assert.deepEqual(
        found.map((f) => [f.subject, f.file]),
        [["SnapshotPolicy media/c (mover)", "media/c.yaml"]],
      );
      // A pod-level runAsUser in a higher layer beats a container-level one in a lower layer.
      const podLevel = {
        ...clean,
        "media/c.yaml": withMover(
          "c",
          "  mover:\n    podSecurityContext:\n      runAsUser: 2000\n      runAsGroup: 2000\n",
        ),
      };
      assert.match(
        ofRule(await lint(repo(podLevel)), "permissions/uid-mismatch")[0]?.what ?? "",
        /runAsUser 2000 \(others: 1000\)/,
      );
    });

    it("Kopiur's per-app identities: another UID is a warning on a PVC, an info on NFS (the export may map every user to one)", async () => {
      const files = (backend: string) => ({
        "kopiur/clusterrepository.yaml": defaults(1000).replace(NFS, backend),
        "media/a.yaml": policy("a"),
        "media/c.yaml": policy("c", 2000),
        ...(backend === ON_PVC ? { "media/pvc.yaml": pvcKopia("media") } : {}),
      });
      const severity = async (backend: string) =>
        ofRule(await lint(repo(files(backend))), "permissions/uid-mismatch").map((f) => [f.subject, f.severity]);
      assert.deepEqual(await severity(ON_PVC), [["SnapshotPolicy media/c (mover)", "warning"]]);
      assert.deepEqual(await severity(NFS), [["SnapshotPolicy media/c (mover)", "info"]]);
    });

    it("an identity decided in the cluster (inherited from the workload, privileged) is not judged", async () => {
      const files = {
        "kopiur/clusterrepository.yaml": defaults(1000),
        "media/a.yaml": policy("a"),
        "media/c.yaml": withMover("c", "  mover:\n    inheritSecurityContextFrom:\n      pvcConsumer: {}\n"),
        "media/d.yaml": withMover("d", "  mover:\n    privilegedMode: true\n"),
      };
      assert.deepEqual(ofRule(await lint(repo(files)), "permissions/uid-mismatch"), []);
    });

    it("an object store has no file owners: no permission findings", async () => {
      const files = {
        "kopiur/clusterrepository.yaml": clusterRepository("nas", S3),
        "media/a.yaml": policy("a"),
        "media/c.yaml": withMover("c", ""),
      };
      const r = await lint(repo(files));
      assert.deepEqual(
        r.findings.filter((f) => f.rule.startsWith("permissions/")),
        [],
      );
    });
  });
});

describe("repository/no-maintenance: some maintainer for every repository snapshots are written to", () => {
  const kopiaMaintenance = (ns: string, name: string, secretName: string) => `---
apiVersion: volsync.backube/v1alpha1
kind: KopiaMaintenance
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  repository:
    repository: ${secretName}
  trigger:
    schedule: "0 4 * * *"
`;
  const s3 = (ns: string, app: string) => secret(ns, `${app}-s3`, `s3://backups/${app}/`) + mover(ns, app, `${app}-s3`);

  it("Volsync on S3 without a KopiaMaintenance: a warning naming the repository and its writers", async () => {
    const r = await lint(repo({ "media/app.yaml": s3("media", "app") }));
    assert.deepEqual(rules(r, "repository/no-maintenance"), ["repository/no-maintenance repository s3://backups/app"]);
    const f = ofRule(r, "repository/no-maintenance")[0];
    assert.equal(f?.severity, "warning");
    assert.equal(f?.file, "media/app.yaml");
    assert.match(f?.what ?? "", /ReplicationSource media\/app/);
    assert.match(f?.fix ?? "", /KopiaMaintenance that uses the same repository secret as ReplicationSource app/);
  });

  it("a KopiaMaintenance on the same secret, one on an unreadable secret, or a job running kopia maintenance: none", async () => {
    const app = s3("media", "app");
    const cases: Record<string, Record<string, string>> = {
      "same repository": { "media/app.yaml": app + kopiaMaintenance("media", "app-maint", "app-s3") },
      "a secret made outside Git": { "media/app.yaml": app + kopiaMaintenance("media", "maint", "made-by-hand") },
      "a CronJob on the NFS export": {
        "media/app.yaml":
          NFS_POLICY +
          secret("media", "nfs", "filesystem:///repository") +
          mover("media", "app", "nfs") +
          `---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: kopia-maintenance
  namespace: media
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: kopia
              image: kopia/kopia
              command: ["kopia", "maintenance", "run", "--full"]
              volumeMounts:
                - name: repo
                  mountPath: /repository
          volumes:
            - name: repo
              nfs:
                server: nas.internal
                path: /volume2/kopia
`,
      },
    };
    for (const [name, files] of Object.entries(cases)) {
      assert.deepEqual(rules(await lint(repo(files)), "repository/no-maintenance"), [], name);
    }
    // The CronJob case without its maintenance command: the NFS repository is found unmaintained.
    const idle = {
      "media/app.yaml": (cases["a CronJob on the NFS export"]?.["media/app.yaml"] ?? "").replace(
        '"maintenance", "run", "--full"',
        '"snapshot", "list"',
      ),
    };
    assert.deepEqual(rules(await lint(repo(idle)), "repository/no-maintenance"), [
      "repository/no-maintenance repository nfs://nas.internal/volume2/kopia",
    ]);
  });

  it("Kopiur: maintained by default; spec.maintenance.enabled: false is a warning at that line unless a Maintenance names it", async () => {
    const on = { "kopiur/cr.yaml": clusterRepository("nas", S3), "media/app.yaml": kopiurApp("media", "app") };
    assert.deepEqual(rules(await lint(repo(on)), "repository/no-maintenance"), []);
    const offRepo = clusterRepository("nas", S3).replace(
      "  backend:\n",
      "  maintenance:\n    enabled: false\n  backend:\n",
    );
    const off = { ...on, "kopiur/cr.yaml": offRepo };
    const r = await lint(repo(off));
    assert.deepEqual(rules(r, "repository/no-maintenance"), [
      "repository/no-maintenance repository ClusterRepository/nas",
    ]);
    const f = ofRule(r, "repository/no-maintenance")[0];
    assert.equal(f?.file, "kopiur/cr.yaml");
    assert.equal(f?.line, offRepo.split("\n").indexOf("    enabled: false") + 1);
    const named = {
      ...off,
      "kopiur/maintenance.yaml": `---
apiVersion: ${KOPIUR}
kind: Maintenance
metadata:
  name: nas
  namespace: kopiur-system
spec:
  repository:
    kind: ClusterRepository
    name: nas
`,
    };
    assert.deepEqual(rules(await lint(repo(named)), "repository/no-maintenance"), []);
  });
});

describe("repository/password-mismatch: one repository, one password source", () => {
  const es = (ns: string, name: string, url: string, password: string, store = "onepassword") => `---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  secretStoreRef:
    kind: ClusterSecretStore
    name: ${store}
  target:
    name: ${name}
    template:
      data:
        KOPIA_REPOSITORY: ${url}
        KOPIA_PASSWORD: "${password}"
  dataFrom:
    - extract:
        key: kopia
`;
  const app = (ns: string, name: string, password: string, store?: string) =>
    es(ns, `${name}-s3`, "s3://backups/shared", password, store) + mover(ns, name, `${name}-s3`);

  it("two movers of s3://backups/shared whose ExternalSecrets template KOPIA_PASSWORD differently: a warning at the odd one", async () => {
    const files = {
      "media/a.yaml": app("media", "a", "{{ .KOPIA_PASSWORD }}"),
      "media/b.yaml": app("media", "b", "{{ .KOPIA_PASSWORD }}"),
      "home/c.yaml": app("home", "c", "{{ .OLD_PASSWORD }}"),
    };
    const r = await lint(repo(files));
    assert.deepEqual(rules(r, "repository/password-mismatch"), [
      "repository/password-mismatch ExternalSecret home/c-s3",
    ]);
    const f = ofRule(r, "repository/password-mismatch")[0];
    assert.equal(f?.severity, "warning");
    assert.equal(f?.file, "home/c.yaml");
    assert.match(
      f?.what ?? "",
      /ReplicationSource home\/c read KOPIA_PASSWORD for s3:\/\/backups\/shared from here, while 2 other mover\(s\) read it from ExternalSecret media\/a-s3/,
    );
    assert.doesNotMatch(f?.what ?? "", /OLD_PASSWORD/, "never the value or its template");
  });

  it("the same template and store (whatever else is extracted), or different repositories: nothing", async () => {
    const same = {
      "media/a.yaml": app("media", "a", "{{ .KOPIA_PASSWORD }}"),
      "home/c.yaml": app("home", "c", "{{ .KOPIA_PASSWORD }}").replace(
        "        key: kopia\n",
        "        key: kopia\n    - extract:\n        key: s3\n",
      ),
    };
    assert.deepEqual(rules(await lint(repo(same)), "repository/password-mismatch"), []);
    const apart = {
      "media/a.yaml": app("media", "a", "{{ .KOPIA_PASSWORD }}"),
      "home/c.yaml": app("home", "c", "{{ .OLD_PASSWORD }}").replace("s3://backups/shared", "s3://backups/other"),
    };
    assert.deepEqual(rules(await lint(repo(apart)), "repository/password-mismatch"), []);
  });
});

describe("path/mismatch: Kopiur keeps the repository at the root of what it mounts", () => {
  const initJob = (repository: string) => `---
apiVersion: batch/v1
kind: Job
metadata:
  name: kopia-init
  namespace: media
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: kopia
          image: kopia/kopia
          env:
            - name: KOPIA_REPOSITORY
              value: ${repository}
          volumeMounts:
            - name: repository
              mountPath: /repository
      volumes:
        - name: repository
          persistentVolumeClaim:
            claimName: kopia
`;
  const files = (repository: string) => ({
    "kopiur/clusterrepository.yaml": clusterRepository("nas", ON_PVC),
    "media/app.yaml": kopiurApp("media", "app") + pvcKopia("media") + initJob(repository),
  });

  it("an init Job that keeps it in repository/ of the same PVC: an error at the ClusterRepository's path, with Kopiur's fix", async () => {
    const r = await lint(repo(files("filesystem:///repository/repository")));
    const f = ofRule(r, "path/mismatch");
    assert.deepEqual(
      f.map((x) => `${x.severity} ${x.subject} ${x.file}`),
      ["error ClusterRepository nas kopiur/clusterrepository.yaml"],
    );
    assert.match(f[0]?.what ?? "", /Kopiur mounts PVC kopia at \/repository and keeps the repository at its root/);
    assert.match(
      f[0]?.fix ?? "",
      /^Kopiur cannot use a subdirectory of what it mounts: give its movers a volume whose root is "repository\/"/,
    );
  });

  it("an init Job that keeps it at the volume's root: nothing", async () => {
    assert.deepEqual(ofRule(await lint(repo(files("filesystem:///repository"))), "path/mismatch"), []);
  });

  // The repository PV (PVC kopia) and Kopiur's own PV, whose root is a directory of the same subvolume.
  const UUID = "841e604c-1dd5-4a09-8763-84e672d78c4e";
  const SUBVOLUME = `/volumes/csi/csi-vol-${UUID}/0f5a1c2e-7d3b-4e8a-9c61-2b4d8e0f1a37`;
  const pv = (name: string, claim: string, csi: string) => `---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: ${name}
spec:
  capacity:
    storage: 1Ti
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef:
    namespace: media
    name: ${claim}
  csi:
    driver: cephfs.csi.ceph.com
${csi}`;
  const staticCsi = (name: string, rootPath: string) => `    volumeHandle: ${name}
    volumeAttributes:
      clusterID: rook-ceph
      fsName: backups
      staticVolume: "true"
      rootPath: ${rootPath}
`;
  const handleCsi = `    volumeHandle: 0001-0009-rook-ceph-000000000000000b-${UUID}
    volumeAttributes:
      clusterID: rook-ceph
      fsName: backups
`;
  const kopiurClaim = `---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: kopia-kopiur
  namespace: media
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: kopia-kopiur-media
  resources:
    requests:
      storage: 1Ti
`;
  const onOwnPvc = ON_PVC.replace("name: kopia\n", "name: kopia-kopiur\n");
  const withOwnPv = (repositoryCsi: string, kopiurRoot: string) => ({
    "kopiur/clusterrepository.yaml": clusterRepository("nas", onOwnPvc),
    "media/app.yaml":
      kopiurApp("media", "app") +
      pvcKopia("media") +
      initJob("filesystem:///repository/repository") +
      pv("kopia-repository-pv-media", "kopia", repositoryCsi) +
      pv("kopia-kopiur-media", "kopia-kopiur", staticCsi("kopia-kopiur-media", kopiurRoot)) +
      kopiurClaim,
  });

  it("Kopiur on a static PV whose rootPath is the static repository PV's plus /repository: one repository, nothing", async () => {
    const r = await lint(repo(withOwnPv(staticCsi("kopia-repository-pv-media", "/v/kopia"), "/v/kopia/repository")));
    assert.deepEqual(ofRule(r, "path/mismatch"), []);
    assert.deepEqual(ofRule(r, "repository/no-maintenance"), []);
  });

  it("Kopiur on a static PV at the shared handle's subvolume path plus /repository: one repository, nothing", async () => {
    const r = await lint(repo(withOwnPv(handleCsi, `${SUBVOLUME}/repository`)));
    assert.deepEqual(ofRule(r, "path/mismatch"), []);
  });

  it("Kopiur on a static PV whose root is another directory of the subvolume: still the error, at its path", async () => {
    for (const root of [`${SUBVOLUME}/kopiur`, SUBVOLUME]) {
      const f = ofRule(await lint(repo(withOwnPv(handleCsi, root))), "path/mismatch");
      assert.deepEqual(
        f.map((x) => `${x.subject} ${x.file}`),
        ["ClusterRepository nas kopiur/clusterrepository.yaml"],
        root,
      );
      assert.match(f[0]?.what ?? "", /Kopiur mounts PVC kopia-kopiur at \/repository/);
    }
  });
});
