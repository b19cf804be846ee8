/**
 * The lean client: GET requests answered as plain JSON, without @kubernetes/client-node, whose
 * loading alone (about 1,300 modules) costs verify more than its whole floor, `kubectl get pv,pvc -A`
 * (docs/benchmarks.md, ## verify). It serves only the kubeconfigs whose every setting it understands:
 * one file, its context's cluster with a server and at most a CA, insecure-skip-tls-verify and
 * tls-server-name; its user with at most a token and a client certificate and key. Anything else
 * (exec plugins, auth providers, token files, basic auth, impersonation, proxy-url, several KUBECONFIG
 * files, in-cluster config, a kubeconfig that is missing, unreadable or invalid, plain http without
 * insecure-skip-tls-verify) gets undefined from connectLean, and the caller uses src/kube/client.ts,
 * which also produces every error message about a kubeconfig: the lean path never decides one.
 * Requests go through the same retrying layer (src/kube/http.ts) with the same statistics, timeout
 * and error mapping (kubeErrorOf) as the typed client.
 */
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { homedir } from "node:os";
import path from "node:path";
import { createGunzip } from "node:zlib";
import { load as loadYaml } from "js-yaml";
import { kubeErrorOf, type Perm } from "./errors.ts";
import {
  DEFAULT_RETRY,
  type HttpRequest,
  type HttpResponse,
  type KubeReader,
  parseTimeout,
  RetryingHttp,
  type RetryPolicy,
} from "./http.ts";

export type { KubeReader } from "./http.ts";

