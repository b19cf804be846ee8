/**
 * `kopiashare controller` as a process: discovery decides which consumers are watched, informers fill the
 * caches, the health server answers from the start (ready once the caches are synced), leader election
 * decides which replica works, and SIGTERM ends it all in order (workers, lease released at once so the
 * standby takes over, informers, server).
 */
import { Informer } from "../kube/informer.ts";
import { LeaderElector } from "../kube/lease.ts";
import type { KubeObject, RestClient } from "../kube/rest.ts";
import { mapPv, mapPvc } from "../kube/snapshot.ts";
import {
  type Cache,
  type Caches,
  type ConsumerResource,
  Controller,
  type ControllerOptions,
  type Raw,
} from "./controller.ts";
import type { Log } from "./log.ts";
import { Metrics, serveHealth } from "./metrics.ts";

/** The consumers whose namespaces need the claim (as doctor reads them), by group. */
const CONSUMERS: { group: string; plural: string; kind: string; namespaced: boolean }[] = [
  { group: "volsync.backube", plural: "replicationsources", kind: "ReplicationSource", namespaced: true },
  { group: "volsync.backube", plural: "replicationdestinations", kind: "ReplicationDestination", namespaced: true },
  { group: "volsync.backube", plural: "kopiamaintenances", kind: "KopiaMaintenance", namespaced: true },
  { group: "kopiur.home-operations.com", plural: "clusterrepositories", kind: "ClusterRepository", namespaced: false },
  { group: "kopiur.home-operations.com", plural: "repositories", kind: "Repository", namespaced: true },
  { group: "kopiur.home-operations.com", plural: "snapshotpolicies", kind: "SnapshotPolicy", namespaced: true },
  { group: "kopiur.home-operations.com", plural: "snapshotschedules", kind: "SnapshotSchedule", namespaced: true },
  { group: "kopiur.home-operations.com", plural: "restores", kind: "Restore", namespaced: true },
  { group: "kopiur.home-operations.com", plural: "maintenances", kind: "Maintenance", namespaced: true },
];

export interface RunOptions extends ControllerOptions {
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** How long transient failures (429, 5xx, no answer) may delay the start before it gives up (exit 3). */
  startupTimeoutMs: number;
  /** Health and metrics port (0: any free port, reported in the log; -1: none). */
  port: number;
}

export interface Running {
  controller: Controller;
  metrics: Metrics;
  port: number | undefined;
  /** Resolves once the caches are synced. */
  synced: Promise<void>;
  isLeader(): boolean;
  /** Graceful stop: workers end, the lease is released, informers and server close. */
  stop(): Promise<void>;
  /** Resolves when the controller has stopped (after stop(), or a fatal error). */
  done: Promise<void>;
}

/** Served consumer resources: one discovery request per group version that exists. */
export async function discoverConsumers(
  rest: RestClient,
  retry: <T>(what: string, f: () => Promise<T>) => Promise<T> = (_what, f) => f(),
): Promise<(ConsumerResource & { path: string })[]> {
  const groups = (await retry("discovery /apis", () => rest.get("/apis"))) as unknown as {
    groups?: { name: string; preferredVersion?: { groupVersion: string } }[];
  };
  const out: (ConsumerResource & { path: string })[] = [];
  for (const g of groups.groups ?? []) {
    const wanted = CONSUMERS.filter((x) => x.group === g.name);
    if (wanted.length === 0 || !g.preferredVersion) continue;
    const gv = g.preferredVersion.groupVersion;
    const list = (await retry(`discovery /apis/${gv}`, () => rest.get(`/apis/${gv}`))) as unknown as {
      resources?: { name: string }[];
    };
    const served = new Set((list.resources ?? []).map((r) => r.name));
    for (const x of wanted) {
      if (!served.has(x.plural)) continue;
      out.push({ kind: x.kind, apiVersion: gv, namespaced: x.namespaced, path: `/apis/${gv}/${x.plural}` });
    }
  }
  return out;
}

/** Failures worth waiting out at start: the server answered "busy" (429, 5xx) or did not answer yet. */
function transient(e: unknown): boolean {
  const err = e as { code?: number; kind?: string };
  if (err.code === 429 || (err.code !== undefined && err.code >= 500)) return true;
  return err.kind === "unreachable" || err.kind === "timeout";
}

/**
 * Retries a start-up request while its failures are transient, for at most `budgetMs` in all (a
 * Retry-After counts): an apiserver that restarts or sheds load delays the start, it does not crash the
 * pod. 401, 403 and anything else fail at once.
 */
function startupRetry(budgetMs: number, log: Log, signal: AbortSignal) {
  const deadline = Date.now() + budgetMs;
  return async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await f();
      } catch (e) {
        const wait = Math.max(
          (e as { retryAfterMs?: number }).retryAfterMs ?? 0,
          Math.min(5000, 200 * 2 ** (attempt - 1)),
        );
        if (!transient(e) || signal.aborted || Date.now() + wait > deadline) throw e;
        log("warn", "start-up request failed; retrying", {
          what,
          error: (e as Error).message,
          retryInMs: wait,
          attempt,
        });
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(t);
            signal.removeEventListener("abort", done);
            resolve();
          };
          const t = setTimeout(done, wait);
          signal.addEventListener("abort", done, { once: true });
        });
      }
    }
  };
}

