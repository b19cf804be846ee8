/**
 * The seed's origin repository, reproduced (test/fixtures/lint/origin/README.md): each of its
 * inconsistencies is one finding, asserted one by one with its rule, severity and file:line.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, it } from "node:test";
import { FIXTURES, tempRepo } from "../helpers.ts";
import { C, type LintRun, lineOf, lint, M, V } from "./helpers.ts";

const ORIGIN = path.join(FIXTURES, "lint", "origin");

describe("lint: the seed's origin repository", () => {
  let r: LintRun;
  let dir: string;
  before(async () => {
    dir = tempRepo(ORIGIN);
    r = await lint(dir, ["--kubernetes-version", "1.34"]);
  });

  it("exits 1 with exactly the origin's findings", () => {
    assert.equal(r.code, 1);
    assert.deepEqual(
      r.findings.map((f) => `${f.severity} ${f.rule} ${f.file}:${f.line}`),
      [
        `error identity/no-source ${C}/replicationdestination.yaml:${lineOf(dir, `${C}/replicationdestination.yaml`, "sourceNamespace")}`,
        `error path/mismatch ${V}/kopia/app/externalsecret.yaml:${lineOf(dir, `${V}/kopia/app/externalsecret.yaml`, "KOPIA_REPOSITORY")}`,
        `error path/mismatch ${C}/externalsecret.yaml:${lineOf(dir, `${C}/externalsecret.yaml`, "KOPIA_REPOSITORY")}`,
        `error volume/reclaim-policy ${M}/volsync-repository-pvc/app/pvc.yaml:${lineOf(dir, `${M}/volsync-repository-pvc/app/pvc.yaml`, "persistentVolumeReclaimPolicy")}`,
        `warning binding/no-claim-ref ${M}/volsync-repository-pvc/app/pvc.yaml:6`,
        `warning binding/no-claim-ref ${V}/volsync-repository-pvc/app/pvc.yaml:6`,
        `warning permissions/fsgroup-change-policy ${V}/kopia/app/kopia-init-job.yaml:${lineOf(dir, `${V}/kopia/app/kopia-init-job.yaml`, "fsGroup")}`,
        `warning permissions/fsgroup-change-policy ${C}/replicationsource.yaml:${lineOf(dir, `${C}/replicationsource.yaml`, "fsGroup")}`,
      ],
    );
  });

  it("backups at /kopia/repository: not on the volume the movers mount at /repository", () => {
    const f = r.findings.find((x) => x.rule === "path/mismatch" && x.file.startsWith(C));
    assert.ok(f);
    assert.match(f.what, /"\/kopia\/repository" is no directory of the shared volume/);
    assert.match(f.what, /mounts PVC kopia at \/repository/);
    assert.match(f.subject, /ExternalSecret media\/jellyfin-volsync \(used by ReplicationSource media\/jellyfin\)/);
  });

  it("maintenance at /repository: the volume's root, not repository/", () => {
    const f = r.findings.find((x) => x.rule === "path/mismatch" && x.file.startsWith(V));
    assert.ok(f);
    assert.match(f.what, /"\/repository" is the volume's root/);
    assert.match(f.what, /2 other places use "repository\/" on the volume/);
    assert.match(f.subject, /KopiaMaintenance volsync-system\/kopia/);
    assert.match(f.fix, /mount point plus \/repository/);
  });

  it("restores at /repository/repository agree with the init Job: not reported", () => {
    assert.ok(!r.findings.some((f) => f.rule === "path/mismatch" && f.what.includes('"/repository/repository"')));
  });

  it("sourceNamespace ${NAMESPACE:-default} with NAMESPACE unset looks in default", () => {
    const f = r.findings.find((x) => x.rule === "identity/no-source");
    assert.ok(f);
    assert.equal(f.subject, "ReplicationDestination media/jellyfin-dst");
    assert.match(f.what, /jellyfin@default:\/data/);
    assert.match(f.what, /\$\{NAMESPACE:-default\} took its default "default" because NAMESPACE is not set/);
    assert.match(f.fix, /remove sourceNamespace/);
  });

  it("the copied dynamic PV keeps reclaim policy Delete on the shared handle", () => {
    const f = r.findings.find((x) => x.rule === "volume/reclaim-policy");
    assert.ok(f);
    assert.equal(f.subject, "PersistentVolume kopia-repository-pv-media");
    assert.match(f.what, /Delete on a PV with the shared volume handle/);
  });

  it("PVs without claimRef, fsGroup without fsGroupChangePolicy", () => {
    const claimRefs = r.findings.filter((x) => x.rule === "binding/no-claim-ref").map((x) => x.subject);
    assert.deepEqual(claimRefs.sort(), [
      "PersistentVolume kopia-repository-pv-media",
      "PersistentVolume kopia-repository-pv-volsync-system",
    ]);
    const fs = r.findings.filter((x) => x.rule === "permissions/fsgroup-change-policy").map((x) => x.subject);
    assert.deepEqual(fs.sort(), [
      "Job volsync-system/kopia-init container kopia",
      "ReplicationSource media/jellyfin (mover)",
    ]);
  });
});
