/**
 * Writes that survive real use: concurrent writers (the repository lock) and runs killed or interrupted
 * in the middle of a commit (the journal). Runs the built CLI (dist/, rebuilt when src/ is newer) as
 * real processes on real temporary git repositories.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { ensureBuilt } from "../bench/build.ts";
import { EXAMPLE, ROOT, read, run, tempRepo, treeOf } from "./helpers.ts";

const BIN = path.join(ROOT, "bin", "kopiashare.js");
const TIER = "kubernetes/apps/home/kustomization.yaml";

interface Proc {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

function cli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Proc> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code, signal) => resolve({ code, signal, out, err }));
  });
}

/** Files a commit leaves only while it runs: temp and backup files, the journal, the lock. */
function leftovers(repo: string): string[] {
  const r = spawnSync("find", [repo, "-name", ".git", "-prune", "-o", "-name", ".*kopiashare*", "-print"], {
    encoding: "utf8",
  });
  return r.stdout.split("\n").filter(Boolean);
}

/** A pid that no process has any more (a child that has exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

describe("the repository lock", () => {
  ensureBuilt(ROOT);

  it("concurrent enables are serialised: every namespace is registered, none is lost", async () => {
    const repo = tempRepo(EXAMPLE);
    const names = ["race-a", "race-b", "race-c", "race-d", "race-e"];
    const results = await Promise.all(
      names.map((ns) => cli(["enable", ns, "--tier", "home"], repo, { KOPIASHARE_LOCK_WAIT_MS: "120000" })),
    );
    for (const [i, r] of results.entries()) assert.equal(r.code, 0, `${names[i]}: ${r.err}`);
    const tier = read(repo, TIER);
    for (const ns of names) {
      assert.match(tier, new RegExp(`- \\./${ns}\\n`), `${ns} is listed in ${TIER}:\n${tier}`);
      assert.match(read(repo, `kubernetes/apps/home/${ns}/kustomization.yaml`), /volsync-repository-pvc\/ks\.yaml/);
    }
    assert.deepEqual(leftovers(repo), []);
  });

  it("with a short wait, each writer either registers its namespace or exits 2 naming the holder", async () => {
    const repo = tempRepo(EXAMPLE);
    const names = ["wait-a", "wait-b", "wait-c", "wait-d"];
    const results = await Promise.all(
      names.map((ns) => cli(["enable", ns, "--tier", "home"], repo, { KOPIASHARE_LOCK_WAIT_MS: "0" })),
    );
    const tier = read(repo, TIER);
    let ok = 0;
    for (const [i, r] of results.entries()) {
      const ns = names[i] as string;
      if (r.code === 0) {
        ok++;
        assert.match(tier, new RegExp(`- \\./${ns}\\n`), `${ns} exited 0 so it must be listed:\n${tier}`);
      } else {
        assert.equal(r.code, 2, r.err);
        assert.match(r.err, /the repository is locked by another kopiashare enable \(pid \d+ on [^,]+, since \S+\)/);
        assert.doesNotMatch(tier, new RegExp(`- \\./${ns}\\n`));
        assert.ok(!existsSync(path.join(repo, "kubernetes/apps/home", ns)), `${ns} wrote nothing`);
      }
    }
    assert.ok(ok >= 1, "the first writer gets the lock");
    assert.deepEqual(leftovers(repo), []);
  });

  it("a lock held by a running process: exit 2 naming pid, host, verb and since when; nothing written", async () => {
    const repo = tempRepo(EXAMPLE);
    const holder: ChildProcess = spawn("sleep", ["30"]);
    try {
      const lock = { pid: holder.pid, host: hostname(), verb: "migrate", since: "2026-12-04T10:00:00.000Z" };
      writeFileSync(path.join(repo, ".kopiashare.lock"), JSON.stringify(lock));
      const before = treeOf(repo);
      const r = await run(["enable", "media", "--tier", "home"], {
        cwd: repo,
        env: { KOPIASHARE_LOCK_WAIT_MS: "200" },
      });
      assert.equal(r.code, 2, r.err);
      assert.match(
        r.err,
        new RegExp(
          `locked by another kopiashare migrate \\(pid ${holder.pid} on ${hostname()}, since 2026-12-04T10:00`,
        ),
      );
      assert.deepEqual(treeOf(repo), before);
      // a preview takes no lock
      assert.equal((await run(["enable", "media", "--tier", "home", "--dry-run"], { cwd: repo })).code, 0);
    } finally {
      holder.kill();
    }
  });

  it("a stale lock (dead pid on this host) is taken over and said so", async () => {
    const repo = tempRepo(EXAMPLE);
    const pid = deadPid();
    const lock = { pid, host: hostname(), verb: "enable", since: "2026-12-04T10:00:00.000Z" };
    writeFileSync(path.join(repo, ".kopiashare.lock"), JSON.stringify(lock));
    const r = await run(["enable", "media", "--tier", "home"], { cwd: repo, env: { KOPIASHARE_LOCK_WAIT_MS: "200" } });
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, new RegExp(`took over a stale \\.kopiashare\\.lock from enable \\(pid ${pid} on `));
    assert.match(read(repo, TIER), /- \.\/media\n/);
    assert.deepEqual(leftovers(repo), [], "the lock is released");
  });

  it("a lock from another host is never taken over: the hint says to remove it by hand", async () => {
    const repo = tempRepo(EXAMPLE);
    const lock = { pid: deadPid(), host: "elsewhere.example", verb: "disable", since: "2026-12-04T10:00:00.000Z" };
    writeFileSync(path.join(repo, ".kopiashare.lock"), JSON.stringify(lock));
    const r = await run(["enable", "media"], { cwd: repo, env: { KOPIASHARE_LOCK_WAIT_MS: "100" } });
    assert.equal(r.code, 2);
    assert.match(r.err, /on elsewhere\.example/);
    assert.match(r.err, /remove \.kopiashare\.lock by hand/);
  });
});

/** The tree `enable media` writes on a fresh copy of the example. */
async function enabledTree(): Promise<Map<string, string>> {
  const repo = tempRepo(EXAMPLE);
  const r = await run(["enable", "media", "--tier", "home"], { cwd: repo });
  assert.equal(r.code, 0, r.err);
  return treeOf(repo);
}

