/**
 * The controller: informers fill caches, every change names the namespaces it concerns, workers take
 * namespaces from the queue, build each one's state from the caches, ask core/reconcile.ts for the plan
 * and carry it out (server-side apply with the controller's field manager, deletes with the uid as
 * precondition, the stale claimRef removed under a JSON-patch test). Only the leader works; a standby
 * keeps its caches warm and takes over when the lease passes to it.
 */
import { type Conventions, pvName } from "../core/config.ts";
import type { LivePv, LivePvc } from "../core/live.ts";
import { findRepositoryPv } from "../core/live.ts";
import { claimsNeeded } from "../core/live-model.ts";
import { CONTROLLER, MANAGED_BY } from "../core/names.ts";
import { type Action, type Meta, type NamespaceState, type Plan, planNamespace } from "../core/reconcile.ts";
import { volumeOfPv } from "../core/topology.ts";
import type { Log } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { WorkQueue } from "./queue.ts";

export type Raw = Record<string, unknown>;

/** A synced view of one resource, kept current by a list+watch informer. */
export interface Cache {
  list(): Raw[];
  /** "name" for cluster-scoped objects, "namespace/name" for namespaced ones. */
  get(key: string): Raw | undefined;
  byNamespace(ns: string): Raw[];
}

/** The writes the controller makes; errors carry `code` (HTTP status) and `retryAfterMs` when the server sent one. */
export interface Writer {
  apply(path: string, obj: Raw, o: { fieldManager: string; force: boolean }): Promise<unknown>;
  remove(path: string, o: { preconditions: { uid: string } }): Promise<unknown>;
  patch(path: string, body: unknown, type: "json"): Promise<unknown>;
  create(path: string, obj: Raw): Promise<unknown>;
}

/** A consumer resource to watch (when discovery says it is served). */
export interface ConsumerResource {
  kind: string;
  apiVersion: string;
  namespaced: boolean;
}

export interface Caches {
  namespaces: Cache;
  /** PVCs named `claimName` (a field selector: the controller reads no other claim). */
  pvcs: Cache;
  pvs: Cache;
  /** Consumers by kind (Volsync, Kopiur), and Kopiur's ClusterRepositories, as served. */
  consumers: { resource: ConsumerResource; cache: Cache }[];
}

export interface ControllerOptions {
  conventions: Conventions;
  /** The OPT_IN label value that names this repository. */
  repository: string;
  /** The repository PV's name; default: the one doctor and lint pick (`<pvPrefix><repositoryNamespace>` first). */
  repositoryPv?: string;
  adopt: boolean;
  dryRun: boolean;
  /** Parallel reconciles. */
  workers: number;
  /** Pod name, for Events' reportingInstance. */
  identity: string;
}

const meta = (o: Raw): Raw => (o.metadata && typeof o.metadata === "object" ? (o.metadata as Raw) : {});
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const labelsOf = (o: Raw): Record<string, string> => {
  const l = meta(o).labels;
  return l && typeof l === "object" ? (l as Record<string, string>) : {};
};
const metaOf = (o: Raw): Meta => ({
  uid: str(meta(o).uid) ?? "",
  labels: labelsOf(o),
  deleting: meta(o).deletionTimestamp !== undefined && meta(o).deletionTimestamp !== null,
});

/** The live PV/PVC facts (the same as kube/snapshot.ts maps for doctor), from a raw object. */
export interface Mappers {
  pv(o: Raw): LivePv;
  pvc(o: Raw): LivePvc;
}

export interface Outcome {
  plan: Plan;
  /** Writes made (or, with --dry-run, that would have been made). */
  writes: number;
}

export class Controller {
  readonly queue = new WorkQueue();
  /** The worker loops of the current (or last) term; a new term starts once they have ended. */
  private working: Promise<void> = Promise.resolve();
  private readonly stops: (() => void)[] = [];

  constructor(
    private readonly caches: Caches,
    private readonly writer: Writer,
    private readonly map: Mappers,
    private readonly o: ControllerOptions,
    private readonly log: Log,
    private readonly metrics: Metrics,
  ) {}

  // ---------------------------------------------------------------------------------------------
  // Which namespaces a change concerns

