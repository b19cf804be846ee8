/**
 * Turns client failures into one-line messages a user can act on: a missing permission names the
 * verb, the resource and the scope; an unreachable server names its URL. No stack traces.
 */

/** What a request needed: "list persistentvolumes cluster-wide", "create jobs.batch in media". */
export interface Perm {
  verb: string;
  /** plural, with its group when not core ("jobs.batch", "replicationsources.volsync.backube"). */
  resource: string;
  namespace?: string;
}

export type KubeErrorKind =
  | "forbidden"
  | "unauthorized"
  | "unreachable"
  | "timeout"
  | "aborted"
  | "notfound"
  | "conflict"
  | "api"
  | "config"
  | "usage";

/** The Status object of an error response, when the server sent one. */
export interface StatusBody {
  reason?: string;
  message?: string;
  code?: number;
}

export class KubeError extends Error {
  constructor(
    readonly kind: KubeErrorKind,
    message: string,
    readonly perm?: Perm,
    readonly code?: number,
    readonly status?: StatusBody,
  ) {
    super(message);
    this.name = "KubeError";
  }
}

export function permText(p: Perm): string {
  return `${p.verb} ${p.resource} ${p.namespace ? `in ${p.namespace}` : "cluster-wide"}`;
}

function parseStatus(body: unknown): StatusBody | undefined {
  if (typeof body === "string") {
    try {
      const v = JSON.parse(body) as unknown;
      return typeof v === "object" && v !== null ? (v as StatusBody) : undefined;
    } catch {
      return body.trim() ? { message: body.trim().split("\n")[0] } : undefined;
    }
  }
  if (typeof body === "object" && body !== null) return body as StatusBody;
  return undefined;
}

const NET: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset",
  EPIPE: "connection reset",
};

interface Ctx {
  server: string;
  context: string;
  timeoutMs: number;
  aborted: boolean;
}

export function kubeErrorOf(e: unknown, perm: Perm, ctx: Ctx): KubeError {
  if (e instanceof KubeError) return e;
  const err = e as {
    name?: string;
    code?: unknown;
    errno?: string;
    message?: string;
    body?: unknown;
    type?: string;
  };
  if (ctx.aborted) return new KubeError("aborted", "aborted", perm);
  if (err?.name === "AbortError" || err?.name === "TimeoutError" || err?.type === "aborted") {
    return new KubeError(
      "timeout",
      `the Kubernetes API server at ${ctx.server} did not answer within ${ctx.timeoutMs / 1000}s (${permText(perm)}; raise --request-timeout)`,
      perm,
    );
  }
  if (typeof err?.code === "number") {
    const code = err.code;
    const status = parseStatus(err.body);
    if (code === 403) {
      return new KubeError("forbidden", `missing permission: ${permText(perm)}`, perm, code, status);
    }
    if (code === 401) {
      return new KubeError(
        "unauthorized",
        `the API server at ${ctx.server} rejected the credentials of context "${ctx.context}" (401 Unauthorized): log in again or fix the kubeconfig user`,
        perm,
        code,
        status,
      );
    }
    const kind = code === 404 ? "notfound" : code === 409 ? "conflict" : "api";
    const text = status?.message ?? `HTTP ${code}`;
    return new KubeError(kind, `${permText(perm)}: ${text} (${status?.reason ?? code})`, perm, code, status);
  }
  const netCode = typeof err?.code === "string" ? err.code : err?.errno;
  if (netCode && NET[netCode]) {
    return new KubeError(
      "unreachable",
      `cannot reach the Kubernetes API server at ${ctx.server} (${NET[netCode]}; context "${ctx.context}")`,
      perm,
    );
  }
  const msg = err?.message ?? String(e);
  if (/HTTP protocol is not allowed/.test(msg)) {
    return new KubeError(
      "config",
      `the kubeconfig's server ${ctx.server} is plain http: set insecure-skip-tls-verify: true for it, or use https`,
      perm,
    );
  }
  if (
    /certificate|CERT_|self[- ]signed|TLS|SSL/i.test(msg) ||
    /^(CERT_|ERR_TLS|UNABLE_TO|DEPTH_ZERO)/.test(netCode ?? "")
  ) {
    return new KubeError(
      "unreachable",
      `cannot reach the Kubernetes API server at ${ctx.server} (TLS: ${msg.split("\n")[0]}; context "${ctx.context}")`,
      perm,
    );
  }
  if (err?.name === "FetchError" || /socket hang up|fetch/i.test(msg)) {
    return new KubeError(
      "unreachable",
      `cannot reach the Kubernetes API server at ${ctx.server} (${msg.split("\n")[0]}; context "${ctx.context}")`,
      perm,
    );
  }
  return new KubeError("api", `${permText(perm)}: ${msg.split("\n")[0]}`, perm);
}
