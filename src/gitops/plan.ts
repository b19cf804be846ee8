/**
 * A plan is the complete list of file changes one command makes. It is computed before anything is
 * written, shown as a diff (--dry-run) or applied all-or-nothing: every new content is first written to
 * a temp file beside its target, then all are renamed into place; if any step fails, everything
 * already renamed is restored from the originals.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { CliError, usageError } from "../errors.ts";
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
  return existsSync(abs) ? readFileSync(abs, "utf8") : null;
}

/** Only the changes that change something. */
export function effective(plan: Plan): FileChange[] {
  return plan.changes.filter((c) => c.before !== c.after);
}

export type ApplyHook = (step: "written" | "renamed", file: string) => void;

/**
 * Applies the plan atomically. `hook` lets tests inject a failure between steps to prove the rollback.
 * Directories created for new files are removed again on rollback; directories emptied by deletions
 * are removed after success.
 */
export function applyPlan(plan: Plan, hook?: ApplyHook): void {
  const changes = effective(plan);
  const targets = changes.map((c) => ({ change: c, abs: resolveInside(plan.root, c.path) }));
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
  const createdDirs: string[] = [];
  const temps: { abs: string; tmp: string }[] = [];
  const backups: { abs: string; bak: string }[] = [];
  const renamed: { abs: string; hadOriginal: boolean; bak: string }[] = [];
  try {
    for (const { change, abs } of targets) {
      if (change.after === null) continue;
      const dir = path.dirname(abs);
      if (!existsSync(dir)) {
        let d = dir;
        const chain: string[] = [];
        while (!existsSync(d)) {
          chain.unshift(d);
          d = path.dirname(d);
        }
        mkdirSync(dir, { recursive: true });
        createdDirs.push(...chain);
      }
      const tmp = path.join(dir, `.${path.basename(abs)}${tag}.tmp`);
      writeFileSync(tmp, change.after, { flag: "wx" });
      temps.push({ abs, tmp });
      hook?.("written", change.path);
    }
    for (const { change, abs } of targets) {
      const bak = path.join(path.dirname(abs), `.${path.basename(abs)}${tag}.bak`);
      const hadOriginal = change.before !== null;
      if (hadOriginal) {
        renameSync(abs, bak);
        backups.push({ abs, bak });
      }
      const t = temps.find((x) => x.abs === abs);
      renamed.push({ abs, hadOriginal, bak });
      if (t) renameSync(t.tmp, abs);
      hook?.("renamed", change.path);
    }
  } catch (e) {
    for (const r of renamed.reverse()) {
      try {
        if (existsSync(r.abs)) unlinkSync(r.abs);
        if (r.hadOriginal) renameSync(r.bak, r.abs);
      } catch {
        /* best effort: keep restoring the others */
      }
    }
    for (const t of temps) if (existsSync(t.tmp)) unlinkSync(t.tmp);
    for (const d of createdDirs.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* not empty or gone */
      }
    }
    if (e instanceof CliError) throw e;
    throw new CliError(`could not write the changes: ${(e as Error).message}; the repository was left as it was`, 1);
  }
  for (const b of backups) unlinkSync(b.bak);
  // Remove directories a deletion left empty (never the repo root).
  for (const { change, abs } of targets) {
    if (change.after !== null) continue;
    let dir = path.dirname(abs);
    while (dir.startsWith(plan.root + path.sep) && existsSync(dir) && readdirSync(dir).length === 0) {
      rmdirSync(dir);
      dir = path.dirname(dir);
    }
  }
}

/** The changes that would overwrite or delete a hand edit of a generated file. */
export function handEdits(changes: FileChange[]): FileChange[] {
  return changes.filter(
    (c) => c.expected !== undefined && c.before !== null && c.before !== c.after && c.before !== c.expected,
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
