import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EXAMPLE, read, run, tempRepo, treeOf, writeFiles } from "../helpers.ts";
import { KOPIUR_FLAGS } from "./util.ts";

const KS = "kubernetes/apps/home/default/wiki/ks.yaml";
const WIKI = `---
# yaml-language-server: $schema=https://kubernetes-schemas.pages.dev/kustomize.toolkit.fluxcd.io/kustomization_v1.json
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: &app wiki # the wiki, anchored
  namespace: flux-system
spec:
  targetNamespace: default
  commonMetadata:
    labels:
      app.kubernetes.io/name: *app
  # where the manifests live
  path: ./kubernetes/apps/home/default/wiki/app
  prune: true   # keep it tidy
  sourceRef:
    kind: GitRepository
    name: home-kubernetes

  wait: false
  interval: 30m # often enough
`;

function withWiki(extra: Record<string, string> = {}): string {
  const dir = tempRepo(EXAMPLE);
  writeFiles(dir, {
    [KS]: WIKI,
    "kubernetes/apps/home/default/wiki/app/kustomization.yaml": "resources: []\n",
    ...extra,
  });
  return dir;
}

/** Every line of `before` appears in `after`, in order (nothing was rewritten, only lines added). */
function onlyAdded(before: string, after: string): string[] {
  const a = after.split("\n");
  let i = 0;
  const added: string[] = [];
  for (const line of before.split("\n")) {
    while (i < a.length && a[i] !== line) added.push(a[i++] as string);
    assert.ok(i < a.length, `line ${JSON.stringify(line)} did not survive`);
    i++;
  }
  return [...added, ...a.slice(i)].filter((l) => l !== "");
}

