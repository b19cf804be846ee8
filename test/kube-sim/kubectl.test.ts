// kube-sim driven by kubectl, an independent second client (skipped when kubectl is absent).

import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { dig, opensslVersion, type Sim, startSim } from "./index.ts";
import { pvName, releasedPv, sharedRepository } from "./scenarios.ts";

const run = promisify(execFile);

function kubectlMissing(): string | undefined {
  const r = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  if (r.error) return `kubectl not installed: ${r.error.message}`;
  if (r.status !== 0) return `kubectl not installed: 'kubectl version --client' exited ${r.status}`;
  return undefined;
}

const missing = kubectlMissing();

describe("kube-sim through kubectl", () => {
  let sim: Sim | undefined;
  let tlsSim: Sim | undefined;
  let cacheDir = "";

  const kubectl = async (s: Sim, ...args: string[]) => {
    const { stdout } = await run("kubectl", ["--kubeconfig", s.kubeconfigPath, "--cache-dir", cacheDir, ...args], {
      env: { ...process.env, KUBECONFIG: "" },
      timeout: 10_000,
    });
    return stdout;
  };

  before(async () => {
    if (missing) return;
    cacheDir = mkdtempSync(path.join(tmpdir(), "kube-sim-kubectl-"));
    sim = await startSim({ crds: ["volsync"] });
    sharedRepository(sim, { namespaces: ["media", "home"], style: "shared-handle" });
    if (await opensslVersion()) {
      tlsSim = await startSim({ tls: true });
      sharedRepository(tlsSim, { namespaces: 1, style: "static" });
    }
  });
  after(async () => {
    await sim?.close();
    await tlsSim?.close();
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  });

  test("kubectl get pv prints the server-side table", async (t) => {
    if (!sim) return t.skip(missing);
    const out = await kubectl(sim, "get", "pv");
    const lines = out.trim().split("\n");
    assert.match(lines[0] ?? "", /^NAME\s+CAPACITY\s+ACCESS MODES\s+RECLAIM POLICY\s+STATUS\s+CLAIM\s+STORAGECLASS/);
    assert.equal(lines.length, 4);
    assert.match(
      out,
      /kopia-repository-pv-media\s+200Gi\s+RWX\s+Retain\s+Bound\s+media\/kopia\s+csi-cephfs-backups-sc/,
    );
  });

  test("kubectl get pvc -A adds the NAMESPACE column", async (t) => {
    if (!sim) return t.skip(missing);
    const out = await kubectl(sim, "get", "pvc", "-A");
    assert.match(out, /^NAMESPACE\s+NAME\s+STATUS\s+VOLUME/);
    assert.match(out, /home\s+kopia\s+Bound\s+kopia-repository-pv-home/);
    assert.match(out, /volsync-system\s+kopia\s+Bound\s+kopia-repository-pv-volsync-system/);
  });

  test("kubectl -o jsonpath reads single objects", async (t) => {
    if (!sim) return t.skip(missing);
    assert.equal(
      await kubectl(sim, "get", "pvc", "-n", "media", "kopia", "-o", "jsonpath={.spec.volumeName}"),
      pvName("media"),
    );
  });

  test("kubectl patch --type json clears a stale claimRef and the binder rebinds", async (t) => {
    if (!sim) return t.skip(missing);
    releasedPv(sim, "home");
    assert.match(await kubectl(sim, "get", "pvc", "-n", "home", "kopia"), /kopia\s+Pending/);
    const events = await kubectl(sim, "get", "events", "-n", "home");
    assert.match(
      events,
      /FailedBinding\s+persistentvolumeclaim\/kopia\s+volume "kopia-repository-pv-home" already bound/,
    );
    const patch = JSON.stringify([
      { op: "remove", path: "/spec/claimRef/uid" },
      { op: "remove", path: "/spec/claimRef/resourceVersion" },
    ]);
    const out = await kubectl(sim, "patch", "pv", pvName("home"), "--type", "json", "-p", patch);
    assert.match(out, /persistentvolume\/kopia-repository-pv-home patched/);
    assert.equal(await kubectl(sim, "get", "pvc", "-n", "home", "kopia", "-o", "jsonpath={.status.phase}"), "Bound");
    const pvc = sim.store.get("pvc", "kopia", "home");
    assert.equal(dig(sim.store.get("pv", pvName("home")), "spec", "claimRef", "uid"), pvc?.metadata.uid);
  });

  test("kubectl finds CRDs through discovery and applies server-side", async (t) => {
    if (!sim) return t.skip(missing);
    const resources = await kubectl(sim, "api-resources", "--api-group", "volsync.backube", "-o", "name");
    assert.deepEqual(resources.trim().split("\n").sort(), [
      "kopiamaintenances.volsync.backube",
      "replicationdestinations.volsync.backube",
      "replicationsources.volsync.backube",
    ]);
    const manifest = path.join(cacheDir, "rs.json");
    writeFileSync(
      manifest,
      JSON.stringify({
        apiVersion: "volsync.backube/v1alpha1",
        kind: "ReplicationSource",
        metadata: { name: "plex", namespace: "media" },
        spec: { sourcePVC: "plex", trigger: { schedule: "0 * * * *" } },
      }),
    );
    // No OpenAPI is served, so client-side validation must be off.
    const out = await kubectl(sim, "apply", "--server-side", "--validate=false", "-f", manifest);
    assert.match(out, /replicationsource.volsync.backube\/plex serverside-applied/);
    assert.equal(dig(sim.store.get("replicationsources", "plex", "media"), "spec", "sourcePVC"), "plex");
  });

  test("kubectl over https with certificate-authority-data", async (t) => {
    if (!sim) return t.skip(missing);
    if (!tlsSim) return t.skip("openssl not installed: no https simulator");
    const out = await kubectl(tlsSim, "get", "pv", "-o", "name");
    assert.deepEqual(out.trim().split("\n").sort(), [
      "persistentvolume/kopia-repository-pv-ns-001",
      "persistentvolume/kopia-repository-pv-volsync-system",
    ]);
  });
});
