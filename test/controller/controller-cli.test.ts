// `kopiashare controller` as the built CLI process (node bin/kopiashare.js) against kube-sim: SIGTERM,
// SIGKILL failover between two replicas, usage errors before any request, an unreachable server.

import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { ensureBuilt, ROOT } from "../../bench/build.ts";
import { waitUntil } from "../helpers.ts";
import { isConverged, optIn, repositoryPair } from "../kube-sim/controller-scenarios.ts";
import { dig, type KubeObject, type Sim, startSim } from "../kube-sim/index.ts";

const BIN = path.join(ROOT, "bin", "kopiashare.js");
const LEASE = [
  "--lease-namespace",
  "volsync-system",
  "--lease-duration",
  "3s",
  "--renew-deadline",
  "2s",
  "--retry-period",
  "500ms",
];
const LEASE_MS = 3000;

const until = (what: string, ok: () => boolean, ms = 30_000) => waitUntil(what, ok, ms);

interface Proc {
  child: ChildProcess;
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: Proc[] = [];

function controller(args: string[], name = "replica"): Proc {
  const child = spawn(process.execPath, [BIN, "controller", ...args], {
    cwd: ROOT,
    env: { ...process.env, POD_NAME: name, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  let buf = "";
  child.stderr?.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i !== -1; i = buf.indexOf("\n")) {
      stderr.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      if (buf) stderr.push(buf);
      resolve({ code, signal });
    }),
  );
  const p = { child, stderr, exited };
  procs.push(p);
  return p;
}

const holder = (sim: Sim) =>
  dig(sim.store.get("leases", "kopiashare-controller", "volsync-system") as KubeObject, "spec", "holderIdentity");

describe("the controller process", () => {
  let sim: Sim;
  before(async () => {
    ensureBuilt(ROOT);
    sim = await startSim({ crds: ["volsync"] });
    repositoryPair(sim);
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
      await p.exited;
    }
  });
  after(() => sim.close());

  test("SIGTERM: exits 0 after releasing the lease", async () => {
    optIn(sim, "term");
    const p = controller(["--kubeconfig", sim.kubeconfigPath, "--health-port", "0", ...LEASE], "term-1");
    await until("it leads", () => holder(sim) === "term-1");
    await until("term converges", () => isConverged(sim, "term"));
    p.child.kill("SIGTERM");
    const { code } = await p.exited;
    assert.equal(code, 0, p.stderr.join("\n"));
    assert.equal(holder(sim), "", "the lease is released");
    // Structured logs only: no Node warning either (a worker loop once added an abort listener per key,
    // and Node printed "MaxListenersExceededWarning" here).
    assert.deepEqual(
      p.stderr.filter((l) => !l.startsWith("{")),
      [],
      "every stderr line is a JSON log line",
    );
    const msgs = p.stderr.map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.ok(msgs.includes("received SIGTERM"));
    assert.equal(msgs.at(-1), "stopped");
  });

  test("two processes: the leader is killed (SIGKILL, no release); the other converges new work within the lease", async () => {
    optIn(sim, "pre");
    const a = controller(["--kubeconfig", sim.kubeconfigPath, "--health-port", "0", ...LEASE], "kill-a");
    await until("a leads", () => holder(sim) === "kill-a");
    const b = controller(["--kubeconfig", sim.kubeconfigPath, "--health-port", "0", ...LEASE], "kill-b");
    await until("b has synced its caches", () => b.stderr.some((l) => l.includes('"msg":"caches synced"')));
    await until("pre converges", () => isConverged(sim, "pre"));
    assert.equal(holder(sim), "kill-a", "b stands by");
    assert.ok(!b.stderr.some((l) => l.includes('"msg":"created PV')), "the standby wrote nothing");

    a.child.kill("SIGKILL");
    await a.exited;
    const t0 = Date.now();
    optIn(sim, "after-kill");
    await until("b converges the new namespace", () => isConverged(sim, "after-kill"));
    const took = Date.now() - t0;
    assert.equal(holder(sim), "kill-b");
    // The lease must expire first (up to its duration after a's last renewal), then b's next try.
    assert.ok(took < LEASE_MS + 4000, `failover took ${took} ms (lease ${LEASE_MS} ms)`);
    console.log(`# failover after SIGKILL: ${took} ms (lease ${LEASE_MS} ms)`);
  });

  for (const [args, message] of [
    [["--workers", "0"], /--workers 0: a whole number from 1 to 256/],
    [
      ["--lease-duration", "1s", "--renew-deadline", "2s"],
      /--renew-deadline \(2s\) < --lease-duration \(1s\) must hold/,
    ],
  ] as const) {
    test(`a bad flag (${args.join(" ")}) exits 2 with a clear message before any request`, async () => {
      sim.resetRequests();
      const p = controller(["--kubeconfig", sim.kubeconfigPath, "--health-port", "0", ...args]);
      const { code } = await p.exited;
      assert.equal(code, 2);
      assert.match(p.stderr.join("\n"), message);
      assert.equal(sim.requests.length, 0, "no request was sent");
    });
  }

  test("an unreachable API server exits 3", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const a = s.address();
        s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
      });
    });
    const dir = mkdtempSync(path.join(tmpdir(), "ctl-unreachable-"));
    try {
      const kubeconfig = path.join(dir, "kubeconfig");
      writeFileSync(kubeconfig, sim.kubeconfigYaml.replace(sim.url, `http://127.0.0.1:${port}`));
      // Where the CLI waits out an unreachable server at start (--startup-timeout), keep that wait short.
      const help = spawnSync(process.execPath, [BIN, "controller", "--help"], { encoding: "utf8" }).stdout;
      const wait = help.includes("--startup-timeout") ? ["--startup-timeout", "1s"] : [];
      const p = controller(["--kubeconfig", kubeconfig, "--health-port", "0", "--no-leader-elect", ...wait]);
      const { code } = await p.exited;
      assert.equal(code, 3, p.stderr.join("\n"));
      assert.match(p.stderr.join("\n"), /could not start/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
