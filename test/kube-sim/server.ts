// HTTP routing: URL -> (resource type, namespace, name, verb) -> store, with the apiserver's
// status codes, Status bodies, watch streams, Tables for kubectl and the request log.

import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import {
  apiGroupDoc,
  apiGroupListDoc,
  apiVersionsDoc,
  resourceListDoc,
  type ServerVersion,
  versionDoc,
} from "./discovery.ts";
import { ApiError, badRequest, notFound, type Status, status } from "./errors.ts";
import type { Faults } from "./faults.ts";
import type { JobController } from "./jobs.ts";
import { PATCH_TYPES, patchTypeOf } from "./patch.ts";
import type { Denied } from "./rbac.ts";
import { apiVersionOf, BUILTIN_GROUPS, type ResourceType } from "./registry.ts";
import type { Store, WatchEventType } from "./store.ts";
import { toTable, wantsTable } from "./table.ts";
import {
  isObject,
  type JsonObject,
  type JsonValue,
  type KubeObject,
  type RequestLogEntry,
  type Verb,
} from "./types.ts";

export interface ServerContext {
  store: Store;
  faults: Faults;
  denied: Denied;
  jobs: JobController;
  version: ServerVersion;
  requests: RequestLogEntry[];
  token: string;
  requireToken: () => boolean;
  serverAddress: () => string;
  /** Senders of a BOOKMARK, one per open watch that allowed them. */
  bookmarks: Set<() => void>;
  /** Period of BOOKMARK events on watches with allowWatchBookmarks=true (0: only sim.sendBookmarks()). */
  bookmarkIntervalMs: () => number;
}

interface Route {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const MAX_BODY = 16 * 1024 * 1024;

/** The apiserver gzips a response from 128 KiB on when the client accepts it (APIResponseCompression). */
const GZIP_FROM = 128 * 1024;

function sendJson(res: ServerResponse, code: number, body: JsonValue, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const gzip =
    Buffer.byteLength(text) >= GZIP_FROM && /\bgzip\b/.test(String(res.req?.headers["accept-encoding"] ?? ""));
  const data = gzip ? gzipSync(text) : text;
  res.writeHead(code, {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache, private",
    "Content-Length": Buffer.byteLength(data),
    ...(gzip ? { "Content-Encoding": "gzip" } : {}),
    ...headers,
  });
  res.end(data);
}

function sendStatus(res: ServerResponse, st: Status, headers: Record<string, string> = {}): void {
  sendJson(res, st.code, st, headers);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new ApiError(status(413, "BadRequest", "request entity too large")));
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJsonBody(text: string): JsonValue {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw badRequest(`error decoding request body: ${(e as Error).message}`);
  }
}

const notFoundPath = () => new ApiError(status(404, "NotFound", "the server could not find the requested resource"));
const methodNotAllowed = (method: string) =>
  new ApiError(
    status(405, "MethodNotAllowed", `the server does not allow this method on the requested resource (${method})`),
  );

export function createHandler(ctx: ServerContext) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://sim.invalid");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const method = (req.method ?? "GET").toUpperCase();
    const entry: RequestLogEntry = { method, path: url.pathname, query, status: 0, verb: "other" };
    ctx.requests.push(entry);
    res.on("finish", () => {
      entry.status = res.statusCode;
    });

    const fault = ctx.faults.take({ method, path: url.pathname, query });
    if (fault) {
      if (fault.kind === "ECONNRESET") {
        entry.status = 0;
        const sock = req.socket;
        if (typeof sock.resetAndDestroy === "function") sock.resetAndDestroy();
        else sock.destroy();
        return;
      }
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers["Retry-After"] = String(fault.retryAfterSeconds);
      const details =
        fault.retryAfterSeconds !== undefined ? { retryAfterSeconds: fault.retryAfterSeconds } : undefined;
      const st =
        fault.kind === 429
          ? status(429, "TooManyRequests", "Too many requests, please try again later.", details)
          : fault.kind === 503
            ? status(503, "ServiceUnavailable", "The server is currently unable to handle the request", details)
            : status(500, "InternalError", "Internal error occurred: injected fault", details);
      req.resume();
      sendStatus(res, st, headers);
      return;
    }

    if (ctx.requireToken()) {
      const auth = req.headers.authorization ?? "";
      if (auth !== `Bearer ${ctx.token}`) {
        req.resume();
        sendStatus(res, status(401, "Unauthorized", "Unauthorized"));
        return;
      }
    }

    handle(ctx, req, res, url, method, query, entry)
      .then(() => {
        // Watch streams stay open: log their status once the headers are out.
        if (res.headersSent && entry.status === 0) entry.status = res.statusCode;
      })
      .catch((e: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (e instanceof ApiError) sendStatus(res, e.status);
        else sendStatus(res, status(500, "InternalError", `Internal error occurred: ${(e as Error).message}`));
      });
  };
}