export async function runController(rest: RestClient, o: RunOptions, log: Log, signal: AbortSignal): Promise<Running> {
  const metrics = new Metrics();
  const stopInformers = new AbortController();
  const c = o.conventions;
  let controller: Controller | undefined;
  let leading = !o.leaderElect;
  const onChange = (kind: Parameters<Controller["keysOf"]>[0]) => ({
    onAdd: (obj: KubeObject) => leading && controller?.enqueue(controller.keysOf(kind, obj as Raw)),
    onUpdate: (_old: KubeObject, obj: KubeObject) =>
      leading && controller?.enqueue(controller.keysOf(kind, obj as Raw)),
    onDelete: (obj: KubeObject) => leading && controller?.enqueue(controller.keysOf(kind, obj as Raw)),
  });
  const onError = (path: string) => (e: unknown) =>
    log("warn", "watch failed; retrying", { resource: path, error: (e as Error).message });
  const informer = (path: string, kind: Parameters<Controller["keysOf"]>[0], fieldSelector?: string) =>
    new Informer(rest, path, {
      ...onChange(kind),
      fieldSelector,
      signal: stopInformers.signal,
      onError: onError(path),
    });

  const served = await discoverConsumers(rest, startupRetry(o.startupTimeoutMs, log, signal));
  log("info", "watching", {
    consumers: served.map((s) => `${s.kind}.${s.apiVersion}`),
    repository: o.repository,
    dryRun: o.dryRun,
    adopt: o.adopt,
  });
  const namespaces = informer("/api/v1/namespaces", "Namespace");
  const pvcs = informer("/api/v1/persistentvolumeclaims", "PersistentVolumeClaim", `metadata.name=${c.claimName}`);
  const pvs = informer("/api/v1/persistentvolumes", "PersistentVolume");
  const consumers = served.map((s) => ({ resource: s, cache: informer(s.path, "consumer") as Cache }));
  const all = [namespaces, pvcs, pvs, ...consumers.map((x) => x.cache as Informer)];
  const caches: Caches = { namespaces: namespaces as Cache, pvcs: pvcs as Cache, pvs: pvs as Cache, consumers };
  controller = new Controller(
    caches,
    {
      apply: (path, obj, opts) => rest.apply(path, obj as KubeObject, opts),
      remove: (path, opts) => rest.remove(path, opts),
      patch: (path, body, type) => rest.patch(path, body, type),
      create: (path, obj) => rest.create(path, obj as KubeObject),
    },
    { pv: (x) => mapPv(x as never), pvc: (x) => mapPvc(x as never) },
    o,
    log,
    metrics,
  );
  const ctl = controller;
  let synced = false;
  const syncedP = Promise.all(all.map((i) => i.synced)).then(() => {
    synced = true;
    ctl.updateGauges();
    log("info", "caches synced", {
      namespaces: namespaces.list().length,
      pvs: pvs.list().length,
      claims: pvcs.list().length,
    });
  });
  syncedP.catch(() => undefined);

  const health =
    o.port >= 0
      ? await serveHealth(metrics, { notReady: () => (synced ? undefined : "caches not synced yet") }, o.port)
      : undefined;
  if (health) log("info", "serving /healthz, /readyz and /metrics", { port: health.port });

  let work: AbortController | undefined;
  let working: Promise<void> = Promise.resolve();
  const startWork = () => {
    leading = true;
    metrics.set("kopiashare_leader", "1 while this replica is the leader.", 1);
    work = new AbortController();
    const w = work;
    working = syncedP
      .then(() => ctl.work(w.signal))
      .catch((e) => log("error", "workers stopped", { error: String(e) }));
  };
  const stopWork = async () => {
    leading = false;
    metrics.set("kopiashare_leader", "1 while this replica is the leader.", 0);
    work?.abort();
    await working;
  };

  const elector = o.leaderElect
    ? new LeaderElector(rest, {
        namespace: o.leaseNamespace,
        name: o.leaseName,
        identity: o.identity,
        leaseDurationMs: o.leaseDurationMs,
        renewDeadlineMs: o.renewDeadlineMs,
        retryPeriodMs: o.retryPeriodMs,
        onStartedLeading: () => {
          log("info", "became the leader", { lease: `${o.leaseNamespace}/${o.leaseName}`, identity: o.identity });
          startWork();
        },
        onStoppedLeading: () => {
          log("info", "stopped leading", { lease: `${o.leaseNamespace}/${o.leaseName}` });
          void stopWork();
        },
      })
    : undefined;
  const electing = new AbortController();
  let stopping = false;
  // An elector's run ends when leadership is lost (client-go's semantics); a replica that lost the lease
  // (a renew that failed for the renew deadline) campaigns again, as a standby, until it is stopped.
  const electorDone = elector
    ? (async () => {
        while (!stopping && !electing.signal.aborted) {
          await elector
            .run(electing.signal)
            .catch((e: Error) => log("warn", "leader election failed", { error: e.message }));
          if (!stopping && !electing.signal.aborted) log("info", "campaigning for the lease again");
        }
      })()
    : Promise.resolve();
  if (!elector) startWork();
  else metrics.set("kopiashare_leader", "1 while this replica is the leader.", 0);

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      log("info", "shutting down");
      stopping = true;
      await stopWork();
      ctl.stop();
      if (elector) {
        await elector.release().catch((e: Error) => log("warn", "could not release the lease", { error: e.message }));
        electing.abort();
        await electorDone.catch(() => undefined);
      }
      stopInformers.abort();
      await Promise.all(all.map((i) => i.done));
      await health?.close();
      log("info", "stopped");
    })();
    return stopped;
  };
  signal.addEventListener("abort", () => void stop(), { once: true });
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  void (async () => {
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await stop();
    finish();
  })();
  return {
    controller: ctl,
    metrics,
    port: health?.port,
    synced: syncedP,
    isLeader: () => leading,
    stop: async () => {
      await stop();
      finish();
    },
    done,
  };
}
