/**
 * disable reverses enable exactly: enable then disable restores the tree byte for byte, for a new and an
 * existing namespace folder, in the seed and the flat layout, with LF and CRLF files. And lint's fix for a
 * ks.yaml whose registration was lost names the entry that is actually missing.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { EXAMPLE, read, run, tempRepo, treeOf, writeFiles } from "./helpers.ts";

const FLAT = {
  "kubernetes/flux/gitrepo.yaml":
    "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  url: https://example.com/repo\n",
  "kubernetes/apps/kustomization.yaml": "resources:\n- ./volsync-system\n",
  "kubernetes/apps/volsync-system/kustomization.yaml": "resources:\n- ./volsync-repository-pvc/ks.yaml\n",
  "kubernetes/apps/volsync-system/volsync-repository-pvc/app/pvc.yaml":
    "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: kopia-repository-pv-volsync-system\nspec:\n  capacity:\n    storage: 100Gi\n  accessModes: [ReadWriteMany]\n  persistentVolumeReclaimPolicy: Retain\n  storageClassName: cephfs\n  csi:\n    driver: rook-ceph.cephfs.csi.ceph.com\n    volumeAttributes:\n      clusterID: rook-ceph\n      fsName: ceph-filesystem\n    volumeHandle: 0001-0009-rook-ceph-0000000000000001-841e604c\n",
};

/** A namespace folder `media` that already exists (an app, registered in its parent) in `apps`. */
function existingFolder(parent: string): Record<string, string> {
  return {
    [`${parent}/media/kustomization.yaml`]: "---\n# media apps\nresources:\n  - ./jellyfin/ks.yaml # the player\n",
    [`${parent}/media/jellyfin/ks.yaml`]:
      "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: jellyfin\n  namespace: flux-system\nspec:\n  targetNamespace: media\n  path: ./nowhere\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  interval: 30m\n",
  };
}

function toCrlf(repo: string): void {
  for (const f of treeOf(repo).keys()) {
    if (!f.endsWith(".yaml")) continue;
    const abs = path.join(repo, f);
    writeFileSync(abs, readFileSync(abs, "utf8").replace(/\r?\n/g, "\r\n"));
  }
}

function setup(layout: "seed" | "flat", folder: "new" | "existing"): { repo: string; nsDir: string } {
  if (layout === "seed") {
    const repo = tempRepo(EXAMPLE);
    if (folder === "existing") {
      writeFiles(repo, existingFolder("kubernetes/apps/home"));
      const tier = path.join(repo, "kubernetes/apps/home/kustomization.yaml");
      writeFileSync(tier, `${readFileSync(tier, "utf8")}  - ./media\n`);
    }
    return { repo, nsDir: "kubernetes/apps/home/media" };
  }
  const repo = tempRepo();
  writeFiles(repo, FLAT);
  if (folder === "existing") {
    writeFiles(repo, existingFolder("kubernetes/apps"));
    writeFileSync(path.join(repo, "kubernetes/apps/kustomization.yaml"), "resources:\n- ./volsync-system\n- ./media\n");
  }
  return { repo, nsDir: "kubernetes/apps/media" };
}

