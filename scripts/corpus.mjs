#!/usr/bin/env node
/**
 * Lints pinned checkouts of public Flux repositories (corpus/manifest.json) with the built CLI and
 * compares their errors and warnings with the reviewed expectations (corpus/expectations.json).
 * Not part of `npm test`: the checkouts come from the network. How to make them: docs/testing.md.
 *
 *   npm run corpus -- <dir of checkouts> [--only <repo substring>]... [--json] [--print-expectations]
 *                     [--manifest <file>] [--expectations <file>] [--source]
 *
 * A checkout is <dir>/<owner>+<name> (or <dir>/<name>). When its HEAD is not the pinned commit, the
 * pinned commit is checked out into a temporary `git worktree` (removed afterwards); when that is
 * not possible the repository is skipped and the run fails.
 *
 * Exit codes: 0 every repository ran and matched its expectations; 1 an unexpected or missing
 * finding, an expectation whose why is "TODO" or empty, or a repository skipped; 2 usage or input error.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const ROOT = path.resolve(import.meta.dirname, "..");
const USAGE = `usage: npm run corpus -- <dir of checkouts> [--only <repo substring>]... [--json] [--print-expectations]
                         [--manifest <file>] [--expectations <file>] [--source]

  <dir>                  holds one checkout per manifest entry: <dir>/<owner>+<name> (or <dir>/<name>)
  --only <substring>     only the repositories whose owner/name contains it (repeatable)
  --json                 print the table as JSON on stdout
  --print-expectations   print the current errors and warnings in the format of corpus/expectations.json
                         (why: "TODO" unless an existing expectation matches), to be reviewed and pasted
  --manifest <file>      default corpus/manifest.json
  --expectations <file>  default corpus/expectations.json
  --source               lint with the TypeScript source (node --import tsx src/bin.ts) instead of dist/`;

/** A usage or input error: exit 2. `usage` prints the usage text too. */
class UsageError extends Error {
  constructor(message, usage = false) {
    super(message);
    this.usage = usage;
  }
}

