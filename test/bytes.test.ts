/**
 * Files keep their bytes: a CRLF file stays CRLF (lines an edit adds too), a BOM stays, a file's mode
 * stays; hand-edit detection ignores line endings, so CRLF instance files are "already enabled" and
 * disable removes them.
 */
import assert from "node:assert/strict";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { keepStyle, sameText, usesCrlf } from "../src/core/text-style.ts";
import { EXAMPLE, run, tempRepo, treeOf } from "./helpers.ts";

const TIER = "kubernetes/apps/home/kustomization.yaml";
const DEFAULT_KS = "kubernetes/apps/home/default/kustomization.yaml";
const MEDIA = "kubernetes/apps/home/media/volsync-repository-pvc";

const bytes = (repo: string, rel: string) => readFileSync(path.join(repo, rel), "latin1");
const toCrlf = (repo: string, rel: string, bom = false) =>
  writeFileSync(
    path.join(repo, rel),
    `${bom ? "\uFEFF" : ""}${readFileSync(path.join(repo, rel), "utf8").replace(/\n/g, "\r\n")}`,
  );
/** A line break without its CR. */
const BARE_LF = /(^|[^\r])\n/;

describe("line endings, BOM and mode", () => {
  it("text-style: keepStyle and sameText", () => {
    assert.equal(keepStyle("a\r\nb\r\n", "a\nb\nc\n"), "a\r\nb\r\nc\r\n");
    assert.equal(keepStyle("\uFEFFa\n", "a\nb\n"), "\uFEFFa\nb\n");
    assert.equal(keepStyle("a\nb\n", "a\r\nb\nc\n"), "a\nb\nc\n");
    assert.equal(keepStyle(null, "a\n"), "a\n");
    assert.ok(sameText("\uFEFFa\r\nb\r\n", "a\nb\n"));
    assert.ok(!sameText("a\nb\n", "a\nc\n"));
    assert.ok(usesCrlf("a\r\nb\r\nc\n") && !usesCrlf("a\nb\nc\r\n"));
  });

  it("an entry added to a CRLF kustomization.yaml (with a BOM) ends in CRLF like every other line", async () => {
    const lf = tempRepo(EXAMPLE);
    assert.equal((await run(["enable", "media", "--tier", "home"], { cwd: lf })).code, 0);
    const repo = tempRepo(EXAMPLE);
    toCrlf(repo, TIER, true);
    const r = await run(["enable", "media", "--tier", "home"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    const text = bytes(repo, TIER);
    assert.doesNotMatch(text, BARE_LF, JSON.stringify(text));
    assert.equal(
      readFileSync(path.join(repo, TIER), "utf8"),
      `\uFEFF${readFileSync(path.join(lf, TIER), "utf8").replace(/\n/g, "\r\n")}`,
      "the same edit as on the LF file, in the file's own style",
    );
  });

  it("CRLF instance files are what enable writes: enable again changes nothing, disable removes them", async () => {
    const repo = tempRepo(EXAMPLE);
    assert.equal((await run(["enable", "media", "--tier", "home"], { cwd: repo })).code, 0);
    for (const f of ["ks.yaml", "app/pvc.yaml", "app/kustomization.yaml"]) toCrlf(repo, `${MEDIA}/${f}`);
    const before = treeOf(repo);
    const again = await run(["enable", "media"], { cwd: repo });
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /already enabled; nothing to change/);
    assert.deepEqual(treeOf(repo), before);
    const dry = await run(["disable", "media", "--dry-run"], { cwd: repo });
    assert.doesNotMatch(dry.err, /edited by hand/);
    const off = await run(["disable", "media"], { cwd: repo });
    assert.equal(off.code, 0, off.err);
    assert.doesNotMatch(off.err, /edited by hand/);
    assert.ok(!treeOf(repo).has(`${MEDIA}/ks.yaml`));
  });

  it("a hand edit is still a hand edit in a CRLF file", async () => {
    const repo = tempRepo(EXAMPLE);
    assert.equal((await run(["enable", "media", "--tier", "home"], { cwd: repo })).code, 0);
    const pvc = path.join(repo, MEDIA, "app/pvc.yaml");
    writeFileSync(pvc, readFileSync(pvc, "utf8").replace("ReadWriteMany", "ReadWriteOnce").replace(/\n/g, "\r\n"));
    const r = await run(["disable", "media"], { cwd: repo });
    assert.equal(r.code, 2);
    assert.match(r.err, /edited by hand/);
  });

  it("a file of mode 600 or 444 keeps its mode when it is rewritten", async () => {
    const repo = tempRepo(EXAMPLE);
    chmodSync(path.join(repo, TIER), 0o600);
    chmodSync(path.join(repo, DEFAULT_KS), 0o444);
    assert.equal((await run(["enable", "media", "--tier", "home"], { cwd: repo })).code, 0);
    const r = await run(["disable", "default", "--force"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
    assert.match(readFileSync(path.join(repo, TIER), "utf8"), /- \.\/media/);
    assert.doesNotMatch(readFileSync(path.join(repo, DEFAULT_KS), "utf8"), /volsync-repository-pvc/);
    assert.equal(statSync(path.join(repo, TIER)).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(repo, DEFAULT_KS)).mode & 0o777, 0o444);
  });
});
