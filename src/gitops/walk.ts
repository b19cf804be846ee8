/**
 * Walking a checkout: every folder in a stable (sorted) order and every YAML file read once, as text;
 * nothing is parsed here (scan.ts parses). This module is also the entry point of the worker thread in
 * which scanRepoParallel walks, so it imports no parser.
 */
import { type Dirent, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { isMainThread, type MessagePort, parentPort, workerData } from "node:worker_threads";
import { describeErrno } from "../errors.ts";

export const MAX_FILE_BYTES = 5 * 1024 * 1024;
const SKIP_DIRS = new Set([".git", "node_modules", ".terraform", ".venv"]);

export type SkipReason = "too-large" | "too-complex" | "binary" | "symlink-loop" | "outside-repo" | "unreadable";

export interface ScanIssue {
  file: string;
  kind: "parse" | SkipReason;
  message: string;
  line?: number;
  col?: number;
}

export function isYamlFile(name: string): boolean {
  return name.endsWith(".yaml") || name.endsWith(".yml");
}

/** Receives what the walk finds, in walk order. */
export interface Sink {
  dir(rel: string): void;
  issue(issue: ScanIssue): void;
  file(rel: string, text: string): void;
  /**
   * Asked before a YAML file is read: true when the sink reads it itself (with readYamlFile, in walk
   * order), so the walk does not. Absent: the walk reads every file.
   */
  takes?(abs: string, rel: string, knownSize: number | undefined): boolean;
}

/** Walks the checkout in a stable order and reads every YAML file once; parses nothing. */
export function walkRepo(root: string, sink: Sink): void {
  Walk.start(root, sink).run();
}

/** A directory entry as the walk keeps it (plain data, so that a walk can move to another thread). */
type Entry = [name: string, type: EntryType];
const FILE = 0;
const DIR = 1;
const LINK = 2;
const OTHER = 3;
type EntryType = typeof FILE | typeof DIR | typeof LINK | typeof OTHER;

/** A directory being walked: its sorted entries and the next one to look at. */
interface Frame {
  abs: string;
  rel: string;
  entries: Entry[];
  next: number;
  /** The directory's real path: computed by joining for plain folders, resolved only through links. */
  real: string;
}

/** Where a walk stands, as plain data: it continues from there in another thread (Walk.resume). */
export interface WalkState {
  realRoot: string;
  visited: string[];
  stack: Frame[];
}

/**
 * The walk itself, depth first with an explicit stack (the order of the recursive walk it replaced), so
 * that it can stop between two files and continue elsewhere: scanRepoParallel starts walking in this
 * thread while its worker starts, and hands the rest to the worker once it is ready.
 */
export class Walk {
  private constructor(
    private readonly sink: Sink,
    private readonly realRoot: string,
    private readonly visited: Set<string>,
    private readonly stack: Frame[],
  ) {}

  static start(root: string, sink: Sink): Walk {
    const realRoot = realpathSync(root);
    const w = new Walk(sink, realRoot, new Set(), []);
    w.enter(root, "", realRoot);
    return w;
  }

  static resume(state: WalkState, sink: Sink): Walk {
    return new Walk(sink, state.realRoot, new Set(state.visited), state.stack);
  }

  state(): WalkState {
    return { realRoot: this.realRoot, visited: [...this.visited], stack: this.stack };
  }

  /** Walks on until `stop` (asked after each YAML file) says so, or to the end; true at the end. */
  run(stop?: () => boolean): boolean {
    const stack = this.stack;
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as Frame;
      if (frame.next >= frame.entries.length) {
        stack.pop();
        continue;
      }
      if (this.entry(frame, frame.entries[frame.next++] as Entry) && stop?.()) return stack.length === 0;
    }
    return true;
  }

  /** Looks at one entry of a directory; true when it was a YAML file. */
  private entry(frame: Frame, [name, type]: Entry): boolean {
    const sink = this.sink;
    const { abs, rel, real } = frame;
    const childRel = rel === "" ? name : `${rel}/${name}`;
    // Below the root, abs is already normalised: joining is concatenation.
    const childAbs = rel === "" ? path.join(abs, name) : abs + path.sep + name;
    let isDir = type === DIR;
    let isFile = type === FILE;
    let childReal = real + path.sep + name;
    let size: number | undefined;
    if (type === LINK) {
      let target: string;
      try {
        target = realpathSync(childAbs);
      } catch {
        sink.issue({
          file: childRel,
          kind: "symlink-loop",
          message: `${childRel}: broken or looping symlink; skipped`,
        });
        return false;
      }
      const realRoot = this.realRoot;
      if (target !== realRoot && !target.startsWith(realRoot + path.sep)) {
        sink.issue({
          file: childRel,
          kind: "outside-repo",
          message: `${childRel}: links outside the repository (${target}); skipped`,
        });
        return false;
      }
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(target);
      } catch (e) {
        sink.issue({ file: childRel, kind: "unreadable", message: unreadable(childRel, e) });
        return false;
      }
      isDir = st.isDirectory();
      isFile = st.isFile();
      size = st.size;
      childReal = target;
    }
    if (isDir) {
      if (!SKIP_DIRS.has(name)) this.enter(childAbs, childRel, childReal);
      return false;
    }
    if (!isFile || !isYamlFile(name)) return false;
    if (!sink.takes?.(childAbs, childRel, size)) readYamlFile(sink, childAbs, childRel, size);
    return true;
  }

  /** Enters a directory: reports it and lists its entries, unless a link already led here. */
  private enter(abs: string, rel: string, real: string): void {
    const sink = this.sink;
    if (this.visited.has(real)) {
      sink.issue({
        file: rel,
        kind: "symlink-loop",
        message: `${rel}: directory link loops back to ${relOf(this.realRoot, real)}; skipped`,
      });
      return;
    }
    this.visited.add(real);
    sink.dir(rel);
    let dirents: Dirent[];
    try {
      dirents = readdirSync(abs, { withFileTypes: true });
    } catch (e) {
      sink.issue({
        file: rel || ".",
        kind: "unreadable",
        message: unreadable(rel || ".", e, "cannot list the folder"),
      });
      return;
    }
    const entries: Entry[] = new Array(dirents.length);
    for (let i = 0; i < dirents.length; i++) {
      const d = dirents[i] as Dirent;
      entries[i] = [d.name, d.isDirectory() ? DIR : d.isFile() ? FILE : d.isSymbolicLink() ? LINK : OTHER];
    }
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.stack.push({ abs, rel, entries, next: 0, real });
  }
}

