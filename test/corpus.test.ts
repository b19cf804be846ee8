/**
 * scripts/corpus.mjs (`npm run corpus`) against a tiny corpus made here: one git repository (the lint
 * base fixture, then a commit that breaks one path), a manifest and expectations passed with
 * --manifest and --expectations. The script runs as a process, linting with the TypeScript source
 * (--source) so that this test does not depend on dist/. Which findings the broken commit has is
 * read from the script itself (--print-expectations), so rule changes do not break this test.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "./helpers.ts";
import { BASE, KOPIA_ES } from "./lint/helpers.ts";

const SCRIPT = path.join(ROOT, "scripts", "corpus.mjs");
const REPO = "acme/tiny";

interface Expectation {
  rule: string;
  severity: string;
  file: string;
  subject?: string;
  why: string;
}

describe("npm run corpus (scripts/corpus.mjs)", () => {
  let work: string;
  let checkouts: string;
  let clone: string;
  let clean: string; // the base fixture: no finding
  let broken: string; // HEAD: the maintenance secret names another directory
  let printed: Expectation[];

  const git = (...args: string[]) =>
    execFileSync("git", ["-C", clone, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
      encoding: "utf8",
    }).trim();

  const corpus = (commit: string, expectations: unknown, ...args: string[]) => {
    const manifest = path.join(work, "manifest.json");
    const expected = path.join(work, "expectations.json");
    writeFileSync(manifest, JSON.stringify([{ repo: REPO, commit, why: "a test repository" }]));
    writeFileSync(expected, JSON.stringify(expectations));
    const r = spawnSync(
      process.execPath,
      [SCRIPT, checkouts, "--manifest", manifest, "--expectations", expected, "--source", ...args],
      { cwd: ROOT, encoding: "utf8" },
    );
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), "kopiashare-corpus-test-"));
    checkouts = path.join(work, "checkouts");
    clone = path.join(checkouts, "acme+tiny");
    mkdirSync(clone, { recursive: true });
    cpSync(BASE, clone, { recursive: true });
    execFileSync("git", ["init", "-q", clone]);
    git("add", "-A");
    git("commit", "-q", "-m", "clean");
    clean = git("rev-parse", "HEAD");
    const es = path.join(clone, KOPIA_ES);
    writeFileSync(
      es,
      readFileSync(es, "utf8").replace("filesystem:///repository/repository", "filesystem:///repository/kopia"),
    );
    git("commit", "-q", "-am", "maintenance looks elsewhere");
    broken = git("rev-parse", "HEAD");

    const r = corpus(broken, { [REPO]: [] }, "--print-expectations");
    assert.equal(r.code, 0, r.err);
    printed = (JSON.parse(r.out) as Record<string, Expectation[]>)[REPO] ?? [];
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const reviewed = () => printed.map((e) => ({ ...e, why: "reviewed: the secret names /repository/kopia" }));

  it("--print-expectations prints the errors and warnings in the expectations format, each why TODO", () => {
    assert.ok(printed.length >= 1, "the broken commit has at least one error or warning");
    for (const e of printed) {
      assert.deepEqual(Object.keys(e).sort(), ["file", "rule", "severity", "subject", "why"]);
      assert.ok(e.severity === "error" || e.severity === "warning");
      assert.equal(e.why, "TODO");
    }
    assert.ok(printed.some((e) => e.file === KOPIA_ES));
  });

  it("exits 0 when the findings match the reviewed expectations (with or without subjects), and prints the table", () => {
    const r = corpus(broken, { [REPO]: reviewed() });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /^repo +commit +errors +warnings +infos +seconds +unexpected +missing/m);
    const row = r.out.split("\n").find((l) => l.startsWith(REPO)) ?? "";
    assert.match(row, new RegExp(`^${REPO} +${broken.slice(0, 12)} .* 0 +0 +ok$`));
    assert.match(r.out, /corpus: ok/);
    assert.doesNotMatch(r.out, /note:/);

    const withoutSubjects = reviewed().map(({ subject: _, ...e }) => e);
    assert.equal(corpus(broken, { [REPO]: withoutSubjects }).code, 0);
  });

  it("exits 1 and lists an unexpected finding with file:line, and a missing one", () => {
    const [first, ...rest] = reviewed();
    assert.ok(first);
    const r = corpus(broken, { [REPO]: rest });
    assert.equal(r.code, 1);
    assert.match(r.out, new RegExp(`unexpected ${first.severity} ${first.rule} ${first.file}:\\d+`));
    assert.match(r.out, /corpus: FAILED/);

    const extra = { rule: "path/mismatch", severity: "error", file: "nowhere.yaml", why: "a test" };
    const m = corpus(broken, { [REPO]: [...reviewed(), extra] });
    assert.equal(m.code, 1);
    assert.match(m.out, /missing +error path\/mismatch nowhere\.yaml: expected because a test/);

    const json = JSON.parse(corpus(broken, { [REPO]: rest }, "--json").out) as {
      ok: boolean;
      repos: { repo: string; status: string; unexpected: { rule: string; line: number }[]; missing: unknown[] }[];
    };
    assert.equal(json.ok, false);
    assert.equal(json.repos[0]?.status, "ok");
    assert.equal(json.repos[0]?.unexpected[0]?.rule, first.rule);
    assert.ok((json.repos[0]?.unexpected[0]?.line ?? 0) >= 1);
  });

  it("exits 1 while an expectation's why is TODO or empty, even when it matches", () => {
    const r = corpus(broken, { [REPO]: printed });
    assert.equal(r.code, 1);
    assert.match(r.out, /not reviewed/);
    const empty = reviewed().map((e, i) => (i === 0 ? { ...e, why: " " } : e));
    assert.equal(corpus(broken, { [REPO]: empty }).code, 1);
  });

  it("notes files on disk that differ from the pinned commit, compared by content, not through git's index", () => {
    writeFileSync(path.join(clone, "NOTES.txt"), "not committed\n");
    try {
      const r = corpus(broken, { [REPO]: reviewed() });
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /note: the files differ from the pinned commit \(1 not in the commit \(NOTES\.txt\)\)/);
    } finally {
      rmSync(path.join(clone, "NOTES.txt"));
    }
  });

  it("lints the pinned commit in a temporary worktree when HEAD is another commit, and removes it", () => {
    const r = corpus(clean, { [REPO]: [] });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, new RegExp(`HEAD is ${broken.slice(0, 12)}, not the pinned ${clean.slice(0, 12)}`));
    assert.equal(git("rev-parse", "HEAD"), broken);
    assert.equal(git("worktree", "list", "--porcelain").match(/^worktree /gm)?.length, 1);
    assert.equal(git("status", "--porcelain"), "");
  });

  it("skips a repository whose pinned commit cannot be checked out, or that has no checkout, and exits 1", () => {
    const r = corpus("f".repeat(40), { [REPO]: [] });
    assert.equal(r.code, 1);
    assert.match(r.out, /skipped: HEAD is \w+, not the pinned ffffffffffff, and git worktree add failed/);
    assert.equal(git("worktree", "list", "--porcelain").match(/^worktree /gm)?.length, 1);

    const elsewhere = path.join(work, "empty");
    mkdirSync(elsewhere, { recursive: true });
    const manifest = path.join(work, "manifest.json");
    const n = spawnSync(process.execPath, [SCRIPT, elsewhere, "--manifest", manifest, "--expectations", manifest], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(n.status, 2, "the manifest is no expectations object: an input error");
    writeFileSync(path.join(work, "x.json"), JSON.stringify({ [REPO]: [] }));
    const s = spawnSync(
      process.execPath,
      [SCRIPT, elsewhere, "--manifest", manifest, "--expectations", path.join(work, "x.json"), "--source"],
      { cwd: ROOT, encoding: "utf8" },
    );
    assert.equal(s.status, 1);
    assert.match(s.stdout, /skipped: no checkout at .*acme\+tiny or .*tiny/);
  });
});
