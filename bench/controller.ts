/**
 * `kopiashare controller` from a cold start against a simulated cluster, and what it costs the API server.
 *
 *   node --import tsx bench/controller.ts [--namespaces 1000] [--steady 60] [--faults] [--failover]
 *
 * Starts test/kube-sim with the repository PV and PVC (volsync-system) and N namespaces labelled
 * kopiashare.io/repository=kopia and nothing else in them, builds the CLI if dist/ is older than src/,
 * then starts `node bin/kopiashare.js controller` as a whole process (process start included) and
 * measures:
 *   - converged: the time until every namespace has its PV and its PVC kopia, Bound (the simulator's
 *     binder binds them), against the floor the issue names: N x 2 server-side applies at the rate this
 *     simulator takes them on this machine (measured in the same run, before the controller starts);
 *   - writes: PATCH/POST/PUT/DELETE requests on PVs and PVCs per namespace to converge (goal: at most 2),
 *     and Events written;
 *   - steady state: writes during --steady seconds after convergence (goal: 0);
 *   - with --faults: 429s with Retry-After, 500s, connection resets and a watch drop (410 on resume)
 *     injected while it converges: nothing lost (every namespace converges), nothing duplicated (writes
 *     per namespace still at most 2 successful ones);
 *   - with --failover: two replicas; the leader is stopped with SIGKILL (no release); the time until the
 *     other converges new namespaces is reported against the lease duration.
 * The simulator runs in this process, so the controller is spawned asynchronously.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { startSim } from "../test/kube-sim/index.ts";
import { ensureNamespace, pvcObject, pvObject, storageClassObject } from "../test/kube-sim/scenarios.ts";
import { ensureBuilt, ROOT } from "./build.ts";

const args = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v >= 0 ? v : def;
};
const N = flag("--namespaces", 1000);
const STEADY_S = flag("--steady", 60);
const FAULTS = args.includes("--faults");
const FAILOVER = args.includes("--failover");
const LABEL = "kopiashare.io/repository";

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Sim = Awaited<ReturnType<typeof startSim>>;

function labelNamespace(sim: Sim, ns: string): void {
  ensureNamespace(sim, ns);
  const obj = sim.store.get("namespaces", ns);
  if (!obj) throw new Error(`namespace ${ns} was not created`);
  sim.store.update({
    ...obj,
    metadata: { ...obj.metadata, labels: { ...(obj.metadata.labels ?? {}), [LABEL]: "kopia" } },
  });
}

/**
 * How many of `names` have their PVC kopia Bound. Polled by the bench, which shares the simulator's
 * thread: only the namespaces not yet seen Bound are read again (a read copies the object), so the poll
 * costs the simulator next to nothing.
 */
const seenBound = new Set<string>();
function converged(sim: Sim, names: string[]): number {
  let n = 0;
  for (const ns of names) {
    if (seenBound.has(ns)) {
      n++;
      continue;
    }
    const pvc = sim.store.get("persistentvolumeclaims", "kopia", ns);
    if ((pvc?.status as { phase?: string } | undefined)?.phase === "Bound") {
      seenBound.add(ns);
      n++;
    }
  }
  return n;
}

/** Writes (not GET/LIST/WATCH) to PVs and PVCs, and Events, among the requests logged since `from`. */
function writesSince(
  sim: Sim,
  from: number,
): { storage: number; ok: number; events: number; byNs: Map<string, number> } {
  let storage = 0;
  let ok = 0;
  let events = 0;
  const byNs = new Map<string, number>();
  for (const r of sim.requests.slice(from)) {
    if (r.method === "GET") continue;
    if (/\/events(\/|$)/.test(r.path)) {
      events++;
      continue;
    }
    const m = /\/persistentvolumeclaims\/|\/persistentvolumes\/(kopia-repository-pv-)?([^/]+)$/.exec(r.path);
    if (!m) continue;
    storage++;
    if (r.status >= 200 && r.status < 300) {
      ok++;
      const ns = /\/namespaces\/([^/]+)\//.exec(r.path)?.[1] ?? m[2] ?? "";
      byNs.set(ns, (byNs.get(ns) ?? 0) + 1);
    }
  }
  return { storage, ok, events, byNs };
}

