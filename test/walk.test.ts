/**
 * gitops/walk.ts: scanRepoParallel starts a walk in one thread and hands the rest to its worker. A walk
 * stopped after any file and resumed from its state (as plain data, cloned as postMessage clones it)
 * finds exactly what one uninterrupted walk finds, in the same order; files left to the sink (`takes`)
 * keep their place in that order.
 */
import assert from "node:assert/strict";
import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { readYamlFile, type Sink, Walk, walkRepo } from "../src/gitops/walk.ts";
import { tempRepo, writeFiles } from "./helpers.ts";

function recorder(events: string[]): Sink {
  return {
    dir: (rel) => events.push(`dir ${rel}`),
    issue: (i) => events.push(`issue ${i.kind} ${i.file}`),
    file: (rel, text) => events.push(`file ${rel} ${text.length}`),
  };
}

function repo(): string {
  const dir = tempRepo();
  writeFiles(dir, {
    "a.yaml": "a: 1\n",
    "b/c.yaml": "c: 1\n",
    "b/d/e.yml": "e: 1\n",
    "b/d/notes.txt": "x\n",
    "b/f.yaml": "f: 1\n",
    "g/h/i/j.yaml": "j: 1\n",
    "g/k.yaml": "k: 1\n",
    "bin.yaml": "a\0b\n",
    "z.yaml": "z: 1\n",
  });
  symlinkSync("..", path.join(dir, "g", "up"));
  symlinkSync("../a.yaml", path.join(dir, "b", "link.yaml"));
  symlinkSync(mkdtempSync(path.join(tmpdir(), "kopiashare-out-")), path.join(dir, "out"));
  return dir;
}

describe("Walk", () => {
  it("continues from any file where it stopped, in another walk, to the same result", () => {
    const dir = repo();
    const whole: string[] = [];
    walkRepo(dir, recorder(whole));
    const files = whole.filter((e) => e.startsWith("file ") || e.startsWith("issue binary")).length;
    assert.ok(files >= 8);
    for (let stopAfter = 1; stopAfter <= files + 1; stopAfter++) {
      const events: string[] = [];
      let seen = 0;
      const first = Walk.start(dir, recorder(events));
      if (first.run(() => ++seen >= stopAfter)) {
        assert.deepEqual(events, whole, `done after ${stopAfter}`);
        continue;
      }
      Walk.resume(structuredClone(first.state()), recorder(events)).run();
      assert.deepEqual(events, whole, `stopped after ${stopAfter} file(s)`);
    }
  });

  it("lets the sink take files and read them itself, in walk order", () => {
    const dir = repo();
    const whole: string[] = [];
    walkRepo(dir, recorder(whole));
    const events: string[] = [];
    const sink = recorder(events);
    let n = 0;
    sink.takes = (abs, rel, size) => {
      if (n++ % 2 === 0) return false;
      readYamlFile(sink, abs, rel, size);
      return true;
    };
    walkRepo(dir, sink);
    assert.deepEqual(events, whole);
  });
});
