/**
 * Shared by the benchmarks, which time the compiled CLI (`node bin/kopiashare.js`) as whole processes:
 * rebuild dist/ (`npm run build`) when any file under src/ is newer than everything under dist/.
 *
 *   import { ensureBuilt } from "./build.ts";
 *
 * Run on its own (`npm run bench -- build`, or `node --import tsx bench/build.ts`) it only does that.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "..");

/** The newest modification time (ms) of any file under dir. Throws when dir does not exist. */
export function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(abs) : statSync(abs).mtimeMs);
  }
  return t;
}

/** Whether dist/ is missing or older than src/. */
export function isStale(root = ROOT): boolean {
  try {
    return newest(path.join(root, "src")) > newest(path.join(root, "dist"));
  } catch {
    return true;
  }
}

/** Builds dist/ when it is stale; a failed build is a warning (what was emitted is still timed). */
export function ensureBuilt(root = ROOT): void {
  if (!isStale(root)) return;
  process.stderr.write("dist/ is older than src/: npm run build\n");
  const r = spawnSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.stderr.write("warning: the build reported errors; timing what was emitted\n");
}

if (import.meta.filename === process.argv[1]) {
  ensureBuilt();
  const stale = isStale();
  process.stdout.write(stale ? "dist/ is still older than src/\n" : "dist/ is up to date with src/\n");
  process.exitCode = stale ? 1 : 0;
}
