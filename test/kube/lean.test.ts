/**
 * src/kube/lean.ts, verify's client without @kubernetes/client-node: which kubeconfigs it serves (any
 * other falls back to the typed client), and that verify answers the same through either, over real
 * HTTP to the simulator: the report, the requests, and every one-line error (401, 403, unreachable,
 * timeout, TLS, retries exhausted). The typed client is forced by a KUBECONFIG list of two files,
 * which only it merges.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { leanTarget } from "../../src/kube/lean.ts";
import { opensslVersion, type Sim, startSim } from "../kube-sim/index.ts";
import { kopiurRepository, sharedRepository } from "../kube-sim/scenarios.ts";
import { closedPort, kubeconfigFor, run, withSim } from "./util.ts";

const dir = mkdtempSync(path.join(tmpdir(), "kopiashare-lean-"));
const seed = (sim: Sim) => void sharedRepository(sim, { namespaces: ["media", "home"], style: "shared-handle" });
/** A second kubeconfig in KUBECONFIG, naming nothing the first does: the typed client merges it in. */
const extra = kubeconfigFor("http://127.0.0.1:1", dir, { context: "unused" });

const write = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe("which kubeconfigs the lean client serves", () => {
  it("a token over http with insecure-skip-tls-verify, or https with a CA: lean", async () => {
    await withSim({}, seed, async (sim) => {
      const t = leanTarget({ kubeconfig: sim.kubeconfigPath, env: {} });
      assert.equal(t?.server, sim.url);
      assert.equal(t?.context, "sim");
      assert.equal(t?.token, "kube-sim-token");
      assert.equal(leanTarget({ env: { KUBECONFIG: sim.kubeconfigPath } })?.server, sim.url);
    });
    if (await opensslVersion()) {
      const tls = await startSim({ tls: true });
      try {
        const t = leanTarget({ kubeconfig: tls.kubeconfigPath, env: {} });
        assert.equal(t?.server, tls.url);
        assert.equal(String(t?.tls.ca), tls.caPem);
      } finally {
        await tls.close();
      }
    }
  });

  it("anything else falls back to the typed client (undefined)", async () => {
    await withSim({}, seed, async (sim) => {
      const y = sim.kubeconfigYaml;
      const cases: [string, string][] = [
        ["exec", y.replace(/token: .*/, "exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: x")],
        ["auth-provider", y.replace(/token: .*/, "auth-provider:\n      name: oidc")],
        ["token-file", y.replace(/token: .*/, "token-file: /dev/null")],
        ["basic auth", y.replace(/token: .*/, "username: a\n    password: b")],
        ["impersonation", y.replace(/token: .*/, "token: t\n    as: someone")],
        ["proxy-url", y.replace(/server: .*/, (m) => `${m}\n    proxy-url: http://127.0.0.1:3128`)],
        ["plain http without insecure-skip-tls-verify", y.replace(/\n\s*insecure-skip-tls-verify: true/, "")],
        ["no current context", y.replace(/current-context: .*/, "")],
        ["a context naming no cluster", y.replace(/cluster: sim/, "cluster: nope")],
        ["an unnamed cluster entry", y.replace("- name: sim\n  cluster:", "- cluster:")],
        [
          "a CA file that does not exist",
          y.replace(/insecure-skip-tls-verify: true/, "certificate-authority: nope.pem"),
        ],
        ["not YAML", "clusters: [\n"],
      ];
      for (const [what, text] of cases) {
        assert.equal(leanTarget({ kubeconfig: write(`k-${what}`, text), env: {} }), undefined, what);
      }
      assert.equal(leanTarget({ kubeconfig: path.join(dir, "missing"), env: {} }), undefined, "missing file");
      assert.equal(leanTarget({ kubeconfig: sim.kubeconfigPath, context: "nope", env: {} }), undefined, "--context");
      const two = `${sim.kubeconfigPath}${path.delimiter}${extra}`;
      assert.equal(leanTarget({ env: { KUBECONFIG: two } }), undefined, "two KUBECONFIG files");
      assert.equal(leanTarget({ env: { HOME: path.join(dir, "nohome") } }), undefined, "no kubeconfig");
    });
  });
});

/** verify through the lean client and through the typed one: exit code, stdout and stderr. */
async function both(cfg: string, argv: string[] = []) {
  const lean = await run(["verify", ...argv], { cwd: dir, env: { KUBECONFIG: cfg, KOPIASHARE_RETRY_BASE_MS: "1" } });
  const typed = await run(["verify", ...argv], {
    cwd: dir,
    env: { KUBECONFIG: `${cfg}${path.delimiter}${extra}`, KOPIASHARE_RETRY_BASE_MS: "1" },
  });
  return { lean, typed };
}

