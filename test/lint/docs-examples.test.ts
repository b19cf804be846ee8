/**
 * Every failing example in docs/rules.md really fails: for each `## <rule id>` section, the
 * repository its `lint-example` blocks describe is built on a copy of the lint base fixture
 * (test/fixtures/lint/base, which has no finding), linted in-process, and the documented rule must
 * report at least one finding. Only the rule id is asserted: severities and messages are the rule's
 * own tests' business (test/lint/rules.test.ts).
 *
 * The convention (also described in docs/rules.md, "Failing examples"):
 *
 * - ```` ```yaml lint-example ````: the first line is `# <repo-relative path>`. Each YAML document of
 *   the block is a JSON merge patch (RFC 7386: mappings merge, anything else replaces, `null` removes
 *   the key) on the document of that file with the block's apiVersion, kind, metadata.name and
 *   metadata.namespace (those the block gives; a block that gives none targets the file's only
 *   document). When no document matches, the block is added to the file as a new document (the file
 *   is created if it does not exist).
 * - `# <path> (whole file)`: the rest of the block is the file's entire content, verbatim (so it may
 *   be invalid YAML).
 * - ```` ```sh lint-example ````: shell commands run with `sh -e` in the repository (for what files
 *   cannot say, such as a symlink).
 *
 * The blocks of a section apply in document order.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { RULES } from "../../src/core/rules/index.ts";
import { ROOT } from "../helpers.ts";
import { lint, ofRule, repoWith } from "./helpers.ts";

const RULES_MD = path.join(ROOT, "docs", "rules.md");

/**
 * Rule sections whose failing example cannot be run, each with the reason. Keep it empty when
 * possible: an exempt example is an example nobody checks.
 */
const EXEMPT = new Map<string, string>([]);

interface Block {
  lang: "yaml" | "sh";
  text: string;
  /** 1-based line of the block's first line (after the fence) in docs/rules.md. */
  line: number;
}

/** The lint-example blocks of each `## <id>` section, and blocks found outside any rule section. */
function parseExamples(md: string): { sections: Map<string, Block[]>; stray: number[] } {
  const sections = new Map<string, Block[]>();
  const stray: number[] = [];
  const lines = md.split("\n");
  let section: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heading = /^## +(.+?)\s*$/.exec(line);
    if (heading) {
      section = heading[1];
      continue;
    }
    const fence = /^(`{3,})(\S*)(.*)$/.exec(line);
    if (!fence) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith(fence[1] as string) && l.trim() === fence[1]);
    assert.ok(end > i, `docs/rules.md:${i + 1}: unterminated code block`);
    const info = `${fence[2]}${fence[3]}`.trim().split(/\s+/);
    if (info.includes("lint-example")) {
      const lang = info[0];
      assert.ok(lang === "yaml" || lang === "sh", `docs/rules.md:${i + 1}: a lint-example must be yaml or sh`);
      const block: Block = { lang, text: lines.slice(i + 1, end).join("\n"), line: i + 2 };
      if (section && RULES.some((r) => r.meta.id === section)) {
        sections.set(section, [...(sections.get(section) ?? []), block]);
      } else stray.push(i + 1);
    }
    i = end;
  }
  return { sections, stray };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isMap = (v: unknown): v is { [k: string]: Json } => typeof v === "object" && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch. */
function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isMap(patch)) return patch;
  const out: { [k: string]: Json } = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const selector = (doc: Json) => {
  const meta = isMap(doc) && isMap(doc.metadata) ? doc.metadata : {};
  return {
    apiVersion: isMap(doc) ? doc.apiVersion : undefined,
    kind: isMap(doc) ? doc.kind : undefined,
    name: meta.name,
    namespace: meta.namespace,
  };
};

function applyYaml(dir: string, block: Block): void {
  const [header = "", ...body] = block.text.split("\n");
  const m = /^#\s*(\S+)(\s+\(whole file\))?\s*$/.exec(header);
  assert.ok(m, `docs/rules.md:${block.line}: a yaml lint-example starts with "# <path>" or "# <path> (whole file)"`);
  const rel = m[1] as string;
  assert.ok(!path.isAbsolute(rel) && !rel.split("/").includes(".."), `docs/rules.md:${block.line}: ${rel}`);
  const abs = path.join(dir, rel);
  mkdirSync(path.dirname(abs), { recursive: true });
  if (m[2]) {
    writeFileSync(abs, `${body.join("\n")}\n`);
    return;
  }
  const patches = parseAllDocuments(body.join("\n")).map((d) => {
    assert.deepEqual(d.errors, [], `docs/rules.md:${block.line}: the example does not parse`);
    return d.toJS() as Json;
  });
  const docs = existsSync(abs) ? parseAllDocuments(readFileSync(abs, "utf8")).map((d) => d.toJS() as Json) : [];
  for (const p of patches) {
    if (p === null) continue;
    const want = selector(p);
    const given = Object.entries(want).filter(([, v]) => v !== undefined);
    const hits = docs
      .map((d, i) => ({ d, i }))
      .filter(({ d }) => d !== null && given.every(([k, v]) => selector(d)[k as keyof typeof want] === v));
    if (given.length === 0) {
      assert.ok(docs.length <= 1, `docs/rules.md:${block.line}: ${rel} has several documents: name one`);
    }
    assert.ok(hits.length <= 1, `docs/rules.md:${block.line}: several documents of ${rel} match`);
    const hit = hits[0];
    if (hit) docs[hit.i] = mergePatch(hit.d, p);
    else docs.push(mergePatch({}, p));
  }
  writeFileSync(abs, docs.map((d) => `---\n${stringify(d)}`).join(""));
}

function applySh(dir: string, block: Block): void {
  const r = spawnSync("sh", ["-e", "-c", block.text], { cwd: dir, encoding: "utf8" });
  assert.equal(r.status, 0, `docs/rules.md:${block.line}: the sh example failed: ${r.stderr}`);
}

describe("docs/rules.md failing examples", () => {
  const { sections, stray } = parseExamples(readFileSync(RULES_MD, "utf8"));

  it("every lint-example block belongs to a rule section", () => {
    assert.deepEqual(stray, [], "lint-example blocks outside a `## <rule id>` section (docs/rules.md lines)");
  });

  it("every rule section has a lint-example, or an exemption with a reason", () => {
    const without = RULES.map((r) => r.meta.id).filter((id) => !sections.has(id) && !EXEMPT.has(id));
    assert.deepEqual(without, []);
    for (const id of EXEMPT.keys()) assert.ok(!sections.has(id), `${id} is exempt but has an example`);
  });

  for (const [id, blocks] of sections) {
    it(`${id}: the example reports ${id}`, async () => {
      const dir = repoWith();
      for (const b of blocks) (b.lang === "yaml" ? applyYaml : applySh)(dir, b);
      const r = await lint(dir);
      assert.ok(
        ofRule(r, id).length > 0,
        `docs/rules.md:${blocks[0]?.line}: the example of ${id} does not report it; it reports: ${
          r.findings.map((f) => `${f.rule} ${f.file}:${f.line}`).join(", ") || "nothing"
        }${r.err ? `\n${r.err}` : ""}`,
      );
    });
  }
});