function main(argv) {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        only: { type: "string", multiple: true },
        json: { type: "boolean" },
        "print-expectations": { type: "boolean" },
        manifest: { type: "string" },
        expectations: { type: "string" },
        source: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(e.message, true);
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError("expected one directory of checkouts", true);
  const checkouts = path.resolve(args.positionals[0]);
  if (!existsSync(checkouts) || !statSync(checkouts).isDirectory()) {
    throw new UsageError(`${checkouts} is not a directory (docs/testing.md#corpus-of-real-repositories)`);
  }
  const manifest = loadManifest(path.resolve(args.values.manifest ?? path.join(ROOT, "corpus", "manifest.json")));
  const expectations = loadExpectations(
    path.resolve(args.values.expectations ?? path.join(ROOT, "corpus", "expectations.json")),
    manifest,
  );
  const only = args.values.only ?? [];
  const selected = only.length ? manifest.filter((e) => only.some((o) => e.repo.includes(o))) : manifest;
  if (selected.length === 0) throw new UsageError(`no manifest entry matches --only ${only.join(", ")}`);

  const cli = args.values.source ? sourceCli() : builtCli();
  const results = [];
  for (const entry of selected) {
    const result = runOne(entry, checkouts, cli, expectations.byRepo.get(entry.repo));
    results.push(result);
    if (result.interrupted) break;
  }
  const interrupted = results.some((r) => r.interrupted);
  const printing = args.values["print-expectations"];
  // Not reviewed: checked over the whole file, so a TODO can never pass, whichever repositories ran.
  const unreviewed = printing ? [] : expectations.unreviewed;
  const ok =
    !interrupted && unreviewed.length === 0 && results.every((r) => r.status === "ok" && (printing || matched(r)));

  if (printing) {
    process.stdout.write(`${JSON.stringify(printedExpectations(results, expectations.byRepo), null, 2)}\n`);
    process.stderr.write(table(results));
    process.stderr.write(details(results, [], false));
  } else if (args.values.json) {
    process.stdout.write(`${JSON.stringify({ ok, unreviewed, repos: results.map(jsonResult) }, null, 2)}\n`);
  } else {
    process.stdout.write(table(results));
    process.stdout.write(details(results, unreviewed, true));
    process.stdout.write(ok ? "corpus: ok\n" : "corpus: FAILED\n");
  }
  if (interrupted) return 130;
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------------
// Input files

function readJson(file, what) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read the ${what} ${file}: ${e.code ?? e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid JSON: ${e.message}`);
  }
}

function loadManifest(file) {
  const m = readJson(file, "manifest");
  if (!Array.isArray(m)) throw new UsageError(`${file}: expected an array of {repo, commit, why}`);
  const seen = new Set();
  for (const [i, e] of m.entries()) {
    const at = `${file}: entry ${i + 1}`;
    if (typeof e?.repo !== "string" || !/^[\w.-]+\/[\w.-]+$/.test(e.repo)) {
      throw new UsageError(`${at}: repo must be "owner/name"`);
    }
    if (typeof e.commit !== "string" || !/^[0-9a-f]{40}$/.test(e.commit)) {
      throw new UsageError(`${at} (${e.repo}): commit must be a full 40-character sha`);
    }
    if (typeof e.why !== "string" || e.why.trim() === "") throw new UsageError(`${at} (${e.repo}): why is empty`);
    if (seen.has(e.repo)) throw new UsageError(`${at}: ${e.repo} is listed twice`);
    seen.add(e.repo);
  }
  return m;
}

const COMPARED = new Set(["error", "warning"]);
const isTodo = (why) => typeof why !== "string" || why.trim() === "" || why.trim().toUpperCase() === "TODO";

function loadExpectations(file, manifest) {
  const x = readJson(file, "expectations");
  if (x === null || typeof x !== "object" || Array.isArray(x)) {
    throw new UsageError(`${file}: expected an object {"owner/name": [{rule, severity, file, subject?, why}]}`);
  }
  const repos = new Set(manifest.map((e) => e.repo));
  const byRepo = new Map();
  const unreviewed = [];
  for (const [repo, list] of Object.entries(x)) {
    if (!repos.has(repo)) throw new UsageError(`${file}: ${repo} is not in the manifest`);
    if (!Array.isArray(list)) throw new UsageError(`${file}: ${repo}: expected a list`);
    for (const [i, e] of list.entries()) {
      const at = `${file}: ${repo}[${i}]`;
      for (const key of ["rule", "file"]) {
        if (typeof e?.[key] !== "string" || e[key] === "") throw new UsageError(`${at}: ${key} must be a string`);
      }
      if (!COMPARED.has(e.severity)) {
        throw new UsageError(`${at}: severity must be "error" or "warning" (info findings are not compared)`);
      }
      if (e.subject !== undefined && typeof e.subject !== "string") {
        throw new UsageError(`${at}: subject must be a string when given`);
      }
      const extra = Object.keys(e).filter((k) => !["rule", "severity", "file", "subject", "why"].includes(k));
      if (extra.length) throw new UsageError(`${at}: unknown key ${extra.join(", ")}`);
      if (isTodo(e.why)) unreviewed.push({ repo, ...e });
    }
    byRepo.set(repo, list);
  }
  return { byRepo, unreviewed };
}

// ---------------------------------------------------------------------------------------------------
// The CLI that lints

/** The newest modification time (ms) of any file under dir; 0 when it does not exist. */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(abs) : statSync(abs).mtimeMs);
  }
  return t;
}

/** bin/kopiashare.js imports dist/bin.js: rebuild dist/ first when src/ is newer (or dist/ is missing). */
function builtCli() {
  const dist = path.join(ROOT, "dist");
  if (!existsSync(path.join(dist, "bin.js")) || newest(path.join(ROOT, "src")) > newest(dist)) {
    process.stderr.write("corpus: dist/ is missing or older than src/: npm run build\n");
    const r = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) {
      throw new UsageError("npm run build failed: fix the build (or pass --source to lint with the TypeScript source)");
    }
  }
  return { label: "bin/kopiashare.js", argv: [path.join(ROOT, "bin", "kopiashare.js")] };
}

function sourceCli() {
  return { label: "src/bin.ts (tsx)", argv: ["--import", "tsx", path.join(ROOT, "src", "bin.ts")] };
}

// ---------------------------------------------------------------------------------------------------
// One repository

function git(dir, args) {
  const r = spawnSync("git", ["-C", dir, ...args], { encoding: "utf8" });
  return { ok: r.status === 0, out: (r.stdout ?? "").trim(), err: (r.stderr ?? "").trim() || String(r.error ?? "") };
}

const short = (sha) => sha.slice(0, 12);

function locate(checkouts, repo) {
  const [owner, name] = repo.split("/");
  for (const candidate of [`${owner}+${name}`, name]) {
    const dir = path.join(checkouts, candidate);
    if (existsSync(dir) && statSync(dir).isDirectory()) return dir;
  }
  return undefined;
}

/** Repo-relative paths of the files under dir, .git excluded. */
function filesUnder(dir, rel = "", out = []) {
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (r !== ".git") filesUnder(dir, r, out);
    } else out.push(r);
  }
  return out;
}

/**
 * How the files on disk differ from HEAD's tree ("2 modified (a.yaml, ...)"), or "" when they do not.
 * Compared by content, not through git's index, so a checkout whose index was lost still counts as clean.
 */
function differences(dir) {
  const tree = git(dir, ["ls-tree", "-r", "-z", "HEAD"]);
  if (!tree.ok) return "";
  const blobs = new Map();
  const links = new Set();
  for (const entry of tree.out.split("\0")) {
    const m = /^(\d+) blob ([0-9a-f]+)\t(.*)$/s.exec(entry);
    if (m) blobs.set(m[3], m[2]);
    if (m?.[1] === "120000") links.add(m[3]);
  }
  const onDisk = new Set(filesUnder(dir));
  const present = [...blobs.keys()].filter((p) => onDisk.has(p) && !links.has(p) && !p.includes("\n"));
  const hashed = spawnSync("git", ["-C", dir, "hash-object", "--no-filters", "--stdin-paths"], {
    input: present.join("\n"),
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  const hashes = (hashed.stdout ?? "").split("\n");
  const modified = hashed.status === 0 ? present.filter((p, i) => hashes[i] !== blobs.get(p)) : [];
  const missing = [...blobs.keys()].filter((p) => !onDisk.has(p));
  const extra = [...onDisk].filter((p) => !blobs.has(p));
  const say = (what, list) =>
    list.length ? [`${list.length} ${what} (${list.slice(0, 3).join(", ")}${list.length > 3 ? ", ..." : ""})`] : [];
  return [...say("modified", modified), ...say("missing", missing), ...say("not in the commit", extra)].join(", ");
}

/** The directory to lint at the pinned commit: the checkout itself, or a temporary worktree. */
function prepare(entry, dir) {
  const head = git(dir, ["rev-parse", "HEAD"]);
  if (!head.ok) return { skip: `${dir} is not a git checkout (${head.err.split("\n")[0]})` };
  if (head.out === entry.commit) {
    const drift = differences(dir);
    const notes = drift ? [`the files differ from the pinned commit (${drift}); lint reads them as they are`] : [];
    return { path: dir, via: "checkout", notes, cleanup: () => {} };
  }
  const tmp = mkdtempSync(path.join(tmpdir(), "kopiashare-corpus-"));
  const wt = path.join(tmp, entry.repo.replace("/", "+"));
  const add = git(dir, ["worktree", "add", "--detach", "--quiet", wt, entry.commit]);
  const cleanup = () => {
    if (existsSync(wt)) git(dir, ["worktree", "remove", "--force", wt]);
    rmSync(tmp, { recursive: true, force: true });
    git(dir, ["worktree", "prune"]);
  };
  if (!add.ok) {
    cleanup();
    return {
      skip: `HEAD is ${short(head.out)}, not the pinned ${short(entry.commit)}, and git worktree add failed: ${add.err.split("\n").at(-1)} (git -C ${dir} fetch && git -C ${dir} checkout ${entry.commit})`,
    };
  }
  return {
    path: wt,
    via: "worktree",
    notes: [
      `HEAD is ${short(head.out)}, not the pinned ${short(entry.commit)}: linted a temporary worktree at the pin`,
    ],
    cleanup,
  };
}

function runOne(entry, checkouts, cli, expected) {
  const result = {
    repo: entry.repo,
    commit: entry.commit,
    dir: undefined,
    via: undefined,
    status: "skipped",
    reason: undefined,
    notes: [],
    errors: 0,
    warnings: 0,
    infos: 0,
    seconds: undefined,
    findings: [],
    unexpected: [],
    missing: [],
    /** The expectations file has no entry for this repository. */
    unlisted: false,
    interrupted: false,
  };
  const dir = locate(checkouts, entry.repo);
  if (!dir) {
    const [owner, name] = entry.repo.split("/");
    result.reason = `no checkout at ${path.join(checkouts, `${owner}+${name}`)} or ${path.join(checkouts, name)}`;
    return result;
  }
  result.dir = dir;
  const prepared = prepare(entry, dir);
  if (prepared.skip) {
    result.reason = prepared.skip;
    return result;
  }
  result.via = prepared.via;
  result.notes.push(...prepared.notes);
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [...cli.argv, "lint", "--repo", prepared.path, "-o", "json"], {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 1 << 30,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    result.seconds = (performance.now() - t0) / 1000;
    if (r.signal === "SIGINT") {
      result.interrupted = true;
      result.status = "failed";
      result.reason = "interrupted";
      return result;
    }
    let report;
    try {
      report = JSON.parse(r.stdout);
    } catch {
      result.status = "failed";
      result.reason = `${cli.label} lint exited ${r.status ?? r.signal} without a JSON report: ${(r.stderr || String(r.error ?? "")).trim().split("\n").slice(-3).join(" | ")}`;
      return result;
    }
    if (r.status !== 0 && r.status !== 1) {
      result.status = "failed";
      result.reason = `${cli.label} lint exited ${r.status}`;
      return result;
    }
    result.status = "ok";
    result.findings = report.findings;
    for (const f of report.findings) {
      if (f.severity === "error") result.errors++;
      else if (f.severity === "warning") result.warnings++;
      else result.infos++;
    }
    if (expected === undefined) {
      result.unlisted = true;
      result.reason = `no entry "${entry.repo}" in the expectations file (review with --print-expectations, then add it)`;
    }
    const { unexpected, missing } = compare(
      report.findings.filter((f) => COMPARED.has(f.severity)),
      expected ?? [],
    );
    result.unexpected = unexpected;
    result.missing = missing;
    return result;
  } finally {
    prepared.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------------
// Comparison (multisets)

const sameKey = (f, e) => f.rule === e.rule && f.severity === e.severity && f.file === e.file;

/**
 * Matches each expectation with one finding of the same rule, severity and file (and subject, when
 * the expectation gives one). Expectations with a subject are matched first: they can take fewer
 * findings, so this gives the largest matching.
 */
function compare(findings, expected) {
  const free = findings.map(() => true);
  const missing = [];
  const order = [
    ...expected.filter((e) => e.subject !== undefined),
    ...expected.filter((e) => e.subject === undefined),
  ];
  for (const e of order) {
    const i = findings.findIndex(
      (f, j) => free[j] && sameKey(f, e) && (e.subject === undefined || f.subject === e.subject),
    );
    if (i < 0) missing.push(e);
    else free[i] = false;
  }
  return { unexpected: findings.filter((_, j) => free[j]), missing };
}

/** Linted, listed in the expectations, and nothing unexpected or missing. */
const matched = (r) => !r.unlisted && r.unexpected.length === 0 && r.missing.length === 0;

function printedExpectations(results, byRepo) {
  const out = {};
  for (const r of results) {
    if (r.status !== "ok") continue;
    const existing = [...(byRepo.get(r.repo) ?? [])];
    out[r.repo] = r.findings
      .filter((f) => COMPARED.has(f.severity))
      .map((f) => {
        // Keep a reviewed why when an existing expectation describes this finding.
        const i = existing.findIndex((e) => sameKey(f, e) && (e.subject === undefined || e.subject === f.subject));
        const why = i >= 0 && !isTodo(existing[i].why) ? existing[i].why : "TODO";
        if (i >= 0) existing.splice(i, 1);
        return { rule: f.rule, severity: f.severity, file: f.file, subject: f.subject, why };
      });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Output

function table(results) {
  const head = ["repo", "commit", "errors", "warnings", "infos", "seconds", "unexpected", "missing", "result"];
  const rows = results.map((r) => {
    const ran = r.status === "ok";
    const result = r.status === "skipped" ? "skipped" : ran && matched(r) ? "ok" : "FAIL";
    return [
      r.repo,
      short(r.commit),
      ran ? String(r.errors) : "-",
      ran ? String(r.warnings) : "-",
      ran ? String(r.infos) : "-",
      r.seconds === undefined ? "-" : r.seconds.toFixed(2),
      r.status === "ok" ? String(r.unexpected.length) : "-",
      r.status === "ok" ? String(r.missing.length) : "-",
      result,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7]);
  const line = (cells) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join("\n")}\n`;
}

const oneLine = (s) => String(s ?? "").replace(/\s+/g, " ");

function details(results, unreviewed, comparing) {
  const out = [];
  for (const r of results) {
    const lines = [];
    if (r.reason) lines.push(`  ${r.status !== "ok" ? r.status : comparing ? "FAIL" : "note"}: ${r.reason}`);
    for (const n of r.notes) lines.push(`  note: ${n}`);
    if (comparing) {
      for (const f of r.unexpected) {
        lines.push(
          `  unexpected ${f.severity} ${f.rule} ${f.file}:${f.line}${f.subject ? ` (${oneLine(f.subject)})` : ""}: ${oneLine(f.what)}`,
        );
      }
      for (const e of r.missing) {
        lines.push(
          `  missing    ${e.severity} ${e.rule} ${e.file}${e.subject !== undefined ? ` (${oneLine(e.subject)})` : ""}: expected because ${oneLine(e.why)}`,
        );
      }
    }
    if (lines.length) out.push(`\n${r.repo} (${short(r.commit)}${r.via === "worktree" ? ", worktree" : ""})`, ...lines);
  }
  if (unreviewed.length) {
    out.push(`\nnot reviewed (why is "TODO" or empty; write one line saying why the finding is true):`);
    for (const e of unreviewed) {
      out.push(`  ${e.repo}: ${e.severity} ${e.rule} ${e.file}${e.subject !== undefined ? ` (${e.subject})` : ""}`);
    }
  }
  return out.length ? `${out.join("\n")}\n` : "";
}

function jsonResult(r) {
  const finding = (f) => ({
    rule: f.rule,
    severity: f.severity,
    file: f.file,
    line: f.line,
    subject: f.subject,
    what: f.what,
  });
  return {
    repo: r.repo,
    commit: r.commit,
    dir: r.dir ?? null,
    via: r.via ?? null,
    status: r.status,
    reason: r.reason ?? null,
    unlisted: r.unlisted,
    notes: r.notes,
    errors: r.errors,
    warnings: r.warnings,
    infos: r.infos,
    seconds: r.seconds === undefined ? null : Number(r.seconds.toFixed(3)),
    unexpected: r.unexpected.map(finding),
    missing: r.missing,
  };
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  process.stderr.write(`corpus: ${e.message}\n${e.usage ? `${USAGE}\n` : ""}`);
  process.exitCode = 2;
}
