/**
 * The work queue of a controller, as client-go's: a key waits at most once (adding it again while it waits
 * is a no-op), a key being processed is never handed out twice (added meanwhile, it comes back once its
 * turn ends), failures come back after a per-key exponential delay, and `done` forgets the failures of a
 * key that succeeded.
 */
export interface QueueOptions {
  /** First retry delay; doubles per failure of the same key. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue {
  private readonly waiting: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Added while being processed: queued again when done. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly takers: ((key: string | undefined) => void)[] = [];
  private closed = false;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;

  constructor(o: QueueOptions = {}) {
    this.baseDelayMs = o.baseDelayMs ?? 200;
    this.maxDelayMs = o.maxDelayMs ?? 60_000;
  }

  /** Keys waiting (not those being processed or waiting for a retry delay). */
  get depth(): number {
    return this.waiting.length;
  }

  get busy(): number {
    return this.processing.size;
  }

  /** Keys waiting for their retry delay. */
  get delayed(): number {
    return this.timers.size;
  }

  add(key: string): void {
    if (this.closed) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const timer = this.timers.get(key);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(key);
    }
    this.queued.add(key);
    const taker = this.takers.shift();
    if (taker) {
      this.queued.delete(key);
      this.processing.add(key);
      taker(key);
    } else this.waiting.push(key);
  }

  /** Adds the key after `ms` (a Retry-After, or the key's backoff), unless it is added sooner. */
  addAfter(key: string, ms: number): void {
    if (this.closed || this.queued.has(key) || this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  /** The key failed: it comes back after its backoff (or `atLeastMs`, a server's Retry-After). Returns the delay. */
  retry(key: string, atLeastMs = 0): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (n - 1));
    const delay = Math.max(backoff, Math.min(atLeastMs, this.maxDelayMs));
    this.addAfter(key, delay);
    return delay;
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key; waits for one. undefined once the queue is shut down. */
  take(): Promise<string | undefined> {
    const key = this.waiting.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** The key's turn is over: if it was added meanwhile, it waits again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** No new keys; takers get undefined once the waiting keys are gone (pending retries are dropped). */
  shutDown(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    if (this.waiting.length === 0) for (const taker of this.takers.splice(0)) taker(undefined);
  }

  /** Wakes every waiting taker with undefined; the queue stays open (a worker loop that must stop). */
  interrupt(): void {
    for (const taker of this.takers.splice(0)) taker(undefined);
  }

  /** Drops waiting keys too (leadership lost: another replica does the work now). */
  clear(): void {
    for (const k of this.waiting.splice(0)) this.queued.delete(k);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.dirty.clear();
  }
}
