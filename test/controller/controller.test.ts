// `kopiashare controller` in-process (runController over connectRest) against kube-sim with watches:
// what it writes, how often, and what it leaves alone. Every test waits on conditions (generous
// timeouts: the machine is small and loaded); the only fixed windows are the ones that assert an
// absence ("0 writes in steady state"), and they start once the controller is idle.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { afterEach, beforeEach, describe, test } from "node:test";
import { promisify } from "node:util";
import type { Log } from "../../src/controller/log.ts";
import { type Running, type RunOptions, runController } from "../../src/controller/run.ts";
import { DEFAULTS } from "../../src/core/config.ts";
import { CONTROLLER, MANAGED_BY } from "../../src/core/names.ts";
import { connectRest, type RestClient } from "../../src/kube/rest.ts";
import { kubectlPath, waitUntil } from "../helpers.ts";
import {
  dropFinalizers,
  isConverged,
  kopiaSource,
  OPT_IN_LABEL,
  optIn,
  optOut,
  podMounting,
  REPOSITORY_PV,
  repositoryPair,
  storageWrites,
} from "../kube-sim/controller-scenarios.ts";
import { dig, type KubeObject, type Sim, type SimOptions, startSim } from "../kube-sim/index.ts";
import { pvcObject, pvName, pvObject, releasedPv } from "../kube-sim/scenarios.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const until = waitUntil;

interface Line {
  level: string;
  msg: string;
  [k: string]: unknown;
}

interface Ctl {
  running: Running;
  lines: Line[];
  abort: AbortController;
  /** Cuts the controller's client off (every request and watch fails), as if its process were killed. */
  kill: AbortController;
  identity: string;
}

let sim: Sim;
const ctls: Ctl[] = [];

async function sim0(o: SimOptions = {}): Promise<Sim> {
  sim = await startSim({ crds: ["volsync"], bookmarkIntervalMs: 0, ...o });
  repositoryPair(sim);
  return sim;
}

let ids = 0;
async function start(o: Partial<RunOptions> = {}, wrap = (rest: RestClient): RestClient => rest): Promise<Ctl> {
  const identity = o.identity ?? `replica-${++ids}`;
  const lines: Line[] = [];
  const log: Log = (level, msg, fields = {}) => {
    lines.push({ level, msg, ...fields });
  };
  const abort = new AbortController();
  const kill = new AbortController();
  const rest = connectRest({ kubeconfig: sim.kubeconfigPath, env: {}, timeoutMs: 5000, signal: kill.signal });
  // Not annotated: options a newer RunOptions has (a start-up timeout) pass through the spread unchecked.
  const base = {
    conventions: DEFAULTS,
    repository: "kopia",
    adopt: false,
    dryRun: false,
    workers: 4,
    identity,
    leaderElect: false,
    leaseNamespace: "volsync-system",
    leaseName: "kopiashare-controller",
    leaseDurationMs: 2000,
    renewDeadlineMs: 1500,
    retryPeriodMs: 200,
    startupTimeoutMs: 5000,
    port: 0,
  };
  const running = await runController(wrap(rest), { ...base, ...o }, log, abort.signal);
  const c = { running, lines, abort, kill, identity };
  ctls.push(c);
  return c;
}

async function stop(c: Ctl): Promise<void> {
  await c.running.stop();
  const i = ctls.indexOf(c);
  if (i >= 0) ctls.splice(i, 1);
}

/** No key waiting, in flight or delayed. */
const idle = (c: Ctl) => c.running.controller.queue.depth === 0 && c.running.controller.queue.busy === 0;
const idleFully = (c: Ctl) => idle(c) && c.running.controller.queue.delayed === 0;

/** Writes (any resource) the controller's requests made since `from`. */
const writesSince = (from: number) => sim.requests.slice(from).filter((r) => r.method !== "GET").length;

const eventsOf = (ns: string) =>
  sim.store.list("events", { namespace: ns }).filter((e) => dig(e, "source", "component") === CONTROLLER);

/** The repository's own PV and PVC are never written, whatever a test did. */
function assertRepositoryUntouched(): void {
  const touched = sim.requests.filter(
    (r) =>
      r.method !== "GET" &&
      (r.path.endsWith(`/persistentvolumes/${REPOSITORY_PV}`) ||
        r.path.includes("/namespaces/volsync-system/persistentvolumeclaims")),
  );
  assert.deepEqual(touched, [], "the repository PV/PVC were written");
}

