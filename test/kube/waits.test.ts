/**
 * Bounded waits: a total retry budget a Retry-After cannot exceed, a line on a terminal saying what is
 * being waited for after 2 s, exec credential plugins that time out, and duration flags checked before
 * any request (exit 2).
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { main } from "../../src/cli.ts";
import { bufferIo } from "../../src/io.ts";
import { kopiaMaintenance, sharedRepository } from "../kube-sim/scenarios.ts";
import { kube, run, type Sim, withSim } from "./util.ts";

const dir = mkdtempSync(path.join(tmpdir(), "kopiashare-waits-"));
const seed = (sim: Sim) => {
  sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
  kopiaMaintenance(sim);
};
const opts = { crds: ["volsync" as const] };

describe("retry budget", () => {
  it("Retry-After: 3600 is not waited: exit 3 at once, naming the budget", async () => {
    await withSim(opts, seed, async (sim) => {
      sim.faults.failNext(1, 429, { retryAfterSeconds: 3600 });
      const t0 = Date.now();
      const r = await kube(sim, ["verify"]);
      assert.equal(r.code, 3, r.err);
      // Far from 3600 s (and from the 241 s of old): at once, give or take a loaded machine.
      assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
      assert.match(
        r.err,
        /^error: could not check: the Kubernetes API server at http:\/\/127\.0\.0\.1:\d+ answered GET \/api(s|\/v1\/persistentvolume(claim)?s) with 429 and Retry-After: 3600; waiting 3600s more is over the retry budget \(30s of 30s left; raise --retry-budget\)$/m,
      );
    });
  });

  it("a Retry-After within the budget is waited, and the request succeeds", async () => {
    await withSim(opts, seed, async (sim) => {
      sim.faults.failNext(1, 429, { retryAfterSeconds: 1, match: (x) => x.path === "/api/v1/persistentvolumes" });
      const t0 = Date.now();
      const r = await kube(sim, ["verify"]);
      assert.equal(r.code, 0, r.err);
      assert.ok(Date.now() - t0 >= 900, "waited the Retry-After");
    });
  });

  it("--retry-budget bounds it: 2s is less than a Retry-After of 5s", async () => {
    await withSim(opts, seed, async (sim) => {
      sim.faults.failNext(1, 503, { retryAfterSeconds: 5 });
      const r = await kube(sim, ["doctor", "--retry-budget", "2s"]);
      assert.equal(r.code, 3, r.err);
      assert.match(r.err, /waiting 5s more is over the retry budget \(2s of 2s left; raise --retry-budget\)/);
    });
  });

  it("--retry-budget 0: no retries, a 503 is the answer", async () => {
    await withSim(opts, seed, async (sim) => {
      sim.faults.failNext(1, 503, { match: (x) => x.path === "/api/v1/persistentvolumes" });
      sim.resetRequests();
      const r = await kube(sim, ["verify", "--retry-budget", "0"]);
      assert.equal(r.code, 3, r.err);
      assert.match(r.err, /ServiceUnavailable/);
      assert.equal(sim.requests.filter((x) => x.path === "/api/v1/persistentvolumes").length, 1);
    });
  });
});

describe("what is being waited for", () => {
  const runTty = async (sim: Sim, argv: string[], tty: boolean) => {
    const io = bufferIo({ cwd: dir, env: { NO_COLOR: "1", KOPIASHARE_RETRY_BASE_MS: "1" } });
    io.stderr.isTTY = tty;
    const code = await main([...argv, "--kubeconfig", sim.kubeconfigPath], io);
    return { code, err: io.err(), out: io.out() };
  };

  it("on a terminal, after 2 s: the request and why it waits; erased afterwards", async () => {
    await withSim(opts, seed, async (sim) => {
      sim.faults.failNext(1, 429, { retryAfterSeconds: 3, match: (x) => x.path === "/api/v1/persistentvolumes" });
      const r = await runTty(sim, ["verify"], true);
      assert.equal(r.code, 0, r.err);
      const ERASE = "\r\x1b[2K";
      const line =
        /waiting 2s for http:\/\/127\.0\.0\.1:\d+: GET \/api\/v1\/persistentvolumes: retrying after HTTP 429 \(Retry-After 3s\)/;
      const shown = r.err.split(ERASE).find((part) => line.test(part));
      assert.ok(shown, `no wait notice in ${JSON.stringify(r.err)}`);
      assert.ok(r.err.includes(`${ERASE}repository: PV`), "the line is erased before the report");
    });
  });

  it("not on a pipe, and not before 2 s", async () => {
    await withSim(opts, seed, async (sim) => {
      sim.faults.failNext(1, 429, { retryAfterSeconds: 3, match: (x) => x.path === "/api/v1/persistentvolumes" });
      const piped = await runTty(sim, ["verify"], false);
      assert.equal(piped.code, 0);
      assert.doesNotMatch(piped.err, /waiting/);
      sim.faults.failNext(1, 429, { retryAfterSeconds: 1, match: (x) => x.path === "/api/v1/persistentvolumes" });
      const quick = await runTty(sim, ["verify"], true);
      assert.equal(quick.code, 0);
      assert.doesNotMatch(quick.err, /waiting/);
    });
  });
});

describe("exec credential plugins", () => {
  it("a plugin that hangs is killed after the request timeout: exit 3, naming it", { timeout: 20_000 }, async () => {
    await withSim(opts, seed, async (sim) => {
      const cfg = path.join(dir, "exec-kubeconfig");
      writeFileSync(
        cfg,
        sim.kubeconfigYaml.replace(
          /token: .*/,
          [
            "exec:",
            "      apiVersion: client.authentication.k8s.io/v1",
            "      command: sh",
            "      args: [-c, 'sleep 60']",
            "      interactiveMode: Never",
          ].join("\n"),
        ),
      );
      const t0 = Date.now();
      const r = await run(["verify", "--kubeconfig", cfg, "--request-timeout", "500ms"], { cwd: dir });
      assert.equal(r.code, 3, r.err);
      assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
      assert.match(
        r.err,
        /could not check: the kubeconfig's exec credential plugin "sh -c sleep 60" did not finish within 0\.5s/,
      );
    });
  });
});

describe("duration flags are checked before any request", () => {
  for (const [argv, want] of [
    [["verify", "--request-timeout", "99999999h"], /--request-timeout 99999999h: too long; at most 596h/],
    [["doctor", "--request-timeout", "99999999999999999999"], /--request-timeout 99999999999999999999: too long/],
    [["verify", "--retry-budget", "soon"], /--retry-budget soon: expected a duration such as 30s, 2m or 0/],
    [["drift", "--retry-budget", "999999h"], /--retry-budget 999999h: too long/],
    [["doctor", "--probe", "--timeout", "99999999h"], /--timeout 99999999h: too long/],
  ] as const) {
    it(`${argv.join(" ")}: exit 2`, async () => {
      await withSim(opts, seed, async (sim) => {
        sim.resetRequests();
        const r = await kube(sim, [...argv]);
        assert.equal(r.code, 2, r.err);
        assert.match(r.err, want);
        assert.doesNotMatch(r.err, /delay|out of range|at .*\.ts:\d+/);
        assert.equal(sim.requests.length, 0, "no request sent");
      });
    });
  }
});
