#!/usr/bin/env node
// Runs every test file under test/ with node's test runner (Node 20 has no --test glob).
// Usage: npm test [-- <path-substring> ...]   e.g. npm test -- enable
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const abs = path.join(dir, name);
    if (name === "fixtures" || name === "node_modules") continue;
    if (statSync(abs).isDirectory()) walk(abs);
    else if (name.endsWith(".test.ts")) files.push(path.relative(root, abs));
  }
};
walk(path.join(root, "test"));
const filters = process.argv.slice(2);
const selected = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
if (selected.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", ...selected], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
});
process.exit(r.status ?? 1);