beforeEach(() => {
  ids = 0;
});
afterEach(async () => {
  for (const c of ctls.splice(0)) await c.running.stop();
  if (sim) {
    assertRepositoryUntouched();
    await sim.close();
  }
});

describe("controller against kube-sim", () => {
  test("cold start: labelled and PVC-consuming namespaces get PV+PVC, NFS consumers nothing; then 0 writes", async () => {
    await sim0();
    optIn(sim, "media");
    kopiaSource(sim, "home", "photos", "pvc");
    kopiaSource(sim, "nas", "docs", "nfs");
    sim.resetRequests();
    const c = await start();
    await c.running.synced;
    await until("media and home converge", () => isConverged(sim, "media") && isConverged(sim, "home"));
    await until("idle", () => idleFully(c));
    await until("one Event per namespace", () => eventsOf("media").length === 1 && eventsOf("home").length === 1);

    const w = storageWrites(sim);
    assert.ok((w.ok.get("media") ?? 0) <= 2, `media: ${w.ok.get("media")} PV/PVC writes`);
    assert.ok((w.ok.get("home") ?? 0) <= 2, `home: ${w.ok.get("home")} PV/PVC writes`);
    assert.equal(w.ok.get("nas"), undefined, "the NFS consumer's namespace gets nothing");
    assert.equal(sim.store.get("pvc", "kopia", "nas"), undefined);
    assert.equal(sim.store.get("pv", pvName("nas")), undefined);
    assert.equal(eventsOf("nas").length, 0);
    const pv = sim.store.get("pv", pvName("media")) as KubeObject;
    assert.equal(pv.metadata.labels?.[MANAGED_BY], CONTROLLER);
    assert.equal(dig(pv, "spec", "persistentVolumeReclaimPolicy"), "Retain");
    assert.equal(
      (pv.metadata.managedFields as { manager: string; operation: string }[]).some(
        (e) => e.manager === CONTROLLER && e.operation === "Apply",
      ),
      true,
      "server-side apply with the controller's field manager",
    );
    assert.match(String(eventsOf("home")[0]?.message), /created PV kopia-repository-pv-home/);

    // Steady state: nothing changes, nothing is written (a bookmark and a watch drop included).
    const from = sim.requests.length;
    sim.sendBookmarks();
    await sleep(1500);
    sim.faults.dropWatches();
    await sleep(1500);
    assert.equal(writesSince(from), 0, "writes in steady state");
    assert.ok(sim.counts({ resource: "persistentvolumes" }).watch >= 2, "the PV watch was reopened");
  });

  test("a Flux-owned PV is left untouched and logged; a hand-made PVC is left alone, and adopted with --adopt", async () => {
    await sim0();
    optIn(sim, "fluxed");
    const fluxPv = pvObject("fluxed");
    fluxPv.metadata.labels = {
      "kustomize.toolkit.fluxcd.io/name": "apps",
      "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    };
    sim.store.create(fluxPv);
    optIn(sim, "hand");
    sim.store.create(pvcObject("hand"));
    sim.resetRequests();
    const c = await start();
    await until("fluxed converges (its PVC binds the Flux PV)", () => isConverged(sim, "fluxed"));
    await until("idle", () => idleFully(c));
    await until("the PV of hand is made", () => sim.store.get("pv", pvName("hand")) !== undefined);
    const pvWrites = sim.requests.filter(
      (r) => r.method !== "GET" && r.path.endsWith(`/persistentvolumes/${pvName("fluxed")}`),
    );
    assert.deepEqual(pvWrites, [], "0 writes to the Flux PV");
    assert.equal(sim.store.get("pv", pvName("fluxed"))?.metadata.labels?.[MANAGED_BY], undefined);
    assert.ok(
      c.lines.some(
        (l) =>
          l.namespace === "fluxed" && /PV kopia-repository-pv-fluxed is delivered by Flux: left to Flux/.test(l.msg),
      ),
      "the Flux PV is logged as left to Flux",
    );
    const pvcWrites = sim.requests.filter(
      (r) => r.method !== "GET" && r.path.includes("/namespaces/hand/persistentvolumeclaims"),
    );
    assert.deepEqual(pvcWrites, [], "a hand-made PVC is not written without --adopt");
    assert.ok(
      c.lines.some(
        (l) => l.level === "warn" && l.namespace === "hand" && /was not made by the controller: left alone/.test(l.msg),
      ),
    );
    await stop(c);

    const from = sim.requests.length;
    const adopter = await start({ adopt: true });
    await until(
      "the hand-made PVC is adopted",
      () => sim.store.get("pvc", "kopia", "hand")?.metadata.labels?.[MANAGED_BY] === CONTROLLER,
    );
    await until("idle", () => idleFully(adopter));
    const adopt = sim.requests
      .slice(from)
      .filter((r) => r.method === "PATCH" && r.path.endsWith("/namespaces/hand/persistentvolumeclaims/kopia"));
    assert.equal(adopt.length, 1);
    assert.equal(adopt[0]?.query.force, "true", "adoption takes the fields over (force)");
    assert.equal(
      sim.requests
        .slice(from)
        .filter((r) => r.method !== "GET" && r.path.endsWith(`/persistentvolumes/${pvName("fluxed")}`)).length,
      0,
      "never the Flux PV, even with --adopt",
    );
    assert.ok(isConverged(sim, "hand"));
  });

  test("a namespace deleted while a pod uses its PVC: PVC Terminating, PV kept; pod gone -> PVC gone -> PV deleted (Retain only)", async () => {
    await sim0();
    optIn(sim, "busy");
    optIn(sim, "recycled");
    const c = await start();
    await until("both converge", () => isConverged(sim, "busy") && isConverged(sim, "recycled"));
    await until("idle", () => idleFully(c));
    podMounting(sim, "busy", "app", "kopia", true);
    podMounting(sim, "recycled", "app", "kopia", true);
    const from = sim.requests.length;
    const reconciles = () => c.running.metrics.value("kopiashare_reconciles_total", { result: "ok" });
    const before = reconciles();
    sim.store.delete("namespaces", "busy");
    sim.store.delete("namespaces", "recycled");
    // Once its namespace is going, recycled's PV is switched to Recycle by hand (the controller no longer
    // applies it): it must never be deleted.
    const rpv = sim.store.get("pv", pvName("recycled")) as KubeObject;
    sim.store.update({ ...rpv, spec: { ...(rpv.spec as object), persistentVolumeReclaimPolicy: "Recycle" } });
    assert.ok(sim.store.get("pvc", "kopia", "busy")?.metadata.deletionTimestamp, "the PVC is Terminating");
    await until("the controller saw the deletion", () =>
      c.lines.some((l) => l.namespace === "busy" && /is being deleted \(pods that mount it keep it/.test(l.msg)),
    );
    await until("it is idle again", () => reconciles() > before && idleFully(c));
    assert.ok(sim.store.get("pv", pvName("busy")), "the PV stays while its claim is held");
    const pvDeletes = () =>
      sim.requests.slice(from).filter((r) => r.method === "DELETE" && r.path.startsWith("/api/v1/persistentvolumes/"));
    assert.deepEqual(pvDeletes(), [], "no PV delete while the PVC is Terminating");
    assert.equal(
      sim.requests.slice(from).filter((r) => r.method === "PATCH").length,
      0,
      "nothing is applied in a terminating namespace",
    );

    dropFinalizers(sim, "pods", "app", "busy");
    dropFinalizers(sim, "pods", "app", "recycled");
    assert.equal(sim.store.get("pvc", "kopia", "busy"), undefined, "the PVC went with the pod");
    assert.equal(sim.store.get("namespaces", "busy"), undefined, "then the namespace");
    await until(
      "the controller deletes the Released Retain PV",
      () => sim.store.get("pv", pvName("busy")) === undefined,
    );
    await until("the Recycle PV is reported", () =>
      c.lines.some((l) => l.level === "warn" && /reclaim policy is Recycle: not deleted/.test(l.msg)),
    );
    await until("idle", () => idleFully(c));
    assert.deepEqual(
      pvDeletes().map((r) => `${r.path} ${r.status}`),
      [`/api/v1/persistentvolumes/${pvName("busy")} 200`],
      "only the Retain PV is deleted",
    );
    assert.equal(dig(sim.store.get("pv", pvName("recycled")) as KubeObject, "status", "phase"), "Released");
  });

  test("a namespace that stops consuming (label removed): PVC then PV deleted", async () => {
    await sim0();
    optIn(sim, "leaving");
    optIn(sim, "staying");
    const c = await start();
    await until("both converge", () => isConverged(sim, "leaving") && isConverged(sim, "staying"));
    await until("idle", () => idleFully(c));
    const from = sim.requests.length;
    optOut(sim, "leaving");
    await until(
      "PV and PVC gone",
      () => !sim.store.get("pv", pvName("leaving")) && !sim.store.get("pvc", "kopia", "leaving"),
    );
    const deletes = sim.requests.slice(from).filter((r) => r.method === "DELETE" && r.status === 200);
    assert.deepEqual(
      deletes.map((r) => r.path),
      ["/api/v1/namespaces/leaving/persistentvolumeclaims/kopia", `/api/v1/persistentvolumes/${pvName("leaving")}`],
      "the PVC first, then the PV",
    );
    assert.ok(sim.store.get("namespaces", "leaving"), "the namespace itself stays");
    assert.ok(isConverged(sim, "staying"));
    await until("idle", () => idleFully(c));
    assert.equal(writesSince(from) - deletes.length - 2, 0, "two deletes and their two Events, nothing else");
  });

  test("a Released PV with a stale claimRef.uid is released and the new claim binds", async () => {
    await sim0();
    optIn(sim, "rel");
    const c = await start();
    await until("rel converges", () => isConverged(sim, "rel"));
    await until("idle", () => idleFully(c));
    const from = sim.requests.length;
    const stale = dig(sim.store.get("pv", pvName("rel")) as KubeObject, "spec", "claimRef", "uid");
    releasedPv(sim, "rel");
    assert.equal(dig(sim.store.get("pv", pvName("rel")) as KubeObject, "status", "phase"), "Released");
    await until("the new claim binds", () => isConverged(sim, "rel"));
    assert.notEqual(dig(sim.store.get("pv", pvName("rel")) as KubeObject, "spec", "claimRef", "uid"), stale);
    const w = sim.requests.slice(from).filter((r) => r.method !== "GET" && r.path.includes("persistentvolume"));
    assert.deepEqual(
      w.map((r) => `${r.method} ${r.path} ${r.status}`),
      [`PATCH /api/v1/persistentvolumes/${pvName("rel")} 200`],
      "one JSON patch that removes the stale uid",
    );
    await until("a Released event", () => eventsOf("rel").some((e) => e.reason === "Released"));
  });

  test("API faults (429 + Retry-After, 500, resets, a watch drop, a compacted watch): all converge, <= 2 writes each", async () => {
    await sim0({ watchHistory: 30 });
    const first = Array.from({ length: 8 }, (_, i) => `f-${i}`);
    for (const ns of first) optIn(sim, ns);
    const storage = (r: { method: string; path: string }) => r.method !== "GET" && /persistentvolume/.test(r.path);
    sim.faults.failNext(3, 429, { retryAfterSeconds: 1, match: storage });
    sim.faults.failNext(3, 500, { match: storage });
    sim.faults.failNext(2, "ECONNRESET", { match: storage });
    sim.resetRequests();
    const c = await start();
    await until("the first namespaces converge", () => first.every((ns) => isConverged(sim, ns)), 30_000);
    // More than watchHistory events happened since the namespace informer's resourceVersion: the
    // dropped watch resumes into a 410 and re-lists.
    const nsLists = sim.counts({ resource: "namespaces" }).list;
    sim.faults.dropWatches();
    const late = Array.from({ length: 4 }, (_, i) => `late-${i}`);
    for (const ns of late) optIn(sim, ns);
    await until(
      "the late namespaces converge after the re-list",
      () => late.every((ns) => isConverged(sim, ns)),
      30_000,
    );
    assert.ok(sim.counts({ resource: "namespaces" }).list > nsLists, "the namespace informer re-listed");
    const w = storageWrites(sim);
    for (const ns of [...first, ...late])
      assert.ok((w.ok.get(ns) ?? 0) <= 2, `${ns}: ${w.ok.get(ns)} successful PV/PVC writes`);
    assert.ok(w.failed >= 8, `the faults hit PV/PVC writes (${w.failed})`);
    const retried = c.lines.filter((l) => l.msg === "reconcile failed; retrying");
    assert.ok(
      retried.some((l) => l.code === 429 && Number(l.retryInMs) >= 1000),
      "a 429 waits its Retry-After",
    );
    assert.ok(retried.some((l) => l.code === 500));
    assert.ok(c.running.metrics.value("kopiashare_reconcile_errors_total", { code: "429" }) >= 1);
  });

  test("two controllers: only the leader writes; a graceful stop hands over at once; a stopped leader without release is replaced", async () => {
    await sim0();
    optIn(sim, "one");
    const a = await start({ leaderElect: true, identity: "a" });
    await until("a leads", () => a.running.isLeader());
    const b = await start({ leaderElect: true, identity: "b" });
    await until("one converges", () => isConverged(sim, "one"));
    await b.running.synced;
    assert.equal(b.running.isLeader(), false);
    assert.equal(b.running.metrics.value("kopiashare_writes_total", { op: "apply", kind: "PersistentVolume" }), 0);
    assert.equal(b.running.metrics.value("kopiashare_leader"), 0);
    assert.equal(a.running.metrics.value("kopiashare_leader"), 1);
    assert.ok(eventsOf("one").every((e) => e.reportingInstance === "a"));

    // Graceful stop: the lease is released at once and b takes over well within the lease duration.
    const t0 = Date.now();
    await stop(a);
    assert.equal(
      dig(sim.store.get("leases", "kopiashare-controller", "volsync-system") as KubeObject, "spec", "holderIdentity"),
      "",
    );
    await until("b leads", () => b.running.isLeader(), 5000);
    optIn(sim, "two");
    await until("b converges a new namespace", () => isConverged(sim, "two"));
    assert.ok(Date.now() - t0 < 2000 + 1500, `handover took ${Date.now() - t0} ms`);

    // A third replica; b is then cut off without releasing (as a killed process): c takes over once
    // the lease expires, within the lease duration (plus a retry period and the machine's load).
    const c = await start({ leaderElect: true, identity: "c" });
    await c.running.synced;
    assert.equal(c.running.isLeader(), false);
    const t1 = Date.now();
    b.kill.abort();
    optIn(sim, "three");
    await until("c leads", () => c.running.isLeader(), 15_000);
    await until("c converges the new namespace", () => isConverged(sim, "three"));
    const took = Date.now() - t1;
    assert.ok(took < 2000 + 4000, `failover took ${took} ms (lease 2000 ms)`);
    assert.ok(eventsOf("three").every((e) => e.reportingInstance === "c"));
  });

  test("a leader that loses its lease campaigns again, and works again although a reconcile of its lost term was still in flight", async () => {
    await sim0();
    optIn(sim, "first");
    let hold: (() => void) | undefined;
    const gate = new Promise<void>((r) => {
      hold = r;
    });
    let held = 0;
    const a = await start({ leaderElect: true, identity: "a" }, (rest) => ({
      ...rest,
      apply: async (path, obj, opts) => {
        if (/\/namespaces\/slow\/|kopia-repository-pv-slow$/.test(path)) {
          held++;
          await gate;
        }
        return rest.apply(path, obj, opts);
      },
    }));
    try {
      await until("first converges", () => isConverged(sim, "first"));
      optIn(sim, "slow");
      await until("the reconcile of slow hangs", () => held > 0);
      // The lease cannot be renewed: leadership is lost while that reconcile is in flight.
      sim.denied.add({ verb: "update", resource: "leases" });
      await until("a stops leading", () => !a.running.isLeader(), 10_000);
      sim.denied.clear();
      await until("a campaigns again and leads", () => a.running.isLeader(), 10_000);
      hold?.();
      optIn(sim, "again");
      await until(
        "the new term's workers converge new work",
        () => isConverged(sim, "again") && isConverged(sim, "slow"),
      );
    } finally {
      hold?.(); // else stopping the controller waits for the held request forever
    }
  });

  test("a restart in the middle of a reconcile (PV applied, PVC failed): the next controller converges without duplicates", async () => {
    await sim0();
    optIn(sim, "mid");
    const pvcApply = (r: { method: string; path: string }) =>
      r.method === "PATCH" && r.path.endsWith("/namespaces/mid/persistentvolumeclaims/kopia");
    sim.faults.failNext(1000, 500, { match: pvcApply });
    sim.resetRequests();
    const a = await start();
    await until(
      "the PV is applied and the PVC failed",
      () =>
        sim.store.get("pv", pvName("mid")) !== undefined &&
        a.lines.some((l) => l.msg === "reconcile failed; retrying" && l.namespace === "mid"),
    );
    await stop(a);
    sim.faults.clear();
    const from = sim.requests.length;
    const b = await start();
    await until("mid converges", () => isConverged(sim, "mid"));
    await until("idle", () => idleFully(b));
    const after = sim.requests.slice(from).filter((r) => r.method !== "GET" && /persistentvolume/.test(r.path));
    assert.deepEqual(
      after.map((r) => `${r.method} ${r.path} ${r.status}`),
      ["PATCH /api/v1/namespaces/mid/persistentvolumeclaims/kopia 201"],
      "the fresh controller only makes the PVC (the PV is already right)",
    );
    assert.equal(storageWrites(sim).ok.get("mid"), 2);
    assert.equal(sim.store.list("pv").filter((p) => p.metadata.name?.includes("mid")).length, 1);
    assert.equal(eventsOf("mid").length, 2, "one Event per reconcile that changed something");
  });

  test("--dry-run writes nothing and logs what it would do", async () => {
    await sim0();
    optIn(sim, "dry");
    sim.resetRequests();
    const c = await start({ dryRun: true });
    await c.running.synced;
    await until(
      "the plan is logged",
      () => c.lines.filter((l) => l.namespace === "dry" && /^dry run: would create/.test(l.msg)).length === 2,
    );
    await until("idle", () => idleFully(c));
    assert.equal(sim.counts().writes, 0);
    assert.deepEqual(
      c.lines
        .filter((l) => /^dry run/.test(l.msg))
        .map((l) => l.msg)
        .sort(),
      ["dry run: would create PV kopia-repository-pv-dry", "dry run: would create PVC dry/kopia"],
    );
  });

  test("/healthz, /readyz (503 before the caches sync, then 200) and /metrics", async () => {
    await sim0();
    optIn(sim, "metered");
    // The PV list fails a few times: the caches cannot sync meanwhile.
    sim.faults.failNext(4, 500, {
      match: (r) => r.method === "GET" && r.path === "/api/v1/persistentvolumes" && r.query.watch === undefined,
    });
    const c = await start();
    const base = `http://127.0.0.1:${c.running.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const early = await fetch(`${base}/readyz`);
    assert.equal(early.status, 503);
    assert.match(await early.text(), /caches not synced/);
    await c.running.synced;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    await until("metered converges", () => isConverged(sim, "metered"));
    await until("idle", () => idleFully(c));
    await until("the gauges count it", () => c.running.metrics.value("kopiashare_managed_namespaces") === 1, 5000);
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      "kopiashare_reconciles_total",
      "kopiashare_writes_total",
      "kopiashare_managed_namespaces",
      "kopiashare_queue_depth",
      "kopiashare_last_success_timestamp_seconds",
      "kopiashare_leader",
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge)$`, "m"), name);
    }
    assert.match(text, /^kopiashare_managed_namespaces 1$/m);
    assert.match(text, /^kopiashare_leader 1$/m);
    assert.match(text, /^kopiashare_writes_total\{op="apply",kind="PersistentVolume"\} 1$/m);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });

  test("kubectl reads the PV and PVC the controller made", async (t) => {
    if (!kubectlPath()) {
      t.skip("kubectl is not installed");
      console.log("# skipped: kubectl is not installed");
      return;
    }
    await sim0();
    optIn(sim, "kc");
    const c = await start();
    await until("kc converges", () => isConverged(sim, "kc"));
    await until("idle", () => idleFully(c));
    const kubectl = (...args: string[]) =>
      promisify(execFile)("kubectl", ["--kubeconfig", sim.kubeconfigPath, ...args]);
    const pv = JSON.parse((await kubectl("get", "pv", pvName("kc"), "-o", "json")).stdout) as KubeObject;
    assert.equal(pv.metadata.labels?.[MANAGED_BY], CONTROLLER);
    assert.equal(dig(pv, "spec", "claimRef", "namespace"), "kc");
    assert.equal(dig(pv, "status", "phase"), "Bound");
    const table = (await kubectl("get", "pvc", "-n", "kc")).stdout;
    assert.match(table, new RegExp(`^kopia\\s+Bound\\s+${pvName("kc")}\\s+200Gi\\s+RWX`, "m"));
    assert.equal(sim.store.get("namespaces", "kc")?.metadata.labels?.[OPT_IN_LABEL], "kopia");
  });
});
