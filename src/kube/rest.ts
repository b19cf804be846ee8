/**
 * A small JSON REST client for the controller: plain node http/https with a keep-alive agent and
 * JSON bodies, no client-node typed API on the hot path (its deserialisation drops unknown fields
 * and is slow). Authentication: a kubeconfig the lean client understands (src/kube/lean.ts: a token,
 * client certificates, a CA) and the in-cluster service account (its token file re-read every minute,
 * as client-go does, so a rotated token keeps working) need no client-node at all, whose loading takes
 * about half a second of a controller's cold start; anything else (exec plugins, auth providers,
 * several KUBECONFIG files) goes through client-node's loader (openRest imports it then), and
 * `KubeConfig.applyToHTTPSOptions` runs before every request. Requests are not retried here: a failure is one RestError
 * (a KubeError with kubeErrorOf's message) carrying the HTTP code, the Status reason and message
 * and `retryAfterMs`, and the caller (informer, lease, controller) decides whether to retry.
 */

import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { homedir } from "node:os";
import path from "node:path";
import { createGunzip } from "node:zlib";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeError, kubeErrorOf, type Perm } from "./errors.ts";
import { retryAfterMs } from "./http.ts";
import { leanTarget } from "./lean.ts";

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Any Kubernetes object as plain JSON (unknown fields kept). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface ObjectList<T extends KubeObject = KubeObject> {
  items: T[];
  metadata: { resourceVersion: string };
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  /** The object; for BOOKMARK only metadata.resourceVersion; for ERROR a Status. */
  object: T;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  /** Aborts this request (besides the client's own signal). */
  signal?: AbortSignal;
  /** Overrides the client's request timeout for this request (0: none). */
  timeoutMs?: number;
}

export interface WatchOptions {
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  /** Server-side end of the stream; the client applies no request timeout to a watch. */
  timeoutSeconds?: number;
  labelSelector?: string;
  fieldSelector?: string;
  /** Ends the stream (the iteration finishes without an error). */
  signal?: AbortSignal;
}

export interface DeleteOptions extends RequestOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: "Orphan" | "Background" | "Foreground";
}

export interface ApplyOptions extends RequestOptions {
  fieldManager: string;
  force?: boolean;
}

export interface RestOptions {
  kubeconfig?: string;
  context?: string;
  env: Record<string, string | undefined>;
  /** An already loaded kubeconfig (tests; a controller that built its own); else loadKubeConfig(opts). */
  kubeConfig?: KubeConfig;
  /** Per-request timeout in ms for everything but watches (default 30 s; 0: none). */
  timeoutMs?: number;
  /** Upper bound of a Retry-After the error reports (default 60 s). */
  retryAfterMaxMs?: number;
  /** Aborts every request and watch of this client. */
  signal?: AbortSignal;
  /** Sent as User-Agent (the apiserver derives a default field manager from it). */
  userAgent?: string;
}

