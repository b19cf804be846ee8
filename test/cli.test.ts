import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { main } from "../src/cli.ts";
import { bufferIo } from "../src/io.ts";
import { EXAMPLE, ROOT, run } from "./helpers.ts";

describe("cli conventions", () => {
  it("--help lists every verb with examples and exits 0", async () => {
    const r = await run(["--help"], { cwd: ROOT });
    assert.equal(r.code, 0);
    assert.match(r.out, /enable/);
    assert.match(r.out, /Examples:/);
  });

  it("every verb's --help has examples", async () => {
    const top = await run(["--help"], { cwd: ROOT });
    const verbs = [...top.out.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1] as string).filter((v) => v !== "help");
    assert.ok(verbs.length >= 2, top.out);
    for (const verb of verbs) {
      const r = await run([verb, "--help"], { cwd: ROOT });
      assert.equal(r.code, 0, verb);
      assert.match(r.out, /Examples:/, `${verb} --help has no examples`);
    }
  });

  it("an unknown verb or flag is a usage error (exit 2) on stderr", async () => {
    const r = await run(["frobnicate"], { cwd: ROOT });
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command/);
    assert.equal(r.out, "");
    const f = await run(["enable", "x", "--bogus"], { cwd: ROOT });
    assert.equal(f.code, 2);
    assert.match(f.err, /unknown option/);
  });

  it("--version prints the package version", async () => {
    const r = await run(["--version"], { cwd: ROOT });
    assert.equal(r.code, 0);
    assert.match(r.out, /^\d+\.\d+\.\d+\n$/);
  });

  it("--help and --version do not load the Kubernetes client", () => {
    // A loader hook reports every resolved module; none may come from @kubernetes/client-node.
    const hook = `data:text/javascript,${encodeURIComponent(
      `export async function resolve(s, c, n) { const r = await n(s, c); if (r.url.includes("@kubernetes/client-node")) process.stderr.write("LOADED-KUBE\\n"); return r; }`,
    )}`;
    const register = `data:text/javascript,${encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(hook)});`)}`;
    for (const args of [["--help"], ["--version"], ["enable", "--help"]]) {
      const r = spawnSync(
        process.execPath,
        ["--import", register, "--import", "tsx", path.join(ROOT, "src/bin.ts"), ...args],
        {
          encoding: "utf8",
          cwd: ROOT,
        },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /LOADED-KUBE/, `${args.join(" ")} loaded the Kubernetes client`);
    }
  });

  it("write verbs share their flags, each described for its verb", async () => {
    const help = async (verb: string) => {
      const r = await run([verb, "--help"], { cwd: ROOT });
      assert.equal(r.code, 0, r.err);
      return r.out.replace(/\s+/g, " ");
    };
    const enable = await help("enable");
    assert.match(
      enable,
      /--volume-handle <handle> csi\.volumeHandle of the shared subvolume \(default: from the repository PV\)/,
    );
    assert.match(enable, /--force overwrite generated files that were edited by hand/);
    assert.match(
      enable,
      /--dry-run write nothing: print the change \(a unified diff; with -o yaml the objects, -o json the summary\)/,
    );
    const init = await help("init");
    assert.match(init, /--volume-handle <handle> shared-handle style: csi\.volumeHandle/);
    assert.match(init, /--kubernetes-version <version> .*1\.34, v1\.34, 1\.34\.2 or v1\.34\.2/);
    assert.match(init, /init adopts it as it is: flags that agree with it are fine, one that disagrees is refused/);
    assert.match(init, /--storage-class <name> .*\(default: the CephFS storage class in the repo\)/);
    const disable = await help("disable");
    assert.match(
      disable,
      /--force disable even though the namespace still has Volsync\/Kopiur consumers in the repo, or its files were edited by hand/,
    );
    assert.match(disable, /output format: text, json/);
    const app = await help("app");
    assert.match(app, /--uid <uid> mover UID/);
    assert.match(app, /--gid <gid> mover GID/);
    const migrate = await help("migrate");
    assert.match(migrate, /--kubernetes-version <version> cluster version \(needed for --to volsync-0\.16\)/);
  });

  it("completion prints bash and zsh scripts naming every verb", async () => {
    for (const shell of ["bash", "zsh"]) {
      const r = await run(["completion", shell], { cwd: ROOT });
      assert.equal(r.code, 0);
      assert.match(r.out, /enable/);
      assert.match(r.out, /kopiashare/);
    }
    const bad = await run(["completion", "fish"], { cwd: ROOT });
    assert.equal(bad.code, 2);
  });
});

describe("output streams and colour", () => {
  const ttyIo = (env: Record<string, string>) => {
    let out = "";
    let err = "";
    return {
      io: {
        stdout: { write: (s: string) => (out += s), isTTY: true },
        stderr: { write: (s: string) => (err += s), isTTY: true },
        env,
        cwd: EXAMPLE,
      },
      out: () => out,
      err: () => err,
    };
  };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
  const ANSI = /\u001b\[/;

  it("colours a diff on a terminal, and not with NO_COLOR or --no-color", async () => {
    const tty = ttyIo({});
    assert.equal(await main(["enable", "media", "--dry-run"], tty.io), 0);
    assert.match(tty.out(), ANSI);
    const noColorEnv = ttyIo({ NO_COLOR: "1" });
    await main(["enable", "media", "--dry-run"], noColorEnv.io);
    assert.doesNotMatch(noColorEnv.out(), ANSI);
    const flag = ttyIo({});
    await main(["--no-color", "enable", "media", "--dry-run"], flag.io);
    assert.doesNotMatch(flag.out(), ANSI);
  });

  it("never colours output that is not a terminal", async () => {
    const r = await run(["enable", "media", "--dry-run"], { cwd: EXAMPLE, env: {} });
    assert.doesNotMatch(r.out, ANSI);
  });

  it("puts data on stdout and messages on stderr", async () => {
    const r = await run(["enable", "media", "--dry-run"], { cwd: EXAMPLE });
    assert.match(r.out, /^diff --git/);
    assert.doesNotMatch(r.out, /dry run:/);
    assert.match(r.err, /dry run: \d+ file\(s\) would change/);
  });

  it("calls itself `kubectl kopiashare` when installed as a kubectl plugin", async () => {
    const io = bufferIo({ cwd: ROOT });
    assert.equal(await main(["--help"], io, "kubectl-kopiashare"), 0);
    assert.match(io.out(), /^Usage: kubectl kopiashare /m);
  });
});
