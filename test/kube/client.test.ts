/**
 * src/kube/client.ts through real HTTP: retries (429 + Retry-After, 503, ECONNRESET), bounded
 * attempts, the one-line unreachable / unauthorized / forbidden / timeout messages, kubeconfig loading.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { connect, parseTimeout, retryAfterMs } from "../../src/kube/client.ts";
import { KubeError } from "../../src/kube/errors.ts";
import { startSim } from "../kube-sim/index.ts";
import { sharedRepository } from "../kube-sim/scenarios.ts";
import { closedPort, kube, kubeconfigFor, run, withSim } from "./util.ts";

const dir = mkdtempSync(path.join(tmpdir(), "kopiashare-kube-"));
const seed = (sim: Parameters<typeof sharedRepository>[0]) =>
  void sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });

describe("retries", () => {
  it("429 with Retry-After: waits what the server asked, then succeeds", async () => {
    await withSim({}, seed, async (sim) => {
      const slept: number[] = [];
      const k = connect({
        kubeconfig: sim.kubeconfigPath,
        env: {},
        retry: { sleep: async (ms) => void slept.push(ms) },
      });
      sim.faults.failNext(2, 429, { retryAfterSeconds: 3 });
      sim.resetRequests();
      const pvs = await k.call({ verb: "list", resource: "persistentvolumes" }, () => k.core.listPersistentVolume());
      assert.equal(pvs.items.length, 2);
      assert.deepEqual(slept, [3000, 3000]);
      assert.deepEqual(
        sim.requests.map((r) => r.status),
        [429, 429, 200],
      );
      assert.equal(k.stats.requests, 3);
      assert.equal(k.stats.retries, 2);
    });
  });

  it("503 and ECONNRESET: exponential backoff from the base delay, through the CLI", async () => {
    await withSim({}, seed, async (sim) => {
      sim.faults.failNext(2, 503);
      sim.faults.failNext(2, "ECONNRESET");
      sim.resetRequests();
      const r = await kube(sim, ["verify", "-o", "json"]);
      assert.equal(r.code, 0, r.err);
      const statuses = sim.requests.map((x) => x.status);
      assert.equal(statuses.filter((s) => s === 503).length, 2);
      assert.equal(statuses.filter((s) => s === 0).length, 2, "two resets");
      // The two lists and /apis (verify -A looks for Kopiur's consumers) all succeed in the end.
      assert.equal(statuses.filter((s) => s === 200).length, 3, "every request succeeds in the end");
      assert.equal(JSON.parse(r.out).requests, 7);
    });
  });

  it("backoff doubles and honours the cap", async () => {
    await withSim({}, seed, async (sim) => {
      const slept: number[] = [];
      const k = connect({
        kubeconfig: sim.kubeconfigPath,
        env: {},
        retry: { baseMs: 10, maxMs: 25, sleep: async (ms) => void slept.push(ms) },
      });
      sim.faults.failNext(3, 500);
      await k.call({ verb: "list", resource: "persistentvolumes" }, () => k.core.listPersistentVolume());
      assert.deepEqual(slept, [10, 20, 25]);
    });
  });

  it("attempts are bounded: a server that keeps failing is one clear error", async () => {
    await withSim({}, seed, async (sim) => {
      sim.faults.failNext(50, 503);
      sim.resetRequests();
      const r = await kube(sim, ["verify", "-n", "media"]);
      assert.equal(r.code, 3, "could not check");
      assert.match(r.err, /^error: could not check: list persistentvolumes cluster-wide: .*\(ServiceUnavailable\)$/m);
      assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
      // two lists in parallel, five attempts each
      assert.ok(sim.requests.length <= 10, `${sim.requests.length} requests`);
    });
  });

  it("POST is not retried after a connection reset (it may have been processed)", async () => {
    await withSim({}, seed, async (sim) => {
      const k = connect({ kubeconfig: sim.kubeconfigPath, env: {}, retry: { sleep: async () => undefined } });
      sim.faults.failNext(1, "ECONNRESET", { match: (x) => x.method === "POST" });
      await assert.rejects(
        k.call({ verb: "create", resource: "configmaps", namespace: "media" }, () =>
          k.core.createNamespacedConfigMap({ namespace: "media", body: { metadata: { name: "x" } } }),
        ),
        (e: unknown) => e instanceof KubeError && e.kind === "unreachable",
      );
      assert.equal(k.stats.requests, 1);
    });
  });

  it("Retry-After as seconds or an HTTP date", () => {
    assert.equal(retryAfterMs("2"), 2000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6_000);
    assert.equal(retryAfterMs(undefined), undefined);
    assert.equal(retryAfterMs("soon"), undefined);
  });
});

describe("error messages", () => {
  it("an unreachable server is one line naming its URL", async () => {
    const port = await closedPort();
    const cfg = kubeconfigFor(`http://127.0.0.1:${port}`, dir);
    for (const verb of ["verify", "doctor"]) {
      const r = await run([verb, "--kubeconfig", cfg], { cwd: dir, env: { KOPIASHARE_RETRY_BASE_MS: "1" } });
      assert.equal(r.code, 3, verb);
      assert.equal(r.out, "");
      assert.equal(
        r.err,
        `error: could not check: cannot reach the Kubernetes API server at http://127.0.0.1:${port} (connection refused; context "test")\n`,
      );
    }
  });

  it("401: names the context, no stack trace", async () => {
    await withSim({}, seed, async (sim) => {
      sim.requireToken = true;
      const cfg = kubeconfigFor(sim.url, dir, { token: "wrong", context: "home" });
      const r = await run(["verify", "--kubeconfig", cfg], { cwd: dir });
      assert.equal(r.code, 3);
      assert.match(r.err, /rejected the credentials of context "home" \(401 Unauthorized\)/);
      assert.equal(r.err.trim().split("\n").length, 1);
    });
  });

  it("403 on a list verify needs: missing permission: <verb> <resource> cluster-wide / in <ns>", async () => {
    await withSim({}, seed, async (sim) => {
      sim.denied.add({ verb: "list", resource: "persistentvolumes" });
      const r = await kube(sim, ["verify"]);
      assert.equal(r.code, 3);
      assert.equal(r.err, "error: could not check: missing permission: list persistentvolumes cluster-wide\n");
      sim.denied.clear();
      sim.denied.add({ verb: "list", resource: "persistentvolumeclaims", namespace: "media" });
      const n = await kube(sim, ["verify", "-n", "media"]);
      assert.equal(n.err, "error: could not check: missing permission: list persistentvolumeclaims in media\n");
    });
  });

  it("--request-timeout: a server that never answers is one line", async () => {
    const sockets: net.Socket[] = [];
    const srv = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    after(() => {
      for (const s of sockets) s.destroy();
      srv.close();
    });
    const port = (srv.address() as net.AddressInfo).port;
    const cfg = kubeconfigFor(`http://127.0.0.1:${port}`, dir);
    const t0 = Date.now();
    const r = await run(["verify", "--kubeconfig", cfg, "--request-timeout", "200ms"], { cwd: dir });
    assert.equal(r.code, 3);
    assert.match(
      r.err,
      new RegExp(
        `^error: could not check: the Kubernetes API server at http://127\\.0\\.0\\.1:${port} did not answer within 0\\.2s`,
      ),
    );
    assert.ok(Date.now() - t0 < 5000);
  });

  it("--request-timeout syntax", () => {
    assert.equal(parseTimeout("30s"), 30_000);
    assert.equal(parseTimeout("1m30s"), 90_000);
    assert.equal(parseTimeout("0"), 0);
    assert.equal(parseTimeout("250ms"), 250);
    assert.equal(parseTimeout("2"), 2000);
    assert.throws(() => parseTimeout("soon"), /expected a duration/);
  });
});

describe("kubeconfig", () => {
  it("KUBECONFIG (a list, first wins), --context, and https with the simulator's CA", async () => {
    const sim = await startSim({ tls: true });
    try {
      seed(sim);
      const other = kubeconfigFor("http://127.0.0.1:1", dir, { context: "other" });
      const env = { KUBECONFIG: `${sim.kubeconfigPath}${path.delimiter}${other}`, NO_COLOR: "1" };
      const r = await run(["verify", "-o", "json"], { cwd: dir, env });
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).server, sim.url);
      assert.match(sim.url, /^https:/);
      const o = await run(["verify", "--context", "other"], { cwd: dir, env });
      assert.match(o.err, /cannot reach the Kubernetes API server at http:\/\/127\.0\.0\.1:1 /);
      const bad = await run(["verify", "--context", "nope"], { cwd: dir, env });
      assert.equal(bad.code, 2);
      assert.match(bad.err, /--context nope: no such context \(have: sim, other\)/);
    } finally {
      await sim.close();
    }
  });

  it("no kubeconfig anywhere is a usage error that says where it looked", async () => {
    const r = await run(["verify"], { cwd: dir, env: { HOME: path.join(dir, "nohome") } });
    assert.equal(r.code, 2);
    assert.match(r.err, /no kubeconfig: pass --kubeconfig FILE, set KUBECONFIG, or create ~\/\.kube\/config/);
  });

  it("~/.kube/config is the default", async () => {
    await withSim({}, seed, async (sim) => {
      const home = mkdtempSync(path.join(tmpdir(), "kopiashare-home-"));
      const { mkdirSync } = await import("node:fs");
      mkdirSync(path.join(home, ".kube"));
      writeFileSync(path.join(home, ".kube", "config"), sim.kubeconfigYaml);
      const r = await run(["verify", "-o", "json"], { cwd: dir, env: { HOME: home } });
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).namespaces.length, 2);
    });
  });

  it("a plain-http server without insecure-skip-tls-verify is a config error, not a crash", async () => {
    await withSim({}, seed, async (sim) => {
      const cfg = path.join(dir, "plain");
      writeFileSync(cfg, sim.kubeconfigYaml.replace(/\n\s*insecure-skip-tls-verify: true/, ""));
      const r = await run(["verify", "--kubeconfig", cfg], { cwd: dir });
      assert.equal(r.code, 2);
      assert.equal(
        r.err,
        `error: the kubeconfig's server ${sim.url} is plain http: set insecure-skip-tls-verify: true for it, or use https\n`,
      );
    });
  });
});
