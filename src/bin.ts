#!/usr/bin/env node
import path from "node:path";
import { main } from "./cli.ts";
import { processIo } from "./io.ts";

process.exitCode = await main(
  process.argv.slice(2),
  processIo(),
  path.basename(process.argv[1] ?? "kopiashare", ".js"),
);
