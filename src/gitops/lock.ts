/**
 * The repository lock: one writing kopiashare at a time per repository. Without it two runs that both
 * read a kustomization.yaml before either writes it lose one of the two entries (a lost update).
 *
 * The lock is the file `.kopiashare.lock` at the repository root, created with O_EXCL and holding who
 * took it (pid, host, verb, since when). A run that finds it waits (polling) for a few seconds, then
 * gives up with exit 2 naming the holder. A lock whose pid is dead on this host is stale (its run was
 * killed): it is taken over, and the taker says so. Taking over goes through a second exclusive file
 * (`.kopiashare.lock.break`), so two runs that both find the same stale lock never both hold it.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { CliError, describeErrno } from "../errors.ts";

export const LOCK_FILE = ".kopiashare.lock";
const BREAK_FILE = `${LOCK_FILE}.break`;
/** How long a second writer waits for the lock by default (KOPIASHARE_LOCK_WAIT_MS overrides). */
export const DEFAULT_LOCK_WAIT_MS = 5000;
const POLL_MS = 50;
/** A lock or break file with no readable holder after this long was left by a run killed while creating it. */
const UNREADABLE_STALE_MS = 5000;

export interface LockHolder {
  pid: number;
  host: string;
  verb: string;
  /** ISO time the lock was taken. */
  since: string;
}

export interface Lock {
  holder: LockHolder;
  release(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function createExclusive(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readHolder(file: string): LockHolder | "gone" | "unreadable" {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw e;
  }
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid === "number" && typeof h.host === "string") {
      return { pid: h.pid, host: h.host, verb: String(h.verb ?? "?"), since: String(h.since ?? "?") };
    }
  } catch {
    /* being written, or not ours */
  }
  return "unreadable";
}

/** Whether a process with this pid exists on this machine (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

export function describeHolder(h: LockHolder): string {
  return `${h.verb} (pid ${h.pid} on ${h.host}, since ${h.since})`;
}

/**
 * Removes the lock file if it still is the stale one we saw, guarded by the break file so that only one
 * run takes over. Returns whether it was removed.
 */
function breakStale(root: string, stale: LockHolder | "unreadable"): boolean {
  const lockFile = path.join(root, LOCK_FILE);
  const breakFile = path.join(root, BREAK_FILE);
  if (!createExclusive(breakFile, `${process.pid}\n`)) {
    // another run is taking over right now; a break file left by a killed run goes after a while
    if (ageMs(breakFile) > UNREADABLE_STALE_MS) {
      try {
        unlinkSync(breakFile);
      } catch {
        /* someone else removed it */
      }
    }
    return false;
  }
  try {
    const now = readHolder(lockFile);
    const same =
      now === "unreadable"
        ? stale === "unreadable"
        : now !== "gone" && stale !== "unreadable" && now.pid === stale.pid && now.since === stale.since;
    if (!same) return false;
    unlinkSync(lockFile);
    return true;
  } finally {
    unlinkSync(breakFile);
  }
}

/**
 * Takes the repository lock for `verb`, waiting up to `waitMs`. `say` reports a stale lock taken over.
 * Throws CliError (exit 2) naming the holder when the lock stays taken.
 */
export async function acquireLock(
  root: string,
  verb: string,
  opts: { waitMs?: number; say?: (line: string) => void } = {},
): Promise<Lock> {
  const waitMs = opts.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const lockFile = path.join(root, LOCK_FILE);
  const host = hostname();
  const deadline = Date.now() + waitMs;
  let last: LockHolder | undefined;
  for (;;) {
    const holder: LockHolder = { pid: process.pid, host, verb, since: new Date().toISOString() };
    let created: boolean;
    try {
      created = createExclusive(lockFile, `${JSON.stringify(holder)}\n`);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new CliError(
        `cannot take the repository lock ${LOCK_FILE} in ${root}: ${describeErrno(err)}`,
        2,
        "kopiashare writes into the repository; make it writable for this user",
      );
    }
    if (created) {
      let released = false;
      return {
        holder,
        release() {
          if (released) return;
          released = true;
          const now = readHolder(lockFile);
          if (now !== "gone" && now !== "unreadable" && now.pid === holder.pid && now.since === holder.since) {
            unlinkSync(lockFile);
          }
        },
      };
    }
    const seen = readHolder(lockFile);
    if (seen === "gone") continue;
    if (seen === "unreadable") {
      if (ageMs(lockFile) > UNREADABLE_STALE_MS && breakStale(root, "unreadable")) {
        opts.say?.(`note: took over ${LOCK_FILE}: it held no readable owner (left by a killed run)`);
        continue;
      }
    } else {
      last = seen;
      if (seen.host === host && seen.pid !== process.pid && !alive(seen.pid)) {
        if (breakStale(root, seen)) {
          opts.say?.(`note: took over a stale ${LOCK_FILE} from ${describeHolder(seen)}: that process no longer runs`);
        }
        continue;
      }
    }
    if (Date.now() >= deadline) {
      const who = last ? describeHolder(last) : "a run whose lock file cannot be read yet";
      throw new CliError(
        `the repository is locked by another kopiashare ${who}; nothing was written`,
        2,
        last && last.host !== host
          ? `wait for it to finish; if that run is gone, remove ${LOCK_FILE} by hand`
          : `wait for it to finish and run the command again (KOPIASHARE_LOCK_WAIT_MS sets how long to wait, now ${waitMs} ms)`,
      );
    }
    await sleep(POLL_MS);
  }
}