  /** The namespaces an object's change can alter the plan of. */
  keysOf(kind: "Namespace" | "PersistentVolumeClaim" | "PersistentVolume" | "consumer", obj: Raw): string[] {
    const c = this.o.conventions;
    const m = meta(obj);
    if (kind === "Namespace") return [str(m.name) ?? ""];
    if (kind === "PersistentVolumeClaim" || kind === "consumer") {
      const ns = str(m.namespace);
      // A cluster-scoped consumer (Kopiur ClusterRepository) or the repository's own claim: every namespace.
      if (ns === undefined || ns === c.repositoryNamespace) return this.allNamespaces();
      return [ns];
    }
    const name = str(m.name) ?? "";
    if (name === this.repositoryPvName()) return this.allNamespaces();
    const out: string[] = [];
    if (name.startsWith(c.pvPrefix)) out.push(name.slice(c.pvPrefix.length));
    const ref = (obj.spec as Raw | undefined)?.claimRef as Raw | undefined;
    const refNs = str(ref?.namespace);
    if (refNs && !out.includes(refNs)) out.push(refNs);
    return out;
  }

  /** Every namespace the controller may have to act on: those that exist, and those its PVs still name. */
  allNamespaces(): string[] {
    const out = new Set<string>();
    for (const n of this.caches.namespaces.list()) out.add(str(meta(n).name) ?? "");
    for (const pv of this.caches.pvs.list()) {
      const name = str(meta(pv).name) ?? "";
      if (name.startsWith(this.o.conventions.pvPrefix)) out.add(name.slice(this.o.conventions.pvPrefix.length));
    }
    out.delete("");
    return [...out].sort();
  }

  enqueue(keys: readonly string[]): void {
    for (const k of keys) if (k !== "") this.queue.add(k);
    this.metrics.set("kopiashare_queue_depth", "Namespaces waiting to be reconciled.", this.queue.depth);
  }

  // ---------------------------------------------------------------------------------------------
  // State and plan

  private repositoryPvName(): string {
    return this.o.repositoryPv ?? pvName(this.o.conventions, this.o.conventions.repositoryNamespace);
  }

  /** The repository PV's body: the named one, else the one doctor and lint pick. */
  repositoryPv(): Raw | undefined {
    const named = this.caches.pvs.get(this.repositoryPvName());
    if (named || this.o.repositoryPv) return named;
    const c = this.o.conventions;
    const pvs = this.caches.pvs.list();
    const pick = findRepositoryPv(
      pvs.map((p) => this.map.pv(p)),
      this.caches.pvcs.list().map((p) => this.map.pvc(p)),
      c,
    );
    return pick ? this.caches.pvs.get(pick) : undefined;
  }

  /** `repoPv`: the repository PV, found once per reconcile by the caller (plan). */
  stateOf(ns: string, repoPv: Raw | undefined = this.repositoryPv()): NamespaceState {
    const c = this.o.conventions;
    const nsObj = this.caches.namespaces.get(ns);
    const pvcObj = this.caches.pvcs.get(`${ns}/${c.claimName}`);
    const pvObj = this.caches.pvs.get(pvName(c, ns));
    const repoPvc = this.caches.pvcs.get(`${c.repositoryNamespace}/${c.claimName}`);
    // The objects transport.ts resolves on: this namespace's consumers, cluster-scoped ones (ClusterRepository),
    // this namespace's claim and PV, and the repository's pair (so the seed's layout is recognised).
    const consumers = new Set<Raw>();
    const objects: Raw[] = [];
    for (const { resource, cache } of this.caches.consumers) {
      const list = resource.namespaced ? cache.byNamespace(ns) : cache.list();
      for (const x of list) {
        const withKind = { apiVersion: resource.apiVersion, kind: resource.kind, ...x };
        objects.push(withKind);
        if (resource.namespaced) consumers.add(withKind);
      }
    }
    for (const [o, kind] of [
      [pvcObj, "PersistentVolumeClaim"],
      [pvObj, "PersistentVolume"],
      [repoPv, "PersistentVolume"],
      [repoPvc, "PersistentVolumeClaim"],
    ] as const) {
      if (o) objects.push({ apiVersion: "v1", kind, ...o });
    }
    const need: string[] = [];
    const other: { consumer: string; claim: string }[] = [];
    for (const [body, claim] of claimsNeeded(objects, consumers, c)) {
      if (claim === undefined) continue;
      const id = `${String(body.kind)} ${ns}/${str(meta(body).name)}`;
      if (claim === c.claimName) need.push(id);
      else other.push({ consumer: id, claim });
    }
    return {
      namespace: ns,
      ns: nsObj
        ? {
            name: ns,
            labels: labelsOf(nsObj),
            deleting: metaOf(nsObj).deleting || (nsObj.status as Raw | undefined)?.phase === "Terminating",
          }
        : undefined,
      consumers: need.sort(),
      otherClaims: other,
      pvc: pvcObj ? { ...this.map.pvc(pvcObj), meta: metaOf(pvcObj), body: pvcObj } : undefined,
      pv: pvObj ? { ...this.map.pv(pvObj), meta: metaOf(pvObj), body: pvObj } : undefined,
    };
  }

