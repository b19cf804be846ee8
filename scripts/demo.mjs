#!/usr/bin/env node
// `npm start`: the main job on the bundled example repo. Shows, without writing anything, what
// `kopiashare enable media` would add to examples/home-ops, then lints that repo.
import { spawnSync } from "node:child_process";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const bin = path.join(root, "bin", "kopiashare.js");
const repo = path.join("examples", "home-ops");
let status = 0;
for (const args of [
  ["enable", "media", "--repo", repo, "--dry-run"],
  ["lint", "--repo", repo],
]) {
  process.stderr.write(`\n$ kopiashare ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, stdio: "inherit" });
  status = Math.max(status, r.status ?? 1);
}
process.exit(status);
