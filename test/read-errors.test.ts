/**
 * Read errors are never "not enabled" and never a success: every writing verb exits 2 naming the path
 * and the operating system's reason in words, and lint reports what it could read and exits 2.
 *
 * Permission errors need a user the file system refuses: run as root (where EACCES never happens), the
 * built CLI is run as the user nobody (setpriv); without setpriv those cases skip with the reason.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ensureBuilt } from "../bench/build.ts";
import { EXAMPLE, ROOT, run, tempRepo, treeOf } from "./helpers.ts";

const BIN = path.join(ROOT, "bin", "kopiashare.js");
const DEFAULT_NS = "kubernetes/apps/home/default";
const DEFAULT_INSTANCE = `${DEFAULT_NS}/volsync-repository-pvc`;

const root = process.getuid?.() === 0;
const setpriv = spawnSync("setpriv", ["--version"]).status === 0;
const cannotDeny =
  root && !setpriv ? "running as root without setpriv: no user to whom a mode 000 path is unreadable" : false;

/** The built CLI as a user to whom mode 000 means unreadable (nobody when this runs as root). */
function asUser(args: string[], cwd: string): { code: number | null; out: string; err: string } {
  const [cmd, argv] = root
    ? ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  const r = spawnSync(cmd, argv as string[], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A copy of the example every user can read (and, as nobody, nothing else: the lock needs no write). */
function readableRepo(): string {
  const repo = tempRepo(EXAMPLE);
  spawnSync("chmod", ["-R", "a+rX", repo]);
  return repo;
}

describe("read errors", () => {
  ensureBuilt(ROOT);

  it("lint on a folder it cannot read: the finding says permission denied, exit 2 (also --strict)", {
    skip: cannotDeny,
  }, () => {
    const repo = readableRepo();
    chmodSync(path.join(repo, DEFAULT_NS), 0o000);
    try {
      for (const extra of [[], ["--strict"]]) {
        const r = asUser(["lint", "-o", "json", ...extra], repo);
        assert.equal(r.code, 2, r.err);
        assert.match(r.err, new RegExp(`${DEFAULT_NS}: cannot list the folder: permission denied \\(EACCES\\)`));
        const findings = (JSON.parse(r.out) as { findings: { rule: string; severity: string; what: string }[] })
          .findings;
        const f = findings.find((x) => x.rule === "input/skipped" && /permission denied/.test(x.what));
        assert.equal(f?.severity, "error", JSON.stringify(findings));
      }
    } finally {
      chmodSync(path.join(repo, DEFAULT_NS), 0o755);
    }
  });

  it("lint on a file it cannot read does not crash: exit 2 naming the file", { skip: cannotDeny }, () => {
    const repo = readableRepo();
    const file = path.join(repo, DEFAULT_INSTANCE, "app/pvc.yaml");
    chmodSync(file, 0o000);
    const r = asUser(["lint"], repo);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /volsync-repository-pvc\/app\/pvc\.yaml: cannot read: permission denied \(EACCES\)/);
    assert.doesNotMatch(r.err, /please report this as a bug/);
  });

  it("disable of a namespace whose folder cannot be read: exit 2, never 'not enabled'", { skip: cannotDeny }, () => {
    const repo = readableRepo();
    chmodSync(repo, 0o777); // the lock can be taken: the read error is what stops it
    chmodSync(path.join(repo, DEFAULT_INSTANCE), 0o000);
    try {
      for (const args of [
        ["disable", "default", "--force"],
        ["disable", "default", "--dry-run"],
        ["enable", "default"],
      ]) {
        const r = asUser(args, repo);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
        assert.match(r.err, /could not be read; nothing was written/);
        assert.match(r.err, /volsync-repository-pvc: cannot list the folder: permission denied \(EACCES\)/);
        assert.doesNotMatch(r.out, /not enabled/);
      }
    } finally {
      chmodSync(path.join(repo, DEFAULT_INSTANCE), 0o755);
    }
  });

  it("a repository the user cannot write: the lock says permission denied, exit 2", { skip: cannotDeny }, () => {
    const repo = readableRepo();
    const r = asUser(["enable", "media", "--tier", "home"], repo);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /cannot take the repository lock \.kopiashare\.lock in \S+: permission denied \(EACCES\)/);
  });

  it("an instance file over the size limit: disable exits 2 naming it, nothing written", async () => {
    const repo = tempRepo(EXAMPLE);
    const file = path.join(repo, DEFAULT_INSTANCE, "app/pvc.yaml");
    writeFileSync(file, `# padding\n${"#".repeat(6 * 1024 * 1024)}\n`);
    const before = treeOf(repo);
    const r = await run(["disable", "default", "--force"], { cwd: repo });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /volsync-repository-pvc\/app\/pvc\.yaml: \d+ bytes is over the 5 MiB limit/);
    assert.doesNotMatch(r.out, /not enabled/);
    assert.deepEqual(treeOf(repo), before);
  });

  it("kopiashare.yaml that is a folder: exit 2 with the reason in words (works as root too)", async () => {
    const repo = tempRepo(EXAMPLE);
    rmSync(path.join(repo, "kopiashare.yaml"), { force: true });
    mkdirSync(path.join(repo, "kopiashare.yaml"));
    for (const args of [["lint"], ["enable", "media"], ["disable", "media"]]) {
      const r = await run(args, { cwd: repo });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, /kopiashare\.yaml: cannot read: is a directory \(EISDIR\)/);
    }
  });
});
