/**
 * Builds the command tree. Every verb lives in commands/<verb>.ts; anything that talks to a cluster
 * imports kube/ lazily inside its action, so --help, --version and offline verbs never load the
 * Kubernetes client.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "@commander-js/extra-typings";
import { appCommand } from "./commands/app.ts";
import { completionCommand } from "./commands/completion.ts";
import { controllerCommand } from "./commands/controller.ts";
import { disableCommand } from "./commands/disable.ts";
import { doctorCommand } from "./commands/doctor.ts";
import { driftCommand } from "./commands/drift.ts";
import { enableCommand } from "./commands/enable.ts";
import { graphCommand } from "./commands/graph.ts";
import { initCommand } from "./commands/init.ts";
import { lintCommand } from "./commands/lint.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { verifyCommand } from "./commands/verify.ts";
import { CliError, describeErrno, ERRNO_WORDS, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Interrupted } from "./errors.ts";
import type { Io } from "./io.ts";
import { type Colors, colorsFor } from "./output/colors.ts";

export interface Ctx {
  io: Io;
  /** Set by a command when it found a problem (exit 1). */
  exitCode: number;
  /** Colours for stdout or stderr, honouring NO_COLOR, --no-color and whether the stream is a TTY. */
  colors(stream: "stdout" | "stderr"): Colors;
  /** stderr line for the user (progress, summaries); data goes to stdout. */
  say(line: string): void;
  /** Run when the command ends, however it ends (releases the repository lock). */
  cleanups: (() => void)[];
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export function buildProgram(ctx: Ctx, name = "kopiashare"): Command {
  const program = new Command()
    .name(name)
    .description(
      "Share one Kopia repository on a CephFS volume across Kubernetes namespaces:\nwrite it into your Flux repo, lint it offline, verify it live.",
    )
    .version(version(), "--version", "print the version")
    .option("--no-color", "disable colours (also: NO_COLOR=1, or when output is not a terminal)")
    .showHelpAfterError("(run with --help for usage)")
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      outputError: (s, write) => write(ctx.colors("stderr").red(s)),
    })
    .exitOverride();
  program.addHelpText(
    "after",
    `
Examples:
  kopiashare enable media --dry-run     show what enabling backups in "media" writes
  kopiashare enable media               write it into the GitOps repo
  kopiashare disable media              remove it again (prints the cluster-side steps)
  kubectl kopiashare --help             the same binary, as a kubectl plugin

Exit codes: 0 ok, 1 a problem was found, 2 usage or input error (nothing written).
Docs: docs/commands.md`,
  );
  for (const make of [
    enableCommand,
    disableCommand,
    initCommand,
    appCommand,
    migrateCommand,
    lintCommand,
    graphCommand,
    verifyCommand,
    doctorCommand,
    driftCommand,
    controllerCommand,
    completionCommand,
  ]) {
    const cmd = make(ctx) as unknown as Command;
    cmd.exitOverride().configureOutput({
      writeOut: (s: string) => ctx.io.stdout.write(s),
      writeErr: (s: string) => ctx.io.stderr.write(s),
      outputError: (s: string, write: (s: string) => void) => write(ctx.colors("stderr").red(s)),
    });
    cmd.showHelpAfterError("(run with --help for usage)");
    program.addCommand(cmd);
  }
  return program;
}

/**
 * Runs the CLI. `invokedAs` is the basename of the executable: as `kubectl-kopiashare` the program
 * calls itself `kubectl kopiashare` in help and errors, as kubectl plugins do.
 */
export async function main(argv: string[], io: Io, invokedAs = "kopiashare"): Promise<number> {
  const noColor = argv.includes("--no-color");
  const ctx: Ctx = {
    io,
    exitCode: EXIT_OK,
    colors: (stream) => colorsFor(stream === "stdout" ? io.stdout : io.stderr, io.env, noColor ? false : undefined),
    say: (line) => io.stderr.write(`${line}\n`),
    cleanups: [],
  };
  const program = buildProgram(ctx, invokedAs === "kubectl-kopiashare" ? "kubectl kopiashare" : "kopiashare");
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode;
  } catch (e) {
    return reportError(e, ctx);
  } finally {
    for (const f of ctx.cleanups.splice(0).reverse()) f();
  }
}

function reportError(e: unknown, ctx: Ctx): number {
  const c = ctx.colors("stderr");
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help")
      return EXIT_OK;
    return EXIT_USAGE;
  }
  if (e instanceof Interrupted) {
    ctx.io.stderr.write(`${c.red("error:")} ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof CliError) {
    ctx.io.stderr.write(`${c.red("error:")} ${e.message}\n`);
    if (e.hint) ctx.io.stderr.write(`  ${c.dim("hint:")} ${e.hint}\n`);
    if (e.detail) ctx.io.stderr.write(`${e.detail.endsWith("\n") ? e.detail : `${e.detail}\n`}`);
    return e.exitCode;
  }
  const err = e as NodeJS.ErrnoException;
  // a file-system error nothing above turned into a message: the path and the reason in words, exit 2
  if (typeof err?.code === "string" && typeof err.path === "string" && ERRNO_WORDS[err.code]) {
    ctx.io.stderr.write(
      `${c.red("error:")} ${err.syscall ? `${err.syscall} ` : ""}${err.path}: ${describeErrno(err)}\n`,
    );
    return EXIT_USAGE;
  }
  ctx.io.stderr.write(`${c.red("error:")} ${err?.message ?? String(e)}\n`);
  if (ctx.io.env.KOPIASHARE_DEBUG) ctx.io.stderr.write(`${err?.stack ?? ""}\n`);
  else ctx.io.stderr.write("  (set KOPIASHARE_DEBUG=1 for a stack trace; please report this as a bug)\n");
  return EXIT_PROBLEM;
}
