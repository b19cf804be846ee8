/**
 * What the live-cluster verbs (verify, doctor, drift) share: the kubectl-style flags and their
 * validation, a lazy connection (src/kube/client.ts is imported only inside actions, so --help and a
 * usage error never load the client), the conventions and error translation.
 * The only src/kube module imported at load time is duration.ts, which is pure.
 */
import path from "node:path";
import { Option } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import type { Conventions } from "../core/config.ts";
import { CliError, EXIT_INTERRUPTED, EXIT_UNCHECKED, EXIT_USAGE, usageError } from "../errors.ts";
import { findRepoRoot, loadConventions } from "../gitops/repo.ts";
import type { Kube } from "../kube/client.ts";
import { parseDuration } from "../kube/duration.ts";
import type { KubeReader } from "../kube/http.ts";
import type { LiveSink } from "../output/checks.ts";

export const kubeconfigOption = () =>
  new Option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else in-cluster)");
export const contextOption = () =>
  new Option("--context <name>", "kubeconfig context to use (default: the current one)");
export const requestTimeoutOption = () =>
  new Option("--request-timeout <duration>", "give up on one API request after this long (0: never)").default("30s");
export const retryBudgetOption = () =>
  new Option(
    "--retry-budget <duration>",
    "total time all retries may wait (429/5xx/resets); a Retry-After longer than what is left fails at once (0: no retries)",
  ).default("30s");
export const namespaceOption = () => new Option("-n, --namespace <ns>", "only this namespace");
export const allNamespacesOption = (what = "every namespace with a kopia PVC or PV") =>
  new Option("-A, --all-namespaces", `${what} (the default; not with -n)`);
export const liveOutputOption = () =>
  new Option("-o, --output <format>", "output format: text, json").choices(["text", "json"] as const).default("text");

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  requestTimeout?: string;
  retryBudget?: string;
}

/**
 * Checks the connection flags without connecting (a bad --request-timeout is a usage error even when
 * no cluster is reachable). Commands call it with their other flag checks, before connectKube.
 */
export function checkKubeFlags(f: KubeFlags): void {
  if (f.requestTimeout !== undefined) parseDuration(f.requestTimeout, "--request-timeout");
  if (f.retryBudget !== undefined) parseDuration(f.retryBudget, "--retry-budget", "30s, 2m or 0 (no retries)");
}

/** After this long, a terminal is told what is being waited for. */
export const WAIT_NOTICE_MS = 2000;
const stoppers = new Set<() => void>();

/**
 * On a terminal (stderr is a TTY), a line saying what the client waits for once a request or a
 * retry has taken WAIT_NOTICE_MS: "waiting 3s for https://…: GET /api/v1/persistentvolumes: retrying
 * after HTTP 429 (Retry-After 20s)". Erased when the wait ends. Nothing on a pipe.
 */
function waitNotice(ctx: Ctx, kube: KubeReader): void {
  if (ctx.io.stderr.isTTY !== true) return;
  let shown = "";
  const erase = () => {
    if (shown) ctx.io.stderr.write("\r\x1b[2K");
    shown = "";
  };
  const tick = () => {
    const w = kube.waiting();
    const age = w ? Date.now() - w.sinceMs : 0;
    if (!w || age < WAIT_NOTICE_MS) return erase();
    const line = `waiting ${Math.floor(age / 1000)}s for ${kube.server}: ${w.what}`;
    if (line !== shown) ctx.io.stderr.write(`\r\x1b[2K${line}`);
    shown = line;
  };
  const timer = setInterval(tick, 250);
  timer.unref?.();
  const off = kube.onIdle(erase);
  const stop = () => {
    clearInterval(timer);
    off();
    erase();
    stoppers.delete(stop);
  };
  stoppers.add(stop);
}

