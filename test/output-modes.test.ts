/**
 * `-o` only chooses the format; `--dry-run` alone prevents writing. `-o yaml` prints only API objects
 * (no kustomize build file), so the documented pipe to `kubectl apply --dry-run=client -f -` works.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { loadAll } from "js-yaml";
import { EXAMPLE, kubectlPath, read, run, tempRepo, treeOf } from "./helpers.ts";
import { startSim } from "./kube-sim/index.ts";

const INSTANCE = "kubernetes/apps/home/media/volsync-repository-pvc";

function kinds(yaml: string): string[] {
  return (loadAll(yaml) as { apiVersion: string; kind: string }[]).map((d) => `${d.apiVersion} ${d.kind}`);
}

const API_OBJECTS = [
  "v1 PersistentVolume",
  "v1 PersistentVolumeClaim",
  "kustomize.toolkit.fluxcd.io/v1 Kustomization",
  "v1 Namespace",
];

describe("output modes", () => {
  it("--dry-run -o yaml prints only the API objects and writes nothing", async () => {
    const repo = tempRepo(EXAMPLE);
    const before = treeOf(repo);
    const r = await run(["enable", "media", "--tier", "home", "--dry-run", "-o", "yaml"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(kinds(r.out), API_OBJECTS);
    assert.doesNotMatch(r.out, /kustomize\.config\.k8s\.io/);
    assert.deepEqual(treeOf(repo), before);
    // the objects are the files enable writes, byte for byte
    await run(["enable", "media", "--tier", "home"], { cwd: repo });
    assert.ok(r.out.startsWith(read(repo, `${INSTANCE}/app/pvc.yaml`) + read(repo, `${INSTANCE}/ks.yaml`)));
  });

  it("-o yaml without --dry-run writes (like plain enable), prints only the objects, and says so", async () => {
    const plain = tempRepo(EXAMPLE);
    assert.equal((await run(["enable", "media", "--tier", "home"], { cwd: plain })).code, 0);
    const repo = tempRepo(EXAMPLE);
    const r = await run(["enable", "media", "--tier", "home", "-o", "yaml"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(kinds(r.out), API_OBJECTS, "stdout holds only YAML");
    assert.deepEqual(treeOf(repo), treeOf(plain));
    assert.match(r.err, /enabled backups in namespace media/);
    assert.match(r.err, /note: -o yaml only chooses the output format and no longer means --dry-run/);
  });

  it("-o json writes without --dry-run and not with it", async () => {
    const repo = tempRepo(EXAMPLE);
    const before = treeOf(repo);
    const dry = await run(["enable", "media", "--tier", "home", "--dry-run", "-o", "json"], { cwd: repo });
    assert.equal(dry.code, 0, dry.err);
    assert.equal((JSON.parse(dry.out) as { dryRun: boolean }).dryRun, true);
    assert.deepEqual(treeOf(repo), before);
    const wet = await run(["enable", "media", "--tier", "home", "-o", "json"], { cwd: repo });
    assert.equal(wet.code, 0, wet.err);
    assert.equal((JSON.parse(wet.out) as { changed: boolean }).changed, true);
    assert.notDeepEqual(treeOf(repo), before);
  });

  it("migrate --dry-run -o yaml prints no kustomize build file either", async () => {
    const repo = tempRepo(EXAMPLE);
    const r = await run(["migrate", "--to", "volsync-0.17", "--dry-run", "-o", "yaml"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.ok(kinds(r.out).length > 0);
    assert.doesNotMatch(r.out, /kustomize\.config\.k8s\.io/);
  });

  it("enable --dry-run -o yaml | kubectl apply --dry-run=client -f - (against the API simulator)", async (t) => {
    if (!kubectlPath()) {
      t.skip("kubectl not installed");
      return;
    }
    const repo = tempRepo(EXAMPLE);
    const r = await run(["enable", "media", "--tier", "home", "--dry-run", "-o", "yaml"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    // kubectl needs a server to map kinds to resources even with --dry-run=client: the simulator, with
    // Flux's CRDs. It serves no OpenAPI schema, so kubectl's schema validation is off (--validate=false).
    t.diagnostic("kubectl runs against test/kube-sim with --validate=false: the simulator serves no OpenAPI schema");
    const sim = await startSim({ crds: ["flux"] });
    try {
      const home = mkdtempSync(path.join(tmpdir(), "kopiashare-kubectl-"));
      const k = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn("kubectl", ["apply", "--dry-run=client", "--validate=false", "-f", "-"], {
          env: { ...process.env, KUBECONFIG: sim.kubeconfigPath, HOME: home },
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("close", (code) => resolve({ code, out, err }));
        child.stdin.end(r.out);
      });
      assert.equal(k.code, 0, k.err);
      for (const line of [
        "persistentvolume/kopia-repository-pv-media created (dry run)",
        "persistentvolumeclaim/kopia created (dry run)",
        "kustomization.kustomize.toolkit.fluxcd.io/volsync-repository-pvc-media created (dry run)",
        "namespace/media created (dry run)",
      ])
        assert.ok(k.out.includes(line), `${line}\n${k.out}`);
    } finally {
      await sim.close();
    }
  });
});
