/**
 * The Dockerfile at the repository root: its promises read statically (two stages, a small non-root
 * runtime base, no dev dependencies or sources in the image, the entrypoint), and a real build where a
 * working image builder (docker, podman or buildah) is on PATH, skipped with the reason otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "..");
const read = (f: string) => readFileSync(path.join(ROOT, f), "utf8");
const PKG = JSON.parse(read("package.json")) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions per stage (comments dropped, continuation lines joined). */
function stages(text: string): { from: string; name: string | undefined; body: Instruction[] }[] {
  const lines = text.replace(/\\\n/g, " ").split("\n");
  const out: { from: string; name: string | undefined; body: Instruction[] }[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m?.[1] || m[2] === undefined) continue;
    const op = m[1].toUpperCase();
    if (op === "FROM") {
      const [from, as, name] = m[2].split(/\s+/);
      out.push({ from: from as string, name: as?.toUpperCase() === "AS" ? name : undefined, body: [] });
    } else out.at(-1)?.body.push({ op, args: m[2] });
  }
  return out;
}

const DOCKERFILE = existsSync(path.join(ROOT, "Dockerfile")) ? read("Dockerfile") : "";

describe("Dockerfile (static)", () => {
  const all = stages(DOCKERFILE);
  const builder = all[0];
  const runtime = all.at(-1);

  it("has a node:20 builder stage that installs, builds and prunes the dev dependencies", () => {
    assert.ok(all.length >= 2, "multi-stage");
    assert.ok(builder && runtime && builder !== runtime);
    assert.match(builder.from, /^node:20(\.[0-9.]+)?-bookworm-slim$/);
    const runs = builder.body.filter((i) => i.op === "RUN").map((i) => i.args);
    const at = (re: RegExp) => runs.findIndex((r) => re.test(r));
    assert.ok(at(/\bnpm ci\b/) >= 0, "npm ci");
    assert.ok(at(/\bnpm run build\b/) > at(/\bnpm ci\b/), "npm run build after npm ci");
    assert.ok(at(/\bnpm prune --omit=dev\b/) >= at(/\bnpm run build\b/), "npm prune --omit=dev after the build");
  });

  it("runs on a small non-root base as a non-root user", () => {
    assert.ok(runtime);
    assert.match(runtime.from, /^gcr\.io\/distroless\/nodejs20-debian12(:nonroot|:latest)?$/);
    assert.match(runtime.from, /:nonroot$/, "the nonroot variant");
    const user = runtime.body.filter((i) => i.op === "USER").at(-1);
    assert.ok(user, "an explicit USER");
    assert.doesNotMatch(user.args, /^(root|0)(:|$)/);
    // the generated Deployment's runAsUser is the same UID
    assert.match(user.args, /^65532(:65532)?$/);
  });

  it("copies only dist/, bin/, package.json and the pruned node_modules into the image, from the builder", () => {
    assert.ok(runtime && builder);
    const copies = runtime.body.filter((i) => i.op === "COPY" || i.op === "ADD");
    assert.ok(copies.length > 0);
    const sources = new Set<string>();
    for (const c of copies) {
      assert.equal(c.op, "COPY", "no ADD");
      assert.match(c.args, new RegExp(`^--from=${builder.name}\\s`), `${c.args}: only from the builder`);
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith("--"));
      for (const s of parts.slice(0, -1)) sources.add(s.replace(/^\/src\//, "").replace(/\/$/, ""));
    }
    assert.deepEqual([...sources].sort(), ["bin", "dist", "node_modules", "package.json"]);
  });

  it("runs bin/kopiashare.js, the controller by default", () => {
    assert.ok(runtime);
    const entry = runtime.body.filter((i) => i.op === "ENTRYPOINT").at(-1);
    const cmd = runtime.body.filter((i) => i.op === "CMD").at(-1);
    assert.ok(entry && cmd);
    const e = JSON.parse(entry.args) as string[];
    assert.match(e.at(-1) as string, /(^|\/)bin\/kopiashare\.js$/);
    assert.deepEqual(JSON.parse(cmd.args), ["controller"]);
    // bin/kopiashare.js runs the build output, which the build writes to dist/
    assert.match(read("bin/kopiashare.js"), /\.\.\/dist\/bin\.js/);
    const build = JSON.parse(read("tsconfig.build.json")) as { compilerOptions: { outDir: string; rootDir: string } };
    assert.equal(build.compilerOptions.outDir, "dist");
    assert.equal(build.compilerOptions.rootDir, "src");
  });

  it(".dockerignore sends only what the builder copies", () => {
    const ignore = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    assert.equal(ignore[0], "*", "everything is excluded first");
    const allowed = ignore.filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
    assert.ok(builder);
    const copied = builder.body
      .filter((i) => i.op === "COPY" && !i.args.startsWith("--from"))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const f of copied) {
      assert.ok(allowed.includes(f.replace(/\/$/, "")), `${f} is copied but ignored by .dockerignore`);
      assert.ok(existsSync(path.join(ROOT, f)), `${f} does not exist`);
    }
    for (const a of allowed)
      assert.ok(
        copied.some((f) => f.replace(/\/$/, "") === a),
        `${a} sent but never copied`,
      );
  });

  it("the code in the image imports only runtime dependencies (devDependencies are pruned)", () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const abs = path.join(dir, name);
        if (statSync(abs).isDirectory()) walk(abs);
        else if (/\.(ts|js)$/.test(name)) files.push(abs);
      }
    };
    walk(path.join(ROOT, "src"));
    walk(path.join(ROOT, "bin"));
    const bad: string[] = [];
    const seen = new Set<string>();
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      // value imports and dynamic imports; `import type` is erased by the compiler
      for (const m of text.matchAll(
        /(?:^|\n)\s*(?:import(?!\s+type\b)[^"';]*?from\s*|import\s*\(\s*|import\s+)["']([^"'.][^"']*)["']/g,
      )) {
        const spec = m[1] as string;
        if (spec.startsWith("node:")) continue;
        const pkg = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] as string);
        seen.add(pkg);
        if (!(pkg in PKG.dependencies)) bad.push(`${path.relative(ROOT, f)}: ${spec}`);
      }
    }
    assert.deepEqual(bad, [], "imports of packages that npm prune --omit=dev removes");
    for (const p of ["yaml", "@commander-js/extra-typings", "@kubernetes/client-node"])
      assert.ok(seen.has(p), `the scan missed ${p}`);
  });
});

