/** Shared test helpers: real temp git repos and in-process CLI runs with captured output. */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { main } from "../src/cli.ts";
import { bufferIo } from "../src/io.ts";

export const ROOT = path.resolve(import.meta.dirname, "..");
export const EXAMPLE = path.join(ROOT, "examples", "home-ops");
export const FIXTURES = path.join(ROOT, "test", "fixtures");

const made: string[] = [];
process.on("exit", () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary git repository, optionally seeded from a directory. */
export function tempRepo(from?: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "kopiashare-test-"));
  made.push(dir);
  if (from) cpSync(from, dir, { recursive: true });
  execFileSync("git", ["init", "-q", dir]);
  return dir;
}

/** Writes files (repo-relative path -> content) into dir. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
}

export function read(dir: string, rel: string): string {
  return readFileSync(path.join(dir, rel), "utf8");
}

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process, as a user would from `cwd`. */
export async function run(argv: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<RunResult> {
  const io = bufferIo({ cwd: opts.cwd, env: { NO_COLOR: "1", ...opts.env } });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

/** Snapshot of every file under dir (path -> content), to prove nothing changed. */
export function treeOf(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const files = execFileSync("git", ["-C", dir, "ls-files", "--others", "--cached", "--exclude-standard"], {
    encoding: "utf8",
  })
    .split("\n")
    .filter(Boolean);
  for (const f of files) out.set(f, readFileSync(path.join(dir, f), "utf8"));
  return out;
}

export function kubectlPath(): string | undefined {
  const r = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  return r.status === 0 ? "kubectl" : undefined;
}

/** Polls `ok` every 10 ms until it holds; fails the test naming `what` after `ms`. */
export async function waitUntil(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
