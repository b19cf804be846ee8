/**
 * The retrying HTTP layer every request goes through (src/kube/client.ts's typed client and
 * src/kube/lean.ts's raw reads): 429/500/502/503/504 and connection resets are retried with
 * exponential backoff (Retry-After honoured), a bounded number of times and within a total retry
 * budget that a Retry-After cannot exceed. It names no @kubernetes/client-node value (types only,
 * structurally), so the lean path loads without that library.
 */

import { parseDuration } from "./duration.ts";
import { KubeError, type Perm } from "./errors.ts";

export interface RetryPolicy {
  /** Total attempts per request, including the first. */
  attempts: number;
  /** First backoff delay; doubles each retry. */
  baseMs: number;
  /** Upper bound of one backoff delay (Retry-After is capped at retryAfterMaxMs). */
  maxMs: number;
  retryAfterMaxMs: number;
  /**
   * Total time all retries of one client may spend waiting (every sleep counts, parallel ones too).
   * A wait that does not fit, such as `Retry-After: 3600`, is not waited: the request fails at once.
   */
  budgetMs: number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  baseMs: 200,
  maxMs: 5_000,
  retryAfterMaxMs: 60_000,
  budgetMs: 30_000,
  sleep,
};

/** What the client is waiting for, for a progress line: the oldest request or retry still pending. */
export interface Waiting {
  what: string;
  sinceMs: number;
}

/** What src/kube/snapshot.ts needs for verify's reads; the typed client (Kube) has all of it too. */
export interface KubeReader {
  server: string;
  context: string;
  /** Requests sent (every attempt counts). */
  stats: { requests: number; retries: number };
  timeoutMs: number;
  /** Runs one API call; failures become KubeError naming `perm` and the server. */
  call<T>(perm: Perm, fn: () => Promise<T>): Promise<T>;
  /** GET `apiPath` (with `query`) as JSON; a non-2xx answer throws { code, body } as client-node does. */
  getJson(apiPath: string, query?: Record<string, string>): Promise<unknown>;
  waiting(): Waiting | undefined;
  onIdle(f: () => void): () => void;
}

/** The parts of a request the retry layer uses (client-node's RequestContext has them). */
export interface HttpRequest {
  getUrl(): string;
  getHttpMethod(): { toString(): string };
  getSignal(): AbortSignal | undefined;
  setSignal(signal: AbortSignal): void;
}

/** The parts of a response the retry layer uses (client-node's ResponseContext has them). */
export interface HttpResponse {
  httpStatusCode: number;
  headers: Record<string, string>;
  body: { binary(): Promise<unknown> };
}

/** Sends one request (client-node's HttpLibrary has this shape). */
export interface HttpSender<Q extends HttpRequest, R extends HttpResponse> {
  send(req: Q): { toPromise(): Promise<R> };
}

/** --request-timeout: "30s", "1m", "1h", "500ms", "0", "10" (seconds). Throws on anything else. */
export function parseTimeout(text: string): number {
  return parseDuration(text, "--request-timeout");
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
/** Statuses that mean "not processed": safe to retry even for POST/PATCH. */
const NOT_PROCESSED = new Set([429, 503]);
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "DELETE", "PUT", "OPTIONS"]);

/** Seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^[0-9]+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export function isConnectionReset(e: unknown): boolean {
  const err = e as { code?: string; errno?: string; message?: string; name?: string } | undefined;
  if (!err || err.name === "AbortError") return false;
  return (
    RESET_CODES.has(err.code ?? "") || RESET_CODES.has(err.errno ?? "") || /socket hang up/.test(err.message ?? "")
  );
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10}s`;

export class RetryingHttp<Q extends HttpRequest, R extends HttpResponse> {
  /** Time spent (or committed) waiting to retry, across every request of this client. */
  private spent = 0;
  /** Requests in flight and retries sleeping; a retry's entry says why it waits. */
  readonly pending = new Set<Waiting & { retry?: boolean }>();
  /** Called whenever `pending` becomes empty (a progress line is erased before anything is printed). */
  readonly idle = new Set<() => void>();

  /** The oldest pending request's age, with the newest sleeping retry's reason (else that request's). */
  waiting(): Waiting | undefined {
    let oldest: Waiting | undefined;
    let retry: Waiting | undefined;
    for (const w of this.pending) {
      if (!oldest || w.sinceMs < oldest.sinceMs) oldest = w;
      if (w.retry && (!retry || w.sinceMs > retry.sinceMs)) retry = w;
    }
    return oldest && { what: (retry ?? oldest).what, sinceMs: oldest.sinceMs };
  }

  onIdle(f: () => void): () => void {
    this.idle.add(f);
    return () => this.idle.delete(f);
  }

  private done(w: Waiting): void {
    this.pending.delete(w);
    if (this.pending.size === 0) for (const f of this.idle) f();
  }

  constructor(
    private readonly inner: HttpSender<Q, R>,
    private readonly policy: RetryPolicy,
    private readonly stats: { requests: number; retries: number },
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly server: string,
  ) {}

  /** Sleeps `ms` before a retry when the budget allows; false (no sleep) when it does not. */
  private async wait(ms: number, what: string): Promise<boolean> {
    if (this.spent + ms > this.policy.budgetMs) return false;
    this.spent += ms;
    const w = { what, sinceMs: Date.now(), retry: true };
    this.pending.add(w);
    try {
      await this.policy.sleep(ms, this.signal);
    } finally {
      this.done(w);
    }
    return true;
  }

  private overBudget(label: string, why: string, ms: number): KubeError {
    const left = Math.max(0, this.policy.budgetMs - this.spent);
    return new KubeError(
      "timeout",
      `the Kubernetes API server at ${this.server} answered ${label} with ${why}; waiting ${seconds(ms)} more is over the retry budget (${seconds(left)} of ${seconds(this.policy.budgetMs)} left; raise --retry-budget)`,
    );
  }

  async send(req: Q): Promise<R> {
    const w: Waiting = { what: this.label(req), sinceMs: Date.now() };
    this.pending.add(w);
    try {
      return await this.attempts(req);
    } finally {
      this.done(w);
    }
  }

  private label(req: Q): string {
    const url = req.getUrl();
    let p = url;
    try {
      p = new URL(url).pathname;
    } catch {}
    return `${req.getHttpMethod().toString()} ${p}`;
  }

  private async attempts(req: Q): Promise<R> {
    const method = req.getHttpMethod().toString();
    const own = req.getSignal();
    const label = this.label(req);
    for (let attempt = 1; ; attempt++) {
      const signals: AbortSignal[] = [];
      if (this.timeoutMs > 0) signals.push(AbortSignal.timeout(this.timeoutMs));
      if (this.signal) signals.push(this.signal);
      if (own) signals.push(own);
      if (signals.length > 0)
        req.setSignal(signals.length === 1 ? (signals[0] as AbortSignal) : AbortSignal.any(signals));
      this.stats.requests++;
      const last = attempt >= this.policy.attempts;
      let res: R;
      try {
        res = await this.inner.send(req).toPromise();
      } catch (e) {
        if (this.signal?.aborted) throw this.signal.reason ?? e;
        if (!last && isConnectionReset(e) && IDEMPOTENT.has(method)) {
          if (!(await this.wait(this.backoff(attempt), `${label}: retrying after a connection reset`))) throw e;
          this.stats.retries++;
          continue;
        }
        throw e;
      }
      const status = res.httpStatusCode;
      if (!last && RETRY_STATUS.has(status) && (IDEMPOTENT.has(method) || NOT_PROCESSED.has(status))) {
        const after = retryAfterMs(res.headers["retry-after"]);
        const ms = after !== undefined ? Math.min(after, this.policy.retryAfterMaxMs) : this.backoff(attempt);
        if (after !== undefined && after > this.policy.budgetMs - this.spent) {
          // The server asks for more than is left: say so now instead of waiting (or of waiting in vain).
          await res.body.binary().catch(() => undefined);
          throw this.overBudget(label, `${status} and Retry-After: ${res.headers["retry-after"]}`, after);
        }
        if (this.spent + ms > this.policy.budgetMs) return res;
        await res.body.binary().catch(() => undefined);
        const why = after !== undefined ? `Retry-After ${seconds(ms)}` : `backoff ${seconds(ms)}`;
        await this.wait(ms, `${label}: retrying after HTTP ${status} (${why})`);
        this.stats.retries++;
        continue;
      }
      return res;
    }
  }

  private backoff(attempt: number): number {
    return Math.min(this.policy.baseMs * 2 ** (attempt - 1), this.policy.maxMs);
  }
}
