// Fault injection: failing the next requests and dropping open watch streams.

export type FaultKind = 429 | 500 | 503 | "ECONNRESET";

export interface FaultOptions {
  retryAfterSeconds?: number;
  /** Only requests for which this returns true consume the fault. */
  match?: (r: { method: string; path: string; query: Record<string, string> }) => boolean;
}

interface PendingFault extends FaultOptions {
  kind: FaultKind;
  remaining: number;
}

export class Faults {
  private readonly queue: PendingFault[] = [];
  private readonly watchClosers = new Set<() => void>();

  /** The next `k` (matching) requests fail with `kind`. Calls queue up in order. */
  failNext(k: number, kind: FaultKind, opts: FaultOptions = {}): void {
    if (k > 0) this.queue.push({ ...opts, kind, remaining: k });
  }

  /** Ends every open watch stream, as an apiserver restart or a proxy timeout would. */
  dropWatches(): void {
    for (const close of [...this.watchClosers]) close();
    this.watchClosers.clear();
  }

  clear(): void {
    this.queue.length = 0;
  }

  /** Pending fault count (all entries). */
  get pending(): number {
    return this.queue.reduce((n, f) => n + f.remaining, 0);
  }

  /** @internal Takes the fault for this request, if any. */
  take(r: { method: string; path: string; query: Record<string, string> }): PendingFault | undefined {
    const i = this.queue.findIndex((f) => !f.match || f.match(r));
    if (i < 0) return undefined;
    const f = this.queue[i];
    if (!f) return undefined;
    f.remaining--;
    if (f.remaining <= 0) this.queue.splice(i, 1);
    return f;
  }

  /** @internal Registers an open watch; returns the unregister function. */
  trackWatch(close: () => void): () => void {
    this.watchClosers.add(close);
    return () => this.watchClosers.delete(close);
  }
}