async function handle(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  method: string,
  query: Record<string, string>,
  entry: RequestLogEntry,
): Promise<void> {
  const segs = url.pathname.split("/").filter((s) => s !== "");
  const discovery = discoveryDoc(ctx, segs);
  if (discovery !== undefined) {
    entry.verb = "discovery";
    req.resume();
    if (method !== "GET") throw methodNotAllowed(method);
    ctx.denied.checkPath(url.pathname);
    if (discovery === null) throw notFoundPath();
    sendJson(res, 200, discovery);
    return;
  }
  if (segs[0] === "healthz" || segs[0] === "livez" || segs[0] === "readyz") {
    req.resume();
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("ok");
    return;
  }
  const route = parseRoute(ctx, segs);
  if (!route) {
    req.resume();
    throw notFoundPath();
  }
  const { type, namespace, name, subresource } = route;
  entry.resource = type.plural;
  if (namespace) entry.namespace = namespace;

  if (subresource === "log") {
    entry.verb = "log";
    req.resume();
    if (method !== "GET") throw methodNotAllowed(method);
    ctx.denied.check({ verb: "get", resource: "pods/log", group: "", namespace, name });
    servePodLog(ctx, res, namespace ?? "default", name ?? "");
    return;
  }
  if (subresource && subresource !== "status") {
    req.resume();
    throw notFoundPath();
  }

  const verb = verbOf(method, name, query);
  if (!verb) {
    req.resume();
    throw methodNotAllowed(method);
  }
  entry.verb = verb === "deletecollection" ? "delete" : verb;
  ctx.denied.check({
    verb: verb === "deletecollection" ? "delete" : verb,
    resource: subresource ? `${type.plural}/${subresource}` : type.plural,
    group: type.group,
    namespace,
    name,
  });

  let bodyText = "";
  if (method === "GET") req.resume();
  else bodyText = await readBody(req);
  const dryRun = query.dryRun === "All";
  // Field managers: ?fieldManager=, else the User-Agent's product ("kubectl", "node-fetch"), as the apiserver does.
  const managers = {
    fieldManager: query.fieldManager || undefined,
    defaultManager: String(req.headers["user-agent"] ?? "unknown").split("/")[0] || "unknown",
    force: query.force === "true",
  };
  const sub = subresource === "status" ? ("status" as const) : undefined;
  const store = ctx.store;

  switch (verb) {
    case "get": {
      const obj = store.raw(type, name ?? "", namespace);
      if (!obj) throw notFound(type.plural, type.group, name ?? "");
      if (wantsTable(req.headers.accept) && !sub) {
        sendJson(
          res,
          200,
          toTable(type.kind, [obj], obj.metadata.resourceVersion ?? "", query.includeObject ?? "Metadata"),
        );
      } else sendJson(res, 200, obj);
      return;
    }
    case "list":
      serveList(ctx, req, res, type, namespace, query);
      return;
    case "watch":
      serveWatch(ctx, res, type, namespace, query);
      return;
    case "create": {
      if (name) throw methodNotAllowed(method);
      const obj = objectBody(bodyText, type, namespace);
      if (namespace && type.namespaced) requireNamespace(ctx, namespace, type, obj.metadata.name);
      const created = store.createTyped(type, obj, { fromApi: true, dryRun, ...managers });
      sendJson(res, 201, created);
      return;
    }
    case "update": {
      const obj = objectBody(bodyText, type, namespace);
      if (obj.metadata.name && obj.metadata.name !== name) {
        throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
      }
      obj.metadata.name = name;
      const updated = store.updateTyped(type, obj, { fromApi: true, dryRun, subresource: sub, ...managers });
      sendJson(res, 200, updated);
      return;
    }
    case "patch": {
      const ptype = patchTypeOf(req.headers["content-type"]);
      if (ptype === PATCH_TYPES.apply && !query.fieldManager) {
        throw badRequest("PATCH requests with apply-patch+yaml require fieldManager to be set");
      }
      const existed = !!store.raw(type, name ?? "", namespace);
      if (!existed && ptype === PATCH_TYPES.apply && type.namespaced && namespace)
        requireNamespace(ctx, namespace, type, name);
      const patched = store.patchTyped(type, name ?? "", namespace, ptype, bodyText, {
        fromApi: true,
        dryRun,
        subresource: sub,
        ...managers,
      });
      sendJson(res, existed ? 200 : 201, patched);
      return;
    }
    case "delete": {
      const opts = parseJsonBody(bodyText);
      const policy =
        query.propagationPolicy ??
        (isObject(opts) && typeof opts.propagationPolicy === "string" ? opts.propagationPolicy : undefined);
      checkPreconditions(store, type, name ?? "", namespace, isObject(opts) ? opts.preconditions : undefined);
      const gone = store.deleteTyped(type, name ?? "", namespace, { dryRun, propagationPolicy: policy });
      sendJson(res, 200, gone);
      return;
    }
    case "deletecollection": {
      const items = store.listTyped(type, {
        namespace,
        labelSelector: query.labelSelector,
        fieldSelector: query.fieldSelector,
      });
      const policy = query.propagationPolicy;
      const deleted = items.map((o) =>
        store.deleteTyped(type, o.metadata.name ?? "", o.metadata.namespace, { dryRun, propagationPolicy: policy }),
      );
      sendJson(res, 200, listDoc(type, deleted, String(store.resourceVersion)));
      return;
    }
  }
}

