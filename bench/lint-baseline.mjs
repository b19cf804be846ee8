#!/usr/bin/env node
// Baseline for bench/lint.ts: read and parse every YAML file under a directory with js-yaml, nothing else.
// Usage: node bench/lint-baseline.mjs <dir>
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { loadAll } from "js-yaml";

let files = 0;
let docs = 0;
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== ".git") walk(abs);
    } else if (e.name.endsWith(".yaml") || e.name.endsWith(".yml")) {
      files++;
      loadAll(readFileSync(abs, "utf8"), () => docs++);
    }
  }
};
walk(process.argv[2] ?? ".");
process.stdout.write(`${files} files, ${docs} documents\n`);
