/**
 * What every write command shares: common flags, loading the repo, and running a plan in one of its modes.
 * The flags are cheap to build; the scan, plan and diff code is imported only when an action runs.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { type Command, InvalidArgumentError, Option, type OptionValues } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import { type Conventions, checkSetting, type Kind } from "../core/config.ts";
import { KUBE_VERSION_FORMS, type KubeVersion, parseKubeVersion } from "../core/names.ts";
import { Interrupted, usageError } from "../errors.ts";
import type { ApplyHook, FileChange, Plan } from "../gitops/plan.ts";
import type { RepoScan } from "../gitops/scan.ts";

export const outputOption = (formats: readonly string[] = ["text", "json", "yaml"]) =>
  new Option("-o, --output <format>", `output format: ${formats.join(", ")}`).choices(formats).default("text");

export const repoOption = () =>
  new Option("--repo <dir>", "GitOps repository root (default: the enclosing git checkout, else .)");

export const dryRunOption = () =>
  new Option(
    "--dry-run",
    "write nothing: print the change (a unified diff; with -o yaml the objects, -o json the summary)",
  );

/** --force, with what it means for this verb. */
export const forceOption = (description: string) => new Option("--force", description);

export const kubeVersionOption = (description: string) =>
  new Option("--kubernetes-version <version>", `${description}; written ${KUBE_VERSION_FORMS}`);

/**
 * A flag's argument parser that runs the same validator as the kopiashare.yaml key of the same meaning
 * (core/config.ts checkSetting): a bad value is a usage error (exit 2) before anything is read.
 */
export function validated(kind: Kind, flag: string): (value: string) => string {
  return (value) => {
    const problem = checkSetting(kind, value, flag);
    if (problem) throw new InvalidArgumentError(problem);
    return value;
  };
}

/** A flag whose value is validated like the kopiashare.yaml key of the same meaning. */
export const checkedOption = <F extends string>(flags: F, description: string, kind: Kind) =>
  new Option(flags, description).argParser(validated(kind, flags.split(" ")[0] as string));

function parseId(value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new InvalidArgumentError("expected a non-negative integer (a UID or GID)");
  return Number(value);
}

/** --uid / --gid: a non-negative integer. */
export const idOption = <K extends "uid" | "gid">(which: K, description: string) =>
  new Option(`--${which} <${which}>` as `--${K} <${K}>`, description).argParser(parseId);

const VOLUME_HELP = {
  enable: {
    volumeHandle: "csi.volumeHandle of the shared subvolume (default: from the repository PV)",
    clusterId: "Ceph cluster ID (default: from the repository PV or the handle)",
    fsName: "CephFS file system name (default: from the repository PV)",
    driver: "CSI driver (default: from the repository PV, else cephfs.csi.ceph.com)",
    storageClass: "storageClassName of PV and PVC (default: from the repository PV)",
    capacity: "capacity of PV and PVC (default: from the repository PV)",
    nodeStageSecret: "nodeStageSecretRef (default: from the repository PV)",
  },
  init: {
    volumeHandle: "shared-handle style: csi.volumeHandle of the shared subvolume",
    clusterId: "Ceph cluster ID (default: read from the handle, else the CephFS storage class in the repo)",
    fsName: "CephFS file system name (default: the CephFS storage class or Rook cluster in the repo)",
    driver: "CSI driver (default: the CephFS storage class's provisioner in the repo, else Rook's)",
    storageClass: "storageClassName of the repository PV and PVC (default: the CephFS storage class in the repo)",
    capacity: "capacity of the repository PV and PVC (default 200Gi)",
    nodeStageSecret:
      "nodeStageSecretRef, the secret with userID/userKey (default: the CephFS storage class's node-stage secret)",
  },
} as const;

/**
 * The flags that describe the repository volume: for `enable` they override what the repository PV says;
 * for `init` they describe the repository PV it creates (and must agree with the one the repo already has).
 */
export function volumeOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
  verb: keyof typeof VOLUME_HELP,
) {
  const h = VOLUME_HELP[verb];
  return cmd
    .addOption(new Option("--volume-handle <handle>", h.volumeHandle))
    .addOption(new Option("--cluster-id <id>", h.clusterId))
    .addOption(new Option("--fs-name <name>", h.fsName))
    .addOption(checkedOption("--driver <driver>", h.driver, "name"))
    .addOption(checkedOption("--storage-class <name>", h.storageClass, "name"))
    .addOption(checkedOption("--capacity <quantity>", h.capacity, "quantity"))
    .addOption(checkedOption("--node-stage-secret <ns/name>", h.nodeStageSecret, "nsname"));
}

export interface Loaded {
  root: string;
  conventions: Conventions;
  scan: RepoScan;
}

/**
 * Finds the repository, and before anything reads it: finishes or rolls back a commit an interrupted run
 * left (saying which), and for a verb that will write (`lock`) takes the repository lock for the rest of
 * the command, so that its plan is made and applied with no other writer in between.
 */
