/** Bad input: lint reports it with file:line(:col) and goes on. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { lint, ofRule, PV_MEDIA, repoWith } from "./helpers.ts";

describe("lint bad input", () => {
  it("invalid YAML in a file Flux applies for backups is an error with file:line:col, and the rest is still checked", async () => {
    const broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1, 2\n  b: 3\n";
    const dir = repoWith([
      ["kubernetes/apps/media/volsync-repository-pvc/app/broken.yaml", broken],
      [
        "kubernetes/apps/media/volsync-repository-pvc/app/kustomization.yaml",
        "- ./pvc.yaml",
        "- ./pvc.yaml\n  - ./broken.yaml",
      ],
      // The same text where nothing applies it (a scratch file): not a manifest of the cluster.
      ["kubernetes/apps/media/scratch/notes.yaml", broken],
      [PV_MEDIA, "ReclaimPolicy: Retain", "ReclaimPolicy: Delete"],
    ]);
    const r = await lint(dir);
    const parse = ofRule(r, "input/invalid-yaml");
    assert.equal(parse.length, 1);
    assert.equal(parse[0]?.file, "kubernetes/apps/media/volsync-repository-pvc/app/broken.yaml");
    assert.equal(parse[0]?.severity, "error");
    assert.ok((parse[0]?.line ?? 0) >= 6, `line ${parse[0]?.line}`);
    assert.ok((parse[0]?.col ?? 0) >= 1, "has a column");
    assert.match(parse[0]?.what ?? "", /^not valid YAML: /);
    assert.equal(ofRule(r, "volume/reclaim-policy").length, 1, "linting continued");
    assert.equal(r.code, 1);
  });

  it("a broken document in a multi-document file does not hide the others", async () => {
    const dir = repoWith([
      [
        PV_MEDIA,
        "---\napiVersion: v1\nkind: PersistentVolumeClaim",
        "---\nkey: [unclosed\n---\napiVersion: v1\nkind: PersistentVolumeClaim",
      ],
    ]);
    const r = await lint(dir);
    assert.equal(ofRule(r, "input/invalid-yaml").length, 1);
    assert.equal(ofRule(r, "delivery/no-claim").length, 0, "the PVC after the broken document is still read");
  });

  it("large and binary files, symlink loops and links out of the repository are skipped with an info", async () => {
    const outside = mkdtempSync(path.join(tmpdir(), "kopiashare-lint-outside-"));
    writeFileSync(path.join(outside, "x.yaml"), "a: 1\n");
    const dir = repoWith([["big/big.yaml", `a: "${"x".repeat(5 * 1024 * 1024)}"\n`]]);
    writeFileSync(path.join(dir, "bin.yaml"), Buffer.from([0x61, 0x3a, 0x00, 0x0a]));
    mkdirSync(path.join(dir, "loop"));
    symlinkSync("..", path.join(dir, "loop", "up"));
    symlinkSync(outside, path.join(dir, "out"));
    const r = await lint(dir);
    const skipped = ofRule(r, "input/skipped");
    assert.deepEqual(
      skipped.map((f) => `${f.severity} ${f.file}`),
      ["info big/big.yaml", "info bin.yaml", "info loop/up", "info out"],
    );
    assert.match(skipped[0]?.what ?? "", /larger than 5 MiB/);
    assert.match(skipped[1]?.what ?? "", /binary/);
    assert.match(skipped[2]?.what ?? "", /symlink loop/);
    assert.match(skipped[3]?.what ?? "", /leaves the repository/);
    assert.equal(r.code, 0, "skipped files alone do not fail");
    assert.deepEqual(
      r.findings.filter((f) => f.rule !== "input/skipped"),
      [],
    );
    rmSync(outside, { recursive: true });
  });
});
