import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { loadAll } from "js-yaml";
import { DEFAULTS } from "../src/core/config.ts";
import { findRepositoryPv } from "../src/gitops/discover.ts";
import { planEnable } from "../src/gitops/enable.ts";
import { applyPlan } from "../src/gitops/plan.ts";
import { scanRepo } from "../src/gitops/scan.ts";
import { EXAMPLE, FIXTURES, kubectlPath, read, run, tempRepo, treeOf, writeFiles } from "./helpers.ts";

const HANDLE = "0001-0024-407036f5-1f73-44ff-ba81-1f219b7a8a64-000000000000000b-841e604c-1dd5-4a09-8763-84e672d78c4e";
const INSTANCE = "kubernetes/apps/home/media/volsync-repository-pvc";
const GOLDEN = path.join(FIXTURES, "enable-golden");

/** Compares with a golden file; UPDATE_GOLDEN=1 rewrites it. */
function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  assert.equal(actual, readFileSync(file, "utf8"), `golden ${name} differs (UPDATE_GOLDEN=1 to accept)`);
}

/** The seed's Steps 2-4 with placeholders filled and the instruction comments dropped. */
function seedText(file: string, ns: string, tier: string): string {
  return readFileSync(path.join(FIXTURES, "seed", file), "utf8")
    .replace(/ {2}# (Replace <namespace>|From step 1|Must match PV name)/g, "")
    .replaceAll("<PASTE-VOLUMEHANDLE-HERE>", HANDLE)
    .replaceAll("<namespace>", ns)
    .replaceAll("<tier>", tier);
}

describe("enable: seed layout on the example repo", () => {
  it("writes the three files, registers them, and matches the golden files", async () => {
    const repo = tempRepo(EXAMPLE);
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /enabled backups in namespace media/);
    for (const f of ["app/pvc.yaml", "app/kustomization.yaml", "ks.yaml"]) {
      golden(`seed/${f.replace("/", "-")}`, read(repo, `${INSTANCE}/${f}`));
    }
    golden("seed/namespace-kustomization.yaml", read(repo, "kubernetes/apps/home/media/kustomization.yaml"));
    assert.match(read(repo, "kubernetes/apps/home/kustomization.yaml"), /^ {2}- \.\/media$/m);
    assert.match(read(repo, "kubernetes/apps/home/media/namespace.yaml"), /name: media/);
  });

  it("--no-claim-ref reproduces the seed's Steps 2-4 byte for byte", async () => {
    const repo = tempRepo(EXAMPLE);
    const r = await run(["enable", "media", "--no-claim-ref"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.equal(read(repo, `${INSTANCE}/app/pvc.yaml`), seedText("pvc.yaml", "media", "home"));
    assert.equal(read(repo, `${INSTANCE}/app/kustomization.yaml`), seedText("kustomization.yaml", "media", "home"));
    assert.equal(read(repo, `${INSTANCE}/ks.yaml`), seedText("ks.yaml", "media", "home"));
  });

  it("adds claimRef for the namespace's claim, and nothing else, by default", async () => {
    const repo = tempRepo(EXAMPLE);
    await run(["enable", "media"], { cwd: repo });
    const withRef = read(repo, `${INSTANCE}/app/pvc.yaml`);
    const seed = seedText("pvc.yaml", "media", "home");
    const added = withRef.split("\n").filter((l) => !seed.split("\n").includes(l));
    assert.deepEqual(added, [
      "  claimRef:",
      "    apiVersion: v1",
      "    kind: PersistentVolumeClaim",
      "    namespace: media",
      "    name: kopia",
    ]);
  });

  it("running it twice changes nothing and says so", async () => {
    const repo = tempRepo(EXAMPLE);
    assert.equal((await run(["enable", "media"], { cwd: repo })).code, 0);
    const before = treeOf(repo);
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 0);
    assert.match(r.out, /already enabled; nothing to change/);
    assert.deepEqual(treeOf(repo), before);
  });

  it("an existing namespace folder only gains the registration line", async () => {
    const repo = tempRepo(EXAMPLE);
    // Pretend default was never enabled: remove its instance and registration.
    rmSync(path.join(repo, "kubernetes/apps/home/default/volsync-repository-pvc"), { recursive: true });
    const file = "kubernetes/apps/home/default/kustomization.yaml";
    const original = read(repo, file).replace(/ {2}# backups:.*\n {2}- \.\/volsync-repository-pvc\/ks\.yaml\n/, "");
    writeFileSync(path.join(repo, file), original);
    const r = await run(["enable", "default"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.equal(read(repo, file), `${original}  - ./volsync-repository-pvc/ks.yaml\n`);
    assert.ok(
      !existsSync(path.join(repo, "kubernetes/apps/home/default/namespace.yaml")),
      "default needs no Namespace",
    );
  });

  it("never creates a kustomization.yaml that would hide manifests Flux picks up without one", async () => {
    const repo = tempRepo(EXAMPLE);
    writeFiles(repo, {
      "kubernetes/apps/home/media/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    });
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.ok(!existsSync(path.join(repo, "kubernetes/apps/home/media/kustomization.yaml")));
    assert.match(r.err, /has manifests but no kustomization\.yaml/);
    assert.ok(existsSync(path.join(repo, INSTANCE, "ks.yaml")));
  });

  it("--dry-run prints a unified diff and writes nothing", async () => {
    const repo = tempRepo(EXAMPLE);
    const before = treeOf(repo);
    const r = await run(["enable", "media", "--dry-run"], { cwd: repo });
    assert.equal(r.code, 0);
    assert.match(r.out, /^\+\+\+ b\/kubernetes\/apps\/home\/media\/volsync-repository-pvc\/ks\.yaml$/m);
    assert.match(r.out, /^\+ {2}- \.\/media$/m);
    assert.match(r.err, /dry run: 6 file\(s\) would change/);
    assert.deepEqual(treeOf(repo), before);
  });

  it("--dry-run -o yaml prints API objects that parse and equal the files enable writes", async () => {
    const repo = tempRepo(EXAMPLE);
    const before = treeOf(repo);
    const y = await run(["enable", "media", "--dry-run", "-o", "yaml"], { cwd: repo });
    assert.equal(y.code, 0);
    assert.deepEqual(treeOf(repo), before, "--dry-run must not write");
    const docs = loadAll(y.out) as { kind: string }[];
    assert.deepEqual(
      docs.map((d) => d.kind),
      ["PersistentVolume", "PersistentVolumeClaim", "Kustomization", "Namespace"],
    );
    await run(["enable", "media"], { cwd: repo });
    const written = ["app/pvc.yaml", "ks.yaml"].map((f) => read(repo, `${INSTANCE}/${f}`)).join("");
    assert.ok(y.out.startsWith(written), "-o yaml output differs from the written files");
  });

  it("-o json summarises the files and actions", async () => {
    const repo = tempRepo(EXAMPLE);
    const r = await run(["enable", "media", "-o", "json"], { cwd: repo });
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out) as { changed: boolean; files: { path: string; action: string }[] };
    assert.equal(j.changed, true);
    assert.ok(j.files.some((f) => f.path === `${INSTANCE}/ks.yaml` && f.action === "create"));
    assert.ok(j.files.some((f) => f.path === "kubernetes/apps/home/kustomization.yaml" && f.action === "update"));
  });

  it("kubectl kustomize builds the generated app folder into the PV and PVC", async (t) => {
    const kubectl = kubectlPath();
    if (!kubectl) return t.skip("kubectl not installed: cannot render with kubectl kustomize");
    const repo = tempRepo(EXAMPLE);
    await run(["enable", "media"], { cwd: repo });
    const out = execFileSync(kubectl, ["kustomize", path.join(repo, INSTANCE, "app")], { encoding: "utf8" });
    const docs = loadAll(out) as { kind: string; metadata: { name: string; namespace?: string } }[];
    assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}/${d.metadata.namespace ?? ""}`).sort(), [
      "PersistentVolume/kopia-repository-pv-media/",
      "PersistentVolumeClaim/kopia/media",
    ]);
  });
});

const flatRepo = (source = "flux-system") => ({
  "kubernetes/flux/gitrepo.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: ${source}
  namespace: flux-system
spec:
  url: https://example.com/repo
`,
  "kubernetes/apps/volsync-system/kustomization.yaml": `resources:
- ./volsync-repository-pvc/ks.yaml
`,
  "kubernetes/apps/volsync-system/volsync-repository-pvc/app/pvc.yaml": `apiVersion: v1
kind: PersistentVolume
metadata:
  name: kopia-repository-pv-volsync-system
spec:
  capacity:
    storage: 100Gi
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: cephfs-static
  csi:
    driver: rook-ceph.cephfs.csi.ceph.com
    nodeStageSecretRef:
      name: rook-csi-cephfs-node
      namespace: rook-ceph
    volumeAttributes:
      clusterID: rook-ceph
      fsName: ceph-filesystem
      staticVolume: "true"
      rootPath: /volumes/csi/csi-vol-841e604c/abc
    volumeHandle: kopia-repository-pv-volsync-system
`,
});

describe("enable: flat layout and static volumes", () => {
  it("writes <apps>/<ns>/volsync-repository-pvc with the discovered GitRepository and the static style", async () => {
    const repo = tempRepo();
    writeFiles(repo, flatRepo());
    writeFiles(repo, { "kubernetes/apps/kustomization.yaml": "resources:\n- ./volsync-system\n" });
    const r = await run(["enable", "media", "--layout", "flat"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    const dir = "kubernetes/apps/media/volsync-repository-pvc";
    golden("flat-static/pvc.yaml", read(repo, `${dir}/app/pvc.yaml`));
    golden("flat-static/ks.yaml", read(repo, `${dir}/ks.yaml`));
    const pv = read(repo, `${dir}/app/pvc.yaml`);
    assert.match(pv, /volumeHandle: kopia-repository-pv-media$/m, "static style needs a unique handle");
    assert.match(pv, /staticVolume: "true"/);
    assert.match(pv, /rootPath: \/volumes\/csi\/csi-vol-841e604c\/abc/);
    assert.match(read(repo, `${dir}/ks.yaml`), /name: flux-system/);
    // the parent list keeps its unindented sequence style
    assert.equal(read(repo, "kubernetes/apps/kustomization.yaml"), "resources:\n- ./volsync-system\n- ./media\n");
  });

  it("detects the flat layout from existing instances", async () => {
    const repo = tempRepo();
    writeFiles(repo, flatRepo());
    const r = await run(["enable", "media", "--dry-run"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /kubernetes\/apps\/media\/volsync-repository-pvc\/ks\.yaml/);
  });
});

describe("enable: bad input is a clear error and nothing is written", () => {
  for (const bad of ["Media", "a".repeat(64), "", "../x", "a/b", "-a"]) {
    it(`refuses namespace ${JSON.stringify(bad.length > 10 ? `${bad.slice(0, 6)}…(${bad.length})` : bad)}`, async () => {
      const repo = tempRepo(EXAMPLE);
      const before = treeOf(repo);
      const r = await run(["enable", "--", bad], { cwd: repo });
      assert.equal(r.code, 2);
      assert.match(r.err, /RFC 1123/);
      assert.deepEqual(treeOf(repo), before);
    });
  }

  it("refuses a target that resolves outside the repository through a symlink", async () => {
    const repo = tempRepo(EXAMPLE);
    const outside = mkdtempSync(path.join(tmpdir(), "kopiashare-outside-"));
    symlinkSync(outside, path.join(repo, "kubernetes/apps/home/media"));
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /outside the repository/);
    assert.deepEqual(execFileSync("ls", ["-A", outside], { encoding: "utf8" }), "");
    rmSync(outside, { recursive: true });
  });

  it("refuses to overwrite a hand-edited file, shows the diff, and --force overwrites", async () => {
    const repo = tempRepo(EXAMPLE);
    await run(["enable", "media"], { cwd: repo });
    const file = path.join(repo, INSTANCE, "app/pvc.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replaceAll("200Gi", "300Gi"));
    const before = treeOf(repo);
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(r.err, /exists with different content/);
    assert.match(r.err, /^- {4}storage: 300Gi$/m);
    assert.match(r.err, /--force/);
    assert.deepEqual(treeOf(repo), before);
    const f = await run(["enable", "media", "--force"], { cwd: repo });
    assert.equal(f.code, 0, f.err);
    assert.doesNotMatch(readFileSync(file, "utf8"), /300Gi/);
  });

  it("refuses a namespace whose PV is already declared elsewhere, with file:line", async () => {
    const repo = tempRepo(EXAMPLE);
    writeFiles(repo, {
      "kubernetes/apps/home/default/legacy-pv.yaml":
        "---\napiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: kopia-repository-pv-media\nspec: {}\n",
    });
    const before = treeOf(repo);
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /PersistentVolume kopia-repository-pv-media is already declared in kubernetes\/apps\/home\/default\/legacy-pv\.yaml:2/,
    );
    assert.deepEqual(treeOf(repo), before);
  });

  it("refuses a namespace whose PVC kopia is already declared elsewhere (metadata.namespace), with file:line", async () => {
    const repo = tempRepo(EXAMPLE);
    writeFiles(repo, {
      "kubernetes/apps/home/default/legacy-pvc.yaml": [
        "---",
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata: {name: unrelated, namespace: media}",
        "---",
        "apiVersion: v1",
        "kind: PersistentVolumeClaim",
        "metadata:",
        "  name: kopia",
        "  namespace: media",
        "spec: {}",
        "",
      ].join("\n"),
    });
    const before = treeOf(repo);
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /PersistentVolumeClaim media\/kopia is already declared in kubernetes\/apps\/home\/default\/legacy-pvc\.yaml:6/,
    );
    assert.match(r.err, /enabled by hand/);
    assert.deepEqual(treeOf(repo), before);
    // the same claim in another namespace is no conflict
    writeFiles(repo, {
      "kubernetes/apps/home/default/legacy-pvc.yaml":
        "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: kopia\n  namespace: other\nspec: {}\n",
    });
    assert.equal((await run(["enable", "media", "--dry-run"], { cwd: repo })).code, 0);
  });

  it("refuses a namespace whose PVC kopia Flux already delivers into it (targetNamespace), with file:line", async () => {
    const repo = tempRepo(EXAMPLE);
    writeFiles(repo, {
      "kubernetes/apps/home/media/kustomization.yaml": "resources:\n  - ./wiki/ks.yaml\n",
      "kubernetes/apps/home/media/wiki/ks.yaml": [
        "apiVersion: kustomize.toolkit.fluxcd.io/v1",
        "kind: Kustomization",
        "metadata: {name: wiki, namespace: flux-system}",
        "spec:",
        "  targetNamespace: media",
        "  path: ./kubernetes/apps/home/media/wiki/app",
        "  prune: true",
        "  sourceRef: {kind: GitRepository, name: home-kubernetes}",
        "  interval: 30m",
        "",
      ].join("\n"),
      "kubernetes/apps/home/media/wiki/app/kustomization.yaml": "resources:\n  - ./pvc.yaml\n",
      "kubernetes/apps/home/media/wiki/app/pvc.yaml":
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: kopia\nspec: {}\n",
    });
    writeFileSync(
      path.join(repo, "kubernetes/apps/home/kustomization.yaml"),
      `${read(repo, "kubernetes/apps/home/kustomization.yaml")}  - ./media\n`,
    );
    const before = treeOf(repo);
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /PersistentVolumeClaim media\/kopia is already declared in kubernetes\/apps\/home\/media\/wiki\/app\/pvc\.yaml:1/,
    );
    assert.deepEqual(treeOf(repo), before);
  });

  it("reports an unparsable kustomization.yaml with file:line:col and writes nothing", async () => {
    const repo = tempRepo(EXAMPLE);
    writeFileSync(path.join(repo, "kubernetes/apps/home/kustomization.yaml"), "resources:\n  - ./default\n  bad: [\n");
    const before = treeOf(repo);
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(r.err, /kubernetes\/apps\/home\/kustomization\.yaml:\d+:\d+: not valid YAML/);
    assert.deepEqual(treeOf(repo), before);
  });

  it("finds the repository PV by its claim, not only by its name: the PV lint sees", async () => {
    const repo = tempRepo(EXAMPLE);
    const file = path.join(repo, "kubernetes/apps/system/volsync-system/volsync-repository-pvc/app/pvc.yaml");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replaceAll("kopia-repository-pv-volsync-system", "backups-original"),
    );
    assert.equal(findRepositoryPv(scanRepo(repo), DEFAULTS)?.name, "backups-original");
    const r = await run(["enable", "media", "--dry-run"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /volumeHandle: 0001-0024-/);
    const lint = await run(["lint", "-o", "json"], { cwd: repo });
    assert.equal(JSON.parse(lint.out).summary.errors, 0, lint.out);
  });

  it("without a repository PV or --volume-handle, says how to get the handle", async () => {
    const repo = tempRepo();
    writeFiles(repo, { "kubernetes/apps/home/kustomization.yaml": "resources: []\n" });
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(r.err, /no repository PV found/);
    assert.match(
      r.err,
      /kubectl get pv kopia-repository-pv-volsync-system -o jsonpath='\{\.spec\.csi\.volumeHandle\}'/,
    );
    const ok = await run(
      [
        "enable",
        "media",
        "--volume-handle",
        HANDLE,
        "--fs-name",
        "backups",
        "--storage-class",
        "csi-cephfs-backups-sc",
      ],
      {
        cwd: repo,
      },
    );
    assert.equal(ok.code, 0, ok.err);
    assert.match(read(repo, `${INSTANCE}/app/pvc.yaml`), /clusterID: 407036f5-1f73-44ff-ba81-1f219b7a8a64/);
  });

  it("a kopiashare.yaml with a bad key is an error naming the key", async () => {
    const repo = tempRepo(EXAMPLE);
    writeFileSync(path.join(repo, "kopiashare.yaml"), "tier: home\ncapacty: 10Gi\nuid: -1\n");
    const r = await run(["enable", "media"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown key "capacty"/);
    assert.match(r.err, /key "uid" must be a non-negative integer/);
  });

  it("artifactRoots in kopiashare.yaml: a mapping of <kind>/<name> to a folder inside the repository", async () => {
    const repo = tempRepo(EXAMPLE);
    writeFileSync(path.join(repo, "kopiashare.yaml"), "artifactRoots:\n  OCIRepository/flux-system: ../outside\n");
    const bad = await run(["lint"], { cwd: repo });
    assert.equal(bad.code, 2);
    assert.match(bad.err, /key "artifactRoots.OCIRepository\/flux-system" must be a relative path/);
    writeFileSync(path.join(repo, "kopiashare.yaml"), "artifactRoots:\n  flux-system: kubernetes\n");
    const key = await run(["lint"], { cwd: repo });
    assert.equal(key.code, 2);
    assert.match(key.err, /"flux-system" must be <kind>\/<name>/);
    writeFileSync(path.join(repo, "kopiashare.yaml"), "artifactRoots:\n  OCIRepository/flux-system: kubernetes\n");
    const ok = await run(["lint"], { cwd: repo });
    assert.equal(ok.code, 0, ok.err);
  });

  it("a failure in the middle of applying a plan leaves the repository as it was", () => {
    const repo = tempRepo(EXAMPLE);
    const before = treeOf(repo);
    const e = planEnable(scanRepo(repo), { ...DEFAULTS, tier: "home" }, { namespace: "media" });
    let renames = 0;
    assert.throws(
      () =>
        applyPlan(e.plan, (step) => {
          if (step === "renamed" && ++renames === 4) throw new Error("disk full (injected)");
        }),
      /could not write the changes: disk full \(injected\); the repository was left as it was/,
    );
    assert.deepEqual(treeOf(repo), before);
    assert.ok(!existsSync(path.join(repo, "kubernetes/apps/home/media")), "created folders are removed again");
    const files = spawnSync("find", [repo, "-name", "*.kopiashare-*"], { encoding: "utf8" }).stdout;
    assert.equal(files, "", "no temp or backup files are left behind");
  });
});