/** The first image builder on PATH that answers, or why there is none. */
function findBuilder(): { cmd: string; build: string[] } | { reason: string } {
  const tried: string[] = [];
  for (const [cmd, check, build] of [
    ["docker", ["info"], ["build"]],
    ["podman", ["info"], ["build"]],
    ["buildah", ["info"], ["bud"]],
  ] as const) {
    const r = spawnSync(cmd, check, { encoding: "utf8", timeout: 20_000 });
    if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
      tried.push(`${cmd}: not on PATH`);
      continue;
    }
    if (r.status === 0) return { cmd, build: [...build] };
    const why = (r.stderr || r.stdout || String(r.error ?? "")).trim().split("\n").at(-1) ?? "";
    tried.push(`${cmd}: \`${cmd} ${check.join(" ")}\` failed (${why.slice(0, 160)})`);
  }
  return { reason: `no working image builder: ${tried.join("; ")}` };
}

describe("Dockerfile (build)", () => {
  it("builds, runs as non-root and prints the version", { timeout: 20 * 60_000 }, (t) => {
    if (process.env.KOPIASHARE_SKIP_IMAGE_BUILD === "1") {
      t.skip("KOPIASHARE_SKIP_IMAGE_BUILD=1");
      return;
    }
    const b = findBuilder();
    if ("reason" in b) {
      t.skip(b.reason);
      return;
    }
    const tag = `localhost/kopiashare-test:${process.pid}`;
    const built = spawnSync(b.cmd, [...b.build, "-t", tag, ROOT], { encoding: "utf8", timeout: 19 * 60_000 });
    assert.equal(built.status, 0, `${b.cmd} build failed:\n${built.stderr}\n${built.stdout}`);
    try {
      if (b.cmd === "buildah") return; // buildah builds but does not run containers
      const v = spawnSync(b.cmd, ["run", "--rm", tag, "--version"], { encoding: "utf8", timeout: 120_000 });
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stdout.trim(), PKG.version);
      const help = spawnSync(b.cmd, ["run", "--rm", tag, "controller", "--help"], { encoding: "utf8" });
      assert.match(help.stdout, /Usage: kopiashare controller/);
      const user = spawnSync(b.cmd, ["image", "inspect", "-f", "{{.Config.User}}", tag], { encoding: "utf8" });
      assert.match(user.stdout.trim(), /^65532(:65532)?$/);
    } finally {
      spawnSync(b.cmd, ["rmi", "-f", tag], { encoding: "utf8" });
    }
  });
});
