/** The live verbs: --help with examples, and neither --help nor a usage error loads the Kubernetes client. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { EXAMPLE, ROOT, run } from "../helpers.ts";
import { sharedRepository } from "../kube-sim/scenarios.ts";
import { kube, type Sim, withSim } from "./util.ts";

const healthyCluster = (sim: Sim) =>
  void sharedRepository(sim, { namespaces: ["media", "home"], style: "shared-handle" });

const VERBS = ["verify", "doctor", "drift"];

describe("live verbs: help and lazy loading", () => {
  it("are listed in kopiashare --help and document the common flags with examples", async () => {
    const top = await run(["--help"], { cwd: ROOT });
    for (const verb of VERBS) {
      assert.match(top.out, new RegExp(`^  ${verb} `, "m"), verb);
      const r = await run([verb, "--help"], { cwd: ROOT });
      assert.equal(r.code, 0);
      assert.match(r.out, /Examples:/);
      for (const flag of [
        "--kubeconfig <file>",
        "--context <name>",
        "--request-timeout <duration>",
        "--retry-budget <duration>",
        "-o, --output <format>",
      ]) {
        assert.ok(r.out.includes(flag), `${verb} --help lacks ${flag}`);
      }
    }
  });

  it("--help of every live verb does not load @kubernetes/client-node", () => {
    const hook = `data:text/javascript,${encodeURIComponent(
      `export async function resolve(s, c, n) { const r = await n(s, c); if (r.url.includes("@kubernetes/client-node")) process.stderr.write("LOADED-KUBE\\n"); return r; }`,
    )}`;
    const register = `data:text/javascript,${encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(hook)});`)}`;
    for (const args of [
      ...VERBS.map((v) => [v, "--help"]),
      ["--help"],
      ...VERBS.map((v) => [v, "-n", "a", "-A"]),
      ["doctor", "--timeout", "soon"],
      ["verify", "--request-timeout", "soon"],
    ]) {
      const r = spawnSync(
        process.execPath,
        ["--import", register, "--import", "tsx", path.join(ROOT, "src/bin.ts"), ...args],
        {
          encoding: "utf8",
          cwd: ROOT,
        },
      );
      assert.ok(r.status === 0 || r.status === 2, `${args.join(" ")}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /LOADED-KUBE/, `${args.join(" ")} loaded the Kubernetes client`);
    }
  });
});

describe("live verbs: flags", () => {
  /** No kubeconfig anywhere: only a flag error can come first. */
  const noCluster = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kopiashare-flags-"));
    return { cwd: dir, env: { HOME: path.join(dir, "nohome") } };
  };

  it("-A on verify, doctor and drift; -n and -A together are exit 2 before anything is read", async () => {
    for (const verb of VERBS) {
      const help = await run([verb, "--help"], { cwd: ROOT });
      assert.match(help.out, /-A, --all-namespaces/, `${verb} --help`);
      const r = await run([verb, "-n", "media", "-A", "--repo", EXAMPLE], noCluster());
      assert.equal(r.code, 2, `${verb}: ${r.err}`);
      assert.match(r.err, /-n\/--namespace and -A\/--all-namespaces cannot be used together/, verb);
    }
  });

  it("-A is the default scope of doctor", async () => {
    await withSim({ crds: ["volsync"] }, healthyCluster, async (sim) => {
      const all = await kube(sim, ["doctor", "-A", "-o", "json"]);
      const none = await kube(sim, ["doctor", "-o", "json"]);
      assert.equal(all.code, 0, all.err);
      const statuses = (out: string) => (JSON.parse(out) as { checks: { id: string; status: string }[] }).checks;
      assert.deepEqual(statuses(all.out), statuses(none.out));
      assert.equal(JSON.parse(all.out).namespaces, "all");
    });
  });

  it("doctor checks --timeout, --uid, --gid and --request-timeout before connecting: exit 2 without a cluster", async () => {
    const cases: [string[], RegExp][] = [
      [["--timeout", "soon"], /^error: --timeout soon: expected a duration such as 2m/],
      [["--timeout", "500ms"], /^error: --timeout 500ms: the probe needs at least 1s/],
      [["--uid", "root"], /^error: --uid root: expected a numeric ID/],
      [["--gid", "x1"], /^error: --gid x1: expected a numeric ID/],
      [["--request-timeout", "soon"], /^error: --request-timeout soon: expected a duration such as 30s/],
    ];
    for (const [flags, message] of cases) {
      const r = await run(["doctor", "--probe", ...flags], noCluster());
      assert.equal(r.code, 2, `${flags.join(" ")}: ${r.err}`);
      assert.match(r.err, message, flags.join(" "));
      assert.doesNotMatch(r.err, /kubeconfig/, `${flags.join(" ")} was checked after connecting`);
    }
    for (const verb of ["verify", "drift"]) {
      const r = await run([verb, "--request-timeout", "1 minute", "--repo", EXAMPLE], noCluster());
      assert.equal(r.code, 2, `${verb}: ${r.err}`);
      assert.match(r.err, /--request-timeout 1 minute: expected a duration/, verb);
    }
  });

  it("docs/commands.md: the synopsis of verify, doctor and drift names every flag the command takes", async () => {
    const docs = readFileSync(path.join(ROOT, "docs", "commands.md"), "utf8");
    for (const verb of VERBS) {
      const start = docs.indexOf(`## ${verb}\n`);
      assert.ok(start >= 0, verb);
      const synopsis = /```\n([\s\S]*?)```/.exec(docs.slice(start))?.[1] ?? "";
      const help = await run([verb, "--help"], { cwd: ROOT });
      const flags = [...help.out.matchAll(/^ {2}(?:-[a-zA-Z], )?(--[a-z-]+)/gm)]
        .map((m) => m[1] as string)
        .filter((f) => f !== "--help");
      assert.ok(flags.length > 4, help.out);
      const names = (x: string) => new RegExp(`(^|[\\s[|])${x}(?![a-zA-Z-])`).test(synopsis);
      for (const flag of flags) {
        const short = new RegExp(`^ {2}(-[a-zA-Z]), ${flag}(?![a-z-])`, "m").exec(help.out)?.[1];
        assert.ok(
          names(flag) || (short !== undefined && names(short)),
          `${verb}: the synopsis lacks ${flag}${short ? ` (${short})` : ""}:\n${synopsis}`,
        );
      }
    }
  });
});