describe("app wires an app's ks.yaml, keeping comments", () => {
  it("adds components, dependsOn and postBuild.substitute; every original line survives byte for byte", async () => {
    const dir = withWiki();
    const r = await run(["app", "default", "wiki", "--repo", dir, "--capacity", "20Gi"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    const after = read(dir, KS);
    assert.deepEqual(onlyAdded(WIKI, after), [
      "  components:",
      "    - ../../../../../components/volsync",
      "  dependsOn:",
      "    - name: volsync-repository-pvc-default",
      "  postBuild:",
      "    substitute:",
      "      APP: *app",
      "      VOLSYNC_CAPACITY: 20Gi",
    ]);
    // the comment above path stays attached to it
    assert.match(after, /name: volsync-repository-pvc-default\n {2}# where the manifests live\n {2}path:/);
    const again = await run(["app", "default", "wiki", "--repo", dir, "--capacity", "20Gi"], { cwd: dir });
    assert.equal(again.code, 0);
    assert.match(again.out, /already wired; nothing to change/);
  });

  it("extends existing lists and maps in the file's own style (indentless sequences, flow lists)", async () => {
    const text = WIKI.replace(
      "  # where the manifests live\n",
      "  dependsOn:\n  - name: cnpg # the database\n  components: [../../../../../components/other]\n  # where the manifests live\n",
    ).concat("  postBuild:\n    substitute:\n      TZ: Europe/Berlin # local time\n");
    const dir = withWiki({ [KS]: text });
    const r = await run(["app", "default", "wiki", "--repo", dir, "--uid", "568", "--gid", "568"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    const after = read(dir, KS);
    assert.match(
      after,
      / {2}dependsOn:\n {2}- name: cnpg # the database\n {2}- name: volsync-repository-pvc-default\n/,
    );
    assert.match(
      after,
      /components: \[\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/components\/other, \.\.\/\.\.\/\.\.\/\.\.\/\.\.\/components\/volsync\]/,
    );
    assert.match(
      after,
      / {6}TZ: Europe\/Berlin # local time\n {6}APP: \*app\n {6}VOLSYNC_PUID: "568"\n {6}VOLSYNC_PGID: "568"\n$/,
    );
    assert.match(r.err, /movers run as 568:568/);
  });

  it("--pvc names APP after the claim; values equal to the defaults are left out", async () => {
    const dir = withWiki();
    const r = await run(["app", "default", "wiki", "--repo", dir, "--pvc", "wiki-data", "--capacity", "5Gi"], {
      cwd: dir,
    });
    assert.equal(r.code, 0, r.err);
    const after = read(dir, KS);
    assert.match(after, /APP: wiki-data\n$/);
    assert.doesNotMatch(after, /VOLSYNC_CAPACITY/);
  });

  it("refuses a namespace that is not enabled (exit 2, suggests enable); --enable plans both", async () => {
    const dir = tempRepo(EXAMPLE);
    writeFiles(dir, {
      "kubernetes/apps/home/media/kustomization.yaml": "resources:\n  - ./jellyfin/ks.yaml\n",
      "kubernetes/apps/home/media/jellyfin/ks.yaml": WIKI.replaceAll("wiki", "jellyfin")
        .replace("targetNamespace: default", "targetNamespace: media")
        .replace("home/default", "home/media"),
    });
    const before = treeOf(dir);
    const r = await run(["app", "media", "jellyfin", "--repo", dir], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /namespace media is not enabled/);
    assert.match(r.err, /kopiashare enable media/);
    assert.deepEqual(treeOf(dir), before);
    const both = await run(["app", "media", "jellyfin", "--repo", dir, "--enable"], { cwd: dir });
    assert.equal(both.code, 0, both.err);
    assert.match(both.out, /and enabled media/);
    assert.match(
      read(dir, "kubernetes/apps/home/media/volsync-repository-pvc/app/pvc.yaml"),
      /kopia-repository-pv-media/,
    );
    assert.match(read(dir, "kubernetes/apps/home/media/kustomization.yaml"), /\.\/volsync-repository-pvc\/ks\.yaml/);
    assert.match(read(dir, "kubernetes/apps/home/media/jellyfin/ks.yaml"), /name: volsync-repository-pvc-media/);
  });

  it("--dry-run -o yaml prints the edited ks.yaml and writes nothing", async () => {
    const dir = withWiki();
    const before = treeOf(dir);
    const r = await run(["app", "default", "wiki", "--repo", dir, "--dry-run", "-o", "yaml"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /components:\n {4}- \.\.\/\.\.\/\.\.\/\.\.\/\.\.\/components\/volsync/);
    assert.deepEqual(treeOf(dir), before);
  });
});

describe("app: bad input exits 2 and writes nothing", () => {
  const cases: [string, string[], RegExp][] = [
    ["app name not RFC 1123", ["app", "default", "Wiki_App"], /app name "Wiki_App" is not a valid RFC 1123 label/],
    ["pvc not RFC 1123", ["app", "default", "wiki", "--pvc", "Data!"], /--pvc "Data!" is not a valid RFC 1123/],
    ["namespace not RFC 1123", ["app", "Default", "wiki"], /namespace "Default" is not a valid RFC 1123/],
    [
      "missing app folder",
      ["app", "default", "nope"],
      /app folder kubernetes\/apps\/home\/default\/nope\/ does not exist/,
    ],
    [
      "bad capacity",
      ["app", "default", "wiki", "--capacity", "lots"],
      /--capacity must be a Kubernetes quantity such as 200Gi: got "lots"/,
    ],
    ["bad uid", ["app", "default", "wiki", "--uid", "-1"], /error/],
    ["--tier without --enable", ["app", "default", "wiki", "--tier", "home"], /--tier only applies with --enable/],
    ["wrong namespace", ["app", "observability", "grafana-x"], /does not exist/],
  ];
  for (const [name, args, msg] of cases) {
    it(name, async () => {
      const dir = withWiki();
      const before = treeOf(dir);
      const r = await run([...args, "--repo", dir], { cwd: dir });
      assert.equal(r.code, 2, `${name}: ${r.err}`);
      assert.match(r.err, msg);
      assert.deepEqual(treeOf(dir), before);
    });
  }

  it("an app whose ks.yaml targets another namespace", async () => {
    const dir = withWiki({ [KS]: WIKI.replace("targetNamespace: default", "targetNamespace: observability") });
    const before = treeOf(dir);
    const r = await run(["app", "default", "wiki", "--repo", dir], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /deploys into namespace observability/);
    assert.deepEqual(treeOf(dir), before);
  });

  it("a repository that is not initialised", async () => {
    const dir = withWiki();
    const r0 = await run(["app", "default", "wiki", "--repo", dir, "--dry-run"], { cwd: dir });
    assert.equal(r0.code, 0, r0.err);
    const { rmSync } = await import("node:fs");
    rmSync(`${dir}/kubernetes/components`, { recursive: true });
    const before = treeOf(dir);
    const r = await run(["app", "default", "wiki", "--repo", dir], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /kopiashare init/);
    assert.deepEqual(treeOf(dir), before);
  });
});

describe("app under Kopiur: regenerating clusterrepository.yaml is no hand edit", () => {
  const CR = "kubernetes/apps/system/volsync-system/kopia/app/clusterrepository.yaml";
  function kopiurWithJellyfin(): Promise<string> {
    const dir = tempRepo(EXAMPLE);
    writeFiles(dir, {
      "kubernetes/apps/home/media/kustomization.yaml": "resources:\n  - ./jellyfin/ks.yaml\n",
      "kubernetes/apps/home/media/jellyfin/ks.yaml": WIKI.replaceAll("wiki", "jellyfin")
        .replace("targetNamespace: default", "targetNamespace: media")
        .replace("home/default", "home/media"),
    });
    return run(["migrate", "--to", "kopiur", "--repo", dir, ...KOPIUR_FLAGS], { cwd: dir }).then((m) => {
      assert.equal(m.code, 0, m.err);
      return dir;
    });
  }

  it("an allowedNamespaces list out of step is re-rendered without --force (app, init)", async () => {
    const dir = await kopiurWithJellyfin();
    const e = await run(["enable", "media", "--repo", dir], { cwd: dir });
    assert.equal(e.code, 0, e.err);
    // as an older kopiashare (or a hand-run disable) would have left it: media enabled, not allowed
    const stale = read(dir, CR).replace("      - media\n", "");
    writeFiles(dir, { [CR]: stale });
    const r = await run(["app", "media", "jellyfin", "--repo", dir], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`updated ${CR}`));
    assert.match(read(dir, CR), /list:\n {6}- default\n {6}- media\n {6}- observability\n {6}- volsync-system\n/);
    writeFiles(dir, { [CR]: stale });
    const i = await run(["init", "--repo", dir], { cwd: dir });
    assert.equal(i.code, 0, i.err);
    assert.match(read(dir, CR), /- media\n/);
  });

  it("app --enable adds the namespace to allowedNamespaces without --force", async () => {
    const dir = await kopiurWithJellyfin();
    const r = await run(["app", "media", "jellyfin", "--enable", "--repo", dir], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`updated ${CR}`));
    assert.match(read(dir, CR), /list:\n {6}- default\n {6}- media\n {6}- observability\n {6}- volsync-system\n/);
  });

  it("a hand edit of clusterrepository.yaml is still refused, with the edit as the diff; --force overwrites", async () => {
    const dir = await kopiurWithJellyfin();
    writeFiles(dir, { [CR]: `${read(dir, CR)}# edited by hand\n` });
    const before = treeOf(dir);
    const r = await run(["app", "media", "jellyfin", "--enable", "--repo", dir], { cwd: dir });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /clusterrepository\.yaml exists with different content than kopiashare generates/);
    assert.match(r.err, /^-# edited by hand$/m);
    assert.doesNotMatch(r.err, /^\+ +- media$/m, "the diff is the hand edit, not the new namespace");
    assert.deepEqual(treeOf(dir), before);
    const forced = await run(["app", "media", "jellyfin", "--enable", "--repo", dir, "--force"], { cwd: dir });
    assert.equal(forced.code, 0, forced.err);
    assert.doesNotMatch(read(dir, CR), /edited by hand/);
    assert.match(read(dir, CR), /- media\n/);
  });
});