describe("enable then disable restores the tree byte for byte", () => {
  for (const layout of ["seed", "flat"] as const)
    for (const folder of ["new", "existing"] as const)
      for (const endings of ["LF", "CRLF"] as const) {
        it(`${layout} layout, ${folder} namespace folder, ${endings} files`, async () => {
          const { repo, nsDir } = setup(layout, folder);
          if (endings === "CRLF") toCrlf(repo);
          const before = treeOf(repo);
          const on = await run(["enable", "media", ...(layout === "seed" ? ["--tier", "home"] : [])], { cwd: repo });
          assert.equal(on.code, 0, on.err);
          assert.ok(existsSync(path.join(repo, nsDir, "volsync-repository-pvc/ks.yaml")));
          if (folder === "new" && layout === "seed") {
            // Removing it later must not make Flux delete the namespace and everything in it.
            assert.match(read(repo, `${nsDir}/namespace.yaml`), /kustomize\.toolkit\.fluxcd\.io\/prune: disabled/);
          }
          const off = await run(["disable", "media"], { cwd: repo });
          assert.equal(off.code, 0, off.err);
          const after = treeOf(repo);
          assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
          for (const [f, text] of before) assert.equal(after.get(f), text, f);
          assert.equal(existsSync(path.join(repo, nsDir)), folder === "existing", "a folder enable created is gone");
          if (folder === "new" && layout === "seed")
            assert.match(
              off.err,
              /namespace\.yaml goes too \(enable created it with the namespace folder\).*prune: disabled, so Flux leaves Namespace media in the cluster/,
            );
        });
      }

  it("a namespace folder enable created but that has gained an app since is left (only the instance goes)", async () => {
    const { repo, nsDir } = setup("seed", "new");
    assert.equal((await run(["enable", "media", "--tier", "home"], { cwd: repo })).code, 0);
    const ks = path.join(repo, nsDir, "kustomization.yaml");
    writeFileSync(ks, `${readFileSync(ks, "utf8")}  - ./jellyfin/ks.yaml\n`);
    writeFiles(repo, { [`${nsDir}/jellyfin/ks.yaml`]: existingFolder("x")["x/media/jellyfin/ks.yaml"] as string });
    const off = await run(["disable", "media"], { cwd: repo });
    assert.equal(off.code, 0, off.err);
    assert.ok(existsSync(path.join(repo, nsDir, "namespace.yaml")));
    assert.match(read(repo, `${nsDir}/kustomization.yaml`), /\.\/jellyfin\/ks\.yaml/);
    assert.doesNotMatch(read(repo, `${nsDir}/kustomization.yaml`), /volsync-repository-pvc/);
    assert.match(read(repo, "kubernetes/apps/home/kustomization.yaml"), /- \.\/media\n/);
  });
});

describe("lint's fix for a ks.yaml whose registration was lost", () => {
  it("names the missing entry in the parent, not the entry that is already there", async () => {
    const repo = tempRepo(EXAMPLE);
    assert.equal((await run(["enable", "media", "--tier", "home"], { cwd: repo })).code, 0);
    const tier = path.join(repo, "kubernetes/apps/home/kustomization.yaml");
    writeFileSync(tier, readFileSync(tier, "utf8").replace("  - ./media\n", ""));
    const r = await run(["lint", "-o", "json"], { cwd: repo });
    const findings = (JSON.parse(r.out) as { findings: { rule: string; file: string; fix: string }[] }).findings;
    const f = findings.find(
      (x) =>
        x.rule === "delivery/not-applied" && x.file === "kubernetes/apps/home/media/volsync-repository-pvc/ks.yaml",
    );
    assert.ok(f, JSON.stringify(findings, null, 1));
    assert.match(f.fix, /^add "\.\/media" to the resources of kubernetes\/apps\/home\/kustomization\.yaml/);
  });

  it("still names the ks.yaml entry when that is what is missing", async () => {
    const repo = tempRepo(EXAMPLE);
    assert.equal((await run(["enable", "media", "--tier", "home"], { cwd: repo })).code, 0);
    const ns = path.join(repo, "kubernetes/apps/home/media/kustomization.yaml");
    writeFileSync(ns, readFileSync(ns, "utf8").replace("  - ./volsync-repository-pvc/ks.yaml\n", ""));
    const r = await run(["lint", "-o", "json"], { cwd: repo });
    const findings = (JSON.parse(r.out) as { findings: { rule: string; fix: string }[] }).findings;
    const f = findings.find((x) => x.rule === "delivery/not-applied");
    assert.ok(f, JSON.stringify(findings, null, 1));
    assert.match(
      f.fix,
      /^add "\.\/volsync-repository-pvc\/ks\.yaml" to the resources of kubernetes\/apps\/home\/media\/kustomization\.yaml/,
    );
  });
});
