/** input/*: files that could not be read as YAML, and files skipped on purpose. */
import { stopsBackups } from "../backups.ts";
import { ALL_TRANSPORTS, type Finding, type Rule, reporter } from "./types.ts";

export const invalidYaml: Rule = {
  meta: {
    id: "input/invalid-yaml",
    transports: ALL_TRANSPORTS,
    severity: "error",
    title: "a YAML file does not parse",
    why: "kustomize and Flux reject the whole Kustomization that includes a broken file, so nothing in it is applied; lint checks the rest",
    severityNote:
      "warning when the Kustomization that applies the file delivers nothing of the backup system; files nothing applies are not read as manifests",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    for (const i of ctx.model.issues) {
      if (i.kind !== "parse") continue;
      const msg = i.message.replace(/^[^:]+:\d+:\d+: /, "");
      out.push(
        report(
          { file: i.file, line: i.line ?? 1 },
          i.file,
          `not valid YAML: ${msg}`,
          "fix the syntax at this position (a YAML linter such as yamllint shows the context)",
          {
            ...(i.col !== undefined ? { col: i.col } : {}),
            ...(i.deliveredBy !== undefined && stopsBackups(ctx.model, i.deliveredBy)
              ? {}
              : {
                  severity: "warning" as const,
                  why: `kustomize and Flux reject the whole Kustomization that includes a broken file${i.deliveredBy ? ` (${i.deliveredBy.slice(0, 3).join(", ")})` : ""}; it delivers nothing of the backup system, so this is a warning`,
                }),
          },
        ),
      );
    }
    return out;
  },
};

const REASONS: Record<string, string> = {
  "too-large": "larger than 5 MiB",
  "too-complex": "too complex to read",
  binary: "binary content",
  "symlink-loop": "a symlink loop",
  "outside-repo": "a link that leaves the repository",
  unreadable: "unreadable",
};

export const skipped: Rule = {
  meta: {
    id: "input/skipped",
    transports: ALL_TRANSPORTS,
    severity: "info",
    title: "a file or folder was skipped",
    why: "lint reads only regular YAML files inside the repository, up to 5 MiB; anything else is not checked",
    severityNote:
      "error for a path that cannot be read (permission denied, …; lint then exits 2) and for a document too complex to read (an alias bomb)",
  },
  check(ctx) {
    const report = reporter(this.meta);
    return ctx.model.issues
      .filter((i) => i.kind !== "parse")
      .map((i) =>
        report(
          { file: i.file, line: i.line ?? 1 },
          i.file,
          `skipped: ${REASONS[i.kind] ?? i.kind} (${i.message})`,
          i.kind === "too-large"
            ? "split the file if it holds manifests Flux applies"
            : i.kind === "too-complex"
              ? "write the values out instead of nesting aliases, or remove the document"
              : i.kind === "unreadable"
                ? "make it readable for the user running kopiashare (lint exits 2 until then)"
                : "nothing to do unless this path should hold manifests",
          i.kind === "unreadable"
            ? {
                severity: "error" as const,
                why: "lint could not read it, so whatever it holds is not checked: the repository was not seen whole",
              }
            : i.kind === "too-complex"
              ? {
                  severity: "error" as const,
                  why: "a document whose aliases expand it to millions of nodes (or that nests a thousand levels deep) makes every tool that reads it run out of time or memory; Flux's own YAML reader refuses it too",
                }
              : {},
        ),
      );
  },
};

export const inputRules: Rule[] = [invalidYaml, skipped];