export async function loadRepo(
  ctx: Ctx,
  repo: string | undefined,
  opts: { lock?: string; writer?: boolean } = {},
): Promise<Loaded> {
  const [{ findRepoRoot, loadConventions }, { scanRepoParallel }, { acquireLock, DEFAULT_LOCK_WAIT_MS }, planMod] =
    await Promise.all([
      import("../gitops/repo.ts"),
      import("../gitops/scan.ts"),
      import("../gitops/lock.ts"),
      import("../gitops/plan.ts"),
    ]);
  const root = findRepoRoot(ctx.io.cwd, repo);
  const journal = existsSync(path.join(root, planMod.JOURNAL_FILE));
  if (opts.lock !== undefined || journal) {
    const wait = Number(ctx.io.env.KOPIASHARE_LOCK_WAIT_MS ?? DEFAULT_LOCK_WAIT_MS);
    const lock = await acquireLock(root, opts.lock ?? "recovery", {
      waitMs: Number.isFinite(wait) && wait >= 0 ? wait : DEFAULT_LOCK_WAIT_MS,
      say: ctx.say,
    });
    ctx.cleanups.push(() => lock.release());
    const r = planMod.recoverJournal(root);
    if (r) {
      ctx.say(
        `note: an interrupted kopiashare ${r.verb} (started ${r.started}) left ${planMod.JOURNAL_FILE}: ${
          r.action === "completed"
            ? "it had written every new file, so its commit was completed"
            : "it had renamed nothing yet, so it was rolled back"
        } (${r.files.join(", ")})`,
      );
    }
    if (opts.lock === undefined) lock.release();
  }
  const conventions = loadConventions(root);
  const scan = await scanRepoParallel(root);
  if (opts.writer) refusePartialView(scan);
  return { root, conventions, scan };
}

/**
 * A writing verb plans from the whole repository: a file or folder it could not read (or a file over the
 * size limit) could hold the instance, the registration or a conflicting declaration, so it refuses
 * (exit 2) rather than report "not enabled" or write next to what it could not see.
 */
export function refusePartialView(scan: RepoScan): void {
  const unread = scan.issues.filter(
    (i) => i.kind === "unreadable" || i.kind === "too-large" || i.kind === "too-complex",
  );
  if (unread.length === 0) return;
  throw usageError(
    `${unread.length === 1 ? "a path" : `${unread.length} paths`} of the repository could not be read; nothing was written`,
    "make them readable for this user (move a file over 5 MiB out of the repository, write out nested aliases), then run the command again",
    unread.map((i) => `  ${i.message}`).join("\n"),
  );
}

/** The lock a writing verb takes: none for a preview (--dry-run), which writes nothing. */
export function lockFor(verb: string, flags: { dryRun?: boolean }): string | undefined {
  return flags.dryRun ? undefined : verb;
}

