/**
 * The compiled CLI (dist/, what `npm ci` builds and users run) against the TypeScript source run
 * in-process: the same output and exit code. It is the only test of the worker-thread scan, which
 * runs from dist/ only (tsx does not hook worker threads on Node 20).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { ensureBuilt } from "../bench/build.ts";
import { EXAMPLE, FIXTURES, ROOT, run, tempRepo } from "./helpers.ts";

describe("the built CLI", () => {
  ensureBuilt(ROOT);
  const bin = path.join(ROOT, "bin", "kopiashare.js");
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  for (const [name, repo] of [
    ["the example repo", EXAMPLE],
    ["the origin fixture (many findings)", path.join(FIXTURES, "lint", "origin")],
  ] as const) {
    it(`lints ${name} exactly as the source does`, async () => {
      const dir = tempRepo(repo);
      for (const format of ["json", "text"]) {
        const built = cli(["lint", "--repo", dir, "-o", format]);
        const source = await run(["lint", "--repo", dir, "-o", format], { cwd: dir });
        assert.equal(built.code, source.code, built.err);
        assert.equal(built.out, source.out);
      }
    });
  }

  it("the origin fixture has findings, so the comparison above means something", async () => {
    const r = await run(["lint", "--repo", path.join(FIXTURES, "lint", "origin"), "-o", "json"], { cwd: ROOT });
    assert.equal(r.code, 1);
    assert.ok((JSON.parse(r.out) as { findings: unknown[] }).findings.length >= 5);
  });

  it("answers --version and exits with the command's code", () => {
    assert.match(cli(["--version"]).out, /^\d+\.\d+\.\d+\n$/);
    assert.equal(cli(["frobnicate"]).code, 2);
  });
});