function startController(sim: Sim, extra: string[], name: string): { child: ChildProcess; log: string[] } {
  const log: string[] = [];
  const child = spawn(
    process.execPath,
    [
      ...(process.env.KOPIASHARE_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean),
      path.join(ROOT, "bin/kopiashare.js"),
      "controller",
      "--kubeconfig",
      sim.kubeconfigPath,
      "--health-port",
      "0",
      "--lease-namespace",
      "volsync-system",
      ...extra,
    ],
    { cwd: ROOT, env: { ...process.env, POD_NAME: name }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let buf = "";
  child.stderr?.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i !== -1; i = buf.indexOf("\n")) {
      log.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  return { child, log };
}

async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${fmt(timeoutMs)} waiting for ${what}`);
    await sleep(25);
  }
  return performance.now() - t0;
}

/** Server-side applies per second this simulator takes from one keep-alive client (the floor's rate). */
async function applyRate(sim: Sim): Promise<number> {
  const { openRest } = await import("../src/kube/rest.ts");
  const rest = await openRest({ kubeconfig: sim.kubeconfigPath, env: {} });
  ensureNamespace(sim, "bench-floor");
  const n = 400;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; i < n; i += 16) {
        await rest.apply(
          `/api/v1/namespaces/bench-floor/configmaps/c${i}`,
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: `c${i}`, namespace: "bench-floor" },
            data: { a: "b" },
          },
          { fieldManager: "bench" },
        );
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  ensureBuilt();
  const sim = await startSim({ crds: [] });
  const children: ChildProcess[] = [];
  try {
    sim.store.create(storageClassObject());
    ensureNamespace(sim, "volsync-system");
    sim.store.create(pvObject("volsync-system", { style: "shared-handle" }));
    sim.store.create(pvcObject("volsync-system"));
    const names = Array.from({ length: N }, (_, i) => `app-${String(i).padStart(4, "0")}`);
    for (const ns of names) labelNamespace(sim, ns);
    const rate = await applyRate(sim);
    const floorMs = ((2 * N) / rate) * 1000;
    process.stdout.write(
      `machine: ${cpus().length} cpus, load ${loadavg()[0]?.toFixed(2)}, node ${process.version}; ${N} namespaces\n` +
        `simulator takes ${rate.toFixed(0)} server-side applies/s: the floor for 2 x ${N} applies is ${fmt(floorMs)}\n`,
    );
    // Faults on writes, while it converges (a few 429s at start too: it must wait them out, not exit).
    const writes = { match: (r: { method: string }) => r.method !== "GET" };
    if (FAULTS) sim.faults.failNext(3, 429, { retryAfterSeconds: 1 });
    const from = sim.requests.length;
    const t0 = performance.now();
    const a = startController(
      sim,
      FAILOVER ? ["--lease-duration", "6s", "--renew-deadline", "4s", "--retry-period", "1s"] : ["--no-leader-elect"],
      "replica-a",
    );
    children.push(a.child);
    if (FAILOVER)
      children.push(
        startController(sim, ["--lease-duration", "6s", "--renew-deadline", "4s", "--retry-period", "1s"], "replica-b")
          .child,
      );
    if (FAULTS) {
      setTimeout(() => sim.faults.failNext(30, 429, { retryAfterSeconds: 1, ...writes }), 1500);
      setTimeout(() => sim.faults.failNext(20, 500, writes), 2000);
      setTimeout(() => sim.faults.failNext(10, "ECONNRESET", writes), 2500);
      setTimeout(() => sim.faults.dropWatches(), 3000);
    }
    try {
      await waitFor("every namespace Bound", () => converged(sim, names) === N, 120_000);
    } catch (e) {
      process.stderr.write(
        `${converged(sim, names)}/${N} Bound; the controller's last log lines:\n${a.log.slice(-15).join("\n")}\n`,
      );
      throw e;
    }
    const tConv = performance.now() - t0;
    // Phases from the controller's own log (its clock and this process's agree: same machine).
    const at = (msg: string) => {
      const line = a.log.find((l) => l.includes(`"msg":"${msg}"`));
      return line ? Date.parse((JSON.parse(line) as { time: string }).time) - (performance.timeOrigin + t0) : undefined;
    };
    const phase = (ms: number | undefined) => (ms === undefined ? "?" : fmt(ms));
    process.stdout.write(
      `phases: process start to discovery ${phase(at("watching"))}, caches synced ${phase(at("caches synced"))}, all Bound ${fmt(tConv)}\n`,
    );
    const w = writesSince(sim, from);
    const perNs = Math.max(0, ...names.map((ns) => w.byNs.get(ns) ?? 0));
    process.stdout.write(
      `converged: ${N}/${N} namespaces Bound in ${fmt(tConv)} from a cold start (goal < 5 s; ${(tConv / floorMs).toFixed(2)}x the apply floor)\n` +
        `writes to PVs/PVCs: ${w.ok} successful (${(w.ok / N).toFixed(2)} per namespace, at most ${perNs} for one; goal <= 2), ${w.storage - w.ok} refused by injected faults; ${w.events} events\n`,
    );
    if (FAILOVER) {
      const leaderLog = a.log.some((l) => l.includes("became the leader"));
      const leader = leaderLog ? a : undefined;
      const victim = leader?.child ?? children[1];
      victim?.kill("SIGKILL");
      const more = Array.from({ length: 20 }, (_, i) => `late-${i}`);
      const tKill = performance.now();
      for (const ns of more) labelNamespace(sim, ns);
      await waitFor("the standby to converge new namespaces", () => converged(sim, more) === more.length, 60_000);
      process.stdout.write(
        `failover: the standby converged 20 new namespaces ${fmt(performance.now() - tKill)} after the leader was killed (lease 6 s)\n`,
      );
    }
    if (STEADY_S > 0) {
      const before = sim.requests.length;
      await sleep(STEADY_S * 1000);
      const s = writesSince(sim, before);
      process.stdout.write(
        `steady state: ${s.storage} writes to PVs/PVCs and ${s.events} events in ${STEADY_S} s (goal 0)\n`,
      );
    }
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
    await sim.close();
  }
}

await main();
