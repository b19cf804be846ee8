/** examples/home-ops lints clean, and stays clean after `kopiashare enable media`. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EXAMPLE, run, tempRepo } from "../helpers.ts";
import { lint } from "./helpers.ts";

describe("lint examples/home-ops", () => {
  it("0 errors, 0 warnings (also with --strict and on Kubernetes 1.34)", async () => {
    const r = await lint(EXAMPLE, ["--strict"]);
    assert.deepEqual(
      r.findings.filter((f) => f.severity !== "info"),
      [],
    );
    assert.equal(r.code, 0);
    const v = await lint(EXAMPLE, ["--strict", "--kubernetes-version", "1.34"]);
    assert.deepEqual(
      v.findings.filter((f) => f.severity !== "info"),
      [],
    );
  });

  it("still 0 errors, 0 warnings after enable media (an info: nothing in media uses it yet)", async () => {
    const dir = tempRepo(EXAMPLE);
    const e = await run(["enable", "media"], { cwd: dir });
    assert.equal(e.code, 0, e.err);
    const r = await lint(dir, ["--strict"]);
    assert.deepEqual(
      r.findings.filter((f) => f.severity !== "info"),
      [],
    );
    assert.equal(r.code, 0);
    assert.deepEqual(
      r.findings.map((f) => `${f.rule} ${f.subject}`),
      ["delivery/orphan namespace media"],
    );
  });
});