/** Every failure of a REST call: kubeErrorOf's kind and message, the HTTP code and Status, and Retry-After. */
export class RestError extends KubeError {
  constructor(
    base: KubeError,
    /** Retry-After of a 429/503 (capped), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(base.kind, base.message, base.perm, base.code, base.status);
    this.name = "RestError";
  }

  /** The Status reason ("NotFound", "Conflict", "Expired", ...), when the server sent one. */
  get reason(): string | undefined {
    return this.status?.reason;
  }
}

export interface RestClient {
  readonly server: string;
  readonly context: string;
  readonly timeoutMs: number;
  /** Requests sent (watches included) and, of them, writes (POST, PUT, PATCH, DELETE). */
  readonly stats: { requests: number; writes: number };
  get<T extends KubeObject = KubeObject>(path: string, query?: Query, opts?: RequestOptions): Promise<T>;
  /** GET of a collection; follows `continue` tokens when `limit` is given; fills in items' apiVersion/kind. */
  list<T extends KubeObject = KubeObject>(path: string, query?: Query, opts?: RequestOptions): Promise<ObjectList<T>>;
  create<T extends KubeObject = KubeObject>(path: string, obj: KubeObject, opts?: RequestOptions): Promise<T>;
  /** PUT: optimistic concurrency through the object's metadata.resourceVersion (409 Conflict when stale). */
  update<T extends KubeObject = KubeObject>(path: string, obj: KubeObject, opts?: RequestOptions): Promise<T>;
  /** Server-side apply: PATCH application/apply-patch+yaml with a JSON body (JSON is YAML). */
  apply<T extends KubeObject = KubeObject>(path: string, obj: KubeObject, opts: ApplyOptions): Promise<T>;
  patch<T extends KubeObject = KubeObject>(
    path: string,
    body: unknown,
    type: "merge" | "json",
    opts?: RequestOptions,
  ): Promise<T>;
  /** DELETE; returns the body the server sent (the object, or a Status). */
  remove(path: string, opts?: DeleteOptions): Promise<KubeObject>;
  watch<T extends KubeObject = KubeObject>(path: string, opts: WatchOptions): AsyncIterable<WatchEvent<T>>;
}

/** "get persistentvolumeclaims in media" from a method and an API path, for error messages. */
export function permOf(method: string, apiPath: string, watching = false): Perm {
  const segs = (apiPath.split("?")[0] ?? "").split("/").filter((s) => s !== "");
  let group = "";
  let rest: string[];
  if (segs[0] === "apis") {
    group = segs[1] ?? "";
    rest = segs.slice(3);
  } else rest = segs.slice(2);
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  // Discovery (/api, /apis, /apis/<group>/<version>): no resource, the path itself is what was read.
  if (rest.length === 0) return { verb: "get", resource: `discovery ${apiPath.split("?")[0]}` };
  const [plural = "", name, sub] = rest;
  const resource = `${sub ? `${plural}/${sub}` : plural}${group ? `.${group}` : ""}`;
  const verb =
    method === "GET"
      ? name
        ? "get"
        : watching
          ? "watch"
          : "list"
      : ({ POST: "create", PUT: "update", PATCH: "patch", DELETE: name ? "delete" : "deletecollection" }[method] ??
        method.toLowerCase());
  return namespace ? { verb, resource, namespace } : { verb, resource };
}

const CONTENT_TYPES = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  apply: "application/apply-patch+yaml",
} as const;

