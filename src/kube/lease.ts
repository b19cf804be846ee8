/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does it,
 * so that two controller replicas never reconcile at once:
 *
 * - acquire: GET the Lease; create it when absent; take it when its holder is empty, is us, or has
 *   not renewed for leaseDurationSeconds **by our own clock** (the time we first saw its current
 *   record, never the holder's timestamps, so clock skew between nodes does not matter);
 * - every write is a PUT of the object built here from the last one read (all its fields kept,
 *   the spec's election fields replaced) with its metadata.resourceVersion: a 409 means another
 *   replica wrote first, and we have not won;
 * - the leader renews every retryPeriod; when no renew succeeds within renewDeadline it stops
 *   leading (the signal given to onStartedLeading aborts, then onStoppedLeading runs) before the
 *   lease can expire for the others;
 * - release() (graceful shutdown) writes an empty holderIdentity so another replica takes over at
 *   its next retry instead of after leaseDuration.
 *
 * As in client-go, run() returns once leadership is lost (or its signal aborts): a process that
 * wants to campaign again calls run() again.
 */
import { sleep } from "./http.ts";
import type { KubeObject, RestClient } from "./rest.ts";
import { RestError } from "./rest.ts";

export interface LeaderElectionOptions {
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This replica's identity (pod name, or hostname + random suffix); must differ per replica. */
  identity: string;
  /** How long a lease is valid after its last renew, for the others (default 15 s; whole seconds on the wire). */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a renew before it gives up leading (default 10 s). */
  renewDeadlineMs?: number;
  /** Between attempts to acquire or renew (default 2 s; acquire attempts are jittered by up to 1.2x more). */
  retryPeriodMs?: number;
  /** Runs when this replica becomes leader; `signal` aborts when it stops leading. Not awaited. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  /** The observed holder changed (also to this replica; "" after a release). */
  onNewLeader?(identity: string): void;
  /** A failed request (other than a lost race) or a throwing callback. */
  onError?(e: unknown): void;
  /** Release the lease when run()'s signal aborts while leading (default false, as client-go). */
  releaseOnCancel?: boolean;
  /** The local clock (tests). */
  now?: () => number;
}

/** The election fields of a Lease's spec. */
export interface LeaderElectionRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

export interface ElectorStats {
  /** Acquire or renew attempts (each may send a GET and a PUT/POST). */
  attempts: number;
  /** Times this replica became leader. */
  acquired: number;
  renewals: number;
  /** Writes that lost a race (409 AlreadyExists / Conflict). */
  conflicts: number;
  /** Times leadership ended without release(): the renew deadline passed. */
  lost: number;
}

/** RFC 3339 with microseconds, the wire format of metav1.MicroTime. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

const num = (v: unknown, d: number): number => (typeof v === "number" && Number.isFinite(v) ? v : d);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export function recordOf(lease: KubeObject): LeaderElectionRecord {
  const spec = (lease.spec ?? {}) as Record<string, unknown>;
  return {
    holderIdentity: str(spec.holderIdentity) ?? "",
    leaseDurationSeconds: num(spec.leaseDurationSeconds, 0),
    acquireTime: str(spec.acquireTime),
    renewTime: str(spec.renewTime),
    leaseTransitions: num(spec.leaseTransitions, 0),
  };
}

const sameRecord = (a: LeaderElectionRecord | undefined, b: LeaderElectionRecord) =>
  !!a &&
  a.holderIdentity === b.holderIdentity &&
  a.leaseDurationSeconds === b.leaseDurationSeconds &&
  a.acquireTime === b.acquireTime &&
  a.renewTime === b.renewTime &&
  a.leaseTransitions === b.leaseTransitions;

const lostRace = (e: unknown) => e instanceof RestError && e.code === 409;

export class LeaderElector {
  readonly stats: ElectorStats = { attempts: 0, acquired: 0, renewals: 0, conflicts: 0, lost: 0 };
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  /** The last Lease this replica read or wrote (the base of its next PUT). */
  private lease: KubeObject | undefined;
  private observed: LeaderElectionRecord | undefined;
  private observedAt = 0;
  private leading: AbortController | undefined;
  private releasing = false;
  /** The attempt in flight, which release() waits for so that a late renew cannot undo it. */
  private inflight: Promise<unknown> = Promise.resolve();
  /** Wakes run() from its sleeps when release() ends leadership. */
  private wake = new AbortController();

  constructor(
    private readonly rest: RestClient,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    this.now = opts.now ?? Date.now;
    if (!opts.identity) throw new Error("leader election: identity must not be empty");
    if (this.leaseMs <= this.renewDeadlineMs) {
      throw new Error("leader election: the lease duration must be greater than the renew deadline");
    }
    if (this.renewDeadlineMs <= 1.2 * this.retryMs) {
      throw new Error("leader election: the renew deadline must be greater than 1.2 x the retry period");
    }
  }

  private get collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases`;
  }

  private get path(): string {
    return `${this.collection}/${this.opts.name}`;
  }

  /** Whole seconds on the wire (an int32 there); at least 1. */
  private get leaseSeconds(): number {
    return Math.max(1, Math.ceil(this.leaseMs / 1000));
  }

  get isLeader(): boolean {
    return this.leading !== undefined;
  }

  /** The holder in the last record seen ("" when released, undefined before the first read). */
  get leader(): string | undefined {
    return this.observed?.holderIdentity;
  }

  /** The Lease as last read or written by this elector. */
  get lastLease(): KubeObject | undefined {
    return this.lease;
  }

  /**
   * Campaigns until this replica leads, then renews until it cannot (or `signal` aborts, or
   * release() is called). Resolves when it no longer leads.
   */
  async run(signal?: AbortSignal): Promise<void> {
    this.releasing = false;
    this.wake = new AbortController();
    const stop = signal ? AbortSignal.any([signal, this.wake.signal]) : this.wake.signal;
    while (!stop.aborted) {
      if (await this.attempt(stop, this.renewDeadlineMs)) break;
      await sleep(this.retryMs * (1 + Math.random() * 1.2), stop).catch(() => undefined);
    }
    if (stop.aborted) return;
    this.startLeading();
    while (!stop.aborted && this.leading) {
      await sleep(this.retryMs, stop).catch(() => undefined);
      if (stop.aborted || !this.leading) break;
      if (!(await this.renew(stop))) {
        if (this.leading && !this.releasing) this.stats.lost++;
        break;
      }
    }
    if (signal?.aborted && this.opts.releaseOnCancel && this.leading) await this.release();
    this.stopLeading();
  }

  /** Gives the lease up (empty holderIdentity) if this replica holds it; true when the lease was released. */
  async release(): Promise<boolean> {
    this.releasing = true;
    await this.inflight.catch(() => undefined);
    if (!this.lease || this.observed?.holderIdentity !== this.opts.identity) {
      this.stopLeading();
      return false;
    }
    const now = this.now();
    const record: LeaderElectionRecord = {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: this.observed.leaseTransitions,
    };
    let ok = false;
    try {
      this.lease = await this.rest.update(this.path, this.build(this.lease, record), {
        timeoutMs: this.renewDeadlineMs,
      });
      this.observe(record, now);
      ok = true;
    } catch (e) {
      if (lostRace(e)) this.stats.conflicts++;
      else this.report(e);
    }
    this.stopLeading();
    return ok;
  }

  private startLeading(): void {
    const lead = new AbortController();
    this.leading = lead;
    this.stats.acquired++;
    try {
      Promise.resolve(this.opts.onStartedLeading(lead.signal)).catch((e: unknown) => this.report(e));
    } catch (e) {
      this.report(e);
    }
  }

  private stopLeading(): void {
    const lead = this.leading;
    if (!lead) return;
    this.leading = undefined;
    this.wake.abort();
    lead.abort();
    try {
      this.opts.onStoppedLeading?.();
    } catch (e) {
      this.report(e);
    }
  }

  /** Retries a renew every retryPeriod until one succeeds or renewDeadline has passed. */
  private async renew(stop: AbortSignal): Promise<boolean> {
    const deadline = this.now() + this.renewDeadlineMs;
    for (;;) {
      const left = deadline - this.now();
      if (left <= 0 || stop.aborted || this.releasing) return false;
      if (await this.attempt(stop, left)) {
        this.stats.renewals++;
        return true;
      }
      const rest = deadline - this.now();
      if (rest <= 0) return false;
      await sleep(Math.min(this.retryMs, rest), stop).catch(() => undefined);
    }
  }

  private attempt(stop: AbortSignal, timeoutMs: number): Promise<boolean> {
    if (this.releasing) return Promise.resolve(false);
    const p = this.tryAcquireOrRenew(stop, Math.max(1, timeoutMs));
    this.inflight = p;
    return p;
  }

  private observe(record: LeaderElectionRecord, at: number): void {
    if (sameRecord(this.observed, record)) return;
    const changed = this.observed?.holderIdentity !== record.holderIdentity;
    this.observed = record;
    this.observedAt = at;
    if (changed) {
      try {
        this.opts.onNewLeader?.(record.holderIdentity);
      } catch (e) {
        this.report(e);
      }
    }
  }

  private build(base: KubeObject | undefined, record: LeaderElectionRecord): KubeObject {
    const spec: Record<string, unknown> = { ...((base?.spec ?? {}) as Record<string, unknown>) };
    spec.holderIdentity = record.holderIdentity;
    spec.leaseDurationSeconds = record.leaseDurationSeconds;
    spec.leaseTransitions = record.leaseTransitions;
    if (record.acquireTime) spec.acquireTime = record.acquireTime;
    if (record.renewTime) spec.renewTime = record.renewTime;
    return {
      ...(base ?? {}),
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: base ? { ...base.metadata } : { name: this.opts.name, namespace: this.opts.namespace },
      spec,
    };
  }

  /** One step of client-go's tryAcquireOrRenew: true when this replica holds the lease afterwards. */
  private async tryAcquireOrRenew(stop: AbortSignal, timeoutMs: number): Promise<boolean> {
    this.stats.attempts++;
    const ro = { signal: stop, timeoutMs };
    const now = this.now();
    const mine = (old: LeaderElectionRecord): LeaderElectionRecord => {
      const held = old.holderIdentity === this.opts.identity;
      return {
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: this.leaseSeconds,
        acquireTime: held && old.acquireTime ? old.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: held ? old.leaseTransitions : old.leaseTransitions + 1,
      };
    };
    /** Writes `record` (PUT on `base`, else POST); false when another replica won the race or the write failed. */
    const write = async (base: KubeObject | undefined, record: LeaderElectionRecord): Promise<boolean> => {
      try {
        const obj = this.build(base, record);
        this.lease = base
          ? await this.rest.update(this.path, obj, ro)
          : await this.rest.create(this.collection, obj, ro);
        this.observe(record, now);
        return true;
      } catch (e) {
        if (stop.aborted) return false;
        if (lostRace(e)) this.stats.conflicts++;
        else this.report(e);
        return false;
      }
    };
    // Fast path: the leader renews on top of the Lease it wrote last, without a GET; on failure it
    // reads what is there now.
    if (this.leading && this.lease && this.observed?.holderIdentity === this.opts.identity) {
      if (await write(this.lease, mine(this.observed))) return true;
      if (stop.aborted) return false;
    }
    let current: KubeObject;
    try {
      current = await this.rest.get(this.path, undefined, ro);
    } catch (e) {
      if (stop.aborted) return false;
      if (!(e instanceof RestError && e.code === 404)) {
        this.report(e);
        return false;
      }
      return write(undefined, {
        ...mine({ holderIdentity: "", leaseDurationSeconds: 0, leaseTransitions: 0 }),
        leaseTransitions: 0,
      });
    }
    this.lease = current;
    const old = recordOf(current);
    this.observe(old, now);
    const valid = this.observedAt + old.leaseDurationSeconds * 1000 > now;
    if (old.holderIdentity !== "" && old.holderIdentity !== this.opts.identity && valid) return false;
    return write(current, mine(old));
  }

  private report(e: unknown): void {
    try {
      this.opts.onError?.(e);
    } catch {}
  }
}
