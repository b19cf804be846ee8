/**
 * The second thread of `kopiashare lint` (gitops/lint-parallel.ts), the entry point of its worker. It
 * continues the walk the main thread hands it, reads and parses its share of the files (the main
 * thread reads and parses the files left to it), and the two threads send each other what they parsed,
 * so that each ends with the same scan, built in walk order. Then it builds its own model and checks
 * its share of the rules, and sends their raw findings (merged and sorted on the main thread).
 */
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { checkRules } from "../core/rules/index.ts";
import { prepareLint } from "./lint.ts";
import type { FromMain, FromWorker, Scanned, Work } from "./lint-parallel.ts";
import { LINT_WORKER, type LintWorkerData, TEST_EXIT_LINT, TEST_EXIT_WALK } from "./lint-spawn.ts";
import { addPiece, emptyScan, parsePiece, type RepoScan, type ScanPiece } from "./scan.ts";
import { type Sink, Walk, type WalkState } from "./walk.ts";

/** Files per message; the first message is sent sooner, so that the main thread starts early. */
const BATCH = 64;
const FIRST_BATCH = 4;

/**
 * The worker's scan, built in walk order as the pieces come: those parsed here at once, and at a file
 * left to the main thread, once the main thread's pieces for it have arrived (in order).
 */
class Assembly {
  readonly scan: RepoScan;
  private readonly waiting: (ScanPiece | undefined)[] = [];
  private next = 0;
  private readonly fromMain: ScanPiece[][] = [];
  private nextFromMain = 0;

  constructor(root: string, before: ScanPiece[]) {
    this.scan = emptyScan(root);
    for (const p of before) addPiece(this.scan, p);
  }

  /** A piece parsed here, or (undefined) a file left to the main thread. */
  add(p: ScanPiece | undefined): void {
    if (p && this.next === this.waiting.length) addPiece(this.scan, p);
    else this.waiting.push(p);
  }

  results(m: FromMain): void {
    if ("results" in m) for (const r of m.results) this.fromMain.push(r);
    const { waiting, fromMain, scan } = this;
    while (this.next < waiting.length) {
      const p = waiting[this.next];
      if (p) addPiece(scan, p);
      else if (this.nextFromMain < fromMain.length)
        for (const q of fromMain[this.nextFromMain++] as ScanPiece[]) addPiece(scan, q);
      else return;
      this.next++;
    }
  }

  get complete(): boolean {
    return this.next === this.waiting.length;
  }
}

function lintWorker(port: MessagePort, data: LintWorkerData): void {
  port.once("message", (m: FromMain) => {
    if (!("state" in m)) return;
    const assembly = new Assembly(m.root, m.pieces);
    if (!walk(port, data, m.state, assembly)) return;
    // The listener stays: it keeps this thread alive until the main thread has its findings and ends it.
    let linted = false;
    const whenComplete = () => {
      if (linted || !assembly.complete) return;
      linted = true;
      lint(port, m, data.test, assembly.scan);
    };
    const onMessage = (r: FromMain) => {
      assembly.results(r);
      whenComplete();
    };
    port.on("message", onMessage);
    whenComplete();
  });
}

/**
 * Continues the walk: parses files here, or leaves them to the main thread when it has caught up; takes
 * in the main thread's pieces as they come. False when the walk failed (the error is sent).
 */
function walk(port: MessagePort, data: LintWorkerData, state: WalkState, assembly: Assembly): boolean {
  const progress = data.progress;
  let found: Scanned[] = [];
  let files = 0;
  let left = 0;
  const sent = () => {
    if (++files % BATCH === 0 || files === FIRST_BATCH) {
      port.postMessage({ found } satisfies FromWorker);
      found = [];
      if (data.test.includes(TEST_EXIT_WALK)) process.exit(1);
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) assembly.results(m.message);
    }
  };
  const here = (p: ScanPiece) => {
    assembly.add(p);
    found.push(p);
  };
  const sink: Sink = {
    dir: (rel) => here(["dir", rel]),
    issue: (issue) => here(["issue", issue]),
    file: (rel, text) => {
      here(parsePiece(rel, text));
      sent();
    },
    takes: (abs, rel, knownSize) => {
      // The main thread reads and parses at about the speed of this thread: it is given a file when
      // fewer than a batch of the files left to it wait, so that both threads stay busy.
      if (left - Atomics.load(progress, 0) >= BATCH) return false;
      left++;
      assembly.add(undefined);
      found.push(["read", abs, rel, knownSize]);
      sent();
      return true;
    },
  };
  try {
    Walk.resume(state, sink).run();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const error = {
      name: err.name,
      message: err.message,
      stack: err.stack,
      code: err.code,
      errno: err.errno,
      syscall: err.syscall,
      path: err.path,
    };
    port.postMessage({ found, error } satisfies FromWorker);
    return false;
  }
  port.postMessage({ found, done: true } satisfies FromWorker);
  return true;
}

function lint(port: MessagePort, work: Work, test: string[], scan: RepoScan): void {
  const prepared = prepareLint(scan, work.conventions, work.flag);
  const mine = new Set(work.rules);
  const findings = checkRules(prepared.model, work.conventions, prepared.opts, (i) => mine.has(i));
  if (test.includes(TEST_EXIT_LINT)) process.exit(1);
  port.postMessage({ findings } satisfies FromWorker);
}

// Entry point: says it is ready (shared memory, read by the main thread between two files), then
// continues the walk it is handed.
const data = workerData as Record<string, unknown> | null;
if (parentPort && data?.[LINT_WORKER]) {
  const d = data[LINT_WORKER] as LintWorkerData;
  lintWorker(parentPort, d);
  Atomics.store(d.ready, 0, 1);
  Atomics.notify(d.ready, 0);
}