describe("verify answers the same through the lean and the typed client", () => {
  it("a cluster with Kopiur (games has no PVC kopia): the same report from the same 4 requests", async () => {
    await withSim(
      { crds: ["kopiur"] },
      (sim) => {
        seed(sim);
        kopiurRepository(sim, ["media", "games"]);
      },
      async (sim) => {
        const seen: string[][] = [];
        const log = (argv: string[], env: Record<string, string>) => {
          sim.resetRequests();
          return run(argv, { cwd: dir, env }).then((r) => {
            seen.push(sim.requests.map((x) => `${x.method} ${x.path} ${JSON.stringify(x.query)}`).sort());
            return r;
          });
        };
        const lean = await log(["verify", "-o", "json"], { KUBECONFIG: sim.kubeconfigPath });
        const typed = await log(["verify", "-o", "json"], {
          KUBECONFIG: `${sim.kubeconfigPath}${path.delimiter}${extra}`,
        });
        assert.deepEqual(lean, typed);
        assert.equal(JSON.parse(lean.out).requests, 4);
        assert.equal(JSON.parse(lean.out).namespaces.length, 4, "volsync-system, media, home, games");
        assert.deepEqual(seen[0], seen[1]);
      },
    );
  });

  it("300 namespaces, the PV list gzipped by the server as an apiserver does: the same report", async () => {
    await withSim(
      {},
      (sim) => void sharedRepository(sim, { namespaces: 300, style: "shared-handle" }),
      async (sim) => {
        const raw = await fetch(`${sim.url}/api/v1/persistentvolumes`, { headers: { "accept-encoding": "gzip" } });
        await raw.arrayBuffer();
        assert.equal(raw.headers.get("content-encoding"), "gzip", "the simulator compresses this list");
        const { lean, typed } = await both(sim.kubeconfigPath, ["-o", "json"]);
        assert.equal(lean.code, 0, lean.err);
        assert.deepEqual(lean, typed);
        assert.equal(JSON.parse(lean.out).namespaces.length, 301);
      },
    );
  });

  it("401, 403, retries exhausted: the same one line and exit code", async () => {
    await withSim({}, seed, async (sim) => {
      sim.requireToken = true;
      const wrong = kubeconfigFor(sim.url, dir, { token: "wrong", context: "home" });
      const r401 = await both(wrong);
      assert.equal(r401.lean.code, 3);
      assert.deepEqual(r401.lean, r401.typed);
      sim.requireToken = false;

      sim.denied.add({ verb: "list", resource: "persistentvolumeclaims", namespace: "media" });
      const r403 = await both(sim.kubeconfigPath, ["-n", "media"]);
      assert.equal(r403.lean.code, 3);
      assert.deepEqual(r403.lean, r403.typed);
      sim.denied.clear();

      sim.faults.failNext(10, 503);
      const lean503 = await run(["verify"], {
        cwd: dir,
        env: { KUBECONFIG: sim.kubeconfigPath, KOPIASHARE_RETRY_BASE_MS: "1" },
      });
      sim.faults.clear();
      sim.faults.failNext(10, 503);
      const typed503 = await run(["verify"], {
        cwd: dir,
        env: { KUBECONFIG: `${sim.kubeconfigPath}${path.delimiter}${extra}`, KOPIASHARE_RETRY_BASE_MS: "1" },
      });
      sim.faults.clear();
      assert.equal(lean503.code, typed503.code);
      assert.equal(lean503.err, typed503.err);
    });
  });

  it("unreachable and timed out: the same one line", async () => {
    const port = await closedPort();
    const down = await both(kubeconfigFor(`http://127.0.0.1:${port}`, dir));
    assert.equal(down.lean.code, 3);
    assert.deepEqual(down.lean, down.typed);

    const sockets: net.Socket[] = [];
    const srv = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    try {
      const silent = kubeconfigFor(`http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, dir);
      const slow = await both(silent, ["--request-timeout", "200ms"]);
      assert.equal(slow.lean.code, 3);
      assert.deepEqual(slow.lean, slow.typed);
    } finally {
      for (const s of sockets) s.destroy();
      srv.close();
    }
  });

  it("https: the simulator's CA verifies; without it, the same TLS error", async (t) => {
    if (!(await opensslVersion())) return t.skip("openssl not installed");
    const a = await startSim({ tls: true });
    try {
      seed(a);
      const ok = await both(a.kubeconfigPath, ["-o", "json"]);
      assert.equal(ok.lean.code, 0, ok.lean.err);
      assert.equal(ok.lean.out, ok.typed.out);
      // Without its CA the simulator's certificate is untrusted (the system's CAs do not sign it).
      const wrongCa = write("no-ca", a.kubeconfigYaml.replace(/\n\s*certificate-authority-data: .*/, ""));
      const bad = await both(wrongCa);
      assert.equal(bad.lean.code, 3);
      assert.match(bad.lean.err, /TLS/);
      assert.deepEqual(bad.lean, bad.typed);
    } finally {
      await a.close();
    }
  });
});
