#!/usr/bin/env node
import path from "node:path";
import { main } from "./cli.ts";
import { processIo } from "./io.ts";

const code = await main(process.argv.slice(2), processIo(), path.basename(process.argv[1] ?? "kopiashare", ".js"));
// Exit once stdout has flushed: the work is done, and waiting for an idle garbage-collection pass or a
// kept-alive socket to close only delays the shell (about 0.07 s on a large lint).
process.stdout.write("", () => process.exit(code));
