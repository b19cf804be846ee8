/**
 * The typed Kubernetes client (src/kube/lean.ts is the untyped one verify uses when it can). Loads the kubeconfig (--kubeconfig, KUBECONFIG,
 * ~/.kube/config, in-cluster), applies --context and --request-timeout, and sends every request
 * through the retrying HTTP layer of src/kube/http.ts: 429/500/502/503/504 and connection resets are retried with
 * exponential backoff (Retry-After honoured), a bounded number of times and within a total retry
 * budget that a Retry-After cannot exceed. Exec credential plugins are killed after the request timeout.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import {
  ApiException,
  ApisApi,
  BatchV1Api,
  type Configuration,
  CoreV1Api,
  CustomObjectsApi,
  createConfiguration,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  type RequestContext,
  type ResponseContext,
  ServerConfiguration,
  StorageV1Api,
  VersionApi,
  wrapHttpLibrary,
} from "@kubernetes/client-node";
import { KubeError, kubeErrorOf, type Perm } from "./errors.ts";
import { DEFAULT_RETRY, type KubeReader, parseTimeout, RetryingHttp, type RetryPolicy } from "./http.ts";

export {
  DEFAULT_RETRY,
  isConnectionReset,
  type KubeReader,
  parseTimeout,
  type RetryPolicy,
  retryAfterMs,
  sleep,
  type Waiting,
} from "./http.ts";

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

/** The typed client: everything a KubeReader has, and client-node's API classes. */
export interface Kube extends KubeReader {
  core: CoreV1Api;
  storage: StorageV1Api;
  batch: BatchV1Api;
  custom: CustomObjectsApi;
  version: VersionApi;
  apis: ApisApi;
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
  const http = new RetryingHttp<RequestContext, ResponseContext>(
    new IsomorphicFetchHttpLibrary(),
    policy,
    stats,
    timeoutMs,
    opts.signal,
    server,
  );
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
    async getJson(apiPath: string, query?: Record<string, string>): Promise<unknown> {
      // What a generated list method sends, without its typed deserialisation (slow on large lists).
      const req = config.baseServer.makeRequestContext(apiPath, HttpMethod.GET);
      req.setHeaderParam("Accept", "application/json, */*;q=0.8");
      for (const [k, v] of Object.entries(query ?? {})) req.setQueryParam(k, v);
      await config.authMethods.default?.applySecurityAuthentication(req);
      const res = await config.httpApi.send(req).toPromise();
      const text = await res.body.text();
      if (res.httpStatusCode < 200 || res.httpStatusCode > 299) {
        throw new ApiException(res.httpStatusCode, "Unknown API Status Code!", text, res.headers);
      }
      return JSON.parse(text) as unknown;
    },
    waiting: () => http.waiting(),
    onIdle: (f) => http.onIdle(f),
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
export function limitExecPlugins(kc: KubeConfig, ms: number): void {
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