/** DeleteOptions.preconditions: uid and resourceVersion must match the stored object (409 otherwise). */
function checkPreconditions(
  store: Store,
  type: ResourceType,
  name: string,
  namespace: string | undefined,
  pre: JsonValue | undefined,
): void {
  if (!isObject(pre)) return;
  const obj = store.raw(type, name, type.namespaced ? namespace || "default" : undefined);
  if (!obj) return; // deleteTyped answers 404
  const fail = (what: string, want: string, have: string | undefined) =>
    new ApiError(
      status(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${type.group ? `${type.plural}.${type.group}` : type.plural} "${name}": Precondition failed: ${what} in precondition: ${want}, ${what} in object meta: ${have ?? ""}`,
        { name, group: type.group, kind: type.plural },
      ),
    );
  if (typeof pre.uid === "string" && pre.uid !== obj.metadata.uid) throw fail("UID", pre.uid, obj.metadata.uid);
  if (typeof pre.resourceVersion === "string" && pre.resourceVersion !== obj.metadata.resourceVersion) {
    throw fail("ResourceVersion", pre.resourceVersion, obj.metadata.resourceVersion);
  }
}

function discoveryDoc(ctx: ServerContext, segs: string[]): JsonObject | null | undefined {
  const [a, b, c, d] = segs;
  if (a === "version" && segs.length === 1) return versionDoc(ctx.version);
  if (a === "api" && segs.length === 1) return apiVersionsDoc(ctx.serverAddress());
  if (a === "api" && segs.length === 2) return resourceListDoc(ctx.store.registry, "", b ?? "") ?? null;
  if (a === "apis" && segs.length === 1) return apiGroupListDoc(ctx.store.registry);
  if (a === "apis" && segs.length === 2) return apiGroupDoc(ctx.store.registry, b ?? "") ?? null;
  if (a === "apis" && segs.length === 3 && b && c) return resourceListDoc(ctx.store.registry, b, c) ?? null;
  if (a === "openapi" && (b === "v2" || b === "v3") && d === undefined) return null;
  return undefined;
}

function parseRoute(ctx: ServerContext, segs: string[]): Route | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === "api" && segs.length >= 3) {
    group = "";
    version = segs[1] ?? "";
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs.length >= 4) {
    group = segs[1] ?? "";
    version = segs[2] ?? "";
    rest = segs.slice(3);
  } else return undefined;
  const registry = ctx.store.registry;
  const namespaced = rest[0] === "namespaces" && rest.length >= 3 && rest[2] !== "status" && rest[2] !== "finalize";
  if (namespaced) {
    const [, namespace, plural, name, subresource, extra] = rest;
    const type = registry.byPath(group, version, plural ?? "");
    if (!type?.namespaced || extra !== undefined) return undefined;
    return { type, namespace, name, subresource };
  }
  const [plural, name, subresource, extra] = rest;
  const type = registry.byPath(group, version, plural ?? "");
  if (!type || extra !== undefined) return undefined;
  if (type.namespaced && name !== undefined) return undefined; // namespaced objects need /namespaces/<ns>/
  return { type, name, subresource };
}

function verbOf(
  method: string,
  name: string | undefined,
  query: Record<string, string>,
): Verb | "deletecollection" | undefined {
  const watching = query.watch === "1" || query.watch === "true";
  switch (method) {
    case "GET":
      return name ? "get" : watching ? "watch" : "list";
    case "POST":
      return "create";
    case "PUT":
      return name ? "update" : undefined;
    case "PATCH":
      return name ? "patch" : undefined;
    case "DELETE":
      return name ? "delete" : "deletecollection";
    default:
      return undefined;
  }
}

function objectBody(text: string, type: ResourceType, namespace: string | undefined): KubeObject {
  const body = parseJsonBody(text);
  if (!isObject(body)) throw badRequest("the body of the request must be a JSON object");
  const obj = body as KubeObject;
  if (obj.kind !== undefined && obj.kind !== type.kind) {
    throw badRequest(
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersionOf(type)})`,
    );
  }
  obj.apiVersion = apiVersionOf(type);
  obj.kind = type.kind;
  obj.metadata = isObject(obj.metadata) ? obj.metadata : {};
  if (type.namespaced) {
    if (namespace && obj.metadata.namespace && obj.metadata.namespace !== namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    if (namespace) obj.metadata.namespace = namespace;
  }
  return obj;
}

/** A create needs its namespace, and one that is not terminating (the NamespaceLifecycle admission plugin). */
function requireNamespace(ctx: ServerContext, namespace: string, type: ResourceType, name: string | undefined): void {
  const ns = ctx.store.raw(ctx.store.registry.resolve("namespaces"), namespace);
  if (!ns) throw notFound("namespaces", "", namespace);
  if (ns.metadata.deletionTimestamp) {
    const resource = type.group ? `${type.plural}.${type.group}` : type.plural;
    const subject = name ? `${resource} "${name}"` : resource;
    throw new ApiError(
      status(
        403,
        "Forbidden",
        `${subject} is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        { name: name ?? "", group: type.group, kind: type.plural },
      ),
    );
  }
}

/** Built-in list items carry no apiVersion/kind on the wire; custom resources do. */
function listItem(type: ResourceType, o: KubeObject): JsonObject {
  if (!BUILTIN_GROUPS.has(type.group) && type.group !== "admissionregistration.k8s.io") return o;
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

function listDoc(type: ResourceType, items: KubeObject[], rv: string, extraMeta: JsonObject = {}): JsonObject {
  return {
    kind: `${type.kind}List`,
    apiVersion: apiVersionOf(type),
    metadata: { resourceVersion: rv, ...extraMeta },
    items: items.map((o) => listItem(type, o)),
  };
}

interface ContinueToken {
  rv: string;
  after: string;
}

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;

function serveList(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  type: ResourceType,
  namespace: string | undefined,
  query: Record<string, string>,
): void {
  let items = ctx.store.listTyped(type, {
    namespace,
    labelSelector: query.labelSelector,
    fieldSelector: query.fieldSelector,
  });
  let rv = String(ctx.store.resourceVersion);
  const extra: JsonObject = {};
  if (query.continue) {
    let token: ContinueToken;
    try {
      token = JSON.parse(Buffer.from(query.continue, "base64url").toString("utf8")) as ContinueToken;
    } catch {
      throw badRequest(`continue key is not valid: ${query.continue}`);
    }
    rv = token.rv;
    items = items.filter((o) => keyOf(o) > token.after);
  }
  const limit = Number(query.limit ?? 0);
  if (limit > 0 && items.length > limit) {
    const page = items.slice(0, limit);
    const last = page[page.length - 1];
    extra.continue = Buffer.from(JSON.stringify({ rv, after: last ? keyOf(last) : "" })).toString("base64url");
    extra.remainingItemCount = items.length - limit;
    items = page;
  }
  if (wantsTable(req.headers.accept)) {
    sendJson(res, 200, toTable(type.kind, items, rv, query.includeObject ?? "Metadata"));
    return;
  }
  sendJson(res, 200, listDoc(type, items, rv, extra));
}

function serveWatch(
  ctx: ServerContext,
  res: ServerResponse,
  type: ResourceType,
  namespace: string | undefined,
  query: Record<string, string>,
): void {
  const write = (t: WatchEventType | "ERROR" | "BOOKMARK", object: JsonObject) => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type: t, object })}\n`);
  };
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache, private",
    "Transfer-Encoding": "chunked",
  });
  res.flushHeaders();
  let handle: { close: () => void } | undefined;
  try {
    handle = ctx.store.watch(
      type,
      {
        namespace,
        labelSelector: query.labelSelector,
        fieldSelector: query.fieldSelector,
        resourceVersion: query.resourceVersion,
      },
      write,
    );
  } catch (e) {
    if (e instanceof ApiError) {
      write("ERROR", e.status);
      res.end();
      return;
    }
    throw e;
  }
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  // A BOOKMARK is an object of the watched kind with only metadata.resourceVersion: every event up
  // to it has been sent (writes deliver synchronously, so the store's current one is safe).
  const bookmark = () =>
    write("BOOKMARK", {
      kind: type.kind,
      apiVersion: apiVersionOf(type),
      metadata: { resourceVersion: String(ctx.store.resourceVersion) },
    });
  const bookmarks = query.allowWatchBookmarks === "true" || query.allowWatchBookmarks === "1";
  const finish = () => {
    handle?.close();
    untrack();
    ctx.bookmarks.delete(bookmark);
    if (timer) clearTimeout(timer);
    if (ticker) clearInterval(ticker);
    if (!res.writableEnded) res.end();
  };
  const untrack = ctx.faults.trackWatch(finish);
  if (bookmarks) {
    ctx.bookmarks.add(bookmark);
    const every = ctx.bookmarkIntervalMs();
    if (every > 0) ticker = setInterval(bookmark, every);
  }
  const timeout = Number(query.timeoutSeconds ?? 0);
  if (timeout > 0) timer = setTimeout(finish, timeout * 1000);
  // res "close" fires when the client goes away (req "close" fires once the request body is read).
  res.on("close", finish);
}

function servePodLog(ctx: ServerContext, res: ServerResponse, namespace: string, pod: string): void {
  const obj = ctx.store.raw(ctx.store.registry.resolve("pods"), pod, namespace);
  if (!obj) throw notFound("pods", "", pod);
  const logs = ctx.jobs.podLogs(namespace, pod);
  const phase = isObject(obj.status) ? obj.status.phase : undefined;
  if (logs === undefined && phase === "Pending") {
    const containers = isObject(obj.spec) && Array.isArray(obj.spec.containers) ? obj.spec.containers : [];
    const first = containers[0];
    const cname = isObject(first) && typeof first.name === "string" ? first.name : "main";
    throw badRequest(`container "${cname}" in pod "${pod}" is waiting to start: ContainerCreating`);
  }
  const text = logs ?? "";
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
