/**
 * docs/rules.md agrees with the rule registry: its rules table is what scripts/gen-docs.ts writes
 * (`npm run docs`), and every rule id has one `## <id>` section, every such section a rule.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import {
  COMMANDS_MD,
  checksByRule,
  checksTable,
  generate,
  generateCommands,
  RULES_MD,
  rulesTable,
  sectionProblems,
  TABLE_END,
  TABLE_START,
} from "../scripts/gen-docs.ts";
import { CHECK_IDS } from "../src/core/doctor.ts";
import { RULES } from "../src/core/rules/index.ts";
import type { Rule } from "../src/core/rules/types.ts";
import { ROOT } from "./helpers.ts";

const fake = (id: string, severityNote?: string): Rule => ({
  meta: {
    id,
    severity: "error",
    transports: ["pvc"],
    title: "a | b",
    why: "w",
    ...(severityNote ? { severityNote } : {}),
  },
  check: () => [],
});

describe("docs/rules.md", () => {
  const text = readFileSync(RULES_MD, "utf8");

  it("has the rules table the registry generates (npm run docs)", () => {
    assert.equal(text, generate(text), "docs/rules.md is out of date: run npm run docs");
  });

  it("has one ## <id> section per rule id in RULES, and no section without a rule", () => {
    assert.deepEqual(sectionProblems(text), []);
  });

  it("npm run docs -- --check exits 0", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "gen-docs.ts"), "--check"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe("docs/commands.md", () => {
  it("has the doctor checks table the check registry generates (npm run docs), one row per check and --probe's", () => {
    const text = readFileSync(COMMANDS_MD, "utf8");
    assert.equal(text, generateCommands(text), "docs/commands.md is out of date: run npm run docs");
    const ids = [...checksTable().matchAll(/^\| `([a-z-]+\/[a-z-]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(ids, [...CHECK_IDS, "permissions/probe"]);
  });

  it("every lint rule a doctor check points at exists, and rules.md points back (one list, both tables)", () => {
    const known = new Set(RULES.map((r) => r.meta.id));
    for (const [rule, checks] of checksByRule()) assert.ok(known.has(rule), `${checks.join(", ")} point at ${rule}`);
    assert.match(
      readFileSync(RULES_MD, "utf8"),
      /\| \[`delivery\/no-claim`\]\(#deliveryno-claim\) \|.*\[`delivery\/consumers-without-pvc`\]\(commands\.md#doctor\) \|/,
    );
    assert.match(
      checksTable(),
      /^\| `delivery\/consumers-without-pvc` \|.*\[`delivery\/no-claim`\]\(rules\.md#deliveryno-claim\) \|$/m,
    );
  });
});

describe("scripts/gen-docs.ts", () => {
  it("renders id links, the severity with its note, and escapes | in cells", () => {
    assert.equal(
      rulesTable(
        [fake("volume/reclaim-policy", "warning for static PVs"), fake("input/skipped")],
        new Map([["volume/reclaim-policy", ["volume/reclaim-retain"]]]),
      ),
      [
        "| id | severity | transports | checks | doctor check |",
        "|---|---|---|---|---|",
        "| [`volume/reclaim-policy`](#volumereclaim-policy) | error (warning for static PVs) | pvc | a \\| b | [`volume/reclaim-retain`](commands.md#doctor) |",
        "| [`input/skipped`](#inputskipped) | error | pvc | a \\| b | — |",
      ].join("\n"),
    );
  });

  it("rewrites only the region between the markers, and needs both", () => {
    const doc = `# T\n\nintro\n${TABLE_START}\nstale\n${TABLE_END}\n\n## a/b\n`;
    assert.equal(
      generate(doc, [fake("a/b")]),
      `# T\n\nintro\n${TABLE_START}\n${rulesTable([fake("a/b")])}\n${TABLE_END}\n\n## a/b\n`,
    );
    assert.throws(() => generate("# T\n", RULES), /markers/);
  });

  it("reports a rule without a section, a duplicate section and a section without a rule; ignores code blocks", () => {
    const doc = "## a/b\n\n## a/b\n\n## c/d\n\n```md\n## e/f\n```\n\n## How it works\n";
    assert.deepEqual(sectionProblems(doc, [fake("a/b"), fake("g/h")]), [
      'rule a/b has 2 "## a/b" sections in docs/rules.md',
      'rule g/h has no "## g/h" section in docs/rules.md',
      'section "## c/d" of docs/rules.md names no rule in RULES',
    ]);
  });
});