/** The connection options of the kube flags and the environment, as both clients take them. */
function connectOptions(ctx: Ctx, f: KubeFlags) {
  const env = ctx.io.env;
  const base = Number(env.KOPIASHARE_RETRY_BASE_MS);
  const budgetMs = f.retryBudget !== undefined ? parseDuration(f.retryBudget, "--retry-budget") : undefined;
  return {
    kubeconfig: f.kubeconfig ? path.resolve(ctx.io.cwd, f.kubeconfig) : undefined,
    context: f.context,
    requestTimeout: f.requestTimeout,
    env: env.KUBECONFIG ? { ...env, KUBECONFIG: resolveList(ctx.io.cwd, env.KUBECONFIG) } : env,
    retry: {
      ...(Number.isFinite(base) && base >= 0 && env.KOPIASHARE_RETRY_BASE_MS ? { baseMs: base, maxMs: base * 8 } : {}),
      ...(budgetMs !== undefined ? { budgetMs } : {}),
    },
  };
}

/** Connects lazily: the first import of @kubernetes/client-node happens here. */
export async function connectKube(ctx: Ctx, f: KubeFlags): Promise<Kube> {
  checkKubeFlags(f);
  const { connect } = await import("../kube/client.ts");
  const kube = connect(connectOptions(ctx, f));
  waitNotice(ctx, kube);
  return kube;
}

/**
 * For commands that only read lists as JSON (verify): the lean client of src/kube/lean.ts when it
 * understands the kubeconfig, which spares loading @kubernetes/client-node; else the typed client,
 * which also reports every kubeconfig error.
 */
export async function connectReader(ctx: Ctx, f: KubeFlags): Promise<KubeReader> {
  checkKubeFlags(f);
  const { connectLean } = await import("../kube/lean.ts");
  const lean = connectLean(connectOptions(ctx, f));
  if (!lean) return connectKube(ctx, f);
  waitNotice(ctx, lean);
  return lean;
}

function resolveList(cwd: string, list: string): string {
  return list
    .split(path.delimiter)
    .map((f) => (f ? path.resolve(cwd, f) : f))
    .join(path.delimiter);
}

/** Conventions from --repo, else the enclosing checkout's kopiashare.yaml, else the defaults. */
export function liveConventions(ctx: Ctx, repo: string | undefined): Conventions {
  return loadConventions(findRepoRoot(ctx.io.cwd, repo));
}

/**
 * KubeError (duck-typed: src/kube is not imported here) -> CliError with one line. A bad flag or
 * kubeconfig is a usage error (2); Ctrl-C is 130; anything else the API did (unreachable, 401,
 * timed out, refused, an error after the retries) means the cluster could not be checked (3), never
 * "a problem was found" (1).
 */
export function toCliError(e: unknown): unknown {
  const err = e as { name?: string; kind?: string; message?: string };
  if (err?.name !== "KubeError") return e;
  const code =
    err.kind === "usage" || err.kind === "config"
      ? EXIT_USAGE
      : err.kind === "aborted"
        ? EXIT_INTERRUPTED
        : EXIT_UNCHECKED;
  const message = err.message ?? "Kubernetes API error";
  return new CliError(code === EXIT_UNCHECKED ? `could not check: ${message}` : message, code);
}

export async function withKube<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toCliError(e);
  } finally {
    for (const stop of [...stoppers]) stop();
  }
}

/** -n NS -> [NS]; -A or neither -> undefined (every namespace); both -> usage error (exit 2). */
export function scopeOf(opts: { namespace?: string; allNamespaces?: boolean }): string[] | undefined {
  if (opts.namespace && opts.allNamespaces)
    throw usageError("-n/--namespace and -A/--all-namespaces cannot be used together");
  return opts.namespace ? [opts.namespace] : undefined;
}

/** Where output/checks.ts writes a live report: stdout, stderr lines, and each stream's colours. */
export function liveSink(ctx: Ctx): LiveSink {
  return {
    out: (s) => ctx.io.stdout.write(s),
    say: (line) => ctx.say(line),
    colors: ctx.colors("stdout"),
    errColors: ctx.colors("stderr"),
  };
}
