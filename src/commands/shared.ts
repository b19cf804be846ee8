/** What every write command shares: common flags, loading the repo, and running a plan in one of its modes. */
import { Option } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import type { Conventions } from "../core/config.ts";
import { usageError } from "../errors.ts";
import { applyPlan, effective, type FileChange, type Plan, refuseOverwrites } from "../gitops/plan.ts";
import { findRepoRoot, loadConventions } from "../gitops/repo.ts";
import { type RepoScan, scanRepo } from "../gitops/scan.ts";
import { makeColors } from "../output/colors.ts";
import { renderDiff } from "../output/diff.ts";

export type OutputFormat = "text" | "json" | "yaml";

export const outputOption = (formats: readonly string[] = ["text", "json", "yaml"]) =>
  new Option("-o, --output <format>", `output format: ${formats.join(", ")}`).choices(formats).default("text");

export const repoOption = () =>
  new Option("--repo <dir>", "GitOps repository root (default: the enclosing git checkout, else .)");

export interface Loaded {
  root: string;
  conventions: Conventions;
  scan: RepoScan;
}

export function loadRepo(ctx: Ctx, repo: string | undefined): Loaded {
  const root = findRepoRoot(ctx.io.cwd, repo);
  const conventions = loadConventions(root);
  return { root, conventions, scan: scanRepo(root) };
}

export interface PlanRun {
  plan: Plan;
  /** What -o yaml prints: the generated manifests, path -> content. */
  manifests: Record<string, string>;
  /** One line saying what was done, e.g. "enabled backups in namespace media". */
  done: string;
  /** What to say when nothing changes. */
  upToDate: string;
  /** Paths whose existing different content is a hand edit (refused without --force). */
  generated: string[];
  notes: string[];
  /** Printed after a successful write. */
  next: string[];
}

export interface PlanFlags {
  dryRun?: boolean;
  output: string;
  force?: boolean;
}

function action(c: FileChange): "create" | "update" | "delete" {
  return c.before === null ? "create" : c.after === null ? "delete" : "update";
}

/**
 * Runs a plan: `-o yaml` prints manifests, `--dry-run` prints the diff, otherwise the plan is applied
 * all-or-nothing. Hand-edited generated files are refused (with the diff) unless --force.
 */
export function runPlan(ctx: Ctx, run: PlanRun, flags: PlanFlags, jsonExtra: Record<string, unknown> = {}): void {
  const out = ctx.io.stdout;
  const changes = effective(run.plan);
  if (flags.output === "yaml") {
    out.write(Object.values(run.manifests).join(""));
    return;
  }
  const summary = {
    changed: changes.length > 0,
    dryRun: flags.dryRun === true,
    files: changes.map((c) => ({ path: c.path, action: action(c) })),
    notes: run.notes,
    ...jsonExtra,
  };
  if (!flags.dryRun && !flags.force) {
    refuseOverwrites(
      changes.filter((c) => run.generated.includes(c.path)),
      false,
      (cs) => renderDiff(cs, makeColors(false)),
    );
  }
  if (flags.dryRun) {
    if (flags.output === "json")
      out.write(`${JSON.stringify({ ...summary, diff: renderDiff(changes, makeColors(false)) }, null, 2)}\n`);
    else if (changes.length > 0) out.write(renderDiff(changes, ctx.colors("stdout")));
    ctx.say(changes.length > 0 ? `dry run: ${changes.length} file(s) would change; nothing was written` : run.upToDate);
    for (const n of run.notes) ctx.say(`note: ${n}`);
    return;
  }
  if (changes.length > 0) applyPlan(run.plan);
  if (flags.output === "json") {
    out.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  const c = ctx.colors("stdout");
  if (changes.length === 0) {
    out.write(`${run.upToDate}\n`);
  } else {
    out.write(`${run.done}\n`);
    for (const ch of changes) {
      const a = action(ch);
      const label = a === "create" ? c.green("created") : a === "delete" ? c.red("deleted") : c.yellow("updated");
      out.write(`  ${label} ${ch.path}\n`);
    }
    for (const n of run.next) out.write(`${n}\n`);
  }
  for (const n of run.notes) ctx.say(`note: ${n}`);
}

export function conflicting(pairs: [string, boolean | undefined, string, boolean | undefined][]): void {
  for (const [a, x, b, y] of pairs) if (x && y) throw usageError(`${a} and ${b} cannot be used together`);
}
