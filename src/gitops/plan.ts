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

/** A target that exists with other content is a hand edit: refuse unless forced, and show what differs. */
export function refuseOverwrites(changes: FileChange[], force: boolean, renderDiff: (c: FileChange[]) => string): void {
  if (force) return;
  const clobbered = changes.filter((c) => c.before !== null && c.after !== null && c.before !== c.after);
  if (clobbered.length === 0) return;
  throw usageError(
    `${clobbered.map((c) => c.path).join(", ")} ${clobbered.length === 1 ? "exists" : "exist"} with different content (edited by hand?); nothing was written`,
    "review the diff below; pass --force to overwrite",
    renderDiff(clobbered),
  );
}
