import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { locate, scanRepo, splitDocuments } from "../src/gitops/scan.ts";
import { tempRepo, writeFiles } from "./helpers.ts";

describe("scanRepo", () => {
  it("reads every document with its first content line, and locates nested fields", () => {
    const repo = tempRepo();
    writeFiles(repo, {
      "a/multi.yaml": [
        "# leading comment",
        "---",
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: one",
        "---",
        "# comment-only document",
        "---",
        "",
        "apiVersion: v1",
        "kind: PersistentVolume",
        "metadata:",
        "  name: two",
        "spec:",
        "  csi:",
        "    volumeHandle: h",
        "",
      ].join("\n"),
      "b.yml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
      "notes.txt": "kind: NotYaml\n",
    });
    const scan = scanRepo(repo);
    assert.deepEqual(
      scan.objects.map((o) => `${o.doc.file}:${o.doc.line} ${o.kind}/${o.name}`),
      ["a/multi.yaml:3 ConfigMap/one", "a/multi.yaml:11 PersistentVolume/two", "b.yml:1 Namespace/x"],
    );
    const pv = scan.objects[1];
    assert.ok(pv);
    assert.equal(locate(scan, pv.doc, ["spec", "csi", "volumeHandle"]), 17);
    assert.equal(locate(scan, pv.doc, ["spec", "missing"]), 15, "falls back to the deepest key found");
    assert.ok(scan.dirs.has("a"));
  });

  it("reports invalid YAML with file:line:col and goes on", () => {
    const repo = tempRepo();
    writeFiles(repo, {
      "bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkey: [unclosed\nother: 1\n",
      "good.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n",
    });
    const scan = scanRepo(repo);
    const issue = scan.issues.find((i) => i.kind === "parse");
    assert.ok(issue, "a parse issue");
    assert.equal(issue.file, "bad.yaml");
    assert.ok((issue.line ?? 0) >= 5, `line ${issue.line} is in the second document`);
    assert.match(issue.message, /^bad\.yaml:\d+:\d+: /);
    assert.deepEqual(scan.objects.map((o) => o.name).sort(), ["ok", "y"]);
  });

  it("skips large and binary files, symlink loops and links out of the repo, saying why", () => {
    const repo = tempRepo();
    const outside = mkdtempSync(path.join(tmpdir(), "kopiashare-outside-"));
    writeFileSync(path.join(outside, "x.yaml"), "a: 1\n");
    writeFiles(repo, { "big.yaml": `a: "${"x".repeat(5 * 1024 * 1024)}"\n`, "dir/ok.yaml": "a: 1\n" });
    writeFileSync(path.join(repo, "bin.yaml"), Buffer.from([0x61, 0x3a, 0x00, 0x0a]));
    mkdirSync(path.join(repo, "loop"));
    symlinkSync("..", path.join(repo, "loop", "up"));
    symlinkSync(outside, path.join(repo, "out"));
    const scan = scanRepo(repo);
    const kinds = scan.issues.map((i) => `${i.kind} ${i.file}`).sort();
    assert.deepEqual(kinds, ["binary bin.yaml", "outside-repo out", "symlink-loop loop/up", "too-large big.yaml"]);
    assert.ok(scan.texts.has("dir/ok.yaml"));
    rmSync(outside, { recursive: true });
  });

  it("splits documents only at column-0 markers", () => {
    const docs = splitDocuments("a: |\n  --- not a marker\n---\nb: 1\n...\n# trailing\n");
    assert.equal(docs.length, 2);
    assert.equal(docs[1]?.start, 2);
  });
});
