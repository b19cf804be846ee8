// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is Flux postBuild substitution text, not a template
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { EXAMPLE, read, run, tempRepo, treeOf, writeFiles } from "../helpers.ts";
import { FRESH_FLAGS, freshRepo, init, KOPIUR_FLAGS, lint } from "./util.ts";

const COMPONENT = "kubernetes/components/volsync";
const KOPIA = "kubernetes/apps/system/volsync-system/kopia/app";

/** What decides which snapshots a restore finds: source name, its namespace, and the restore's lookup. */
function identities(dir: string): Record<string, unknown> {
  const tree = treeOf(dir);
  const rs = tree.get(`${COMPONENT}/replicationsource.yaml`);
  if (rs !== undefined) {
    const src = load(rs) as { metadata: { name: string; namespace?: string } };
    const dst = load(tree.get(`${COMPONENT}/replicationdestination.yaml`) ?? "") as {
      spec: { kopia: { sourceIdentity: Record<string, unknown> } };
    };
    // The fork's kopia mover mounts the data at /data and records that path.
    return {
      name: src.metadata.name,
      namespace: src.metadata.namespace ?? "(from the app)",
      path: "/data",
      lookup: dst.spec.kopia.sourceIdentity,
    };
  }
  const policy = load(tree.get(`${COMPONENT}/snapshotpolicy.yaml`) ?? "") as {
    metadata: { name: string; namespace?: string };
    spec: { sources: { sourcePathOverride?: string; pvc: { name: string } }[] };
  };
  const source = policy.spec.sources[0];
  const cr = load(tree.get(`${KOPIA}/clusterrepository.yaml`) ?? "") as {
    spec: { identityDefaults: { usernameExpr: string; hostnameExpr: string } };
  };
  // Kopiur's identity is <usernameExpr>@<hostnameExpr>: policyName@namespace, i.e. Volsync's <RS name>@<namespace>.
  assert.deepEqual(cr.spec.identityDefaults, { usernameExpr: "policyName", hostnameExpr: "namespace" });
  return {
    name: policy.metadata.name,
    namespace: policy.metadata.namespace ?? "(from the app)",
    // Kopiur records /pvc/<name> unless sourcePathOverride says otherwise.
    path: source?.sourcePathOverride ?? `/pvc/${source?.pvc.name}`,
    lookup: { sourceName: policy.metadata.name },
  };
}

/** No error and no warning, Kopiur included (its movers mount a PV whose root is the repository directory). */
async function lintClean(dir: string, step: string): Promise<void> {
  const r = await lint(dir);
  const found = r.findings.filter((f) => f.severity !== "info").map((f) => `${f.rule ?? f.id} ${f.file}`);
  assert.deepEqual(found, [], `${step}: lint\n${r.text}`);
}

async function migrate(dir: string, args: string[]): Promise<void> {
  // The example and FRESH_FLAGS copy a volume handle: Kopiur's static PV needs the subvolume's path.
  const more = args.includes("kopiur") ? KOPIUR_FLAGS : [];
  const r = await run(["migrate", "--repo", dir, ...args, ...more], { cwd: dir });
  assert.equal(r.code, 0, `migrate ${args.join(" ")}: ${r.err}${r.out}`);
}

const WIKI = [
  "---",
  "apiVersion: kustomize.toolkit.fluxcd.io/v1",
  "kind: Kustomization",
  "metadata:",
  "  name: &app wiki",
  "  namespace: flux-system",
  "spec:",
  "  targetNamespace: media",
  "  path: ./kubernetes/apps/home/media/wiki/app",
  "  prune: true",
  "  sourceRef:",
  "    kind: GitRepository",
  "    name: home-kubernetes",
  "  interval: 30m",
  "",
].join("\n");

/** A copy of the example with app wiki in namespace media wired by `app --enable` (0.16). */
async function exampleWithWiki(): Promise<string> {
  const dir = tempRepo(EXAMPLE);
  writeFiles(dir, {
    "kubernetes/apps/home/media/kustomization.yaml":
      "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./namespace.yaml\n  - ./wiki/ks.yaml\n",
    "kubernetes/apps/home/media/namespace.yaml": "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n",
    "kubernetes/apps/home/media/wiki/ks.yaml": WIKI,
    "kubernetes/apps/home/media/wiki/app/kustomization.yaml":
      "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
  });
  const home = "kubernetes/apps/home/kustomization.yaml";
  writeFileSync(path.join(dir, home), `${read(dir, home)}  - ./media\n`);
  const wired = await run(["app", "media", "wiki", "--repo", dir, "--enable"], { cwd: dir });
  assert.equal(wired.code, 0, wired.err);
  return dir;
}

