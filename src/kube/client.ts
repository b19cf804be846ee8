/**
 * The only place that builds a Kubernetes client. Loads the kubeconfig (--kubeconfig, KUBECONFIG,
 * ~/.kube/config, in-cluster), applies --context and --request-timeout, and sends every request
 * through a retrying HTTP layer: 429/500/502/503/504 and connection resets are retried with
 * exponential backoff (Retry-After honoured), a bounded number of times and within a total retry
 * budget that a Retry-After cannot exceed. Exec credential plugins are killed after the request timeout.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import {
  ApisApi,
  BatchV1Api,
  type Configuration,
  CoreV1Api,
  CustomObjectsApi,
  createConfiguration,
  type HttpLibrary,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  type RequestContext,
  type ResponseContext,
  ServerConfiguration,
  StorageV1Api,
  VersionApi,
  wrapHttpLibrary,
} from "@kubernetes/client-node";
import { parseDuration } from "./duration.ts";
import { KubeError, kubeErrorOf, type Perm } from "./errors.ts";

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

export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
  /** kubectl syntax: "0" (none), "30s", "1m", "500ms", or a plain number of seconds. */
  requestTimeout?: string;
  env: Record<string, string | undefined>;
  retry?: Partial<RetryPolicy>;
  /** Aborts every request in flight (Ctrl-C). */
  signal?: AbortSignal;
  /** How long an exec credential plugin may run (default: the request timeout, else 30 s). */
  execTimeoutMs?: number;
}

/** What the client is waiting for, for a progress line: the oldest request or retry still pending. */
export interface Waiting {
  what: string;
  sinceMs: number;
}

export interface Kube {
  server: string;
  context: string;
  core: CoreV1Api;
  storage: StorageV1Api;
  batch: BatchV1Api;
  custom: CustomObjectsApi;
  version: VersionApi;
  apis: ApisApi;
  /** Requests sent (every attempt counts). */
  stats: { requests: number; retries: number };
  /** Runs one API call; failures become KubeError naming `perm` and the server. */
  call<T>(perm: Perm, fn: () => Promise<T>): Promise<T>;
  timeoutMs: number;
  /**
   * What the client waits for: since the oldest pending request, and what (the newest retry's reason
   * when one is sleeping, else that request); undefined when idle.
   */
  waiting(): Waiting | undefined;
  /** Calls `f` whenever no request is pending any more; returns the unsubscribe function. */
  onIdle(f: () => void): () => void;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
/** Statuses that mean "not processed": safe to retry even for POST/PATCH. */
const NOT_PROCESSED = new Set([429, 503]);
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "DELETE", "PUT", "OPTIONS"]);

/** --request-timeout: "30s", "1m", "1h", "500ms", "0", "10" (seconds). Throws on anything else. */
export function parseTimeout(text: string): number {
  return parseDuration(text, "--request-timeout");
}

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

class RetryingHttp {
  /** Time spent (or committed) waiting to retry, across every request of this client. */
  private spent = 0;
  /** Requests in flight and retries sleeping; a retry's entry says why it waits. */
  readonly pending = new Set<Waiting & { retry?: boolean }>();
  /** Called whenever `pending` becomes empty (a progress line is erased before anything is printed). */
  readonly idle = new Set<() => void>();

  private done(w: Waiting): void {
    this.pending.delete(w);
    if (this.pending.size === 0) for (const f of this.idle) f();
  }

