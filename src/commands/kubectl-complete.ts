/**
 * Completion for the kubectl plugin. For `kubectl kopiashare <TAB>` kubectl (>= 1.26) runs the executable
 * `kubectl_complete-kopiashare` found on PATH with the words typed after `kubectl kopiashare`, the last
 * one being the word to complete ("" for a new word), and reads one candidate per line followed by
 * `:<directive>` (Cobra's ShellCompDirective). `bin/kubectl_complete-kopiashare.js` calls `kubectlComplete`.
 * The candidates come from the same command tree as `kopiashare completion bash|zsh` (completion.ts).
 */
import type { Command } from "@commander-js/extra-typings";
import { buildProgram, type Ctx } from "../cli.ts";
import { bufferIo } from "../io.ts";
import { makeColors } from "../output/colors.ts";
import { type Node, tree } from "./completion.ts";

/** Cobra's ShellCompDirective values kubectl passes on to the shell. */
export const DIRECTIVE = {
  /** Let the shell complete file names. */
  default: 0,
  noFileComp: 4,
  /** Directory names only. */
  filterDirs: 16,
} as const;

export interface Completion {
  candidates: string[];
  directive: number;
}

const startingWith = (xs: readonly string[], prefix: string) => [...new Set(xs)].filter((x) => x.startsWith(prefix));

/** What a value-taking option completes to: its choices, files, directories, or nothing. */
function valueCompletion(value: string[] | string, prefix: string, flagPrefix = ""): Completion {
  if (Array.isArray(value)) {
    return { candidates: startingWith(value, prefix).map((v) => flagPrefix + v), directive: DIRECTIVE.noFileComp };
  }
  if (flagPrefix) return { candidates: [], directive: DIRECTIVE.noFileComp };
  if (value === "file") return { candidates: [], directive: DIRECTIVE.default };
  if (value === "dir") return { candidates: [], directive: DIRECTIVE.filterDirs };
  return { candidates: [], directive: DIRECTIVE.noFileComp };
}

/**
 * Completes `words` (everything after the program name; the last is the word being typed) against the
 * command tree `root`: verbs first, then the verb's flags (when the word starts with "-"), flag values
 * with choices (`-o <TAB>`), files for `<file>` flags, directories for `<dir>` flags, and the choices of
 * positional arguments (`completion <TAB>`).
 */
export function complete(root: Node, words: readonly string[]): Completion {
  const current = words[words.length - 1] ?? "";
  let node = root;
  let positional = 0;
  let pending: string[] | string | undefined;
  let afterDashes = false;
  const flagValue = (flag: string) => node.values[flag] ?? root.values[flag];
  for (const w of words.slice(0, -1)) {
    if (pending !== undefined) {
      pending = undefined;
      continue;
    }
    if (!afterDashes && w === "--") {
      afterDashes = true;
      continue;
    }
    if (!afterDashes && w.startsWith("-") && w.length > 1) {
      if (!w.includes("=")) pending = flagValue(w);
      continue;
    }
    if (node === root) {
      const verb = root.subcommands.find((s) => s.name === w);
      if (!verb) return { candidates: [], directive: DIRECTIVE.noFileComp };
      node = verb;
      continue;
    }
    positional++;
  }
  if (pending !== undefined) return valueCompletion(pending, current);
  if (!afterDashes && current.startsWith("-")) {
    const eq = current.indexOf("=");
    if (eq > 0) {
      const flag = current.slice(0, eq);
      const value = flagValue(flag);
      return value === undefined
        ? { candidates: [], directive: DIRECTIVE.noFileComp }
        : valueCompletion(value, current.slice(eq + 1), `${flag}=`);
    }
    // Program options (--no-color) are accepted after the verb too; --version only before it.
    const global = node === root ? [] : root.options.filter((o) => o !== "--version");
    return { candidates: startingWith([...node.options, ...global], current), directive: DIRECTIVE.noFileComp };
  }
  if (node === root) {
    return {
      candidates: startingWith(
        root.subcommands.map((s) => s.name),
        current,
      ),
      directive: DIRECTIVE.noFileComp,
    };
  }
  return { candidates: startingWith(node.args[positional] ?? [], current), directive: DIRECTIVE.noFileComp };
}

/** The command tree of `kubectl kopiashare`, built without running anything. */
export function pluginTree(): Node {
  const io = bufferIo({ cwd: process.cwd() });
  const ctx: Ctx = { io, exitCode: 0, colors: () => makeColors(false), say: () => undefined, cleanups: [] };
  return tree(buildProgram(ctx, "kubectl kopiashare") as unknown as Command<unknown[], Record<string, unknown>>);
}

/** What `kubectl_complete-kopiashare <words…>` prints: one candidate per line, then `:<directive>`. */
export function kubectlComplete(words: readonly string[]): string {
  const c = complete(pluginTree(), words.length > 0 ? words : [""]);
  return `${c.candidates.map((x) => `${x}\n`).join("")}:${c.directive}\n`;
}
