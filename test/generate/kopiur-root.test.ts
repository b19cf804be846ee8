/**
 * Kopiur keeps the repository at the root of the PVC it mounts. These tests play the cluster on a directory
 * standing for the CephFS file system: each PV's root is resolved to a directory (a static PV's rootPath, a
 * shared-handle PV's subvolume path as `ceph fs subvolume getpath` prints it), the init Job's
 * `kopia repository create --path=...` writes `kopia.repository` where its mount puts it, and every Kopiur
 * mover's volume root must be the directory that holds that file.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { loadAll } from "js-yaml";
import { EXAMPLE, run, tempRepo, treeOf } from "../helpers.ts";
import { FRESH_FLAGS, freshRepo, HANDLE, init, KOPIUR_FLAGS, SUBVOLUME_PATH } from "./util.ts";

const KOPIA = "kubernetes/apps/system/volsync-system/kopia/app";
/** The repository namespace (the conventions' default): where the init Job runs. */
const REPOSITORY_NS = "volsync-system";

type Obj = { kind?: string; metadata?: { name?: string; namespace?: string }; spec?: Record<string, unknown> };

function objects(dir: string): Obj[] {
  const out: Obj[] = [];
  for (const [file, text] of treeOf(dir)) {
    if (!file.endsWith(".yaml") || file.includes("components/")) continue;
    try {
      for (const d of loadAll(text)) if (d && typeof d === "object") out.push(d as Obj);
    } catch {
      // not plain YAML (Flux substitution, templates): not a PV, PVC, Job or ClusterRepository of ours
    }
  }
  return out;
}

const field = (o: unknown, ...keys: string[]): unknown =>
  keys.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), o);

/** The directory of the simulated file system that PVC `claim` in `ns` mounts: its PV's root. */
function claimRoot(all: Obj[], fsRoot: string, ns: string, claim: string): string {
  const pvc = all.find(
    (o) => o.kind === "PersistentVolumeClaim" && o.metadata?.name === claim && o.metadata?.namespace === ns,
  );
  assert.ok(pvc, `PVC ${ns}/${claim}`);
  const pv = all.find((o) => o.kind === "PersistentVolume" && o.metadata?.name === field(pvc, "spec", "volumeName"));
  assert.ok(pv, `PV of ${ns}/${claim}`);
  const attrs = field(pv, "spec", "csi", "volumeAttributes") as Record<string, unknown>;
  if (String(attrs.staticVolume) === "true") return path.join(fsRoot, String(attrs.rootPath));
  // A shared handle is the dynamic subvolume: ceph-csi mounts the path getpath prints for it.
  assert.equal(field(pv, "spec", "csi", "volumeHandle"), HANDLE);
  return path.join(fsRoot, SUBVOLUME_PATH);
}

