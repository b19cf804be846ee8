/** Helpers for the generate tests: fresh repos, golden trees, lint and kubectl runs. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FIXTURES, kubectlPath, run, tempRepo, treeOf, writeFiles } from "../helpers.ts";

export const HANDLE =
  "0001-0024-407036f5-1f73-44ff-ba81-1f219b7a8a64-000000000000000b-841e604c-1dd5-4a09-8763-84e672d78c4e";

/** A small Flux repo without any kopiashare pieces: a GitRepository, the apps tree and a system tier. */
export function freshRepo(): string {
  const dir = tempRepo();
  writeFiles(dir, {
    "kubernetes/flux/config/cluster.yaml": [
      "---",
      "apiVersion: source.toolkit.fluxcd.io/v1",
      "kind: GitRepository",
      "metadata:",
      "  name: flux-system",
      "  namespace: flux-system",
      "spec:",
      "  interval: 30m",
      "  url: ssh://git@github.com/example/fleet",
      "  ref:",
      "    branch: main",
      "",
    ].join("\n"),
    "kubernetes/apps/kustomization.yaml": [
      "---",
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      "resources:",
      "  - ./system",
      "",
    ].join("\n"),
    "kubernetes/apps/system/kustomization.yaml": [
      "---",
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      "resources: []",
      "",
    ].join("\n"),
  });
  return dir;
}

export const FRESH_FLAGS = [
  "--tier",
  "system",
  "--volume-handle",
  HANDLE,
  "--fs-name",
  "backups",
  "--storage-class",
  "csi-cephfs-backups-sc",
  "--node-stage-secret",
  "ceph-csi/csi-ceph-admin-secret",
];

/** Files added or changed between two snapshots. */
export function changed(before: Map<string, string>, after: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [f, c] of after) if (before.get(f) !== c) out.set(f, c);
  return out;
}

function walk(dir: string, base = dir, out = new Map<string, string>()): Map<string, string> {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const abs = path.join(dir, name);
    if (statSync(abs).isDirectory()) walk(abs, base, out);
    else out.set(path.relative(base, abs).split(path.sep).join("/"), readFileSync(abs, "utf8"));
  }
  return out;
}

/** Compares `files` with test/fixtures/golden/<name>/; UPDATE_GOLDEN=1 rewrites the golden tree. */
export function golden(name: string, files: Map<string, string>): void {
  const dir = path.join(FIXTURES, "golden", name);
  if (process.env.UPDATE_GOLDEN === "1") {
    rmSync(dir, { recursive: true, force: true });
    for (const [f, c] of files) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), c);
    }
    return;
  }
  const want = walk(dir);
  assert.ok(want.size > 0, `no golden files in ${dir}: run with UPDATE_GOLDEN=1`);
  assert.deepEqual([...files.keys()].sort(), [...want.keys()].sort(), `${name}: the set of files differs from golden`);
  for (const [f, c] of want)
    assert.equal(files.get(f), c, `${name}/${f} differs from golden (UPDATE_GOLDEN=1 rewrites)`);
}

/** Runs init in `dir` and returns the files it wrote (asserting exit 0). */
export async function init(dir: string, args: string[]): Promise<Map<string, string>> {
  const before = treeOf(dir);
  const r = await run(["init", "--repo", dir, ...args], { cwd: dir });
  assert.equal(r.code, 0, `init ${args.join(" ")}: ${r.err}${r.out}`);
  return changed(before, treeOf(dir));
}

export interface LintFinding {
  rule?: string;
  id?: string;
  severity?: string;
  file?: string;
  what?: string;
}

export interface LintCount {
  errors: number;
  warnings: number;
  findings: LintFinding[];
  text: string;
}

/**
 * The shared subvolume's path (`ceph fs subvolume getpath backups csi-vol-<uuid of HANDLE> csi`): Kopiur's PVs on
 * a shared-handle repository are static volumes at this path plus /repository (--subvolume-path).
 */
export const SUBVOLUME_PATH =
  "/volumes/csi/csi-vol-841e604c-1dd5-4a09-8763-84e672d78c4e/0f5a1c2e-7d3b-4e8a-9c61-2b4d8e0f1a37";
export const KOPIUR_FLAGS = ["--subvolume-path", SUBVOLUME_PATH];

/** Runs `kopiashare lint` on dir and counts errors and warnings (JSON output when it has one). */
export async function lint(dir: string): Promise<LintCount> {
  let r = await run(["lint", "--repo", dir, "-o", "json"], { cwd: dir });
  if (r.code === 2 && /unknown option|argument/.test(r.err)) r = await run(["lint", "--repo", dir], { cwd: dir });
  const text = `${r.out}${r.err}`;
  try {
    const parsed = JSON.parse(r.out) as unknown;
    const findings: LintFinding[] = [];
    const collect = (v: unknown) => {
      if (Array.isArray(v)) for (const x of v) collect(x);
      else if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (typeof o.severity === "string" && (typeof o.rule === "string" || typeof o.id === "string")) {
          findings.push(o as LintFinding);
        } else for (const x of Object.values(o)) collect(x);
      }
    };
    collect(parsed);
    return {
      errors: findings.filter((f) => f.severity === "error").length,
      warnings: findings.filter((f) => f.severity === "warning").length,
      findings,
      text,
    };
  } catch {
    return {
      errors: r.code === 1 ? Math.max(1, (text.match(/\berror\b/g) ?? []).length) : 0,
      warnings: (text.match(/\bwarning\b/g) ?? []).length,
      findings: [],
      text,
    };
  }
}

/** `kubectl kustomize` of a folder; undefined when kubectl is not installed. */
export function kustomize(dir: string): { ok: boolean; out: string } | undefined {
  const k = kubectlPath();
  if (!k) return undefined;
  const r = spawnSync(k, ["kustomize", dir], { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}
