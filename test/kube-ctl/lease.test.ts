// src/kube/lease.ts: two electors on one Lease in kube-sim, short durations; kubectl as a second reader.

import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { promisify } from "node:util";
import { type LeaderElectionOptions, LeaderElector, microTime, recordOf } from "../../src/kube/lease.ts";
import { connectRest, type RestClient } from "../../src/kube/rest.ts";
import { type KubeObject, type Sim, startSim } from "../kube-sim/index.ts";
import { ensureNamespace } from "../kube-sim/scenarios.ts";

const NS = "kopiashare";
const NAME = "kopiashare-controller";
const FAST = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 50 };

async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Replica {
  id: string;
  elector: LeaderElector;
  log: string[];
  errors: unknown[];
  ac: AbortController;
  done: Promise<void>;
  leadSignal?: AbortSignal;
}

describe("leader election", () => {
  let sim: Sim;
  let rest: RestClient;
  const replicas: Replica[] = [];
  beforeEach(async () => {
    sim = await startSim();
    ensureNamespace(sim, NS);
    rest = connectRest({ kubeconfig: sim.kubeconfigPath, env: {}, timeoutMs: 2000 });
  });
  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      r.ac.abort();
      await r.done;
    }
    await sim.close();
  });

  const lease = () => sim.store.get("leases", NAME, NS) as KubeObject | undefined;
  const holder = () => (lease() ? recordOf(lease() as never).holderIdentity : undefined);

  function replica(id: string, opts: Partial<LeaderElectionOptions> = {}): Replica {
    const r = { id, log: [] as string[], errors: [] as unknown[], ac: new AbortController() } as Replica;
    r.elector = new LeaderElector(connectRest({ kubeconfig: sim.kubeconfigPath, env: {}, timeoutMs: 2000 }), {
      namespace: NS,
      name: NAME,
      identity: id,
      ...FAST,
      onStartedLeading: (signal) => {
        r.leadSignal = signal;
        r.log.push("started");
      },
      onStoppedLeading: () => r.log.push("stopped"),
      onError: (e) => r.errors.push(e),
      ...opts,
    });
    r.done = r.elector.run(r.ac.signal);
    replicas.push(r);
    return r;
  }

  test("of two replicas one leads; the Lease has client-go's fields; the other waits", async () => {
    const a = replica("a");
    await until("a leader", () => a.elector.isLeader);
    const b = replica("b");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(b.elector.isLeader, false);
    assert.equal(b.elector.leader, "a");
    const l = lease();
    assert.ok(l);
    assert.equal(l.apiVersion, "coordination.k8s.io/v1");
    const spec = l.spec as Record<string, unknown>;
    assert.equal(spec.holderIdentity, "a");
    assert.equal(spec.leaseDurationSeconds, 1);
    assert.equal(spec.leaseTransitions, 0);
    assert.match(String(spec.acquireTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.match(String(spec.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(a.elector.stats.renewals > 0);
    assert.ok(String(spec.renewTime) > String(spec.acquireTime));
    assert.deepEqual(a.log, ["started"]);
    assert.deepEqual(b.log, []);
    assert.deepEqual(a.errors, []);
  });

  test("a leader renews with PUTs alone (no GET), about one per retry period", async () => {
    const a = replica("a");
    await until("a leads", () => a.elector.isLeader);
    sim.resetRequests();
    await new Promise((r) => setTimeout(r, 300));
    const c = sim.counts({ resource: "leases" });
    assert.equal(c.get, 0);
    assert.ok(c.update >= 2 && c.update <= 7, `${c.update} renewals in 300 ms at a 50 ms retry period`);
    assert.equal(c.writes, c.update);
  });

  test("when the leader stops renewing, the other takes over after the lease duration", async () => {
    const a = replica("a");
    await until("a leads", () => a.elector.isLeader);
    const b = replica("b");
    await until("b sees a", () => b.elector.leader === "a");
    const stoppedAt = Date.now();
    a.ac.abort(); // a crash, as far as the Lease can tell: no release
    await a.done;
    assert.equal(a.leadSignal?.aborted, true);
    assert.deepEqual(a.log, ["started", "stopped"]);
    await until("b leads", () => b.elector.isLeader);
    const took = Date.now() - stoppedAt;
    assert.ok(took >= 800, `took over after ${took} ms, before the lease (1 s) expired`);
    assert.equal(holder(), "b");
    assert.equal(recordOf(lease() as never).leaseTransitions, 1);
  });

  test("release() empties holderIdentity and the other replica takes over at once", async () => {
    const slow = { leaseDurationMs: 10_000, renewDeadlineMs: 5_000, retryPeriodMs: 50 };
    const a = replica("a", slow);
    await until("a leads", () => a.elector.isLeader);
    const b = replica("b", slow);
    await until("b sees a", () => b.elector.leader === "a");
    const t0 = Date.now();
    assert.equal(await a.elector.release(), true);
    await a.done;
    assert.deepEqual(a.log, ["started", "stopped"]);
    await until("b leads", () => b.elector.isLeader, 2000);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(holder(), "b");
    assert.equal(a.elector.stats.lost, 0);
    // A second release by the former leader changes nothing.
    assert.equal(await a.elector.release(), false);
    assert.equal(holder(), "b");
  });

  test("a leader that cannot renew within the renew deadline stops leading", async () => {
    const a = replica("a");
    await until("a leads", () => a.elector.isLeader);
    sim.faults.failNext(1000, 503, { match: (r) => r.path.includes("/leases") });
    const t0 = Date.now();
    await a.done;
    sim.faults.clear();
    const took = Date.now() - t0;
    assert.ok(took >= 500 && took < 1000, `stopped after ${took} ms (renew deadline 600 ms, lease 1 s)`);
    assert.deepEqual(a.log, ["started", "stopped"]);
    assert.equal(a.leadSignal?.aborted, true);
    assert.equal(a.elector.stats.lost, 1);
    assert.ok(a.errors.length > 0);
  });

  test("a 409 on the PUT means someone else won: no leadership, no error reported", async () => {
    // An expired lease of a dead replica, which a is about to take...
    sim.store.create({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: NAME, namespace: NS },
      spec: { holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 3 },
    });
    // ...when, between its GET and its PUT, "intruder" writes first.
    let raced = false;
    sim.faults.failNext(1, 500, {
      match: (r) => {
        if (r.method === "PUT" && !raced) {
          raced = true;
          const cur = sim.store.get("leases", NAME, NS) as KubeObject;
          sim.store.update({
            ...cur,
            spec: {
              holderIdentity: "intruder",
              leaseDurationSeconds: 30,
              leaseTransitions: 4,
              renewTime: microTime(Date.now()),
            },
          });
        }
        return false;
      },
    });
    const a = replica("a");
    await until("a conflict", () => a.elector.stats.conflicts === 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.elector.isLeader, false);
    assert.equal(a.elector.leader, "intruder");
    assert.equal(holder(), "intruder");
    assert.deepEqual(a.errors, []);
    const puts = sim.requests.filter((r) => r.method === "PUT");
    assert.equal(puts[0]?.status, 409);
  });

  test("two replicas starting together on an absent Lease: exactly one creates it", async () => {
    const a = replica("a");
    const b = replica("b");
    await until("a leader", () => a.elector.isLeader || b.elector.isLeader);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal([a, b].filter((r) => r.elector.isLeader).length, 1);
    assert.equal(sim.counts({ resource: "leases" }).create >= 1, true);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  test("a bad configuration is refused", () => {
    const base = { namespace: NS, name: NAME, identity: "x", onStartedLeading: () => {} };
    assert.throws(
      () => new LeaderElector(rest, { ...base, leaseDurationMs: 1000, renewDeadlineMs: 1000 }),
      /greater than the renew/,
    );
    assert.throws(
      () => new LeaderElector(rest, { ...base, renewDeadlineMs: 1000, retryPeriodMs: 900 }),
      /1.2 x the retry/,
    );
    assert.throws(() => new LeaderElector(rest, { ...base, identity: "" }), /identity/);
  });
});

function kubectlMissing(): string | undefined {
  const r = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  if (r.error) return `kubectl not installed: ${r.error.message}`;
  if (r.status !== 0) return `kubectl not installed: 'kubectl version --client' exited ${r.status}`;
  return undefined;
}

describe("leader election read by kubectl", () => {
  const missing = kubectlMissing();
  test("kubectl get lease shows the holder the elector wrote", async (t) => {
    if (missing) return t.skip(missing);
    const sim = await startSim();
    const cacheDir = mkdtempSync(path.join(tmpdir(), "lease-kubectl-"));
    const ac = new AbortController();
    let done: Promise<void> = Promise.resolve();
    try {
      ensureNamespace(sim, NS);
      const elector = new LeaderElector(connectRest({ kubeconfig: sim.kubeconfigPath, env: {} }), {
        namespace: NS,
        name: NAME,
        identity: "kopiashare-7d9f-x2",
        ...FAST,
        onStartedLeading: () => {},
      });
      done = elector.run(ac.signal);
      await until("leading", () => elector.isLeader);
      const { stdout } = await promisify(execFile)(
        "kubectl",
        ["--kubeconfig", sim.kubeconfigPath, "--cache-dir", cacheDir, "-n", NS, "get", "lease", NAME, "-o", "json"],
        { env: { ...process.env, KUBECONFIG: "" }, timeout: 10_000 },
      );
      const l = JSON.parse(stdout) as { kind: string; spec: Record<string, unknown> };
      assert.equal(l.kind, "Lease");
      assert.equal(l.spec.holderIdentity, "kopiashare-7d9f-x2");
      assert.equal(l.spec.leaseDurationSeconds, 1);
      assert.equal(typeof l.spec.renewTime, "string");
    } finally {
      ac.abort();
      await done;
      await sim.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
