/**
 * A plan is the complete list of file changes one command makes. It is computed before anything is
 * written, shown as a diff (--dry-run) or applied all-or-nothing: every new content is first written to
 * a temp file beside its target, then all are renamed into place; if any step fails, everything
 * already renamed is restored from the originals. A journal makes it crash-safe (see applyPlan).
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { keepStyle, sameText } from "../core/text-style.ts";
import { CliError, describeErrno, usageError } from "../errors.ts";
import { resolveInside } from "./repo.ts";

export interface FileChange {
  /** Repo-relative, '/'-separated. */
  path: string;
  /** Content now (null: the file does not exist). */
  before: string | null;
  /** Content after the change (null: delete the file). */
  after: string | null;
  /**
   * Only for files kopiashare generates: the content it expects to find, i.e. what it renders for the
   * inputs the repository has now (null: it would generate no such file). A file that exists and is
   * neither this nor `after` was edited by hand, and is not overwritten or deleted without --force.
   * Undefined for files kopiashare edits in place (kustomization lists, an app's ks.yaml, kopiashare.yaml).
   */
  expected?: string | null;
}

export interface Plan {
  root: string;
  changes: FileChange[];
}

export function readMaybe(root: string, rel: string): string | null {
  const abs = resolveInside(root, rel);
  try {
    return readFileSync(abs, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") return null;
    throw new CliError(`${rel}: cannot read: ${describeErrno(err)}; nothing was written`, 2);
  }
}

/**
 * Only the changes that change something, each new content in the style of the file it replaces (its BOM
 * and CRLF line endings are kept, core/text-style.ts): a file whose only difference is its line endings
 * is no change.
 */
export function effective(plan: Plan): FileChange[] {
  const out: FileChange[] = [];
  for (const c of plan.changes) {
    const after = c.after === null ? null : keepStyle(c.before, c.after);
    if (c.before !== after) out.push(after === c.after ? c : { ...c, after });
  }
  return out;
}

/** The steps of a commit, in order; a hook sees each (tests inject a failure or a kill there). */
export type ApplyStep = "journal" | "written" | "committing" | "renamed" | "cleaned";
export type ApplyHook = (step: ApplyStep, file: string) => void;

/** The journal of an unfinished commit, at the repository root. */
export const JOURNAL_FILE = ".kopiashare.journal";

interface JournalEntry {
  /** Repo-relative target. */
  path: string;
  /** Repo-relative temp file holding the new content (null: the change deletes the file). */
  tmp: string | null;
  /** Repo-relative name the old content is moved to (null: the file did not exist). */
  bak: string | null;
}

interface Journal {
  version: 1;
  /** preparing: temp files are being written, nothing renamed yet; committing: every temp file is complete. */
  state: "preparing" | "committing";
  verb: string;
  pid: number;
  started: string;
  entries: JournalEntry[];
  /** Repo-relative folders this commit created, outermost first. */
  createdDirs: string[];
}

function writeDurable(file: string, content: string, flag: "w" | "wx", mode?: number): void {
  const fd = openSync(file, flag, mode ?? 0o644);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // the umask applies to openSync's mode: set the original's mode exactly
  if (mode !== undefined) chmodSync(file, mode);
}

function writeJournal(root: string, j: Journal): void {
  const file = path.join(root, JOURNAL_FILE);
  writeDurable(`${file}.tmp`, `${JSON.stringify(j, null, 1)}\n`, "w");
  renameSync(`${file}.tmp`, file);
}

function removeIfExists(file: string): void {
  if (existsSync(file)) unlinkSync(file);
}

/** Removes `dir` and its parents while they are empty, never the repo root. */
function pruneEmpty(root: string, dir: string): void {
  while (dir.startsWith(root + path.sep) && existsSync(dir) && readdirSync(dir).length === 0) {
    rmdirSync(dir);
    dir = path.dirname(dir);
  }
}

/**
 * Applies the plan atomically and crash-safely. Before anything else a journal (JOURNAL_FILE) lists every
 * temp and backup name; the new contents go to temp files beside their targets; the journal is marked
 * `committing`; then each target is renamed into place (its old content to a backup first); last the
 * backups and the journal go. An error rolls everything back in-process; a run killed on the way leaves
 * the journal, from which `recoverJournal` (run by the next kopiashare under the lock) finishes a commit
 * that reached `committing` and rolls back one that did not. `hook` lets tests inject a failure or a kill
 * between steps. Directories created for new files are removed again on rollback; directories emptied by
 * deletions are removed after success. A replaced file keeps its mode.
 */
export function applyPlan(plan: Plan, hook?: ApplyHook, verb = "kopiashare"): void {
  const changes = effective(plan);
  const root = plan.root;
  const targets = changes.map((c) => ({ change: c, abs: resolveInside(root, c.path) }));
  // Refuse if the working tree moved under us since the plan was computed.
  for (const { change, abs } of targets) {
    const now = existsSync(abs) ? readFileSync(abs, "utf8") : null;
    if (now !== change.before) {
      throw new CliError(
        `${change.path} changed while the plan was being made; nothing was written`,
        2,
        "run the command again",
      );
    }
  }
  const tag = `.kopiashare-${process.pid}-${Date.now()}`;
  const rel = (abs: string) => path.relative(root, abs).split(path.sep).join("/");
  const side = (abs: string, ext: string) => path.join(path.dirname(abs), `.${path.basename(abs)}${tag}.${ext}`);
  const createdDirs: string[] = [];
  for (const { change, abs } of targets) {
    if (change.after === null) continue;
    let d = path.dirname(abs);
    const chain: string[] = [];
    while (!existsSync(d) && !createdDirs.includes(d)) {
      chain.unshift(d);
      d = path.dirname(d);
    }
    createdDirs.push(...chain);
  }
  const journal: Journal = {
    version: 1,
    state: "preparing",
    verb,
    pid: process.pid,
    started: new Date().toISOString(),
    entries: targets.map(({ change, abs }) => ({
      path: change.path,
      tmp: change.after === null ? null : rel(side(abs, "tmp")),
      bak: change.before === null ? null : rel(side(abs, "bak")),
    })),
    createdDirs: createdDirs.map(rel),
  };
  const journalFile = path.join(root, JOURNAL_FILE);
  const renamed: { abs: string; entry: JournalEntry }[] = [];
  try {
    writeJournal(root, journal);
    hook?.("journal", JOURNAL_FILE);
    for (const [i, { change, abs }] of targets.entries()) {
      if (change.after === null) continue;
      mkdirSync(path.dirname(abs), { recursive: true });
      const mode = change.before !== null ? statSync(abs).mode & 0o7777 : undefined;
      writeDurable(path.join(root, journal.entries[i]?.tmp as string), change.after, "wx", mode);
      hook?.("written", change.path);
    }
    writeJournal(root, { ...journal, state: "committing" });
    hook?.("committing", JOURNAL_FILE);
    for (const [i, { change, abs }] of targets.entries()) {
      const entry = journal.entries[i] as JournalEntry;
      renamed.push({ abs, entry });
      if (entry.bak) renameSync(abs, path.join(root, entry.bak));
      if (entry.tmp) renameSync(path.join(root, entry.tmp), abs);
      hook?.("renamed", change.path);
    }
  } catch (e) {
    for (const { abs, entry } of renamed.reverse()) {
      try {
        if (entry.tmp && !existsSync(path.join(root, entry.tmp))) removeIfExists(abs);
        if (entry.bak && existsSync(path.join(root, entry.bak))) renameSync(path.join(root, entry.bak), abs);
      } catch {
        /* best effort: keep restoring the others */
      }
    }
    for (const entry of journal.entries) if (entry.tmp) removeIfExists(path.join(root, entry.tmp));
    for (const d of [...createdDirs].reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* not empty or gone */
      }
    }
    removeIfExists(`${journalFile}.tmp`);
    removeIfExists(journalFile);
    if (e instanceof CliError) throw e;
    throw new CliError(`could not write the changes: ${describeError(e)}; the repository was left as it was`, 1);
  }
  finishCommit(root, journal);
  hook?.("cleaned", JOURNAL_FILE);
}

