/** lint's outputs (text, json, github, sarif), exit codes and flags. */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, it } from "node:test";
import { RULES } from "../../src/core/rules/index.ts";
import type { Finding } from "../../src/core/rules/types.ts";
import { makeColors } from "../../src/output/colors.ts";
import { renderGithub, renderText } from "../../src/output/findings.ts";
import { FIXTURES, run, tempRepo, treeOf } from "../helpers.ts";
import { C, KM, lint, repoWith } from "./helpers.ts";

const ORIGIN = path.join(FIXTURES, "lint", "origin");
const ESC = String.fromCharCode(27);

describe("lint output", () => {
  let origin: string;
  before(() => {
    origin = tempRepo(ORIGIN);
  });

  it("text: grouped by severity then rule, why once per rule, a summary; no colour when NO_COLOR", async () => {
    const r = await run(["lint", "--repo", origin, "--kubernetes-version", "1.34"], { cwd: origin });
    assert.equal(r.code, 1);
    const heads = [...r.out.matchAll(/^(error|warning|info) (\S+) .*\((\d+)\)$/gm)].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}`,
    );
    assert.deepEqual(heads, [
      "error identity/no-source 1",
      "error path/mismatch 2",
      "error volume/reclaim-policy 1",
      "warning binding/no-claim-ref 2",
      "warning permissions/fsgroup-change-policy 2",
    ]);
    assert.equal((r.out.match(/^ {2}why: /gm) ?? []).length, 5, "why once per rule");
    assert.equal((r.out.match(/^ {4}fix: /gm) ?? []).length, 8);
    assert.match(
      r.out,
      /^ {2}kubernetes\/components\/volsync\/externalsecret\.yaml:15 ExternalSecret media\/jellyfin-volsync/m,
    );
    assert.match(r.out, /^4 errors, 4 warnings, 0 info in \d+ YAML files$/m);
    assert.doesNotMatch(r.out, new RegExp(`${ESC}\\[`));
    assert.equal(r.err, "kubernetes version 1.34 (from --kubernetes-version)\n");
    const plain = await run(["lint", "--repo", origin, "--no-color"], { cwd: origin, env: { NO_COLOR: "" } });
    assert.doesNotMatch(plain.out, new RegExp(`${ESC}\\[`));
  });

  it("text: colours come from the injected Colors", () => {
    const f: Finding = {
      rule: "path/mismatch",
      severity: "error",
      file: "a.yaml",
      line: 3,
      subject: "s",
      what: "w",
      why: "y",
      fix: "x",
    };
    const on = renderText([f], makeColors(true), { repo: ".", version: "0", kubernetesVersion: undefined, files: 1 });
    assert.match(on, new RegExp(`${ESC}\\[31m`));
    const off = renderText([f], makeColors(false), { repo: ".", version: "0", kubernetesVersion: undefined, files: 1 });
    assert.doesNotMatch(off, new RegExp(`${ESC}\\[`));
    assert.match(off, /^1 error, 0 warnings, 0 info in 1 YAML file$/m);
  });

  it("text: a clean repository says so", async () => {
    const dir = repoWith();
    const r = await run(["lint", "--repo", dir], { cwd: dir });
    assert.equal(r.code, 0);
    assert.match(r.out, /^0 errors, 0 warnings, 0 info in \d+ YAML files\n$/);
  });

  it("json: the documented shape", async () => {
    const r = await lint(origin, ["--kubernetes-version", "1.34"]);
    assert.equal(r.code, 1);
    assert.equal(r.json.version, 1);
    assert.deepEqual(Object.keys(r.json), [
      "version",
      "tool",
      "repo",
      "kubernetesVersion",
      "kubernetesVersionSource",
      "files",
      "summary",
      "findings",
    ]);
    assert.equal((r.json.tool as { name: string }).name, "kopiashare");
    assert.equal(r.json.kubernetesVersion, "1.34");
    assert.equal(r.json.kubernetesVersionSource, "flag");
    assert.deepEqual(r.json.summary, { errors: 4, warnings: 4, infos: 0 });
    const f = r.findings[0];
    assert.ok(f);
    assert.deepEqual(Object.keys(f), ["rule", "severity", "file", "line", "subject", "what", "why", "fix", "docs"]);
    assert.equal(f.docs, "docs/rules.md#identityno-source");
    assert.match(r.err, /kopiashare lint: 4 error\(s\), 4 warning\(s\), 0 info/);
  });

  it("github: one workflow command per finding, escaped", async () => {
    const r = await run(["lint", "--repo", origin, "-o", "github", "--kubernetes-version", "1.34"], { cwd: origin });
    assert.equal(r.code, 1);
    const lines = r.out.trimEnd().split("\n");
    assert.equal(lines.length, 8);
    assert.match(
      lines[0] ?? "",
      /^::error file=kubernetes\/components\/volsync\/replicationdestination\.yaml,line=14,title=identity\/no-source::ReplicationDestination media\/jellyfin-dst: looks for snapshots of jellyfin@default%3A\/data|^::error file=kubernetes\/components\/volsync\/replicationdestination\.yaml,line=14,title=identity\/no-source::ReplicationDestination media\/jellyfin-dst: looks for snapshots of jellyfin@default:\/data/,
    );
    assert.ok(
      lines.every((l) => /^::(error|warning|notice) file=[^,]+,line=\d+,title=[^:]+::/.test(l)),
      r.out,
    );
    assert.ok(lines.every((l) => l.includes("%0Awhy: ") && l.includes("%0Afix: ")));
    assert.equal(lines.filter((l) => l.startsWith("::warning ")).length, 4);
    const info = renderGithub([
      {
        rule: "input/skipped",
        severity: "info",
        file: "a,b:c.yaml",
        line: 1,
        subject: "s",
        what: "50%\nx",
        why: "y",
        fix: "f",
      },
    ]);
    assert.equal(info, "::notice file=a%2Cb%3Ac.yaml,line=1,title=input/skipped::s: 50%25%0Ax%0Awhy: y%0Afix: f\n");
  });

  it("sarif: 2.1.0 with every rule and located results", async () => {
    const r = await run(["lint", "--repo", origin, "-o", "sarif", "--kubernetes-version", "1.34"], { cwd: origin });
    assert.equal(r.code, 1);
    const sarif = JSON.parse(r.out);
    assert.equal(sarif.version, "2.1.0");
    assert.match(sarif.$schema, /sarif-2\.1\.0/);
    const run0 = sarif.runs[0];
    const ids = run0.tool.driver.rules.map((x: { id: string }) => x.id);
    assert.deepEqual(
      ids,
      RULES.map((x) => x.meta.id),
    );
    for (const rule of run0.tool.driver.rules) {
      assert.ok(rule.shortDescription.text && rule.fullDescription.text && rule.help.text, rule.id);
      assert.ok(["error", "warning", "note"].includes(rule.defaultConfiguration.level));
    }
    assert.equal(run0.results.length, 8);
    const res = run0.results.find((x: { ruleId: string }) => x.ruleId === "volume/reclaim-policy");
    assert.equal(res.level, "error");
    assert.equal(ids[res.ruleIndex], "volume/reclaim-policy");
    assert.equal(
      res.locations[0].physicalLocation.artifactLocation.uri,
      "kubernetes/apps/media/volsync-repository-pvc/app/pvc.yaml",
    );
    assert.equal(res.locations[0].physicalLocation.region.startLine, 11);
    assert.equal(run0.results.filter((x: { level: string }) => x.level === "warning").length, 4);
  });

  it("exit codes: warnings pass unless --strict; info never fails", async () => {
    const warn = repoWith([[KM, "    fsGroupChangePolicy: OnRootMismatch\n", ""]]);
    const w = await lint(warn);
    assert.deepEqual(w.json.summary, { errors: 0, warnings: 1, infos: 0 });
    assert.equal(w.code, 0);
    assert.equal((await lint(warn, ["--strict"])).code, 1);
    const info = repoWith([
      ["kubernetes/apps/media/jellyfin/ks.yaml", "  components:\n    - ../../../../components/volsync\n", ""],
    ]);
    assert.equal((await lint(info, ["--strict"])).code, 0);
  });

  it("usage errors exit 2: bad --kubernetes-version, bad -o, missing --repo", async () => {
    const dir = repoWith();
    for (const args of [
      ["--kubernetes-version", "2.0"],
      ["--kubernetes-version", "latest"],
      ["-o", "yaml"],
      ["--repo", path.join(dir, "nope")],
    ]) {
      const r = await run(["lint", "--repo", dir, ...args], { cwd: dir });
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.out, "");
    }
  });

  it("kubernetesVersion in kopiashare.yaml is used; the flag wins", async () => {
    const dir = repoWith([["kopiashare.yaml", 'kubernetesVersion: "1.33"\n']]);
    const r = await lint(dir);
    assert.equal(r.json.kubernetesVersion, "1.33");
    assert.equal(r.findings.filter((f) => f.rule === "admission/api-version").length, 2);
    const flag = await lint(dir, ["--kubernetes-version", "1.34"]);
    assert.equal(flag.findings.length, 0);
  });

  it("never writes to the checkout", async () => {
    const dir = repoWith([
      [`${C}/replicationsource.yaml`, "    copyMethod: Snapshot\n", "    copyMethod: Snapshot\n    x: ${NOPE}\n"],
    ]);
    const before = treeOf(dir);
    for (const o of ["text", "json", "github", "sarif"]) await run(["lint", "--repo", dir, "-o", o], { cwd: dir });
    assert.deepEqual(treeOf(dir), before);
  });

  it("--help has examples and the exit codes", async () => {
    const r = await run(["lint", "--help"], { cwd: origin });
    assert.equal(r.code, 0);
    assert.match(r.out, /Examples:/);
    assert.match(r.out, /-o, --output <format>/);
    assert.match(r.out, /--kubernetes-version/);
    assert.match(r.out, /--strict/);
    assert.match(r.out, /Exit codes: 0 no errors/);
  });
});

describe("docs/rules.md", () => {
  it("has a section, a table row and an example for every rule id", async () => {
    const { readFileSync } = await import("node:fs");
    const { ROOT } = await import("../helpers.ts");
    const doc = readFileSync(path.join(ROOT, "docs", "rules.md"), "utf8");
    for (const r of RULES) {
      const id = r.meta.id;
      assert.match(doc, new RegExp(`^## ${id.replace("/", "\\/")}$`, "m"), `section ${id}`);
      assert.ok(doc.includes(`[\`${id}\`](#${id.replace(/[^a-z0-9-]/g, "")})`), `table row ${id}`);
      const section = doc.slice(doc.indexOf(`## ${id}\n`)).split(/\n## /)[0] ?? "";
      assert.match(section, /\*\*What\*\*/, `${id}: what`);
      assert.match(section, /\*\*Why\*\*/, `${id}: why`);
      assert.match(section, /\*\*Fix\*\*/, `${id}: fix`);
    }
  });
});
