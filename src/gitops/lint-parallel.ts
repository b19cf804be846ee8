/**
 * `kopiashare lint` on two cores. The main thread starts the walk while a worker (gitops/lint-worker.ts)
 * starts, then hands it the rest of the walk. From there the worker reads and parses files, and leaves
 * a file for the main thread to read and parse whenever the main thread has caught up. Each thread
 * sends the other what it parsed, so that both hold the same scan, built in walk order by the same code
 * as scanRepo. Each builds its own model from it and checks a share of the rules (WORKER_RULES on the
 * worker); the main thread merges and sorts the raw findings of all rules with the code of runRules,
 * so the report is the one lintScan gives.
 *
 * Without a worker it is lintScan over scanRepoParallel: run from TypeScript source (tsx does not hook
 * worker threads on Node 20), on one core, or for a repository read before the worker is ready. When the
 * worker cannot start or dies, the main thread does its work: nothing is lost, nothing waits for it.
 */
import type { Conventions } from "../core/config.ts";
import { checkRules, type Finding, type KubeVersion, mergeFindings, RULES } from "../core/rules/index.ts";
import { type LintResult, lintResult, lintScan, type PreparedLint, prepareLint } from "./lint.ts";
import { type StartedWorker, TEST_ALL_RULES, TEST_WAIT } from "./lint-spawn.ts";
import {
  addPiece,
  emptyScan,
  type RepoScan,
  recordingSink,
  type ScanPiece,
  scanRepo,
  scanRepoParallel,
} from "./scan.ts";
import { readYamlFile, Walk, type WalkState } from "./walk.ts";

/** What the worker sends while it walks: a piece it parsed, or a file left for the main thread to read. */
export type Scanned = ScanPiece | ["read", abs: string, rel: string, size: number | undefined];

export type FromWorker =
  | {
      found: Scanned[];
      done?: true;
      error?: {
        name: string;
        message: string;
        stack?: string;
        code?: unknown;
        errno?: unknown;
        syscall?: unknown;
        path?: unknown;
      };
    }
  /** The raw findings of each rule of RULES (empty for the main thread's rules). */
  | { findings: Finding[][] };

/**
 * The work: the walk handed over with what the main thread found before, what to lint (and which rules,
 * by index in RULES); then the pieces of each file left to the main thread.
 */
export type FromMain = Work | { results: ScanPiece[][] };

export interface Work {
  state: WalkState;
  pieces: ScanPiece[];
  root: string;
  conventions: Conventions;
  flag: KubeVersion | undefined;
  rules: number[];
}

/**
 * The rules the worker checks; the main thread checks the others, and also merges, sorts and prints.
 * Chosen by their measured cost (docs/benchmarks.md), including the per-model caches they build first.
 */
const WORKER_RULES: ReadonlySet<string> = new Set([
  "binding/mismatch",
  "delivery/no-claim",
  "delivery/orphan",
  "delivery/missing-depends-on",
  "delivery/not-allowed",
  "identity/no-source",
  "identity/defaulted-namespace",
  "identity/collision",
  "repository/password-mismatch",
  "permissions/uid-mismatch",
  "permissions/unset-uid",
  "permissions/fsgroup-change-policy",
  "permissions/privileged-movers",
]);

export interface Linted {
  scan: RepoScan;
  result: LintResult;
}

/** Lints the checkout at root, on two threads when `started` is a worker (startLintWorker). */
export async function lintRepo(
  root: string,
  c: Conventions,
  flag: KubeVersion | undefined,
  started: StartedWorker | undefined,
): Promise<Linted> {
  if (!started) {
    const scan = await scanRepoParallel(root);
    return { scan, result: lintScan(scan, c, flag) };
  }
  const { worker, ready, progress, test } = started;
  worker.ref();
  const theirs = new Set<number>();
  RULES.forEach((r, i) => {
    if (test.includes(TEST_ALL_RULES) || WORKER_RULES.has(r.meta.id)) theirs.add(i);
  });
  const scan = emptyScan(root);
  // What this thread parses, for the worker: all it finds before the hand-over, then each file left to it.
  let pieces: ScanPiece[] = [];
  const sink = recordingSink(scan, () => pieces);
  let walk: Walk;
  let waited = !test.includes(TEST_WAIT);
  try {
    walk = Walk.start(root, sink);
    const handOver = () => {
      if (!waited) {
        waited = true;
        Atomics.wait(ready, 0, 0, 10_000);
      }
      return Atomics.load(ready, 0) === 1;
    };
    if (walk.run(handOver)) {
      void worker.terminate();
      return { scan, result: lintScan(scan, c, flag) };
    }
  } catch (e) {
    void worker.terminate();
    throw e;
  }
  const w = worker;
  return new Promise((resolve, reject) => {
    // scan: both threads scan; lint: this thread has checked its rules and waits for the worker's.
    let phase: "scan" | "lint" | "done" = "scan";
    let prepared: PreparedLint | undefined;
    let mine: Finding[][] = [];
    const end = () => {
      phase = "done";
      void w.terminate();
    };
    const fail = (e: unknown) => {
      if (phase === "done") return;
      end();
      reject(e);
    };
    const finish = (p: PreparedLint, other: Finding[][]) => {
      const findings = mergeFindings(mine.map((f, i) => (theirs.has(i) ? (other[i] ?? []) : f)));
      resolve({ scan, result: lintResult(scan, p, findings) });
    };
    // The worker failed (not the walk, whose errors it sends): this thread does what it had left.
    const fallBack = () => {
      if (phase === "done") return;
      const was = phase;
      end();
      try {
        if (was === "scan" || !prepared) {
          const whole = scanRepo(root);
          resolve({ scan: whole, result: lintScan(whole, c, flag) });
        } else
          finish(
            prepared,
            checkRules(prepared.model, c, prepared.opts, (i) => theirs.has(i)),
          );
      } catch (e) {
        reject(e);
      }
    };
    w.on("message", (m: FromWorker) => {
      if (phase === "done") return;
      try {
        if ("findings" in m) {
          if (phase !== "lint" || !prepared) throw new Error("lint worker: findings before the scan's end");
          finish(prepared, m.findings);
          end();
          return;
        }
        const results: ScanPiece[][] = [];
        for (const f of m.found) {
          if (f[0] === "read") {
            pieces = [];
            readYamlFile(sink, f[1], f[2], f[3]);
            results.push(pieces);
          } else addPiece(scan, f);
        }
        Atomics.add(progress, 0, results.length);
        if (results.length > 0) w.postMessage({ results } satisfies FromMain);
        if (m.error) throw Object.assign(new Error(m.error.message), m.error);
        if (m.done) {
          phase = "lint";
          prepared = prepareLint(scan, c, flag);
          mine = checkRules(prepared.model, c, prepared.opts, (i) => !theirs.has(i));
        }
      } catch (e) {
        fail(e);
      }
    });
    w.on("error", fallBack);
    w.on("exit", fallBack);
    w.postMessage({ state: walk.state(), pieces, root, conventions: c, flag, rules: [...theirs] } satisfies FromMain);
  });
}