function describeError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code && err.path ? `${err.path}: ${describeErrno(err)}` : err.message;
}

/** After every rename: removes the backups, the folders deletions emptied, and last the journal. */
function finishCommit(root: string, journal: Journal): void {
  for (const entry of journal.entries) if (entry.bak) removeIfExists(path.join(root, entry.bak));
  for (const entry of journal.entries) {
    if (entry.tmp === null) pruneEmpty(root, path.dirname(path.join(root, entry.path)));
  }
  removeIfExists(path.join(root, JOURNAL_FILE));
}

/** What recoverJournal did, for the user: undefined when there was no unfinished commit. */
export interface Recovery {
  action: "completed" | "rolled back";
  verb: string;
  started: string;
  files: string[];
}

/**
 * Finishes what a killed run left: a journal in state `committing` is completed (every new content is
 * complete in its temp file, so the rest of the renames are done), one in state `preparing` is rolled
 * back (temp files and created folders removed; no target had been touched). Must run under the lock.
 */
export function recoverJournal(root: string): Recovery | undefined {
  const file = path.join(root, JOURNAL_FILE);
  // a journal that was being written when the run died: nothing had been written before it
  if (!existsSync(file)) {
    removeIfExists(`${file}.tmp`);
    return undefined;
  }
  let j: Journal;
  try {
    j = JSON.parse(readFileSync(file, "utf8")) as Journal;
    if (j.version !== 1 || !Array.isArray(j.entries)) throw new Error("unknown format");
  } catch (e) {
    throw new CliError(
      `${JOURNAL_FILE} (left by an interrupted kopiashare run) cannot be read: ${(e as Error).message}`,
      2,
      `inspect the files it names and the .kopiashare-* files beside them, then remove ${JOURNAL_FILE}`,
    );
  }
  const at = (r: string) => resolveInside(root, r);
  if (j.state === "committing") {
    for (const entry of j.entries) {
      const abs = at(entry.path);
      const tmpThere = entry.tmp !== null && existsSync(at(entry.tmp));
      const bakThere = entry.bak !== null && existsSync(at(entry.bak));
      // not renamed yet: move the old content aside, then the new content in
      if (entry.bak && !bakThere && existsSync(abs) && (tmpThere || entry.tmp === null)) renameSync(abs, at(entry.bak));
      if (entry.tmp && tmpThere) renameSync(at(entry.tmp), abs);
    }
    finishCommit(root, j);
    removeIfExists(`${file}.tmp`);
    return { action: "completed", verb: j.verb, started: j.started, files: j.entries.map((e) => e.path) };
  }
  for (const entry of j.entries) if (entry.tmp) removeIfExists(at(entry.tmp));
  for (const d of [...j.createdDirs].reverse()) {
    const abs = at(d);
    if (existsSync(abs) && readdirSync(abs).length === 0) rmdirSync(abs);
  }
  removeIfExists(file);
  removeIfExists(`${file}.tmp`);
  return { action: "rolled back", verb: j.verb, started: j.started, files: j.entries.map((e) => e.path) };
}

/** The changes that would overwrite or delete a hand edit of a generated file. */
export function handEdits(changes: FileChange[]): FileChange[] {
  return changes.filter(
    (c) =>
      c.expected !== undefined && c.before !== null && !sameText(c.before, c.after) && !sameText(c.before, c.expected),
  );
}

/**
 * Refuses (usage error, nothing written) a plan that would overwrite or delete a hand-edited generated
 * file, showing for each what was edited: the current content against what kopiashare generates.
 */
export function refuseHandEdits(changes: FileChange[], renderDiff: (c: FileChange[]) => string): void {
  const edited = handEdits(changes);
  if (edited.length === 0) return;
  const deletes = edited.some((c) => c.after === null);
  throw usageError(
    `${edited.map((c) => c.path).join(", ")} ${edited.length === 1 ? "exists" : "exist"} with different content than kopiashare generates (edited by hand?); nothing was written`,
    `review the diff below (- the file now, + what kopiashare generates); pass --force to ${deletes ? "overwrite or delete" : "overwrite"} anyway (the edits are lost)`,
    // a file kopiashare would not generate at all (expected null) is shown against what it would write there
    renderDiff(edited.map((c) => ({ path: c.path, before: c.before, after: c.expected ?? c.after }))),
  );
}