function queryString(q: Query | undefined): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** How each request is authenticated, and where it goes. */
interface Auth {
  server: string;
  context: string;
  apply(o: https.RequestOptions & { headers: Record<string, unknown> }): Promise<void>;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** client-go re-reads a service account token file at most this often. */
const TOKEN_REREAD_MS = 60_000;

function kubeconfigAuth(kc: KubeConfig): Auth {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeError("config", "the kubeconfig has no current cluster");
  return {
    server: cluster.server.replace(/\/+$/, ""),
    context: kc.getCurrentContext(),
    apply: (o) => kc.applyToHTTPSOptions(o),
  };
}

/** The lean kubeconfig (src/kube/lean.ts), or the in-cluster service account when there is no kubeconfig. */
function leanAuth(opts: RestOptions): Auth | undefined {
  const target = leanTarget({ kubeconfig: opts.kubeconfig, context: opts.context, env: opts.env });
  if (target) {
    return {
      server: target.server,
      context: target.context,
      apply: async (o) => {
        Object.assign(o, target.tls);
        if (target.token) o.headers.authorization = `Bearer ${target.token}`;
      },
    };
  }
  const env = opts.env;
  const home = env.HOME || env.USERPROFILE || homedir();
  // KOPIASHARE_SERVICEACCOUNT_DIR: where the tests put a service account (docs/testing.md).
  const saDir = env.KOPIASHARE_SERVICEACCOUNT_DIR || SA_DIR;
  const tokenFile = path.join(saDir, "token");
  if (opts.kubeconfig || env.KUBECONFIG || existsSync(path.join(home, ".kube", "config"))) return undefined;
  if (!env.KUBERNETES_SERVICE_HOST || !existsSync(tokenFile)) return undefined;
  const host = env.KUBERNETES_SERVICE_HOST.includes(":")
    ? `[${env.KUBERNETES_SERVICE_HOST}]`
    : env.KUBERNETES_SERVICE_HOST;
  let ca: Buffer | undefined;
  try {
    ca = readFileSync(path.join(saDir, "ca.crt"));
  } catch {
    return undefined; // client-node's loader says what is missing
  }
  let token = "";
  let readAt = 0;
  return {
    server: `https://${host}:${env.KUBERNETES_SERVICE_PORT || "443"}`,
    context: "in-cluster",
    apply: async (o) => {
      if (Date.now() - readAt > TOKEN_REREAD_MS) {
        token = readFileSync(tokenFile, "utf8").trim();
        readAt = Date.now();
      }
      o.ca = ca;
      o.headers.authorization = `Bearer ${token}`;
    },
  };
}

/**
 * The REST client for any kubeconfig: without client-node when the lean reader understands it (or in a pod),
 * else through client-node's loader, imported only then. Kubeconfig errors are KubeError("config").
 */
export async function openRest(opts: RestOptions): Promise<RestClient> {
  if (opts.kubeConfig || leanAuth(opts)) return connectRest(opts);
  const { limitExecPlugins, loadKubeConfig } = await import("./client.ts");
  const kc = loadKubeConfig(opts);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  limitExecPlugins(kc, timeoutMs > 0 ? timeoutMs : 30_000);
  return connectRest({ ...opts, kubeConfig: kc });
}

/**
 * The REST client, synchronously: for a loaded KubeConfig (`opts.kubeConfig`) or a kubeconfig the lean
 * reader understands (a token, client certificates; the in-cluster service account). Anything else needs
 * client-node's loader: use openRest.
 */
export function connectRest(opts: RestOptions): RestClient {
  const found = opts.kubeConfig ? kubeconfigAuth(opts.kubeConfig) : leanAuth(opts);
  if (!found) {
    throw new KubeError(
      "config",
      "this kubeconfig needs client-node's loader (an exec plugin, an auth provider, a token file, several files): connect with openRest",
    );
  }
  const auth: Auth = found;
  const { server, context } = auth;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const retryAfterMax = opts.retryAfterMaxMs ?? 60_000;
  const secure = server.startsWith("https:");
  // One keep-alive pool; node keys its sockets by the TLS options passed per request, so a rotated
  // client certificate opens new connections while unchanged ones are reused.
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: 64 })
    : new http.Agent({ keepAlive: true, maxSockets: 64 });
  const stats = { requests: 0, writes: 0 };
  const userAgent = opts.userAgent ?? "kopiashare-controller";

  const failure = (e: unknown, perm: Perm, aborted: boolean, retryAfter?: number): RestError => {
    const base = kubeErrorOf(e, perm, { server, context, timeoutMs, aborted });
    return e instanceof RestError ? e : new RestError(base, retryAfter);
  };

  /** Opens a request and resolves with the response once its headers arrived. */
  async function open(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
    const o: https.RequestOptions & { headers: Record<string, unknown> } = { headers: {} };
    await auth.apply(o);
    const h: Record<string, string> = { "user-agent": userAgent, ...headers };
    for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) h[k] = String(v);
    if (body !== undefined) h["content-length"] = String(Buffer.byteLength(body));
    const tls: https.RequestOptions = secure
      ? {
          ca: o.ca,
          cert: o.cert,
          key: o.key,
          pfx: o.pfx,
          passphrase: o.passphrase,
          servername: o.servername,
          ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
        }
      : {};
    stats.requests++;
    if (method !== "GET") stats.writes++;
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        url,
        { method, agent, headers: h, signal, ...(o.auth ? { auth: o.auth } : {}), ...tls },
        (res) => resolve({ res, req }),
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  function readAll(res: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const stream = res.headers["content-encoding"] === "gzip" ? res.pipe(createGunzip()) : res;
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", reject);
      res.on("error", reject);
      stream.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
  }

  async function request(
    method: string,
    apiPath: string,
    query: Query | undefined,
    body: string | undefined,
    contentType: string | undefined,
    ro: RequestOptions = {},
  ): Promise<unknown> {
    const perm = permOf(method, apiPath);
    const signals: AbortSignal[] = [];
    const limit = ro.timeoutMs ?? timeoutMs;
    if (limit > 0) signals.push(AbortSignal.timeout(limit));
    if (opts.signal) signals.push(opts.signal);
    if (ro.signal) signals.push(ro.signal);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    const aborted = () => opts.signal?.aborted === true || ro.signal?.aborted === true;
    const headers: Record<string, string> = { accept: "application/json", "accept-encoding": "gzip" };
    if (contentType) headers["content-type"] = contentType;
    let raw: Raw;
    try {
      const { res } = await open(method, `${server}${apiPath}${queryString(query)}`, headers, body, signal);
      raw = { status: res.statusCode ?? 0, headers: res.headers, text: await readAll(res) };
    } catch (e) {
      throw failure(e, perm, aborted());
    }
    if (raw.status < 200 || raw.status > 299) {
      const after = retryAfterMs(headerOf(raw.headers["retry-after"]));
      throw failure(
        { code: raw.status, body: raw.text },
        perm,
        false,
        after === undefined ? undefined : Math.min(after, retryAfterMax),
      );
    }
    try {
      return raw.text === "" ? {} : (JSON.parse(raw.text) as unknown);
    } catch (e) {
      throw failure(new Error(`invalid JSON from the server: ${(e as Error).message}`), perm, false);
    }
  }

  const json = (v: unknown) => JSON.stringify(v);

  async function* watch<T extends KubeObject>(apiPath: string, w: WatchOptions): AsyncGenerator<WatchEvent<T>> {
    const perm = permOf("GET", apiPath, true);
    const query: Query = {
      watch: 1,
      resourceVersion: w.resourceVersion,
      allowWatchBookmarks: w.allowWatchBookmarks ? true : undefined,
      timeoutSeconds: w.timeoutSeconds,
      labelSelector: w.labelSelector,
      fieldSelector: w.fieldSelector,
    };
    const signals = [opts.signal, w.signal].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    if (signal?.aborted) return;
    let opened: { res: http.IncomingMessage; req: http.ClientRequest };
    try {
      opened = await open(
        "GET",
        `${server}${apiPath}${queryString(query)}`,
        { accept: "application/json" },
        undefined,
        signal,
      );
    } catch (e) {
      if (signal?.aborted) return;
      throw failure(e, perm, false);
    }
    const { res, req } = opened;
    try {
      if ((res.statusCode ?? 0) !== 200) {
        const text = await readAll(res).catch(() => "");
        const after = retryAfterMs(headerOf(res.headers["retry-after"]));
        throw failure(
          { code: res.statusCode, body: text },
          perm,
          false,
          after === undefined ? undefined : Math.min(after, retryAfterMax),
        );
      }
      res.setEncoding("utf8");
      let buf = "";
      try {
        for await (const chunk of res as AsyncIterable<string>) {
          buf += chunk;
          for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (line) yield JSON.parse(line) as WatchEvent<T>;
          }
        }
      } catch (e) {
        // An abort, or the connection cut mid-stream (an apiserver restart): both end the stream.
        if (signal?.aborted || (e as { code?: string }).code === "ECONNRESET") return;
        throw failure(e, perm, false);
      }
      const rest = buf.trim();
      if (rest) yield JSON.parse(rest) as WatchEvent<T>;
    } finally {
      if (!res.complete) req.destroy();
    }
  }

  return {
    server,
    context,
    timeoutMs,
    stats,
    get: async <T extends KubeObject>(p: string, q?: Query, ro?: RequestOptions) =>
      (await request("GET", p, q, undefined, undefined, ro)) as T,
    async list<T extends KubeObject>(p: string, q: Query = {}, ro?: RequestOptions): Promise<ObjectList<T>> {
      const items: T[] = [];
      let rv = "";
      let next: string | undefined;
      do {
        const page = (await request("GET", p, { ...q, continue: next }, undefined, undefined, ro)) as {
          kind?: string;
          apiVersion?: string;
          items?: T[];
          metadata?: { resourceVersion?: string; continue?: string };
        };
        const kind = page.kind?.replace(/List$/, "");
        for (const it of page.items ?? []) {
          if (kind && it.kind === undefined) it.kind = kind;
          if (page.apiVersion && it.apiVersion === undefined) it.apiVersion = page.apiVersion;
          items.push(it);
        }
        if (!next) rv = page.metadata?.resourceVersion ?? "";
        next = q.limit ? page.metadata?.continue || undefined : undefined;
      } while (next);
      return { items, metadata: { resourceVersion: rv } };
    },
    create: async <T extends KubeObject>(p: string, obj: KubeObject, ro?: RequestOptions) =>
      (await request("POST", p, undefined, json(obj), "application/json", ro)) as T,
    update: async <T extends KubeObject>(p: string, obj: KubeObject, ro?: RequestOptions) =>
      (await request("PUT", p, undefined, json(obj), "application/json", ro)) as T,
    apply: async <T extends KubeObject>(p: string, obj: KubeObject, ao: ApplyOptions) =>
      (await request(
        "PATCH",
        p,
        { fieldManager: ao.fieldManager, force: ao.force ? true : undefined },
        json(obj),
        CONTENT_TYPES.apply,
        ao,
      )) as T,
    patch: async <T extends KubeObject>(p: string, body: unknown, type: "merge" | "json", ro?: RequestOptions) =>
      (await request("PATCH", p, undefined, json(body), CONTENT_TYPES[type], ro)) as T,
    async remove(p: string, d: DeleteOptions = {}): Promise<KubeObject> {
      const body: Record<string, unknown> = { kind: "DeleteOptions", apiVersion: "v1" };
      if (d.preconditions) body.preconditions = d.preconditions;
      if (d.propagationPolicy) body.propagationPolicy = d.propagationPolicy;
      return (await request("DELETE", p, undefined, json(body), "application/json", d)) as KubeObject;
    },
    watch: <T extends KubeObject>(p: string, w: WatchOptions) => watch<T>(p, w),
  };
}

function headerOf(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