function assertSameTree(actual: Map<string, string>, expected: Map<string, string>, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: the same files`);
  for (const [f, content] of expected) assert.equal(actual.get(f), content, `${what}: ${f}`);
}

describe("a commit killed at each step", () => {
  ensureBuilt(ROOT);
  // enable media creates 5 files and updates 1: steps in commit order, and what the next run must do
  const steps: [string, "rolled back" | "completed" | "nothing"][] = [
    ["journal:1", "rolled back"],
    ["written:1", "rolled back"],
    ["written:5", "rolled back"],
    ["committing:1", "completed"],
    ["renamed:1", "completed"],
    ["renamed:4", "completed"],
    ["renamed:6", "completed"],
    ["cleaned:1", "nothing"],
  ];
  for (const [step, expect] of steps) {
    it(`SIGKILL at ${step}: the next run ${expect === "nothing" ? "finds nothing to do" : `says it ${expect} the commit`}, file by file`, async () => {
      const repo = tempRepo(EXAMPLE);
      const before = treeOf(repo);
      const after = await enabledTree();
      const k = await cli(["enable", "media", "--tier", "home"], repo, { KOPIASHARE_TEST_HOOK: `${step}:kill` });
      assert.equal(k.signal, "SIGKILL", `the hook killed it: ${k.err}`);
      // any verb recovers: a read-only one here; after the journal is gone only the stale lock is left,
      // which the next writer takes over
      const next = await run(expect === "nothing" ? ["enable", "media", "--tier", "home"] : ["lint", "-o", "json"], {
        cwd: repo,
      });
      if (expect === "nothing") {
        assert.doesNotMatch(next.err, /interrupted/);
        assert.match(next.err, /took over a stale \.kopiashare\.lock from enable/);
        assert.match(next.out, /already enabled; nothing to change/);
      } else
        assert.match(
          next.err,
          new RegExp(
            `note: an interrupted kopiashare enable \\(started [^)]+\\) left \\.kopiashare\\.journal: .*${expect}`,
          ),
        );
      assert.ok(next.code === 0 || next.code === 1, next.err);
      assertSameTree(treeOf(repo), expect === "rolled back" ? before : after, step);
      assert.deepEqual(leftovers(repo), [], "no temp, backup, journal or lock file survives");
      assert.ok(expect !== "rolled back" || !existsSync(path.join(repo, "kubernetes/apps/home/media")));
    });
  }

  it("SIGKILL in the middle of disable (deletions): the next writer completes it first", async () => {
    const repo = tempRepo(EXAMPLE);
    assert.equal((await run(["enable", "media", "--tier", "home"], { cwd: repo })).code, 0);
    const k = await cli(["disable", "media"], repo, { KOPIASHARE_TEST_HOOK: "renamed:2:kill" });
    assert.equal(k.signal, "SIGKILL", k.err);
    const next = await run(["enable", "other", "--tier", "home"], { cwd: repo });
    assert.equal(next.code, 0, next.err);
    assert.match(next.err, /interrupted kopiashare disable .* completed/);
    // enable had created the namespace folder, so the completed disable removed all of it
    assert.ok(!existsSync(path.join(repo, "kubernetes/apps/home/media")));
    assert.doesNotMatch(read(repo, TIER), /- \.\/media\n/);
    assert.match(read(repo, TIER), /- \.\/other\n/);
    assert.deepEqual(leftovers(repo), []);
  });

  for (const sig of ["sigint", "sigterm"] as const) {
    it(`${sig.toUpperCase()} during the renames is held until the commit is done, then exit ${sig === "sigint" ? 130 : 143}`, async () => {
      const repo = tempRepo(EXAMPLE);
      const after = await enabledTree();
      const r = await cli(["enable", "media", "--tier", "home"], repo, { KOPIASHARE_TEST_HOOK: `renamed:2:${sig}` });
      assert.equal(r.code, sig === "sigint" ? 130 : 143, r.err);
      assert.match(r.err, /interrupted by SIG(INT|TERM) while writing; the write was finished first/);
      assertSameTree(treeOf(repo), after, sig);
      assert.deepEqual(leftovers(repo), []);
    });
  }

  it("a journal that cannot be read is exit 2 with what to do; nothing is touched", async () => {
    const repo = tempRepo(EXAMPLE);
    writeFileSync(path.join(repo, ".kopiashare.journal"), "{ not json");
    const r = await run(["enable", "media", "--tier", "home"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(r.err, /\.kopiashare\.journal \(left by an interrupted kopiashare run\) cannot be read/);
    assert.equal(readFileSync(path.join(repo, ".kopiashare.journal"), "utf8"), "{ not json");
    assert.ok(!existsSync(path.join(repo, ".kopiashare.lock")), "the lock is released");
  });
});
