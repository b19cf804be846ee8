/** Lint test helpers: a correct base repository (test/fixtures/lint/base) and edits that break one thing. */
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FIXTURES, run, tempRepo, writeFiles } from "../helpers.ts";

export const BASE = path.join(FIXTURES, "lint", "base");
export const V = "kubernetes/apps/system/volsync-system";
export const M = "kubernetes/apps/media";
export const C = "kubernetes/components/volsync";
export const PV_SYS = `${V}/volsync-repository-pvc/app/pvc.yaml`;
export const PV_MEDIA = `${M}/volsync-repository-pvc/app/pvc.yaml`;
export const MAP = `${V}/volsync/app/mutatingadmissionpolicy.yaml`;
export const INIT = `${V}/kopia/app/kopia-init-job.yaml`;
export const KM = `${V}/kopia/app/kopiamaintenance.yaml`;
export const KOPIA_ES = `${V}/kopia/app/externalsecret.yaml`;
export const APP_KS = `${M}/jellyfin/ks.yaml`;

/** [file, from, to]: replace text (must be present); [file, null]: delete; [file, content]: write. */
export type Edit = [string, string, string] | [string, string | null];

export interface JsonFinding {
  rule: string;
  severity: "error" | "warning" | "info";
  file: string;
  line: number;
  col?: number;
  subject: string;
  what: string;
  why: string;
  fix: string;
  docs: string;
}

/** A temporary copy of the base repository with the edits applied. */
export function repoWith(edits: Edit[] = [], from = BASE): string {
  const dir = tempRepo(from);
  for (const e of edits) {
    const abs = path.join(dir, e[0]);
    if (e.length === 3) {
      const text = readFileSync(abs, "utf8");
      assert.ok(text.includes(e[1]), `${e[0]} does not contain ${JSON.stringify(e[1])}`);
      writeFileSync(
        abs,
        text.replace(e[1], () => e[2] as string),
      );
    } else if (e[1] === null) {
      if (existsSync(abs)) rmSync(abs);
    } else writeFiles(dir, { [e[0]]: e[1] });
  }
  return dir;
}

export interface LintRun {
  code: number;
  findings: JsonFinding[];
  err: string;
  json: Record<string, unknown>;
}

/** `kopiashare lint --repo dir -o json [...args]`, in-process. */
export async function lint(dir: string, args: string[] = []): Promise<LintRun> {
  const r = await run(["lint", "--repo", dir, "-o", "json", ...args], { cwd: dir });
  assert.ok(r.out.startsWith("{"), `no JSON on stdout (exit ${r.code}): ${r.err}`);
  const json = JSON.parse(r.out) as Record<string, unknown>;
  return { code: r.code, findings: json.findings as JsonFinding[], err: r.err, json };
}

export const ofRule = (r: LintRun, rule: string) => r.findings.filter((f) => f.rule === rule);

/** "file:line" of each finding of a rule, sorted. */
export const where = (r: LintRun, rule: string) => ofRule(r, rule).map((f) => `${f.file}:${f.line}`);

/** 1-based line of the first line containing `needle` in a fixture file of `dir`. */
export function lineOf(dir: string, file: string, needle: string, nth = 1): number {
  const lines = readFileSync(path.join(dir, file), "utf8").split("\n");
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    if ((lines[i] as string).includes(needle) && ++seen === nth) return i + 1;
  }
  throw new Error(`${file} has no line containing ${needle}`);
}
