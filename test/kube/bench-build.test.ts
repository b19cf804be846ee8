/**
 * bench/build.ts: the one "rebuild dist/ when src/ is newer" helper of the benchmarks (bench/verify.ts
 * times `verify -A` against the simulator; bench/lint.ts times lint), used by both instead of a copy each.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { isStale, newest } from "../../bench/build.ts";
import { ROOT } from "../helpers.ts";

describe("bench/build.ts", () => {
  it("dist/ is stale when missing or older than src/", () => {
    const root = mkdtempSync(path.join(tmpdir(), "kopiashare-bench-build-"));
    const put = (rel: string, t: number) => {
      const f = path.join(root, rel);
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, "x");
      utimesSync(f, t, t);
    };
    put("src/core/a.ts", 1000);
    assert.equal(isStale(root), true, "no dist/");
    put("dist/core/a.js", 2000);
    assert.equal(isStale(root), false);
    assert.equal(newest(path.join(root, "dist")), 2000 * 1000);
    put("src/commands/deep/b.ts", 3000);
    assert.equal(isStale(root), true, "a newer file deep under src/");
  });

  it("bench/lint.ts and bench/verify.ts use it and keep no copy of their own", () => {
    for (const file of ["bench/lint.ts", "bench/verify.ts"]) {
      const text = readFileSync(path.join(ROOT, file), "utf8");
      assert.match(text, /^import \{[^}]*\bensureBuilt\b[^}]*\} from "\.\/build\.ts";$/m, file);
      assert.doesNotMatch(text, /function (newest|ensureBuilt|buildIfStale)\(/, file);
    }
  });
});