  constructor(
    private readonly inner: HttpLibrary,
    private readonly policy: RetryPolicy,
    private readonly stats: Kube["stats"],
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

  async send(req: RequestContext): Promise<ResponseContext> {
    const w: Waiting = { what: this.label(req), sinceMs: Date.now() };
    this.pending.add(w);
    try {
      return await this.attempts(req);
    } finally {
      this.done(w);
    }
  }

  private label(req: RequestContext): string {
    const url = req.getUrl();
    let p = url;
    try {
      p = new URL(url).pathname;
    } catch {}
    return `${req.getHttpMethod().toString()} ${p}`;
  }

  private async attempts(req: RequestContext): Promise<ResponseContext> {
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
      let res: ResponseContext;
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

function homeOf(env: Record<string, string | undefined>): string {
  return env.HOME || env.USERPROFILE || homedir();
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Loads the kubeconfig the way kubectl does: flag, else KUBECONFIG (merged, first wins), else ~/.kube/config, else in-cluster. */
export function loadKubeConfig(opts: Pick<ConnectOptions, "kubeconfig" | "context" | "env">): KubeConfig {
  const kc = new KubeConfig();
  const load = (file: string) => {
    try {
      kc.loadFromFile(file);
    } catch (e) {
      throw new KubeError("config", `cannot read kubeconfig ${file}: ${(e as Error).message.split("\n")[0]}`);
    }
  };
  if (opts.kubeconfig) {
    if (!existsSync(opts.kubeconfig)) throw new KubeError("config", `--kubeconfig ${opts.kubeconfig}: no such file`);
    load(opts.kubeconfig);
  } else if (opts.env.KUBECONFIG) {
    const files = opts.env.KUBECONFIG.split(path.delimiter).filter((f) => f && existsSync(f));
    if (files.length === 0) {
      throw new KubeError("config", `KUBECONFIG=${opts.env.KUBECONFIG}: none of these files exists`);
    }
    load(files[0] as string);
    for (const f of files.slice(1)) {
      const more = new KubeConfig();
      try {
        more.loadFromFile(f);
      } catch (e) {
        throw new KubeError("config", `cannot read kubeconfig ${f}: ${(e as Error).message.split("\n")[0]}`);
      }
      for (const x of more.clusters) if (!kc.getCluster(x.name)) kc.addCluster(x);
      for (const x of more.users) if (!kc.getUser(x.name)) kc.addUser(x);
      for (const x of more.contexts) if (!kc.getContextObject(x.name)) kc.addContext(x);
      if (!kc.currentContext && more.currentContext) kc.setCurrentContext(more.currentContext);
    }
  } else if (existsSync(path.join(homeOf(opts.env), ".kube", "config"))) {
    load(path.join(homeOf(opts.env), ".kube", "config"));
  } else if (opts.env.KUBERNETES_SERVICE_HOST && existsSync(path.join(SA_DIR, "token"))) {
    kc.loadFromCluster();
  } else {
    throw new KubeError(
      "config",
      "no kubeconfig: pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config (in a pod: mount a service account token)",
    );
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new KubeError(
        "config",
        `--context ${opts.context}: no such context (have: ${kc.contexts.map((c) => c.name).join(", ") || "none"})`,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeError(
      "config",
      kc.currentContext
        ? `the kubeconfig's context "${kc.currentContext}" names no cluster`
        : "the kubeconfig has no current context: pass --context NAME",
    );
  }
  return kc;
}

export function connect(opts: ConnectOptions): Kube {
  const kc = loadKubeConfig(opts);
  const cluster = kc.getCurrentCluster();
  const server = (cluster?.server ?? "").replace(/\/+$/, "");
  const timeoutMs = parseTimeout(opts.requestTimeout ?? "30s");
  const stats = { requests: 0, retries: 0 };
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  limitExecPlugins(kc, opts.execTimeoutMs ?? (timeoutMs > 0 ? timeoutMs : 30_000));
  const http = new RetryingHttp(new IsomorphicFetchHttpLibrary(), policy, stats, timeoutMs, opts.signal, server);
  const config: Configuration = createConfiguration({
    baseServer: new ServerConfiguration(server, {}),
    authMethods: { default: kc },
    httpApi: wrapHttpLibrary({ send: (r) => http.send(r) }),
  });
  const context = kc.getCurrentContext();
  return {
    server,
    context,
    core: new CoreV1Api(config),
    storage: new StorageV1Api(config),
    batch: new BatchV1Api(config),
    custom: new CustomObjectsApi(config),
    version: new VersionApi(config),
    apis: new ApisApi(config),
    stats,
    timeoutMs,
    waiting() {
      let oldest: Waiting | undefined;
      let retry: Waiting | undefined;
      for (const w of http.pending) {
        if (!oldest || w.sinceMs < oldest.sinceMs) oldest = w;
        if (w.retry && (!retry || w.sinceMs > retry.sinceMs)) retry = w;
      }
      return oldest && { what: (retry ?? oldest).what, sinceMs: oldest.sinceMs };
    },
    onIdle(f) {
      http.idle.add(f);
      return () => http.idle.delete(f);
    },
    async call<T>(perm: Perm, fn: () => Promise<T>): Promise<T> {
      try {
        return await fn();
      } catch (e) {
        throw kubeErrorOf(e, perm, { server, context, timeoutMs, aborted: opts.signal?.aborted === true });
      }
    },
  };
}

/**
 * client-node runs a kubeconfig's exec credential plugin (`users[].user.exec`) with no time limit, so
 * a plugin waiting for a browser login or a dead network hangs the command. Its ExecAuth spawns
 * through an `execFn` field: replace it with one that kills the plugin after `ms` and fails the
 * request with a KubeError naming the plugin.
 */
function limitExecPlugins(kc: KubeConfig, ms: number): void {
  const auths = (kc as unknown as { authenticators?: unknown[] }).authenticators ?? [];
  for (const a of auths) {
    const exec = a as { execFn?: unknown };
    if (typeof exec.execFn !== "function") continue;
    exec.execFn = (command: string, args: string[] | undefined, options: object): ChildProcess => {
      // Its own process group, so that a shell's children (which hold the pipes open) die with it.
      const child = spawn(command, args ?? [], { ...options, detached: process.platform !== "win32" });
      const timer = setTimeout(() => {
        child.emit(
          "error",
          new KubeError(
            "timeout",
            `the kubeconfig's exec credential plugin "${[command, ...(args ?? [])].join(" ")}" did not finish within ${ms / 1000}s (it may wait for a login; run it by hand, or raise --request-timeout)`,
          ),
        );
        try {
          if (child.pid && process.platform !== "win32") process.kill(-child.pid, "SIGKILL");
          else child.kill("SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, ms);
      timer.unref?.();
      child.once("close", () => clearTimeout(timer));
      return child;
    };
  }
}
