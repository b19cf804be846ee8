/**
 * Starts the worker of `kopiashare lint` (gitops/lint-worker.ts) as early as possible: node takes a
 * while to start a thread, and the worker loads the whole of lint, so it starts before the main thread
 * has found the repository and loaded the lint code. This module loads nothing else for that reason.
 * gitops/lint-parallel.ts hands the worker its work.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

/** workerData key of the lint worker (its LintWorkerData). */
export const LINT_WORKER = "kopiashareLint";

/**
 * KOPIASHARE_TEST_LINT_WORKER (tests only, docs/testing.md), a comma-separated list: `wait` makes the
 * main thread wait for the worker and hand it the walk after its first YAML file (so that a small
 * repository is linted on both threads too); `all-rules` gives the worker every rule; `exit-walk` and
 * `exit-lint` make the worker end its thread after its first batch of files, or before it sends its
 * findings.
 */
export const TEST_ENV = "KOPIASHARE_TEST_LINT_WORKER";
export const TEST_WAIT = "wait";
export const TEST_ALL_RULES = "all-rules";
export const TEST_EXIT_WALK = "exit-walk";
export const TEST_EXIT_LINT = "exit-lint";

export interface LintWorkerData {
  /** Element 0 set to 1 by the worker once it can take the walk over. */
  ready: Int32Array;
  /** Element 0: files left to the main thread that it has read and parsed so far. */
  progress: Int32Array;
  test: string[];
}

/** A started worker, its shared memory and the test hooks. */
export interface StartedWorker extends LintWorkerData {
  worker: Worker;
}

/**
 * The lint worker, started; undefined where lint runs on one thread: from TypeScript source (tsx does
 * not hook worker threads on Node 20), on one core, or when the thread cannot start. It does not keep
 * the process alive until lintRepo hands it work.
 */
export function startLintWorker(env: Record<string, string | undefined>): StartedWorker | undefined {
  if (import.meta.url.endsWith(".ts") || availableParallelism() < 2) return undefined;
  const data: LintWorkerData = {
    ready: new Int32Array(new SharedArrayBuffer(4)),
    progress: new Int32Array(new SharedArrayBuffer(4)),
    test: (env[TEST_ENV] ?? "").split(",").filter(Boolean),
  };
  try {
    const worker = new Worker(new URL("./lint-worker.js", import.meta.url), { workerData: { [LINT_WORKER]: data } });
    worker.unref();
    // Until lintRepo listens: a worker that fails to start must not end the process.
    worker.on("error", () => {});
    return { ...data, worker };
  } catch {
    return undefined;
  }
}
