/** Dependencies point inward: src/core imports nothing from kube, commands or output; output nothing from kube or commands. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "./helpers.ts";

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(dir, f));
}

/** The src/ layers a file imports (static and dynamic imports, type-only ones too). */
function layersImported(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+)"/g)) {
    const target = path.relative(path.join(ROOT, "src"), path.resolve(path.dirname(file), m[1] as string));
    out.push(target.split(path.sep)[0] as string);
  }
  return out;
}

describe("layers", () => {
  for (const [layer, forbidden] of [
    ["core", ["kube", "commands", "output"]],
    ["output", ["kube", "commands"]],
  ] as const) {
    it(`src/${layer} imports nothing from ${forbidden.join(", ")}`, () => {
      const bad = sources(path.join(ROOT, "src", layer)).flatMap((f) =>
        layersImported(f)
          .filter((l) => (forbidden as readonly string[]).includes(l))
          .map((l) => `${path.relative(ROOT, f)} imports src/${l}`),
      );
      assert.deepEqual(bad, []);
    });
  }
});