/** Runs the init Job on the simulated file system: `kopia repository create` writes kopia.repository. */
function runInitJob(all: Obj[], fsRoot: string): string {
  const job = all.find((o) => o.kind === "Job" && o.metadata?.name === "kopia-init");
  const pod = field(job, "spec", "template", "spec") as {
    containers: { args: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
    volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[];
  };
  const container = pod.containers[0] as (typeof pod.containers)[number];
  const repo = /kopia repository create filesystem --path=(\S+)/.exec(container.args.join("\n"))?.[1];
  assert.ok(repo, "the init Job creates a filesystem repository");
  const mount = container.volumeMounts.find((m) => repo.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `a volume mounted above ${repo}`);
  const claim = pod.volumes.find((v) => v.name === mount.name)?.persistentVolumeClaim?.claimName;
  assert.ok(claim, "the mount is a PVC");
  const where = path.join(claimRoot(all, fsRoot, REPOSITORY_NS, claim), repo.slice(mount.mountPath.length));
  mkdirSync(where, { recursive: true });
  writeFileSync(path.join(where, "kopia.repository"), "{}\n");
  return where;
}

/** Every namespace Kopiur's ClusterRepository allows: the PVC it mounts there has the repository at its root. */
function assertKopiurReachesRoot(dir: string): void {
  const all = objects(dir);
  const fsRoot = mkdtempSync(path.join(os.tmpdir(), "kopiashare-cephfs-"));
  const repository = runInitJob(all, fsRoot);
  const cr = all.find((o) => o.kind === "ClusterRepository");
  assert.ok(cr, "a ClusterRepository");
  const claim = String(field(cr, "spec", "backend", "filesystem", "volume", "pvc", "name"));
  const list = field(cr, "spec", "allowedNamespaces", "list") as string[];
  assert.ok(list.length >= 2, "several namespaces");
  for (const ns of list) {
    const root = claimRoot(all, fsRoot, ns, claim);
    // Kopiur mounts the volume at spec.backend.filesystem.path and opens the repository at its root.
    assert.equal(root, repository, `${ns}: the root of PVC ${claim} is the repository directory`);
    assert.ok(existsSync(path.join(root, "kopia.repository")), `${ns}: kopia.repository at the mover's volume root`);
  }
  // The seed's own PVC is the subvolume's root: the repository is one level down there (why Kopiur needs its own).
  assert.equal(existsSync(path.join(claimRoot(all, fsRoot, REPOSITORY_NS, "kopia"), "kopia.repository")), false);
}

/** The example (a shared handle) migrated to Kopiur with --subvolume-path, and media enabled afterwards. */
async function exampleOnKopiur(): Promise<string> {
  const dir = tempRepo(EXAMPLE);
  for (const args of [
    ["migrate", "--to", "kopiur", ...KOPIUR_FLAGS],
    ["enable", "media"],
  ]) {
    const r = await run([...args, "--repo", dir], { cwd: dir });
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
  }
  return dir;
}

describe("Kopiur's movers mount the directory that holds the repository", () => {
  it("the example (shared handle), migrated with --subvolume-path, plus a namespace enabled afterwards", async () => {
    const dir = await exampleOnKopiur();
    assertKopiurReachesRoot(dir);
  });

  it("a fresh static-style init: the subvolume's path is --root-path", async () => {
    const dir = freshRepo();
    await init(dir, [
      "--mover",
      "kopiur",
      "--tier",
      "system",
      "--style",
      "static",
      "--root-path",
      "/volumes/csi/kopia/abc",
      "--cluster-id",
      "rook-ceph",
      "--fs-name",
      "backups",
    ]);
    const e = await run(["enable", "media", "--repo", dir, "--tier", "system"], { cwd: dir });
    assert.equal(e.code, 0, e.err);
    assertKopiurReachesRoot(dir);
    assert.match(treeOf(dir).get(`${KOPIA}/clusterrepository.yaml`) ?? "", /path: \/repository\n/);
  });

  it("a shared handle without --subvolume-path: exit 2 with the getpath command, nothing written", async () => {
    for (const args of [
      ["init", "--mover", "kopiur", "--tier", "system", ...FRESH_FLAGS],
      ["migrate", "--to", "kopiur"],
    ]) {
      const dir = args[0] === "init" ? freshRepo() : tempRepo(EXAMPLE);
      const before = treeOf(dir);
      const r = await run([...args, "--repo", dir], { cwd: dir });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.out}${r.err}`);
      assert.match(r.err, /ceph fs subvolume getpath backups csi-vol-841e604c-1dd5-4a09-8763-84e672d78c4e csi/);
      assert.match(r.err, /--subvolume-path/);
      assert.deepEqual(treeOf(dir), before);
    }
  });

  it("a --subvolume-path of another subvolume than the handle's: exit 2", async () => {
    const dir = tempRepo(EXAMPLE);
    const other = "/volumes/csi/csi-vol-00000000-1111-2222-3333-444444444444/0f5a1c2e-7d3b-4e8a-9c61-2b4d8e0f1a37";
    const r = await run(["migrate", "--repo", dir, "--to", "kopiur", "--subvolume-path", other], { cwd: dir });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /does not name/);
  });

  it("leaving Kopiur removes its PVs and PVCs again; disable removes a namespace's", async () => {
    const dir = await exampleOnKopiur();
    const kopiurFiles = () => [...treeOf(dir).keys()].filter((f) => f.endsWith("/kopiur-pvc.yaml")).sort();
    assert.equal(kopiurFiles().length, 4);
    assert.ok(kopiurFiles().some((f) => f.includes("/media/")));
    const d = await run(["disable", "media", "--repo", dir], { cwd: dir });
    assert.equal(d.code, 0, d.err);
    assert.equal(kopiurFiles().length, 3);
    assert.ok(!kopiurFiles().some((f) => f.includes("/media/")));
    const back = await run(["migrate", "--repo", dir, "--to", "volsync-0.17"], { cwd: dir });
    assert.equal(back.code, 0, back.err);
    assert.deepEqual(kopiurFiles(), []);
    for (const [f, text] of treeOf(dir))
      if (f.endsWith("/app/kustomization.yaml")) assert.doesNotMatch(text, /kopiur/, f);
  });
});
