import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { KOPIUR_FLAGS } from "./generate/util.ts";
import { EXAMPLE, read, run, tempRepo, treeOf, writeFiles } from "./helpers.ts";

const DEFAULT_INSTANCE = "kubernetes/apps/home/default/volsync-repository-pvc";
const NS_KUSTOMIZATION = "kubernetes/apps/home/default/kustomization.yaml";

/** The example with default's apps gone, so nothing in default uses the repository any more. */
function repoWithoutConsumers(): string {
  const repo = tempRepo(EXAMPLE);
  for (const app of ["home-assistant", "paperless"])
    rmSync(path.join(repo, "kubernetes/apps/home/default", app), { recursive: true });
  const text = read(repo, NS_KUSTOMIZATION).replace("  - ./home-assistant/ks.yaml\n  - ./paperless/ks.yaml\n", "");
  writeFileSync(path.join(repo, NS_KUSTOMIZATION), text);
  return repo;
}

describe("disable", () => {
  it("removes the three files and the registration, keeping every other byte, and prints the cluster steps", async () => {
    const repo = repoWithoutConsumers();
    const before = read(repo, NS_KUSTOMIZATION);
    const r = await run(["disable", "default"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.ok(!existsSync(path.join(repo, DEFAULT_INSTANCE)), "the instance folder is gone");
    // the last entry goes, so the list becomes [] and the comment above it stays
    assert.equal(
      read(repo, NS_KUSTOMIZATION),
      before.replace("  - ./volsync-repository-pvc/ks.yaml\n", "").replace("resources:\n", "resources: []\n"),
    );
    assert.match(read(repo, NS_KUSTOMIZATION), /# backups: the namespace's PVC/, "comments stay");
    const pvc = r.out.indexOf("kubectl delete pvc -n default kopia");
    const pv = r.out.indexOf("kubectl delete pv kopia-repository-pv-default");
    assert.ok(pvc > 0 && pv > pvc, `PVC first, then the PV object:\n${r.out}`);
    assert.match(r.out, /The PV is Retain: deleting the PV object keeps the data/);
    assert.match(r.out, /Never delete the original volume/);
    assert.doesNotMatch(r.out, /kubectl patch pv/);
    assert.doesNotMatch(r.err, /warning/);
  });

  it("undoes enable of a new namespace including the namespace folder it created (test/roundtrip.test.ts)", async () => {
    const repo = tempRepo(EXAMPLE);
    const before = treeOf(repo);
    assert.equal((await run(["enable", "media"], { cwd: repo })).code, 0);
    const r = await run(["disable", "media"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.ok(!existsSync(path.join(repo, "kubernetes/apps/home/media")));
    assert.deepEqual(treeOf(repo), before);
  });

  it("refuses a namespace that still has backup consumers, listing them; --force disables anyway", async () => {
    const repo = tempRepo(EXAMPLE);
    const before = treeOf(repo);
    const r = await run(["disable", "default"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(r.err, /still has \d+ backup consumer/);
    assert.match(r.err, /ReplicationSource\/home-assistant/);
    assert.match(r.err, /ReplicationSource\/paperless/);
    assert.deepEqual(treeOf(repo), before);
    const f = await run(["disable", "default", "--force"], { cwd: repo });
    assert.equal(f.code, 0, f.err);
    assert.ok(!existsSync(path.join(repo, DEFAULT_INSTANCE)));
  });

  it("refuses the repository's own namespace", async () => {
    const repo = tempRepo(EXAMPLE);
    const r = await run(["disable", "volsync-system", "--force"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(r.err, /shared repository's home/);
  });

  it("a namespace that is not enabled is nothing to do (exit 0)", async () => {
    const repo = tempRepo(EXAMPLE);
    const before = treeOf(repo);
    const r = await run(["disable", "media"], { cwd: repo });
    assert.equal(r.code, 0);
    assert.match(r.out, /not enabled in this repository; nothing to change/);
    assert.deepEqual(treeOf(repo), before);
  });

  it("--dry-run shows the deletions and writes nothing; -o json lists the cluster steps", async () => {
    const repo = repoWithoutConsumers();
    const before = treeOf(repo);
    const r = await run(["disable", "default", "--dry-run"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^deleted file$/m);
    assert.match(r.out, /^- {2}- \.\/volsync-repository-pvc\/ks\.yaml$/m);
    assert.deepEqual(treeOf(repo), before);
    const j = await run(["disable", "default", "-o", "json"], { cwd: repo });
    assert.equal(j.code, 0, j.err);
    const parsed = JSON.parse(j.out) as { clusterSteps: string[]; files: { action: string }[] };
    assert.deepEqual(parsed.clusterSteps, [
      "kubectl delete pvc -n default kopia",
      "kubectl delete pv kopia-repository-pv-default",
    ]);
    assert.equal(parsed.files.filter((f) => f.action === "delete").length, 3);
  });

  it("refuses to delete instance files edited by hand, showing the edit; --force deletes them", async () => {
    const edits: [string, (t: string) => string, RegExp][] = [
      [
        "app/pvc.yaml",
        (t) => `${t}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n`,
        /^-kind: ConfigMap$/m,
      ],
      ["app/kustomization.yaml", (t) => `${t}  - ./extra.yaml\n`, /^- {2}- \.\/extra\.yaml$/m],
      ["app/pvc.yaml", (t) => t.replace("  accessModes:\n", "  # keep!\n  accessModes:\n"), /^- {2}# keep!$/m],
      ["ks.yaml", (t) => t.replace("prune: true", "prune: false"), /^- {2}prune: false$/m],
    ];
    for (const [file, edit, diff] of edits) {
      const repo = repoWithoutConsumers();
      const f = path.join(repo, DEFAULT_INSTANCE, file);
      writeFileSync(f, edit(read(repo, `${DEFAULT_INSTANCE}/${file}`)));
      const before = treeOf(repo);
      const r = await run(["disable", "default"], { cwd: repo });
      assert.equal(r.code, 2, `${file}: ${r.err}`);
      assert.match(
        r.err,
        new RegExp(`${file.replace(".", "\\.")} exists with different content than kopiashare generates`),
      );
      assert.match(r.err, diff, r.err);
      assert.match(r.err, /--force/);
      assert.deepEqual(treeOf(repo), before);
      const preview = await run(["disable", "default", "--dry-run"], { cwd: repo });
      assert.equal(preview.code, 0, preview.err);
      assert.match(preview.err, /warning: .* was edited by hand: without --dry-run this is refused unless --force/);
      const forced = await run(["disable", "default", "--force"], { cwd: repo });
      assert.equal(forced.code, 0, forced.err);
      assert.ok(!existsSync(path.join(repo, DEFAULT_INSTANCE)));
    }
  });

  it("values kopiashare derives are no hand edit: an instance enabled with --no-claim-ref, another capacity or source", async () => {
    const repo = tempRepo(EXAMPLE);
    const r = await run(["enable", "media", "--no-claim-ref", "--capacity", "50Gi", "--source", "other"], {
      cwd: repo,
    });
    assert.equal(r.code, 0, r.err);
    const d = await run(["disable", "media"], { cwd: repo });
    assert.equal(d.code, 0, d.err);
    assert.ok(!existsSync(path.join(repo, "kubernetes/apps/home/media/volsync-repository-pvc")));
  });

  it("a PV that is not Retain gets a kubectl patch as step 1 and a warning, never the Retain promise", async () => {
    const repo = repoWithoutConsumers();
    const pvc = `${DEFAULT_INSTANCE}/app/pvc.yaml`;
    writeFiles(repo, {
      [pvc]: read(repo, pvc).replace("persistentVolumeReclaimPolicy: Retain", "persistentVolumeReclaimPolicy: Delete"),
    });
    // Delete is not what kopiashare writes: a hand edit, so --force
    const refused = await run(["disable", "default"], { cwd: repo });
    assert.equal(refused.code, 2);
    assert.match(refused.err, /^- {2}persistentVolumeReclaimPolicy: Delete$/m);
    const j = await run(["disable", "default", "--force", "--dry-run", "-o", "json"], { cwd: repo });
    assert.equal(j.code, 0, j.err);
    const parsed = JSON.parse(j.out) as { clusterSteps: string[]; warnings: string[] };
    assert.deepEqual(parsed.clusterSteps, [
      `kubectl patch pv kopia-repository-pv-default -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'`,
      "kubectl delete pvc -n default kopia",
      "kubectl delete pv kopia-repository-pv-default",
    ]);
    assert.match(parsed.warnings.join("\n"), /kopia-repository-pv-default is not Retain/);
    const r = await run(["disable", "default", "--force"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^ {2}1\. kubectl patch pv kopia-repository-pv-default -p '\{"spec":\{"persistentVolumeReclaimPolicy":"Retain"\}\}'$/m,
    );
    assert.match(r.out, /^ {2}2\. kubectl delete pvc -n default kopia$/m);
    assert.match(r.out, /BEFORE you push/);
    assert.doesNotMatch(r.out, /The PV is Retain/);
    assert.match(r.out, /Never delete the original volume/);
    assert.match(
      r.err,
      /^warning: PV kopia-repository-pv-default is not Retain \(persistentVolumeReclaimPolicy: Delete in .*pvc\.yaml:\d+\)/m,
    );
    assert.match(r.err, /delete the whole shared subvolume/);
  });

  it("rejects an invalid namespace with exit 2", async () => {
    const repo = tempRepo(EXAMPLE);
    const r = await run(["disable", "Bad_NS"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(r.err, /RFC 1123/);
  });
});

describe("enable and disable with Kopiur", () => {
  it("add the namespace to, and remove it from, the ClusterRepository's allowedNamespaces", async () => {
    const repo = tempRepo(EXAMPLE);
    const m = await run(["migrate", "--to", "kopiur", ...KOPIUR_FLAGS], { cwd: repo });
    assert.equal(m.code, 0, m.err);
    const cr = "kubernetes/apps/system/volsync-system/kopia/app/clusterrepository.yaml";
    const allowed = () =>
      (load(read(repo, cr)) as { spec: { allowedNamespaces: { list: string[] } } }).spec.allowedNamespaces.list;
    assert.deepEqual(allowed(), ["default", "observability", "volsync-system"]);
    const e = await run(["enable", "media"], { cwd: repo });
    assert.equal(e.code, 0, e.err);
    assert.match(e.out, new RegExp(`updated ${cr}`));
    assert.deepEqual(allowed(), ["default", "media", "observability", "volsync-system"]);
    const d = await run(["disable", "media"], { cwd: repo });
    assert.equal(d.code, 0, d.err);
    assert.deepEqual(allowed(), ["default", "observability", "volsync-system"]);
    const lint = await run(["lint", "-o", "json"], { cwd: repo });
    const found = (JSON.parse(lint.out) as { findings: { rule: string; file: string; severity: string }[] }).findings
      .filter((f) => f.severity !== "info")
      .map((f) => `${f.rule} ${f.file}`);
    assert.deepEqual(found, [], lint.out);
  });
});
