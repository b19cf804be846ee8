/**
 * One set of validators for flags and kopiashare.yaml: a value refused in the file is refused as a flag,
 * with the same words, before anything is written; prefixes are checked against the longest namespace;
 * label values stay within 63 characters (core/names.ts labelValue).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { labelValue } from "../src/core/names.ts";
import { EXAMPLE, read, run, tempRepo, treeOf } from "./helpers.ts";

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe("validators shared by flags and kopiashare.yaml", () => {
  const cases: [flag: string[], key: string, problem: RegExp][] = [
    [["--capacity", "lots"], "capacity: lots", /must be a Kubernetes quantity such as 200Gi: got "lots"/],
    [["--storage-class", "Bad SC"], "storageClassName: Bad SC", /"Bad SC" is not a valid RFC 1123 subdomain/],
    [["--source", "Bad Name"], "sourceName: Bad Name", /"Bad Name" is not a valid RFC 1123 subdomain/],
    [
      ["--tier", "../.."],
      'tier: "../.."',
      /must be a single folder name \(no "\/", not "\." or "\.\."\): got "\.\.\/\.\."/,
    ],
    [["--tier", "a/b"], "tier: a/b", /must be a single folder name/],
  ];
  for (const [flag, key, problem] of cases) {
    it(`${flag.join(" ")} and "${key}" are refused with the same words, nothing written`, async () => {
      const repo = tempRepo(EXAMPLE);
      const before = treeOf(repo);
      const f = await run(["enable", "newx", ...flag], { cwd: repo });
      assert.equal(f.code, 2, f.err);
      assert.match(f.err, problem);
      assert.match(f.err, new RegExp(flag[0] as string));
      assert.deepEqual(treeOf(repo), before);
      writeFileSync(path.join(repo, "kopiashare.yaml"), `${key}\n`);
      const k = await run(["enable", "newx"], { cwd: repo });
      assert.equal(k.code, 2, k.err);
      assert.match(k.err, problem);
      assert.match(k.err, /key "\w+"/);
    });
  }

  for (const [key, value] of [
    ["pvPrefix", "KOPIA_"],
    ["ksPrefix", "Volsync_"],
    ["pvPrefix", "-kopia-"],
    ["pvPrefix", `${"p".repeat(191)}-`],
  ] as const) {
    it(`${key}: ${value.length > 20 ? `${value.slice(0, 8)}… (${value.length} characters)` : value} is refused: prefix + the longest namespace is no valid name`, async () => {
      const repo = tempRepo(EXAMPLE);
      writeFileSync(path.join(repo, "kopiashare.yaml"), `${key}: "${value}"\n`);
      const r = await run(["enable", "newx"], { cwd: repo });
      assert.equal(r.code, 2, r.err);
      assert.match(
        r.err,
        new RegExp(
          `key "${key}" "[^"]+" does not make valid object names: followed by a namespace of up to 63 characters`,
        ),
      );
    });
  }

  it("a valid prefix is accepted (and a 190-character one still makes 253-character names)", async () => {
    const repo = tempRepo(EXAMPLE);
    writeFileSync(path.join(repo, "kopiashare.yaml"), `pvPrefix: "${"p".repeat(189)}-"\ntier: home\n`);
    const r = await run(["enable", "newx", "--dry-run"], { cwd: repo });
    assert.equal(r.code, 0, r.err);
  });

  it("flags of init and app use the same validators", async () => {
    const repo = tempRepo(EXAMPLE);
    const a = await run(["app", "default", "paperless", "--capacity", "lots"], { cwd: repo });
    assert.equal(a.code, 2);
    assert.match(a.err, /--capacity must be a Kubernetes quantity/);
    const p = await run(["app", "default", "paperless", "--pvc", "Not_A_Pvc"], { cwd: repo });
    assert.equal(p.code, 2);
    assert.match(p.err, /--pvc "Not_A_Pvc" is not a valid RFC 1123 subdomain/);
    const i = await run(["init", "--node-stage-secret", "no-slash"], { cwd: repo });
    assert.equal(i.code, 2);
    assert.match(i.err, /--node-stage-secret must be <namespace>\/<name>: got "no-slash"/);
  });
});

describe("label values within 63 characters", () => {
  it("labelValue keeps short names and shortens long ones to 63 characters, distinct for distinct names", () => {
    assert.equal(labelValue("volsync-repository-pvc-media"), "volsync-repository-pvc-media");
    const a = labelValue(`volsync-repository-pvc-${"a".repeat(63)}`);
    const b = labelValue(`volsync-repository-pvc-${"a".repeat(62)}b`);
    assert.equal(a.length, 63);
    assert.match(a, LABEL_VALUE);
    assert.match(a, /^volsync-repository-pvc-a{31}-[0-9a-f]{8}$/);
    assert.notEqual(a, b);
  });

  for (const len of [40, 41, 63]) {
    it(`enable of a ${len}-character namespace writes an app.kubernetes.io/name of at most 63 characters`, async () => {
      const repo = tempRepo(EXAMPLE);
      const ns = `n${"s".repeat(len - 1)}`;
      const r = await run(["enable", ns, "--tier", "home"], { cwd: repo });
      assert.equal(r.code, 0, r.err);
      const ks = load(read(repo, `kubernetes/apps/home/${ns}/volsync-repository-pvc/ks.yaml`)) as {
        metadata: { name: string };
        spec: { commonMetadata: { labels: Record<string, string> } };
      };
      const value = ks.spec.commonMetadata.labels["app.kubernetes.io/name"] as string;
      assert.ok(value.length <= 63, `${value} (${value.length})`);
      assert.match(value, LABEL_VALUE);
      assert.equal(value, labelValue(ks.metadata.name));
      assert.equal(ks.metadata.name, `volsync-repository-pvc-${ns}`);
      // running it again finds exactly what it wrote (no hand edit), and lint has nothing to say about it
      const again = await run(["enable", ns, "--tier", "home"], { cwd: repo });
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /already enabled/);
      const lint = await run(["lint"], { cwd: repo });
      assert.equal(lint.code, 0, lint.out);
    });
  }
});
