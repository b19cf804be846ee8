/**
 * gitops/lint-parallel.ts: the built CLI lints on two threads (each with its own scan and model, each
 * checking a share of the rules), and prints exactly what the sequential lint prints: the TypeScript
 * source run in-process, where no worker can start (tsx does not hook worker threads on Node 20).
 * KOPIASHARE_TEST_LINT_WORKER (docs/testing.md) makes a small repository go through the worker too
 * (`wait`), gives the worker every rule (`all-rules`, so that its own scan and model answer for all of
 * them), and makes the worker really end its thread mid-walk or before it sends its findings, where
 * the main thread must do its work and lose nothing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ensureBuilt } from "../bench/build.ts";
import { EXAMPLE, FIXTURES, ROOT, run, tempRepo } from "./helpers.ts";

const BIN = path.join(ROOT, "bin", "kopiashare.js");

function built(args: string[], hook: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", KOPIASHARE_TEST_LINT_WORKER: hook },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The generated tree of bench/lint.ts, 200 namespaces (1,216 YAML files). */
function generated(): string {
  const dir = path.join(tempRepo(), "repo");
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/lint.ts", "--out", dir, "--namespaces", "200"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return dir;
}

const subdirs = (dir: string) => readdirSync(dir).map((d) => path.join(dir, d));

describe("lint on two threads", () => {
  ensureBuilt(ROOT);
  const repos: [string, () => string][] = [
    ["examples/home-ops", () => tempRepo(EXAMPLE)],
    ...[...subdirs(path.join(FIXTURES, "lint")), ...subdirs(path.join(FIXTURES, "transports"))].map(
      (d): [string, () => string] => [path.relative(ROOT, d), () => tempRepo(d)],
    ),
    ["a generated tree of 200 namespaces", generated],
  ];

  for (const [name, make] of repos) {
    it(`${name}: the same report as the sequential lint, whichever thread checks which rule`, async () => {
      const dir = make();
      for (const format of ["json", "text"]) {
        const source = await run(["lint", "--repo", dir, "-o", format], { cwd: dir });
        const hooks = format === "json" ? ["", "wait", "wait,all-rules"] : ["wait"];
        for (const hook of hooks) {
          const r = built(["lint", "--repo", dir, "-o", format], hook);
          assert.equal(r.code, source.code, `${format} [${hook}]: ${r.err}`);
          assert.equal(r.out, source.out, `${format} [${hook}]`);
          assert.equal(r.err, source.err, `${format} [${hook}]`);
        }
      }
    });
  }

  for (const [name, make] of [repos[1] as [string, () => string], repos[repos.length - 1] as [string, () => string]]) {
    it(`${name}: a worker that dies mid-walk or before its findings loses nothing`, async () => {
      const dir = make();
      const source = await run(["lint", "--repo", dir, "-o", "json"], { cwd: dir });
      for (const hook of ["wait,exit-walk", "wait,exit-lint", "wait,all-rules,exit-lint"]) {
        const r = built(["lint", "--repo", dir, "-o", "json"], hook);
        assert.equal(r.code, source.code, `[${hook}]: ${r.err}`);
        assert.equal(r.out, source.out, `[${hook}]`);
      }
    });
  }

  it("the origin fixture has findings from many rules, so the comparisons above mean something", async () => {
    const r = await run(["lint", "--repo", path.join(FIXTURES, "lint", "origin"), "-o", "json"], { cwd: ROOT });
    const rules = new Set((JSON.parse(r.out) as { findings: { rule: string }[] }).findings.map((f) => f.rule));
    assert.ok(rules.size >= 5, [...rules].join(", "));
  });
});
