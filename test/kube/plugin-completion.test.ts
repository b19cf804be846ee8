/**
 * `kubectl kopiashare <TAB>`: kubectl (>= 1.26) runs `kubectl_complete-kopiashare <words…>` from PATH and
 * reads one candidate per line, then `:<directive>`. The executable is bin/kubectl_complete-kopiashare.js;
 * these tests run that very file (its import of the compiled ../dist/ is mapped to ../src/ by a loader
 * hook, so no build is needed) and, where kubectl is installed, let kubectl itself call it.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { complete, DIRECTIVE, pluginTree } from "../../src/commands/kubectl-complete.ts";
import { kubectlPath, ROOT, run } from "../helpers.ts";

const BIN = path.join(ROOT, "bin", "kubectl_complete-kopiashare.js");

/** Loader hook: the bin's `../dist/<x>.js` -> `../src/<x>.ts` (tsx compiles it). */
const HOOK = `data:text/javascript,${encodeURIComponent(
  `export async function resolve(s, c, n) {
     if (s.startsWith("../dist/") && c.parentURL && c.parentURL.includes("/bin/"))
       return n(new URL("../src/" + s.slice(8).replace(/\\.js$/, ".ts"), c.parentURL).href, c);
     return n(s, c);
   }`,
)}`;
const REGISTER = `data:text/javascript,${encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(HOOK)});`)}`;
const NODE_ARGS = ["--import", REGISTER, "--import", "tsx", BIN];

/** Runs the executable as kubectl does: the words after `kopiashare`, the last one being completed. */
function bin(...words: string[]): { candidates: string[]; directive: string } {
  const r = spawnSync(process.execPath, [...NODE_ARGS, ...words], { encoding: "utf8", cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split("\n").filter(Boolean);
  return { candidates: lines.slice(0, -1), directive: lines[lines.length - 1] ?? "" };
}

describe("kubectl plugin completion", () => {
  it("is installed as kubectl_complete-kopiashare: package.json bin, an executable node script", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
    assert.equal(pkg.bin["kubectl_complete-kopiashare"], "bin/kubectl_complete-kopiashare.js");
    assert.equal(pkg.bin["kubectl-kopiashare"], "bin/kopiashare.js");
    accessSync(BIN, constants.X_OK);
    assert.match(readFileSync(BIN, "utf8"), /^#!\/usr\/bin\/env node\n/);
  });

  it("answers verbs, flags, flag values and argument choices, ending with the directive", () => {
    const verbs = bin("");
    assert.deepEqual(verbs.candidates, [
      "enable",
      "disable",
      "init",
      "app",
      "migrate",
      "lint",
      "graph",
      "verify",
      "doctor",
      "drift",
      "controller",
      "completion",
    ]);
    assert.equal(verbs.directive, `:${DIRECTIVE.noFileComp}`);
    assert.deepEqual(bin("d").candidates, ["disable", "doctor", "drift"]);
    const flags = bin("doctor", "--").candidates;
    for (const f of ["--namespace", "--all-namespaces", "--probe", "--timeout", "--kubeconfig", "--no-color"]) {
      assert.ok(flags.includes(f), `doctor --<TAB> lacks ${f}: ${flags.join(" ")}`);
    }
    assert.ok(!flags.includes("--version"), "--version only before the verb");
    assert.deepEqual(bin("doctor", "-n", "media", "-o", "").candidates, ["text", "json"]);
    assert.deepEqual(bin("verify", "--output=j").candidates, ["--output=json"]);
    assert.deepEqual(bin("completion", "").candidates, ["bash", "zsh"]);
    assert.deepEqual(bin("graph", "-o", "").candidates, ["text", "mermaid", "dot", "json"]);
    assert.deepEqual(bin("enable", "media", "-o", "y").candidates, ["yaml"]);
    assert.deepEqual(bin("verify", "--kubeconfig", ""), { candidates: [], directive: `:${DIRECTIVE.default}` });
    assert.deepEqual(bin("drift", "--repo", ""), { candidates: [], directive: `:${DIRECTIVE.filterDirs}` });
    assert.deepEqual(bin("frobnicate", ""), { candidates: [], directive: `:${DIRECTIVE.noFileComp}` });
  });

  it("answers from the same command tree as `kopiashare completion`", async () => {
    const script = (await run(["completion", "bash"], { cwd: ROOT })).out;
    const verbs = /compgen -W "([^"]*)"/
      .exec(script)?.[1]
      ?.split(" ")
      .filter((w) => w && !w.startsWith("-"));
    assert.deepEqual(complete(pluginTree(), [""]).candidates, verbs);
    for (const verb of verbs ?? []) {
      const opts = new RegExp(`^ {4}${verb}\\) opts="([^"]*)"`, "m").exec(script)?.[1]?.split(" ") ?? [];
      const got = complete(pluginTree(), [verb, "-"]).candidates;
      for (const o of opts)
        assert.ok(got.includes(o), `${verb}: ${o} is in the bash script, not in the plugin's answer`);
    }
  });

  it("kubectl calls it for `kubectl kopiashare <TAB>`", async (t) => {
    if (!kubectlPath()) {
      t.skip("kubectl not installed: plugin completion through kubectl cannot run");
      return;
    }
    const dir = mkdtempSync(path.join(tmpdir(), "kopiashare-plugin-"));
    // kubectl completes a plugin only when kubectl-<name> is on PATH; it then runs kubectl_complete-<name>.
    writeFileSync(path.join(dir, "kubectl-kopiashare"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    writeFileSync(
      path.join(dir, "kubectl_complete-kopiashare"),
      `#!/bin/sh\nexec '${process.execPath}' ${NODE_ARGS.map((a) => `'${a}'`).join(" ")} "$@"\n`,
      { mode: 0o755 },
    );
    const env = { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH ?? ""}`, HOME: dir };
    const kubectl = async (...args: string[]) =>
      (await promisify(execFile)("kubectl", ["__complete", "kopiashare", ...args], { env, cwd: ROOT })).stdout;
    const verbs = await kubectl("");
    assert.match(verbs, /^verify$/m);
    assert.match(verbs, /^doctor$/m);
    assert.match(verbs, /^:4$/m);
    assert.equal(await kubectl("doctor", "-o", ""), "text\njson\n:4\n");
  });
});