/** "<rel>: cannot read: permission denied (EACCES)": the operating system's reason in words. */
function unreadable(rel: string, e: unknown, what = "cannot read"): string {
  return `${rel}: ${what}: ${describeErrno(e as NodeJS.ErrnoException)}`;
}

function relOf(root: string, abs: string): string {
  return path.relative(root, abs).split(path.sep).join("/") || ".";
}

function tooLarge(sink: Sink, rel: string, size: number): void {
  sink.issue({ file: rel, kind: "too-large", message: `${rel}: ${size} bytes is over the 5 MiB limit; skipped` });
}

/** Size in bytes, or -1 when the file cannot be stat'ed. */
function sizeOf(abs: string): number {
  try {
    return statSync(abs).size;
  } catch {
    return -1;
  }
}

/**
 * Reads one file with one call (open, read and close all in native code, no separate stat). The size
 * limit is checked on the text: UTF-8 takes at most three bytes per UTF-16 unit, so only a text longer
 * than a third of the limit can come from a file over it, and only then is the file stat'ed.
 */
export function readYamlFile(sink: Sink, abs: string, rel: string, knownSize?: number): void {
  if (knownSize !== undefined && knownSize > MAX_FILE_BYTES) {
    tooLarge(sink, rel, knownSize);
    return;
  }
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    // Too large for one string or one read: skipped like any file over the limit.
    const size = sizeOf(abs);
    if (size > MAX_FILE_BYTES) {
      tooLarge(sink, rel, size);
      return;
    }
    sink.issue({ file: rel, kind: "unreadable", message: unreadable(rel, e) });
    return;
  }
  if (text.length > MAX_FILE_BYTES / 3) {
    const size = sizeOf(abs);
    if (size > MAX_FILE_BYTES) {
      tooLarge(sink, rel, size);
      return;
    }
  }
  // A NUL byte decodes to U+0000 (never part of a multi-byte sequence or a replacement).
  if (text.includes("\0")) {
    sink.issue({ file: rel, kind: "binary", message: `${rel}: binary content (NUL bytes); skipped` });
    return;
  }
  sink.file(rel, text);
}

