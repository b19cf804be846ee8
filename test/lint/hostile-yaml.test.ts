/**
 * Hostile YAML: a few hundred bytes of nested aliases (a "billion laughs") must neither crash nor take
 * long. lint reports the document as an input/skipped error at file:line and checks the rest; a writing
 * verb refuses it (exit 2) naming file:line.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { EXAMPLE, FIXTURES, run, tempRepo, treeOf } from "../helpers.ts";

const KS = "kubernetes/apps/home/default/paperless/ks.yaml";

/** Nine levels of nine: 9^9 leaves when expanded, under a kilobyte written. */
function bomb(indent: string): string {
  const lines = [`${indent}BOMB_A: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`];
  let prev = "a";
  for (const c of "bcdefghi") {
    lines.push(`${indent}BOMB_${c.toUpperCase()}: &${c} [${Array(9).fill(`*${prev}`).join(",")}]`);
    prev = c;
  }
  return lines.join("\n");
}

function bombedExample(): string {
  const repo = tempRepo(EXAMPLE);
  const file = path.join(repo, KS);
  const text = readFileSync(file, "utf8");
  assert.match(text, / {6}VOLSYNC_CAPACITY: 15Gi\n/);
  writeFileSync(
    file,
    text.replace("      VOLSYNC_CAPACITY: 15Gi\n", `      VOLSYNC_CAPACITY: 15Gi\n${bomb("      ")}\n`),
  );
  assert.ok(readFileSync(file).length < 1500);
  return repo;
}

interface Finding {
  rule: string;
  severity: string;
  file: string;
  line: number;
  what: string;
}

describe("hostile YAML", () => {
  it("lint: an alias bomb in a ks.yaml is an error at file:line, fast", async () => {
    const repo = bombedExample();
    const t = Date.now();
    const r = await run(["lint", "-o", "json"], { cwd: repo });
    const ms = Date.now() - t;
    assert.ok(ms < 10_000, `lint took ${ms} ms`);
    assert.equal(r.code, 1, r.err);
    const findings = (JSON.parse(r.out) as { findings: Finding[] }).findings;
    const f = findings.find((x) => x.rule === "input/skipped" && x.file === KS);
    assert.ok(f, JSON.stringify(findings, null, 1));
    assert.equal(f.severity, "error");
    assert.equal(f.line, 3, "the first line of the document");
    assert.match(f.what, /aliases expand this document to \d+ nodes, more than 100000 beyond the \d+ written/);
  });

  it("lint: the bomb beside other problems (the origin fixture) hides none of them", async () => {
    const origin = path.join(FIXTURES, "lint", "origin");
    const plain = await run(["lint", "-o", "json"], { cwd: tempRepo(origin) });
    const repo = tempRepo(origin);
    writeFileSync(path.join(repo, "bomb.yaml"), `---\ndata:\n${bomb("  ")}\n`);
    const r = await run(["lint", "-o", "json"], { cwd: repo });
    const before = (JSON.parse(plain.out) as { findings: Finding[] }).findings;
    const after = (JSON.parse(r.out) as { findings: Finding[] }).findings;
    assert.deepEqual(
      after.filter((x) => x.file !== "bomb.yaml"),
      before,
      "every finding of the repository without the bomb is still there",
    );
    assert.ok(after.some((x) => x.file === "bomb.yaml" && x.line === 2 && x.severity === "error"));
  });

  it("writers: enable and enable --dry-run exit 2 naming file:line, fast, nothing written", async () => {
    const repo = bombedExample();
    const before = treeOf(repo);
    for (const args of [
      ["enable", "media", "--tier", "home", "--dry-run"],
      ["enable", "media", "--tier", "home"],
    ]) {
      const t = Date.now();
      const r = await run(args, { cwd: repo });
      assert.ok(Date.now() - t < 10_000, `${args.join(" ")} took ${Date.now() - t} ms`);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, new RegExp(`${KS.replace(/\./g, "\\.")}:3: aliases expand this document`));
    }
    assert.deepEqual(treeOf(repo), before);
  });

  it("a document that uses a few aliases is read as before", async () => {
    const repo = tempRepo(EXAMPLE);
    const r = await run(["lint", "-o", "json"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    // the example's ks.yaml files use &app / *app
    assert.match(readFileSync(path.join(repo, KS), "utf8"), /\*app/);
  });
});
