/** Helpers for the live-cluster tests: a simulator per scenario, the CLI run against it, JSON output parsed. */
import { writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CheckReport } from "../../src/core/doctor.ts";
import { type RunResult, run } from "../helpers.ts";
import { type Sim, type SimOptions, startSim } from "../kube-sim/index.ts";

export type { Sim };
export { run };

/** Runs the CLI against the simulator (`--kubeconfig sim.kubeconfigPath`), from a neutral cwd. */
export function kube(
  sim: Sim,
  argv: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return run([...argv, "--kubeconfig", sim.kubeconfigPath], {
    cwd: opts.cwd ?? tmpdir(),
    env: { KOPIASHARE_RETRY_BASE_MS: "1", ...opts.env },
  });
}

/** Starts a simulator, seeds it, runs fn, always closes it. */
export async function withSim<T>(
  options: SimOptions,
  seed: (sim: Sim) => void | Promise<void>,
  fn: (sim: Sim) => Promise<T>,
): Promise<T> {
  const sim = await startSim(options);
  try {
    await seed(sim);
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

export interface DoctorJson {
  checks: CheckReport[];
  summary: { pass: number; warn: number; fail: number };
  requests: number;
}

export async function doctorJson(
  sim: Sim,
  extra: string[] = [],
): Promise<{ r: RunResult; json: DoctorJson; check(id: string): CheckReport }> {
  const r = await kube(sim, ["doctor", "-o", "json", ...extra]);
  let json: DoctorJson;
  try {
    json = JSON.parse(r.out) as DoctorJson;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.code}):\n${r.out}\n${r.err}`);
  }
  return {
    r,
    json,
    check: (id) => {
      const c = json.checks.find((x) => x.id === id);
      if (!c) throw new Error(`no check ${id}`);
      return c;
    },
  };
}

/** A TCP port nothing listens on. */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", () => resolve()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** A kubeconfig for a plain-http server (insecure-skip-tls-verify, as the simulator's). */
export function kubeconfigFor(server: string, dir: string, opts: { token?: string; context?: string } = {}): string {
  const file = path.join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  const ctx = opts.context ?? "test";
  writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      `- name: ${ctx}`,
      "  cluster:",
      `    server: ${server}`,
      "    insecure-skip-tls-verify: true",
      "users:",
      `- name: ${ctx}`,
      "  user:",
      `    token: ${opts.token ?? "t"}`,
      "contexts:",
      `- name: ${ctx}`,
      "  context:",
      `    cluster: ${ctx}`,
      `    user: ${ctx}`,
      `current-context: ${ctx}`,
      "",
    ].join("\n"),
  );
  return file;
}

/** Polls until cond() is true (or fails after ms). */
export async function until(cond: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts a simulator with Volsync served and seeds it; the caller closes it. */
export async function startSimFor(seed: (sim: Sim) => void, options: SimOptions = { crds: ["volsync"] }): Promise<Sim> {
  const sim = await startSim(options);
  seed(sim);
  return sim;
}
