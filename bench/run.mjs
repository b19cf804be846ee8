#!/usr/bin/env node
// `npm run bench [-- lint|verify ...] [-- --flags]`: runs the benchmarks in bench/*.ts (all by default).
// Each script generates its own input and prints its numbers; docs/benchmarks.md records them.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";

const dir = import.meta.dirname;
const all = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();
const args = process.argv.slice(2);
const names = args.filter((a) => all.includes(a));
const flags = args.filter((a) => !all.includes(a));
let status = 0;
for (const name of names.length > 0 ? names : all) {
  console.log(`\n# bench/${name}.ts ${flags.join(" ")}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(dir, `${name}.ts`), ...flags], {
    stdio: "inherit",
  });
  status = Math.max(status, r.status ?? 1);
}
process.exit(status);