export interface LeanOptions {
  kubeconfig?: string;
  context?: string;
  requestTimeout?: string;
  env: Record<string, string | undefined>;
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === "string" && v !== "";

const CLUSTER_KEYS = new Set([
  "server",
  "certificate-authority",
  "certificate-authority-data",
  "insecure-skip-tls-verify",
  "tls-server-name",
]);
const USER_KEYS = new Set(["token", "client-certificate", "client-certificate-data", "client-key", "client-key-data"]);

interface Target {
  server: string;
  context: string;
  tls: https.AgentOptions;
  token?: string;
}

/** The one kubeconfig file kubectl would read, when it is a single existing file (else undefined). */
function kubeconfigFile(opts: LeanOptions): string | undefined {
  if (opts.kubeconfig) return existsSync(opts.kubeconfig) ? opts.kubeconfig : undefined;
  if (opts.env.KUBECONFIG) {
    const files = opts.env.KUBECONFIG.split(path.delimiter).filter((f) => f && existsSync(f));
    return files.length === 1 ? files[0] : undefined;
  }
  const home = opts.env.HOME || opts.env.USERPROFILE || homedir();
  const file = path.join(home, ".kube", "config");
  return existsSync(file) ? file : undefined;
}

/** The named entry of a kubeconfig list (clusters, users, contexts), when exactly one has that name. */
function entry(list: unknown, name: string, field: string): Raw | undefined {
  if (!Array.isArray(list)) return undefined;
  // client-node rejects a list with an unnamed entry or one without its body: leave those to it.
  if (!list.every((e) => isObj(e) && isStr(e.name) && isObj(e[field]))) return undefined;
  const found = list.filter((e) => (e as Raw).name === name);
  return found.length === 1 ? ((found[0] as Raw)[field] as Raw) : undefined;
}

/** A file (relative to the kubeconfig's directory) or base64 data, as client-node reads them. */
function fileOrData(dir: string, file: unknown, data: unknown): Buffer | undefined | null {
  if (isStr(file)) {
    const abs = path.isAbsolute(file) ? file : path.join(dir, file);
    try {
      return readFileSync(abs);
    } catch {
      return null;
    }
  }
  if (isStr(data)) return Buffer.from(data, "base64");
  return undefined;
}

/** Where and how to connect, when the lean client understands the whole kubeconfig; else undefined. */
export function leanTarget(opts: LeanOptions): Target | undefined {
  const file = kubeconfigFile(opts);
  if (!file) return undefined;
  let doc: unknown;
  try {
    doc = loadYaml(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  if (!isObj(doc)) return undefined;
  const name = opts.context ?? doc["current-context"];
  if (!isStr(name)) return undefined;
  const context = entry(doc.contexts, name, "context");
  if (!context || !isStr(context.cluster) || !isStr(context.user)) return undefined;
  const cluster = entry(doc.clusters, context.cluster, "cluster");
  const user = entry(doc.users, context.user, "user");
  if (!cluster || !user) return undefined;
  if (!Object.keys(cluster).every((k) => CLUSTER_KEYS.has(k))) return undefined;
  if (!Object.keys(user).every((k) => USER_KEYS.has(k))) return undefined;
  if (!isStr(cluster.server)) return undefined;
  const server = cluster.server.replace(/\/+$/, "");
  const insecure = cluster["insecure-skip-tls-verify"] === true;
  if (!/^https:\/\//.test(server) && !(/^http:\/\//.test(server) && insecure)) return undefined;
  const dir = path.dirname(file);
  const ca = fileOrData(dir, cluster["certificate-authority"], cluster["certificate-authority-data"]);
  const cert = fileOrData(dir, user["client-certificate"], user["client-certificate-data"]);
  const key = fileOrData(dir, user["client-key"], user["client-key-data"]);
  if (ca === null || cert === null || key === null) return undefined;
  const tls: https.AgentOptions = {};
  if (insecure) tls.rejectUnauthorized = false;
  if (isStr(cluster["tls-server-name"])) tls.servername = cluster["tls-server-name"];
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return { server, context: name, tls, token: isStr(user.token) ? user.token : undefined };
}

class LeanRequest implements HttpRequest {
  private signal: AbortSignal | undefined;
  constructor(private readonly url: string) {}
  getUrl(): string {
    return this.url;
  }
  getHttpMethod(): string {
    return "GET";
  }
  getSignal(): AbortSignal | undefined {
    return this.signal;
  }
  setSignal(signal: AbortSignal): void {
    this.signal = signal;
  }
}

interface LeanResponse extends HttpResponse {
  body: { binary(): Promise<Buffer>; text(): Promise<string> };
}

/** node-fetch's errors, which client-node's requests fail with: kubeErrorOf's messages stay the same. */
function fetchError(url: string, e: Error & { code?: string }): Error {
  return Object.assign(new Error(`request to ${url} failed, reason: ${e.message}`), {
    name: "FetchError",
    type: "system",
    code: e.code,
    errno: e.code,
  });
}
const abortError = () =>
  Object.assign(new Error("The user aborted a request."), { name: "AbortError", type: "aborted" });

/** One GET with node's http(s), the body read (and gunzipped) before the promise settles. */
function sender(target: Target) {
  const secure = target.server.startsWith("https:");
  const agent = secure ? new https.Agent({ keepAlive: true, ...target.tls }) : new http.Agent({ keepAlive: true });
  const headers: Record<string, string> = { accept: "application/json, */*;q=0.8", "accept-encoding": "gzip" };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  return {
    send(req: LeanRequest): { toPromise(): Promise<LeanResponse> } {
      const url = req.getUrl();
      const signal = req.getSignal();
      const promise = new Promise<LeanResponse>((resolve, reject) => {
        const fail = (e: Error & { code?: string }) => reject(signal?.aborted ? abortError() : fetchError(url, e));
        const r = (secure ? https : http).request(
          url,
          { method: "GET", agent, headers, signal, ...(secure ? target.tls : {}) },
          (res) => {
            const chunks: Buffer[] = [];
            const stream = res.headers["content-encoding"] === "gzip" ? res.pipe(createGunzip()) : res;
            stream.on("data", (c: Buffer) => chunks.push(c));
            stream.on("error", fail);
            res.on("error", fail);
            res.on("aborted", () => fail(Object.assign(new Error("aborted"), { code: "ECONNRESET" })));
            stream.on("end", () => {
              const buf = Buffer.concat(chunks);
              const h: Record<string, string> = {};
              for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = String(v);
              resolve({
                httpStatusCode: res.statusCode ?? 0,
                headers: h,
                body: { binary: async () => buf, text: async () => buf.toString("utf8") },
              });
            });
          },
        );
        r.on("error", fail);
        r.end();
      });
      return { toPromise: () => promise };
    },
  };
}

/** The lean client, or undefined when the kubeconfig needs the typed one (src/kube/client.ts). */
export function connectLean(opts: LeanOptions): KubeReader | undefined {
  const target = leanTarget(opts);
  if (!target) return undefined;
  const { server, context } = target;
  const timeoutMs = parseTimeout(opts.requestTimeout ?? "30s");
  const stats = { requests: 0, retries: 0 };
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  const layer = new RetryingHttp<LeanRequest, LeanResponse>(
    sender(target),
    policy,
    stats,
    timeoutMs,
    opts.signal,
    server,
  );
  return {
    server,
    context,
    stats,
    timeoutMs,
    async getJson(apiPath: string, query?: Record<string, string>): Promise<unknown> {
      const q = query && Object.keys(query).length > 0 ? `?${new URLSearchParams(query).toString()}` : "";
      const res = await layer.send(new LeanRequest(`${server}${apiPath}${q}`));
      const text = await res.body.text();
      if (res.httpStatusCode < 200 || res.httpStatusCode > 299) {
        throw Object.assign(new Error(`HTTP-Code: ${res.httpStatusCode}`), { code: res.httpStatusCode, body: text });
      }
      return JSON.parse(text) as unknown;
    },
    waiting: () => layer.waiting(),
    onIdle: (f) => layer.onIdle(f),
    async call<T>(perm: Perm, fn: () => Promise<T>): Promise<T> {
      try {
        return await fn();
      } catch (e) {
        throw kubeErrorOf(e, perm, { server, context, timeoutMs, aborted: opts.signal?.aborted === true });
      }
    },
  };
}
