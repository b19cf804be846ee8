import { createTwoFilesPatch } from "diff";
import type { FileChange } from "../gitops/plan.ts";
import type { Colors } from "./colors.ts";

/** A git-style unified diff of the changes, coloured when `colors` is enabled. */
export function renderDiff(changes: FileChange[], colors: Colors): string {
  let out = "";
  for (const c of changes) {
    if (c.before === c.after) continue;
    const from = c.before === null ? "/dev/null" : `a/${c.path}`;
    const to = c.after === null ? "/dev/null" : `b/${c.path}`;
    const patch = createTwoFilesPatch(from, to, c.before ?? "", c.after ?? "", undefined, undefined, { context: 3 });
    const lines = patch.split("\n");
    // drop the "====" banner createTwoFilesPatch puts first
    if (lines[0]?.startsWith("=")) lines.shift();
    out += `diff --git a/${c.path} b/${c.path}\n`;
    if (c.before === null) out += "new file\n";
    if (c.after === null) out += "deleted file\n";
    for (const line of lines) {
      if (line === "") continue;
      if (line.startsWith("---") || line.startsWith("+++")) out += `${colors.bold(line)}\n`;
      else if (line.startsWith("@@")) out += `${colors.cyan(line)}\n`;
      else if (line.startsWith("+")) out += `${colors.green(line)}\n`;
      else if (line.startsWith("-")) out += `${colors.red(line)}\n`;
      else out += `${line}\n`;
    }
  }
  return out;
}