  plan(ns: string): Plan {
    const repo = this.repositoryPv();
    return planNamespace(this.stateOf(ns, repo), {
      conventions: this.o.conventions,
      repository: this.o.repository,
      volume: repo ? volumeOfPv(repo, `PV ${str(meta(repo).name)}`) : undefined,
      repositoryPv: repo ? str(meta(repo).name) : this.repositoryPvName(),
      adopt: this.o.adopt,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Carrying out a plan

  async reconcile(ns: string): Promise<Outcome> {
    const plan = this.plan(ns);
    for (const n of plan.notes) {
      this.log(n.level === "warning" ? "warn" : "info", n.what, { namespace: ns, ...(n.fix ? { fix: n.fix } : {}) });
    }
    if (this.o.dryRun) {
      for (const a of plan.actions) {
        this.log("info", `dry run: would ${describe(a, false)}`, {
          namespace: ns,
          action: a.op,
          kind: a.kind,
          name: a.name,
          why: a.why,
        });
      }
      return { plan, writes: plan.actions.length };
    }
    const done: Action[] = [];
    const run = async (a: Action) => {
      await this.execute(a);
      done.push(a);
      this.metrics.inc("kopiashare_writes_total", "Writes made to the API server.", { op: a.op, kind: a.kind });
      this.log("info", describe(a), { namespace: ns, action: a.op, kind: a.kind, name: a.name, why: a.why });
    };
    let failure: unknown;
    if (plan.actions.every((a) => a.op === "apply")) {
      // A PV and its claim are independent writes (the binder pairs them whichever comes first).
      const results = await Promise.allSettled(plan.actions.map(run));
      failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected")?.reason;
    } else {
      // A delete or a release is never planned beside another write it depends on, but keep the order anyway.
      for (const a of plan.actions) {
        try {
          await run(a);
        } catch (e) {
          failure = e;
          break;
        }
      }
    }
    if (done.length > 0) await this.event(plan, done);
    if (failure !== undefined) throw failure;
    return { plan, writes: done.length };
  }

  private async execute(a: Action): Promise<void> {
    const path =
      a.kind === "PersistentVolume"
        ? `/api/v1/persistentvolumes/${a.name}`
        : `/api/v1/namespaces/${a.namespace}/persistentvolumeclaims/${a.name}`;
    if (a.op === "apply") {
      await this.writer.apply(path, a.object, { fieldManager: CONTROLLER, force: a.force });
    } else if (a.op === "delete") {
      try {
        await this.writer.remove(path, { preconditions: { uid: a.uid } });
      } catch (e) {
        if ((e as { code?: number }).code !== 404) throw e; // gone already: what we wanted
      }
    } else {
      const live = this.caches.pvs.get(a.name);
      const ref = (live?.spec as Raw | undefined)?.claimRef as Raw | undefined;
      const ops: unknown[] = [
        { op: "test", path: "/spec/claimRef/uid", value: a.staleUid },
        { op: "remove", path: "/spec/claimRef/uid" },
      ];
      if (ref?.resourceVersion !== undefined) ops.push({ op: "remove", path: "/spec/claimRef/resourceVersion" });
      await this.writer.patch(path, ops, "json");
    }
  }

  /**
   * One Event on the namespace for the changes a reconcile made (not possible once the namespace is going
   * away: the API refuses new objects in a terminating namespace). A failed Event is logged, not retried.
   */
  private async event(plan: Plan, changes: Action[]): Promise<void> {
    const ns = plan.namespace;
    const nsObj = this.caches.namespaces.get(ns);
    if (!nsObj || metaOf(nsObj).deleting) return;
    const now = new Date().toISOString();
    const first = changes[0] as Action;
    const reason =
      first.op === "apply"
        ? first.why === "missing"
          ? "Created"
          : "Updated"
        : first.op === "delete"
          ? "Deleted"
          : "Released";
    try {
      await this.writer.create(`/api/v1/namespaces/${ns}/events`, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { generateName: "kopiashare-", namespace: ns },
        involvedObject: { apiVersion: "v1", kind: "Namespace", name: ns, uid: str(meta(nsObj).uid) },
        reason,
        message: `${changes.map((a) => `${describe(a)} (${a.why})`).join("; ")}: ${plan.why}`,
        type: "Normal",
        source: { component: CONTROLLER },
        reportingComponent: CONTROLLER,
        reportingInstance: this.o.identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
      this.metrics.inc("kopiashare_events_total", "Events recorded on namespaces.");
    } catch (e) {
      this.log("warn", "could not record an event", { namespace: ns, error: (e as Error).message });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Workers

  /** Runs `workers` loops until the signal aborts; every key failure is retried with backoff. */
  async work(signal: AbortSignal): Promise<void> {
    // Leadership lost then won back: the old loops may still finish a reconcile; wait for them, or the
    // new term would have no workers (an early return here once left a leader with none).
    const previous = this.working;
    let ended!: () => void;
    this.working = new Promise((r) => {
      ended = r;
    });
    try {
      await previous;
      if (!signal.aborted) await this.loops(signal);
    } finally {
      ended();
    }
  }

  private async loops(signal: AbortSignal): Promise<void> {
    const onAbort = () => {
      this.queue.clear();
      this.queue.interrupt();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    this.stops.push(() => signal.removeEventListener("abort", onAbort));
    this.enqueue(this.allNamespaces());
    const loops = Array.from({ length: Math.max(1, this.o.workers) }, () => this.loop(signal));
    await Promise.all(loops);
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // One listener for the whole loop (work's onAbort wakes a waiting take), not one per key.
      const key = await this.queue.take();
      if (key === undefined) return;
      if (signal.aborted) {
        this.queue.done(key);
        return;
      }
      await this.process(key);
      this.queue.done(key);
    }
  }

  async process(key: string): Promise<void> {
    try {
      const { writes } = await this.reconcile(key);
      this.queue.forget(key);
      this.metrics.inc("kopiashare_reconciles_total", "Reconciles of a namespace, by result.", { result: "ok" });
      if (writes > 0) this.scheduleGauges();
      this.metrics.set(
        "kopiashare_last_success_timestamp_seconds",
        "When a reconcile last succeeded.",
        Date.now() / 1000,
      );
    } catch (e) {
      const err = e as { code?: number; retryAfterMs?: number; message?: string };
      const delay = this.queue.retry(key, err.retryAfterMs ?? 0);
      this.metrics.inc("kopiashare_reconciles_total", "Reconciles of a namespace, by result.", { result: "error" });
      this.metrics.inc("kopiashare_reconcile_errors_total", "Reconciles that failed, by HTTP status (0: no answer).", {
        code: String(err.code ?? 0),
      });
      this.log("warn", "reconcile failed; retrying", {
        namespace: key,
        error: err.message ?? String(e),
        code: err.code,
        retryInMs: delay,
        attempt: this.queue.failuresOf(key),
      });
    }
    this.metrics.set("kopiashare_queue_depth", "Namespaces waiting to be reconciled.", this.queue.depth);
  }

  /** Namespaces whose PV or PVC the controller manages. */
  managed(): number {
    const ours = new Set<string>();
    const c = this.o.conventions;
    for (const p of this.caches.pvcs.list())
      if (labelsOf(p)[MANAGED_BY] === CONTROLLER) ours.add(str(meta(p).namespace) ?? "");
    for (const p of this.caches.pvs.list()) {
      const name = str(meta(p).name) ?? "";
      if (labelsOf(p)[MANAGED_BY] === CONTROLLER && name.startsWith(c.pvPrefix))
        ours.add(name.slice(c.pvPrefix.length));
    }
    return ours.size;
  }

  private gaugesDue: NodeJS.Timeout | undefined;

  /** Counting managed namespaces reads every cached PV and PVC: at most once a second, not per write. */
  private scheduleGauges(): void {
    if (this.gaugesDue) return;
    this.gaugesDue = setTimeout(() => {
      this.gaugesDue = undefined;
      this.updateGauges();
    }, 1000);
    this.gaugesDue.unref();
  }

  updateGauges(): void {
    this.metrics.set(
      "kopiashare_managed_namespaces",
      "Namespaces whose PV or PVC the controller manages.",
      this.managed(),
    );
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s();
    if (this.gaugesDue) clearTimeout(this.gaugesDue);
    this.queue.shutDown();
  }
}

/** "created PV x" (done), or "create PV x" (what --dry-run would do). */
export function describe(a: Action, done = true): string {
  const what = a.kind === "PersistentVolume" ? `PV ${a.name}` : `PVC ${a.namespace}/${a.name}`;
  const verb =
    a.op === "apply"
      ? a.why === "missing"
        ? "create"
        : a.force
          ? "adopt"
          : "update"
      : a.op === "delete"
        ? "delete"
        : "release";
  const tail = a.op === "release" ? ` from the deleted claim ${a.staleUid}` : "";
  return `${done ? (verb === "adopt" ? "adopted" : `${verb}d`) : verb} ${what}${tail}`;
}