describe("migrate round trips keep snapshot identities and lint clean", () => {
  it("0.16 → 0.17 → kopiur → 0.16 on the example, with init, app and enable in between", async () => {
    const dir = await exampleWithWiki();
    await lintClean(dir, "0.16 + app --enable");
    const start = identities(dir);
    assert.deepEqual(start, {
      name: "${APP}",
      namespace: "(from the app)",
      path: "/data",
      lookup: { sourceName: "${APP}" },
    });

    await migrate(dir, ["--to", "volsync-0.17"]);
    assert.equal(identities(dir).name, start.name);
    assert.deepEqual(identities(dir), start);
    assert.doesNotMatch(treeOf(dir).get(`${KOPIA}/kustomization.yaml`) ?? "", /mutatingadmissionpolicy/);
    assert.equal(treeOf(dir).has(`${KOPIA}/mutatingadmissionpolicy.yaml`), false);
    assert.match(read(dir, `${COMPONENT}/replicationsource.yaml`), /moverVolumes:\n {6}- mountPath: repository/);
    assert.match(
      read(dir, `${KOPIA}/externalsecret.yaml`),
      /KOPIA_REPOSITORY: filesystem:\/\/\/mnt\/repository\/repository/,
    );
    assert.match(read(dir, "kopiashare.yaml"), /^mover: volsync-0\.17$/m);
    const again = await run(["init", "--repo", dir], { cwd: dir });
    assert.match(again.out, /already initialised for volsync-0\.17/, again.err);
    await lintClean(dir, "migrate --to volsync-0.17");

    await migrate(dir, ["--to", "kopiur"]);
    assert.deepEqual(identities(dir), { ...start, lookup: { sourceName: "${APP}" } });
    const cr = read(dir, `${KOPIA}/clusterrepository.yaml`);
    assert.match(cr, /list:\n {6}- default\n {6}- media\n {6}- observability\n {6}- volsync-system\n/);
    assert.equal(treeOf(dir).has(`${COMPONENT}/replicationsource.yaml`), false);
    assert.equal(treeOf(dir).has(`${KOPIA}/kopiamaintenance.yaml`), false);
    await lintClean(dir, "migrate --to kopiur");

    await migrate(dir, ["--to", "volsync-0.16", "--kubernetes-version", "1.33"]);
    assert.deepEqual(identities(dir), start);
    assert.match(read(dir, `${KOPIA}/mutatingadmissionpolicy.yaml`), /admissionregistration\.k8s\.io\/v1alpha1/);
    await lintClean(dir, "migrate --to volsync-0.16");
  });

  it("the other direction, 0.16 → kopiur → 0.17 → 0.16: the same identities after every step", async () => {
    const dir = await exampleWithWiki();
    const start = identities(dir);
    for (const [to, extra] of [
      ["kopiur", []],
      ["volsync-0.17", []],
      ["volsync-0.16", ["--kubernetes-version", "1.34"]],
    ] as const) {
      await migrate(dir, ["--to", to, ...extra]);
      assert.deepEqual(identities(dir), start, `after migrate --to ${to}`);
      await lintClean(dir, `migrate --to ${to}`);
    }
  });

  for (const mover of ["volsync-0.16", "volsync-0.17", "kopiur"]) {
    it(`${mover}: init on a fresh repo, enable, app, then lint`, async () => {
      const dir = freshRepo();
      await init(dir, [
        "--mover",
        mover,
        "--kubernetes-version",
        "1.34",
        ...FRESH_FLAGS,
        ...(mover === "kopiur" ? KOPIUR_FLAGS : []),
      ]);
      writeFiles(dir, {
        "kubernetes/apps/system/wiki/ks.yaml": WIKI.replace("targetNamespace: media", "targetNamespace: volsync-system")
          .replace("home/media/wiki", "system/wiki")
          .replace("home-kubernetes", "flux-system"),
        "kubernetes/apps/system/wiki/app/kustomization.yaml": "---\nresources: []\n",
      });
      const e = await run(["enable", "media", "--repo", dir, "--tier", "system"], { cwd: dir });
      assert.equal(e.code, 0, e.err);
      await lintClean(dir, `${mover} init + enable`);
    });
  }

  it("migrating to the current generation changes nothing", async () => {
    const dir = tempRepo(EXAMPLE);
    const before = treeOf(dir);
    const r = await run(["migrate", "--repo", dir, "--to", "volsync-0.16"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /already wired for volsync-0\.16; nothing to change/);
    assert.deepEqual(treeOf(dir), before);
  });

  it("--dry-run shows the plan as a diff and writes nothing", async () => {
    const dir = tempRepo(EXAMPLE);
    const before = treeOf(dir);
    const r = await run(["migrate", "--repo", dir, "--to", "volsync-0.17", "--dry-run"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /deleted file|\/dev\/null/);
    assert.match(r.out, /\+ {4}moverVolumes:/);
    assert.match(r.err, /upgrade the Volsync HelmRelease/);
    assert.deepEqual(treeOf(dir), before);
  });
});

describe("migrate: bad input exits 2 and writes nothing", () => {
  it("a hand-edited generated file is refused with its diff unless --force", async () => {
    const dir = tempRepo(EXAMPLE);
    const f = `${COMPONENT}/replicationsource.yaml`;
    writeFileSync(path.join(dir, f), read(dir, f).replace("daily: 7", "daily: 14"));
    const before = treeOf(dir);
    const r = await run(["migrate", "--repo", dir, "--to", "volsync-0.17"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /replicationsource\.yaml exists with different content than kopiashare generates/);
    // the diff shows the hand edit: the file now (-) against what kopiashare generates (+)
    assert.match(r.err, /^- {6}daily: 14$/m);
    assert.match(r.err, /^\+ {6}daily: 7$/m);
    assert.deepEqual(treeOf(dir), before);
    const forced = await run(["migrate", "--repo", dir, "--to", "volsync-0.17", "--force"], { cwd: dir });
    assert.equal(forced.code, 0, forced.err);
  });

  it("--dry-run and -o yaml still preview a migration over a hand edit (only the write is refused)", async () => {
    const dir = tempRepo(EXAMPLE);
    const f = `${COMPONENT}/replicationsource.yaml`;
    writeFileSync(path.join(dir, f), read(dir, f).replace("daily: 7", "daily: 14"));
    const before = treeOf(dir);
    const dry = await run(["migrate", "--repo", dir, "--to", "volsync-0.17", "--dry-run"], { cwd: dir });
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /\+ {4}moverVolumes:/);
    assert.match(dry.err, /warning: kubernetes\/components\/volsync\/replicationsource\.yaml was edited by hand/);
    const yaml = await run(["migrate", "--repo", dir, "--to", "volsync-0.17", "--dry-run", "-o", "yaml"], {
      cwd: dir,
    });
    assert.equal(yaml.code, 0, yaml.err);
    assert.match(yaml.out, /kind: ReplicationSource/);
    const json = await run(["migrate", "--repo", dir, "--to", "volsync-0.17", "--dry-run", "-o", "json"], { cwd: dir });
    assert.equal(json.code, 0, json.err);
    assert.equal((JSON.parse(json.out) as { warnings: string[] }).warnings.length, 1);
    assert.deepEqual(treeOf(dir), before);
  });

  it("a file of the user's where the target generation writes one is a hand edit too", async () => {
    const dir = tempRepo(EXAMPLE);
    const own = `${KOPIA}/maintenance.yaml`;
    writeFiles(dir, { [own]: "# my own maintenance notes\n" });
    const before = treeOf(dir);
    const r = await run(["migrate", "--repo", dir, "--to", "kopiur", ...KOPIUR_FLAGS], { cwd: dir });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /kopia\/app\/maintenance\.yaml exists with different content/);
    assert.match(r.err, /^-# my own maintenance notes$/m);
    assert.deepEqual(treeOf(dir), before);
  });

  it("prints each transition note once", async () => {
    const dir = tempRepo(EXAMPLE);
    const r = await run(["migrate", "--repo", dir, "--to", "volsync-0.17"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.equal(`${r.out}${r.err}`.split("upgrade the Volsync HelmRelease").length - 1, 1, `${r.out}${r.err}`);
  });

  const cases: [string, string[], RegExp][] = [
    ["unknown target", ["--to", "volsync-0.18"], /unknown mover[\s\S]*volsync-0\.16, volsync-0\.17, kopiur/],
    [
      "0.16 on a version without the policy API",
      ["--to", "volsync-0.16", "--kubernetes-version", "1.31"],
      /1\.32 or later/,
    ],
    ["missing --to", [], /required option '--to <mover>'/],
  ];
  for (const [name, args, msg] of cases) {
    it(name, async () => {
      const dir = tempRepo(EXAMPLE);
      if (name.startsWith("0.16")) await migrate(dir, ["--to", "volsync-0.17"]);
      const before = treeOf(dir);
      const r = await run(["migrate", "--repo", dir, ...args], { cwd: dir });
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, msg);
      assert.deepEqual(treeOf(dir), before);
    });
  }

  it("a repository that is not initialised", async () => {
    const dir = freshRepo();
    const before = treeOf(dir);
    const r = await run(["migrate", "--repo", dir, "--to", "kopiur"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /kopiashare init --mover kopiur/);
    assert.deepEqual(treeOf(dir), before);
  });
});
