/**
 * Walking a checkout: every folder in a stable (sorted) order and every YAML file read once, as text;
 * nothing is parsed here (scan.ts parses). This module is also the entry point of the worker thread in
 * which scanRepoParallel walks, so it imports no parser.
 */
import { type Dirent, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { isMainThread, type MessagePort, parentPort, workerData } from "node:worker_threads";

export const MAX_FILE_BYTES = 5 * 1024 * 1024;
const SKIP_DIRS = new Set([".git", "node_modules", ".terraform", ".venv"]);

export type SkipReason = "too-large" | "binary" | "symlink-loop" | "outside-repo" | "unreadable";

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
}

/** Walks the checkout in a stable order and reads every YAML file once; parses nothing. */
export function walkRepo(root: string, sink: Sink): void {
  const realRoot = realpathSync(root);
  const visited = new Set<string>();
  // `real` is the directory's real path: computed by joining for plain folders, resolved only through links.
  const walk = (absDir: string, rel: string, real: string) => {
    if (visited.has(real)) {
      sink.issue({
        file: rel,
        kind: "symlink-loop",
        message: `${rel}: directory link loops back to ${relOf(realRoot, real)}; skipped`,
      });
      return;
    }
    visited.add(real);
    sink.dir(rel);
    let entries: Dirent[];
    try {
      entries = readdirSync(absDir, { withFileTypes: true });
    } catch (e) {
      sink.issue({ file: rel, kind: "unreadable", message: `${rel}: ${(e as Error).message}` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
      // Below the root, absDir is already normalised: joining is concatenation.
      const childAbs = rel === "" ? path.join(absDir, entry.name) : absDir + path.sep + entry.name;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let childReal = real + path.sep + entry.name;
      let size: number | undefined;
      if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = realpathSync(childAbs);
        } catch {
          sink.issue({
            file: childRel,
            kind: "symlink-loop",
            message: `${childRel}: broken or looping symlink; skipped`,
          });
          continue;
        }
        if (target !== realRoot && !target.startsWith(realRoot + path.sep)) {
          sink.issue({
            file: childRel,
            kind: "outside-repo",
            message: `${childRel}: links outside the repository (${target}); skipped`,
          });
          continue;
        }
        const st = statSync(target);
        isDir = st.isDirectory();
        isFile = st.isFile();
        size = st.size;
        childReal = target;
      }
      if (isDir) {
        if (!SKIP_DIRS.has(entry.name)) walk(childAbs, childRel, childReal);
      } else if (isFile && isYamlFile(entry.name)) {
        readYamlFile(sink, childAbs, childRel, size);
      }
    }
  };
  walk(root, "", realRoot);
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
function readYamlFile(sink: Sink, abs: string, rel: string, knownSize?: number): void {
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
    throw e;
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
/** Files per message from the walker; the first message is sent sooner, so that parsing starts early. */
const BATCH = 64;
const FIRST_BATCH = 4;

/** What the walk found, as sent from the worker: a directory, a skipped entry, a file and its text. */
export type Found = ["dir", string] | ["issue", ScanIssue] | ["file", string, string];

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

/** The walker's side of scanRepoParallel: walks and reads, and sends what it finds in batches. */
function walkForParent(root: string, port: MessagePort): void {
  let found: Found[] = [];
  let files = 0;
  const sink: Sink = {
    dir: (rel) => found.push(["dir", rel]),
    issue: (issue) => found.push(["issue", issue]),
    file: (rel, text) => {
      found.push(["file", rel, text]);
      if (++files % BATCH === 0 || files === FIRST_BATCH) {
        port.postMessage({ found } satisfies WalkerMessage);
        found = [];
      }
    },
  };
  try {
    walkRepo(root, sink);
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

// Entry point of the walker thread (see scanRepoParallel): last, once everything above is defined.
if (!isMainThread && parentPort && typeof (workerData as Record<string, unknown> | null)?.[WALKER] === "string") {
  walkForParent((workerData as Record<string, string>)[WALKER] as string, parentPort);
}
