/**
 * gitops/yaml-lite.ts reads plain block YAML without js-yaml. Whatever it accepts must give exactly
 * js-yaml's value (same keys in the same order, same types: numbers, -0, dates); whatever it does not
 * read is left to js-yaml, which then also reports errors. Checked on a table of cases, on every
 * document of the examples and fixtures, and on mutations of them (characters and whole lines).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { IMPLICIT, SCHEMA, splitDocuments } from "../../src/gitops/scan.ts";
import { NOT_LITE, parseLite } from "../../src/gitops/yaml-lite.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Deep equality that tells -0 from 0, NaN from null, a Date from its string, and key order apart. */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime());
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Reflect.ownKeys(a);
  const kb = Reflect.ownKeys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i] || !same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

type JsYaml = { value: unknown } | { error: string };
function jsYaml(src: string): JsYaml {
  try {
    return { value: load(src, { schema: SCHEMA }) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** parseLite agrees with js-yaml: the same value, or it leaves the document to js-yaml. Returns whether it read it. */
function agrees(src: string): boolean {
  const lite = parseLite(src, IMPLICIT);
  if (lite === NOT_LITE) return false;
  const js = jsYaml(src);
  assert.ok("value" in js, `read ${JSON.stringify(src)}, which js-yaml rejects: ${"error" in js ? js.error : ""}`);
  assert.ok(same(lite, js.value), `${JSON.stringify(src)}: ${JSON.stringify(lite)} vs ${JSON.stringify(js.value)}`);
  return true;
}

const documents = (): string[] => {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else if (/\.ya?ml$/.test(e.name))
        for (const c of splitDocuments(readFileSync(abs, "utf8"))) if (c.body.length < 4000) out.push(c.body);
    }
  };
  walk(path.join(ROOT, "examples"));
  walk(path.join(ROOT, "test/fixtures"));
  return out;
};

describe("yaml-lite", () => {
  it("reads plain block YAML to js-yaml's values", () => {
    const read = [
      "a: 1",
      "a:\n- 1\n- 2\nb: 3",
      "- a: 1\n  b: 2\n- c",
      "a:\n  b:\n  - x\n  c: y",
      "-\n  a: 1\n- b",
      "a:\n  -\n  - b",
      "- ",
      "  a: 1\n  b: 2",
      "# comment\na: 1 # trailing\n# end",
      "a:   # nothing here\n  b: 1",
      "a:\n\n  b: 1\n\n",
      "a: 'it''s'",
      'a: "x y"',
      "'quoted key': 1",
      "a : 1",
      "a: b#c",
      "a: http://x:80/y",
      "a: va:lue",
      "a: -x",
      "a: ?x",
      "a: :x",
      "a: []",
      "a: {}",
      // every implicit type, as js-yaml resolves it
      "a: ~\nb: null\nc: Null\nd: TRUE\ne: false\nf: yes\ng: on\nh: nil",
      "a: 0x1F\nb: 0o17\nc: -0\nd: +1\ne: 1.0\nf: 1e3\ng: .inf\nh: -.Inf\ni: .nan\nj: 1_000\nk: 007",
      "a: 2020-01-01\nb: 2020-01-01T10:00:00Z\nc: 2020-1-1 10:00:00 +02:00\nd: 2020-01-01x\ne: 12345-01-01",
      "a: 200Gi\nb: 1.0.0\nc: 30m\nd: 0 * * * *",
    ];
    for (const src of read) assert.ok(agrees(src), `not read: ${JSON.stringify(src)}`);
  });

  it("leaves everything else to js-yaml", () => {
    const left = [
      "a: b: c", // an error
      "a:\n  - x\n  b: 1", // an error
      "a: 1\n  b: 2", // an error
      "a: 1\na: 2", // duplicated key
      "  a: 1\nb: 2", // content after the document
      "a: 'x' y",
      "key: value:",
      "a: - b",
      "a: 'x",
      "a:b", // a scalar document
      "a: x\n  y", // multi-line plain scalar
      "a: 'x'#y",
      "a: [ ]",
      "a: [1, 2]",
      "a: {b: 1}",
      "- - a",
      "? a\n: b",
      "a: &x 1",
      "a: *x",
      "a: !t 1",
      "a: |\n  x",
      "a: >-\n  x",
      'a: "x\\n"',
      "__proto__: 1",
      "1: a",
      "true: a",
      "<<: {a: 1}",
      "a:\tb",
      "a: b\r\nc: d",
      "\ufeffa: 1",
      "a: caf\u00e9",
      "%YAML 1.2\n---\na: 1",
      "---# yaml-language-server: $schema=x.json\na: 1", // a document marker and a comment for js-yaml
      "\n---a: 1",
    ];
    for (const src of left) {
      assert.equal(parseLite(src, IMPLICIT), NOT_LITE, JSON.stringify(src));
    }
  });

  it("agrees with js-yaml on every document of the examples and fixtures, and on mutations of them", () => {
    const docs = documents();
    let read = 0;
    for (const d of docs) if (agrees(d)) read++;
    assert.ok(read > docs.length * 0.8, `${read} of ${docs.length} read`);
    // Deterministic mutations: inserted indicators, removed characters, copied fragments.
    const pieces = [
      " ",
      "  ",
      ":",
      ": ",
      "-",
      "- ",
      "#",
      " #",
      "'",
      '"',
      "\n",
      "\n  ",
      "\n- ",
      "a",
      "1",
      ".",
      "~",
      "[]",
      "{}",
      "[",
      "?",
      "&a",
      "*a",
      "!t",
      "|",
      ">",
      "0x1",
      "2020-01-01",
      "k: v\n",
      "\n  k: v",
    ];
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const lines = ["---", "---#c", "...", "#", "", "- ", "-", "? x", ": y", "k:", "  k: v", "'a': b", "a: |", "a: [ ]"];
    for (let i = 0; i < 20_000; i++) {
      let s = docs[rnd(docs.length)] as string;
      for (let k = 1 + rnd(3); k > 0; k--) {
        const at = rnd(s.length + 1);
        const r = rnd(10);
        if (r < 3) {
          // a line inserted, repeated, indented, unindented or removed
          const l = s.split("\n");
          const j = rnd(l.length);
          const q = rnd(5);
          if (q === 0) l.splice(j, 0, lines[rnd(lines.length)] as string);
          else if (q === 1) l.splice(j, 0, l[rnd(l.length)] as string);
          else if (q === 2) l[j] = ` ${l[j]}`;
          else if (q === 3) l[j] = (l[j] as string).replace(/^ {1,2}/, "");
          else l.splice(j, 1);
          s = l.join("\n");
        } else if (r < 6) s = s.slice(0, at) + pieces[rnd(pieces.length)] + s.slice(at);
        else if (r < 8) s = s.slice(0, at) + s.slice(at + 1 + rnd(3));
        else s = s.slice(0, at) + s.slice(rnd(s.length), rnd(s.length) + 10) + s.slice(at);
      }
      agrees(s);
    }
  });
});
