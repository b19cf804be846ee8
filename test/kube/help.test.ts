/** The live verbs: --help with examples, and neither --help nor a usage error loads the Kubernetes client. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { ROOT, run } from "../helpers.ts";

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
    for (const args of [...VERBS.map((v) => [v, "--help"]), ["--help"], ["verify", "-n", "a", "-A"]]) {
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