/** workerData key of the worker that walks for scanRepoParallel (this module is its entry point). */
export const WALKER = "kopiashareScanRoot";
/** workerData key of an Int32Array on shared memory: the worker sets element 0 to 1 once it can take the walk over. */
export const WALKER_READY = "kopiashareScanReady";
/**
 * workerData key of an Int32Array on shared memory whose element 0 the parent thread advances by the
 * number of files it has taken in (parsed, and read itself when asked to).
 */
export const WALKER_PROGRESS = "kopiashareScanProgress";
/** Files per message from the walker; the first message is sent sooner, so that parsing starts early. */
const BATCH = 64;
const FIRST_BATCH = 4;

/**
 * What the walk found, as sent from the worker: a directory, a skipped entry, a file and its text, or a
 * file for the parent thread to read itself (absolute path, relative path, size when a link was followed).
 */
export type Found =
  | ["dir", string]
  | ["issue", ScanIssue]
  | ["file", string, string]
  | ["read", string, string, number | undefined];

export interface WalkerMessage {
  found: Found[];
  done?: boolean;
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

/**
 * The walker's side of scanRepoParallel: continues the walk it is handed, and sends what it finds in
 * batches. When the parent thread has caught up (parsing is faster than reading) the next file is left
 * for it to read, so that both threads read and neither waits long for the other.
 */
function walkForParent(state: WalkState, port: MessagePort, progress: Int32Array | undefined): void {
  let found: Found[] = [];
  let files = 0;
  const sent = () => {
    if (++files % BATCH === 0 || files === FIRST_BATCH) {
      port.postMessage({ found } satisfies WalkerMessage);
      found = [];
    }
  };
  const sink: Sink = {
    dir: (rel) => found.push(["dir", rel]),
    issue: (issue) => found.push(["issue", issue]),
    file: (rel, text) => {
      found.push(["file", rel, text]);
      sent();
    },
    takes: (abs, rel, knownSize) => {
      // Fewer than two batches not yet taken in: the parent is (nearly) idle.
      if (!progress || files - Atomics.load(progress, 0) >= 2 * BATCH) return false;
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
    port.postMessage({ found, error } satisfies WalkerMessage);
    return;
  }
  port.postMessage({ found, done: true } satisfies WalkerMessage);
}

// Entry point of the walker thread (see scanRepoParallel): last, once everything above is defined. It
// says it is ready, then continues the walk the parent hands it.
if (!isMainThread && parentPort && typeof (workerData as Record<string, unknown> | null)?.[WALKER] === "string") {
  const port = parentPort;
  const data = workerData as Record<string, unknown>;
  const progress = data[WALKER_PROGRESS];
  port.once("message", (state: WalkState) =>
    walkForParent(state, port, progress instanceof Int32Array ? progress : undefined),
  );
  const ready = data[WALKER_READY];
  if (ready instanceof Int32Array) Atomics.store(ready, 0, 1);
}
