import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from "yaml";
import {
  addEntry,
  appendToFlow,
  lineEnd,
  lineStart,
  listEntries,
  parseDocs,
  removeEntry,
  sameEntry,
  seqIndent,
} from "../src/gitops/kustomize-edit.ts";

const ENTRY = "./volsync-repository-pvc/ks.yaml";

/** Small deterministic PRNG (mulberry32) so failures reproduce from the printed seed. */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE = [
  "---",
  "# yaml-language-server: $schema=https://json.schemastore.org/kustomization",
  "apiVersion: kustomize.config.k8s.io/v1beta1",
  "kind: Kustomization",
  "resources:",
  "  - ./namespace.yaml",
  '  - "./app-one/ks.yaml"',
  "  - ./app-two/ks.yaml # trailing comment",
];

/** Inserts random comment and blank lines (indented like their neighbours) between the lines of BASE. */
function decorate(rand: () => number, lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    out.push(line);
    const n = Math.floor(rand() * 3);
    for (let i = 0; i < n; i++) {
      const indent = line.startsWith("  ") ? "  " : "";
      const pick = rand();
      out.push(
        pick < 0.3
          ? ""
          : pick < 0.6
            ? `${indent}# comment ${Math.floor(rand() * 1000)}`
            : `${indent}#   - ./old/ks.yaml  # disabled`,
      );
    }
  }
  return out;
}

function addedAndRemoved(before: string, after: string) {
  const b = before.split("\n");
  const a = after.split("\n");
  // The edit is an insertion: find the one index where they diverge and check the rest lines up.
  let i = 0;
  while (i < b.length && b[i] === a[i]) i++;
  return { index: i, inserted: a.length - b.length, restEqual: b.slice(i).join("\n") === a.slice(i + 1).join("\n") };
}

describe("kustomization.yaml edits preserve every other byte", () => {
  it("property: with random comments and blank lines, add inserts exactly one line and remove restores the file", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const text = `${decorate(rand, BASE).join("\n")}\n`;
      const added = addEntry(text, "k.yaml", ENTRY);
      const d = addedAndRemoved(text, added);
      assert.equal(d.inserted, 1, `seed ${seed}: one line added`);
      assert.ok(d.restEqual, `seed ${seed}: every other line unchanged\n${text}\n---\n${added}`);
      assert.equal(added.split("\n")[d.index], `  - ${ENTRY}`, `seed ${seed}: the new line`);
      assert.deepEqual(listEntries(added, "k.yaml").at(-1), ENTRY, `seed ${seed}: it is the last entry`);
      assert.deepEqual((load(added) as { resources: string[] }).resources.length, 4);
      assert.equal(removeEntry(added, "k.yaml", ENTRY), text, `seed ${seed}: remove undoes add`);
      assert.equal(addEntry(added, "k.yaml", ENTRY), added, `seed ${seed}: add is idempotent`);
    }
  });

  it("keeps the file's sequence indentation and quoting", () => {
    assert.equal(addEntry("resources:\n- ./a\n", "k", "./b"), "resources:\n- ./a\n- ./b\n");
    assert.equal(addEntry("resources:\n    - './a'\n", "k", "./b"), "resources:\n    - './a'\n    - './b'\n");
    assert.equal(addEntry('resources:\n  - "./a"\n', "k", "./b"), 'resources:\n  - "./a"\n  - "./b"\n');
  });

  it("handles flow sequences, an empty key, a missing key and a missing final newline", () => {
    assert.equal(addEntry("resources: [./a, ./b]\n", "k", "./c"), "resources: [./a, ./b, ./c]\n");
    assert.equal(addEntry("resources: []\n", "k", "./c"), "resources: [./c]\n");
    assert.equal(
      addEntry("kind: Kustomization\nresources:\n", "k", "./c"),
      "kind: Kustomization\nresources:\n  - ./c\n",
    );
    assert.equal(addEntry("kind: Kustomization\n", "k", "./c"), "kind: Kustomization\nresources:\n  - ./c\n");
    assert.equal(addEntry("resources:\n  - ./a", "k", "./c"), "resources:\n  - ./a\n  - ./c\n");
    assert.equal(addEntry("", "k", "./c"), "resources:\n  - ./c\n");
  });

  it("treats ./a, a and ./a/ as the same entry", () => {
    assert.equal(
      addEntry("resources:\n  - volsync-repository-pvc/ks.yaml\n", "k", ENTRY),
      "resources:\n  - volsync-repository-pvc/ks.yaml\n",
    );
    assert.equal(removeEntry("resources:\n  - ./a/\n  - ./b\n", "k", "a"), "resources:\n  - ./b\n");
  });

  it("removing the last entry leaves an empty list, and flow entries lose their comma", () => {
    assert.equal(removeEntry("resources:\n  - ./a # only\n", "k", "./a"), "resources: []\n");
    assert.equal(removeEntry("resources: [./a, ./b, ./c]\n", "k", "./b"), "resources: [./a, ./c]\n");
    assert.equal(removeEntry("resources: [./a, ./b]\n", "k", "./a"), "resources: [./b]\n");
  });

  it("edits the Kustomization document of a multi-document file", () => {
    const text =
      "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./a\n";
    assert.equal(addEntry(text, "k", "./b"), `${text}  - ./b\n`);
  });

  it("rejects a file that does not parse, with line and column", () => {
    assert.throws(
      () => addEntry("resources:\n  - ./a\n  bad: [\n", "dir/kustomization.yaml", "./b"),
      /dir\/kustomization\.yaml:\d+:\d+: not valid YAML/,
    );
  });
});

describe("the splicing primitives every YAML edit shares (kustomization lists, app ks.yaml)", () => {
  const node = <T>(text: string, key: string) => (parseDocument(text).contents as YAMLMap).get(key, true) as T;

  it("appendToFlow appends to flow sequences and flow maps, empty or not", () => {
    const seq = (t: string) => appendToFlow(t, node<YAMLSeq>(t, "a"), "x");
    assert.equal(seq("a: [b, c]\n"), "a: [b, c, x]\n");
    assert.equal(seq("a: []\n"), "a: [x]\n");
    const map = (t: string) => appendToFlow(t, node<YAMLMap>(t, "a"), "k: v");
    assert.equal(map("a: {b: 1, c: 2} # keep\n"), "a: {b: 1, c: 2, k: v} # keep\n");
    assert.equal(map("a: {}\n"), "a: {k: v}\n");
    assert.ok(isSeq(node("a: []\n", "a")) && isMap(node("a: {}\n", "a")));
  });

  it("seqIndent reads the file's own sequence style; sameEntry ignores ./ and a trailing /", () => {
    assert.equal(seqIndent("resources:\n- ./a\n"), 0);
    assert.equal(seqIndent("spec:\n  components:\n    # c\n    - ./a\n"), 2);
    assert.equal(seqIndent("kind: X\n"), 2);
    assert.ok(sameEntry("./a/", "a") && !sameEntry("./a", "./b"));
  });

  it("lineStart/lineEnd bound a line; parseDocs names file:line:col of the first error", () => {
    const t = "a: 1\nbb: 2\nc: 3";
    assert.deepEqual([lineStart(t, 7), lineEnd(t, 7)], [5, 11]);
    assert.equal(lineEnd(t, 12), t.length);
    assert.equal(parseDocs("---\na: 1\n---\nb: 2\n", "f").length, 2);
    assert.throws(() => parseDocs("a: 1\nb: [\n", "dir/ks.yaml"), /dir\/ks\.yaml:\d+:\d+: not valid YAML/);
  });
});
