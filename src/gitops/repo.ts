import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { load as loadYaml } from "js-yaml";
import { ConfigError, type Conventions, parseConventions } from "../core/config.ts";
import { describeErrno, usageError } from "../errors.ts";

export const CONFIG_FILE = "kopiashare.yaml";

/**
 * The repo root: --repo if given, else the nearest enclosing directory with a kopiashare.yaml or a
 * .git (so a GitOps tree kept inside a bigger checkout, like examples/home-ops, is its own root),
 * else the working directory.
 */
export function findRepoRoot(cwd: string, flag?: string): string {
  if (flag !== undefined) {
    const dir = path.resolve(cwd, flag);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw usageError(
        `--repo ${flag}: no such directory`,
        "pass the root of your GitOps checkout, e.g. --repo ./home-ops",
      );
    }
    return realpathSync(dir);
  }
  let dir = path.resolve(cwd);
  for (;;) {
    if (existsSync(path.join(dir, CONFIG_FILE)) || existsSync(path.join(dir, ".git"))) return realpathSync(dir);
    const parent = path.dirname(dir);
    if (parent === dir) return realpathSync(cwd);
    dir = parent;
  }
}

/**
 * Resolves a repo-relative path and refuses anything that leaves the repo, through ".." or through
 * a symlink anywhere on the way (the deepest existing ancestor is resolved with realpath).
 */
export function resolveInside(root: string, rel: string): string {
  const abs = path.resolve(root, rel);
  const realRoot = realpathSync(root);
  let probe = abs;
  const rest: string[] = [];
  while (!existsSync(probe)) {
    rest.unshift(path.basename(probe));
    const parent = path.dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  const real = path.join(realpathSync(probe), ...rest);
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw usageError(`refusing to write ${rel}: it resolves to ${real}, outside the repository ${realRoot}`);
  }
  return real;
}

/** Reads kopiashare.yaml at the repo root when present; a broken file is a usage error naming the key. */
export function loadConventions(root: string): Conventions {
  const file = path.join(root, CONFIG_FILE);
  if (!existsSync(file)) return parseConventions(undefined);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw usageError(`${CONFIG_FILE}: cannot read: ${describeErrno(e as NodeJS.ErrnoException)}`);
  }
  let raw: unknown;
  try {
    raw = loadYaml(text);
  } catch (e) {
    throw usageError(`${CONFIG_FILE}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  try {
    return parseConventions(raw, CONFIG_FILE);
  } catch (e) {
    if (e instanceof ConfigError) {
      throw usageError(
        `${CONFIG_FILE} is invalid`,
        "see docs/config.md for every key and its type",
        e.problems.map((p) => `  - ${p}`).join("\n"),
      );
    }
    throw e;
  }
}