/** The signals a commit holds until the tree is consistent again. */
const HELD_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Runs `commit` with SIGINT, SIGTERM and SIGHUP held: one that arrives meanwhile is reported once the
 * commit is done (the process then ends with 128 + the signal's number, the tree consistent).
 */
async function holdingSignals(commit: () => void): Promise<NodeJS.Signals | undefined> {
  let got: NodeJS.Signals | undefined;
  const on = (s: NodeJS.Signals) => {
    got ??= s;
  };
  for (const s of HELD_SIGNALS) process.on(s, on);
  try {
    commit();
    // let a signal that arrived during the (synchronous) commit reach its handler before removing it
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  } finally {
    for (const s of HELD_SIGNALS) process.off(s, on);
  }
  return got;
}

/**
 * KOPIASHARE_TEST_HOOK=<step>:<n>:<action> (tests only, docs/testing.md): at the n-th time the commit
 * reaches <step> (an ApplyStep), `kill` the process (SIGKILL), or send it `sigint` / `sigterm`.
 */
function testHook(env: Ctx["io"]["env"]): ApplyHook | undefined {
  const spec = env.KOPIASHARE_TEST_HOOK;
  if (!spec) return undefined;
  const [step, n, act] = spec.split(":");
  let seen = 0;
  return (s) => {
    if (s !== step || ++seen !== Number(n ?? 1)) return;
    const sig = act === "sigint" ? "SIGINT" : act === "sigterm" ? "SIGTERM" : "SIGKILL";
    process.kill(process.pid, sig);
  };
}

export interface PlanRun {
  /** The verb, for the journal and the lock. */
  verb: string;
  plan: Plan;
  /** What -o yaml prints: the generated manifests, path -> content. */
  manifests: Record<string, string>;
  /** One line saying what was done, e.g. "enabled backups in namespace media". */
  done: string;
  /** What to say when nothing changes. */
  upToDate: string;
  /** Things the user should know (stderr; `notes` in -o json). */
  notes: string[];
  /** Things the user must act on (stderr, before the notes; `warnings` in -o json). */
  warnings?: string[];
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
 * The API objects among the generated manifests, as `---`-separated YAML for `kubectl apply -f -`:
 * kustomize's own build files (apiVersion kustomize.config.k8s.io/…: a kustomization.yaml, a Component)
 * are no API objects and are left out.
 */
export function apiObjects(manifests: Record<string, string>): string {
  let out = "";
  for (const text of Object.values(manifests)) {
    for (const doc of text.split(/^---[ \t]*\r?$/m)) {
      if (!/^[^#\s]/m.test(doc)) continue;
      if (/^apiVersion:\s*["']?kustomize\.config\.k8s\.io\//m.test(doc)) continue;
      out += `---${doc.startsWith("\n") || doc.startsWith("\r\n") ? "" : "\n"}${doc}`;
    }
  }
  return out;
}

/**
 * Runs a plan. `--dry-run` alone decides whether anything is written; `-o` only chooses the format:
 * text (what was done, or the diff), json (the summary), yaml (the API objects generated, to stdout,
 * messages on stderr). Without --dry-run the plan is applied all-or-nothing. A change that would overwrite or delete a hand-edited generated file (see
 * FileChange.expected) is refused with the diff unless --force; previews only say so in a note.
 */
export async function runPlan(
  ctx: Ctx,
  run: PlanRun,
  flags: PlanFlags,
  jsonExtra: Record<string, unknown> = {},
): Promise<void> {
  const [{ applyPlan, effective, handEdits, refuseHandEdits }, { renderDiff }, { makeColors }] = await Promise.all([
    import("../gitops/plan.ts"),
    import("../output/diff.ts"),
    import("../output/colors.ts"),
  ]);
  const out = ctx.io.stdout;
  const changes = effective(run.plan);
  const yaml = flags.output === "yaml";
  const warnings = [...(run.warnings ?? [])];
  if (flags.dryRun && !flags.force) {
    for (const c of handEdits(changes)) {
      warnings.push(`${c.path} was edited by hand: without --dry-run this is refused unless --force`);
    }
  }
  const summary = {
    changed: changes.length > 0,
    dryRun: flags.dryRun === true,
    files: changes.map((c) => ({ path: c.path, action: action(c) })),
    ...(warnings.length > 0 ? { warnings } : {}),
    notes: run.notes,
    ...jsonExtra,
  };
  const say = () => {
    for (const w of warnings) ctx.say(`warning: ${w}`);
    for (const n of run.notes) ctx.say(`note: ${n}`);
  };
  if (!flags.dryRun && !flags.force) refuseHandEdits(changes, (cs) => renderDiff(cs, makeColors(false)));
  if (flags.dryRun) {
    if (yaml) out.write(apiObjects(run.manifests));
    else if (flags.output === "json")
      out.write(`${JSON.stringify({ ...summary, diff: renderDiff(changes, makeColors(false)) }, null, 2)}\n`);
    else if (changes.length > 0) out.write(renderDiff(changes, ctx.colors("stdout")));
    ctx.say(changes.length > 0 ? `dry run: ${changes.length} file(s) would change; nothing was written` : run.upToDate);
    say();
    return;
  }
  if (changes.length > 0) {
    const signal = await holdingSignals(() => applyPlan(run.plan, testHook(ctx.io.env), run.verb));
    if (signal) {
      throw new Interrupted(
        signal,
        `interrupted by ${signal} while writing; the write was finished first, so the repository is consistent`,
      );
    }
  }
  if (flags.output === "json") {
    out.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  // -o yaml: stdout holds only the objects, so what was done goes to stderr
  const report = yaml ? ctx.io.stderr : out;
  if (yaml) out.write(apiObjects(run.manifests));
  const c = ctx.colors(yaml ? "stderr" : "stdout");
  if (changes.length === 0) {
    report.write(`${run.upToDate}\n`);
  } else {
    report.write(`${run.done}\n`);
    for (const ch of changes) {
      const a = action(ch);
      const label = a === "create" ? c.green("created") : a === "delete" ? c.red("deleted") : c.yellow("updated");
      report.write(`  ${label} ${ch.path}\n`);
    }
    for (const n of run.next) report.write(`${n}\n`);
    if (yaml) {
      ctx.say(
        "note: -o yaml only chooses the output format and no longer means --dry-run: the files above were written (to only print the objects, add --dry-run)",
      );
    }
  }
  say();
}

/**
 * The cluster version lint's rules use: `--kubernetes-version`, parsed; exit 2 when it, or kubernetesVersion
 * in kopiashare.yaml, is not a Kubernetes minor version (lint and graph read a repository alike).
 */
export function kubeVersionFlag(flag: string | undefined, conventions: Conventions): KubeVersion | undefined {
  for (const [raw, where] of [
    [flag, "--kubernetes-version"],
    [conventions.kubernetesVersion, "kubernetesVersion in kopiashare.yaml"],
  ] as const) {
    if (raw !== undefined && !parseKubeVersion(raw)) {
      throw usageError(`${where} ${raw}: expected a Kubernetes minor version such as 1.34`);
    }
  }
  return flag === undefined ? undefined : parseKubeVersion(flag);
}
