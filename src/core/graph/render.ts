/**
 * Renders the graph of graph/build.ts: a tree for the terminal (text), a Mermaid flowchart fenced for a
 * GitHub comment or README (mermaid), Graphviz (dot) and JSON. Pure: strings in, strings out; colours come
 * from the caller (text only).
 */
import type { ConsumerNode, Graph, NamespaceNode, Problem, RepositoryNode, TransportNode } from "./build.ts";

export type GraphFormat = "text" | "mermaid" | "dot" | "json";
export const GRAPH_FORMATS: readonly GraphFormat[] = ["text", "mermaid", "dot", "json"];

/** The colours the text tree uses (output/colors.ts Colors fits). */
export interface Paint {
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const plain: Paint = { red: (s) => s, yellow: (s) => s, cyan: (s) => s, bold: (s) => s, dim: (s) => s };

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

// ---------------------------------------------------------------------------------------------
// Labels shared by every format

export function repositoryLabel(r: RepositoryNode): string {
  return r.resolved ? `repository ${r.key}` : `repository ${r.key} (not resolved)`;
}

export function transportLabel(t: TransportNode): string {
  const parts: string[] = [t.transport];
  if (t.volume !== undefined) parts.push(t.mountPath !== undefined ? `${t.volume} at ${t.mountPath}` : t.volume);
  parts.push(`via ${t.via}`);
  return parts.join(" · ");
}

export function namespaceLabel(n: NamespaceNode): string {
  return n.claim ? `namespace ${n.name} · PVC ${n.claim.pvc} → PV ${n.claim.pv}` : `namespace ${n.name}`;
}

export function runsAsText(c: ConsumerNode): string | undefined {
  const r = c.runsAs;
  if (!r) return undefined;
  const who =
    r.uid !== undefined || r.gid !== undefined
      ? `runs as ${r.uid ?? "?"}${r.gid !== undefined ? `:${r.gid}` : ""}`
      : "";
  const fs = r.fsGroup !== undefined ? `fsGroup ${r.fsGroup}` : "";
  return [who, fs].filter(Boolean).join(", ");
}

export function consumerLabel(c: ConsumerNode): string {
  const who = runsAsText(c);
  return who ? `${c.kind} ${c.name} · ${who}` : `${c.kind} ${c.name}`;
}

const worst = (problems: Problem[]): "error" | "warning" | undefined =>
  problems.some((p) => p.severity === "error") ? "error" : problems.length > 0 ? "warning" : undefined;

export function summaryText(g: Graph): string {
  const s = g.summary;
  if (g.live) {
    const repos = s.repositories === 1 ? "1 repository" : `${s.repositories} repositories`;
    return `${repos}, ${plural(s.namespaces, "namespace")}, ${plural(s.consumers, "consumer")}; from the cluster ${g.live.server} (not linted)`;
  }
  const repos = s.repositories === 1 ? "1 repository" : `${s.repositories} repositories`;
  return `${repos}, ${plural(s.namespaces, "namespace")}, ${plural(s.consumers, "consumer")}; lint: ${plural(s.errors, "error")}, ${plural(s.warnings, "warning")}`;
}

// ---------------------------------------------------------------------------------------------
// text

interface TreeNode {
  label: string;
  children: TreeNode[];
}

function problemLeaves(problems: Problem[], c: Paint): TreeNode[] {
  return problems.map((p) => ({
    label: `${p.severity === "error" ? c.red("✗ error") : c.yellow("! warning")} ${c.bold(p.rule)} ${p.what} ${c.dim(`(${p.file}:${p.line})`)}`,
    children: [],
  }));
}

function mark(label: string, problems: Problem[], c: Paint): string {
  const w = worst(problems);
  return w === "error"
    ? `${c.red(label)} ${c.red("✗")}`
    : w === "warning"
      ? `${c.yellow(label)} ${c.yellow("!")}`
      : label;
}

function lines(node: TreeNode, prefix: string, last: boolean, out: string[], root: boolean): void {
  out.push(root ? node.label : `${prefix}${last ? "└── " : "├── "}${node.label}`);
  const next = root ? "" : `${prefix}${last ? "    " : "│   "}`;
  node.children.forEach((ch, i) => {
    lines(ch, next, i === node.children.length - 1, out, false);
  });
}

export function renderGraphText(g: Graph, c: Paint = plain): string {
  const out: string[] = [];
  for (const r of g.repositories) {
    const tree: TreeNode = {
      label: c.bold(repositoryLabel(r)),
      children: r.transports.map((t) => ({
        label: `${mark(c.cyan(transportLabel(t)), t.problems, c)}${t.object?.file ? ` ${c.dim(`(${t.object.file}:${t.object.line})`)}` : ""}`,
        children: [
          ...problemLeaves(t.problems, c),
          ...t.namespaces.map((n) => ({
            label: mark(namespaceLabel(n), n.problems, c),
            children: [
              ...problemLeaves(n.problems, c),
              ...n.consumers.map((k) => ({
                label: `${mark(consumerLabel(k), k.problems, c)}${k.file ? ` ${c.dim(`(${k.file}:${k.line})`)}` : ""}`,
                children: problemLeaves(k.problems, c),
              })),
            ],
          })),
        ],
      })),
    };
    lines(tree, "", true, out, true);
    out.push("");
  }
  if (g.repositories.length === 0)
    out.push("no consumer of a Kopia repository (Volsync kopia mover or Kopiur object) found", "");
  if (g.other.length > 0) {
    out.push(c.bold("other problems (not about a consumer, its namespace or its transport):"));
    for (const p of g.other) {
      out.push(
        `  ${p.severity === "error" ? c.red("✗ error") : c.yellow("! warning")} ${c.bold(p.rule)} ${p.subject}: ${p.what} ${c.dim(`(${p.file}:${p.line})`)}`,
      );
    }
    out.push("");
  }
  out.push(summaryText(g));
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// Node walk shared by mermaid and dot: ids are positions (r1, r1t1, r1t1n2, r1t1n2c3), stable for a graph.

interface Visit {
  id: string;
  parent: string | undefined;
  level: "repository" | "transport" | "namespace" | "consumer";
  lines: string[];
  problems: Problem[];
}

function walk(g: Graph): Visit[] {
  const out: Visit[] = [];
  const rules = (problems: Problem[]) =>
    [...new Set(problems.map((p) => `${p.severity === "error" ? "✗" : "!"} ${p.rule}`))].sort();
  g.repositories.forEach((r, ri) => {
    const rid = `r${ri + 1}`;
    out.push({ id: rid, parent: undefined, level: "repository", lines: [repositoryLabel(r)], problems: [] });
    r.transports.forEach((t, ti) => {
      const tid = `${rid}t${ti + 1}`;
      const tl = [
        t.transport,
        ...(t.volume !== undefined ? [t.mountPath !== undefined ? `${t.volume} at ${t.mountPath}` : t.volume] : []),
        `via ${t.via}`,
      ];
      out.push({
        id: tid,
        parent: rid,
        level: "transport",
        lines: [...tl, ...rules(t.problems)],
        problems: t.problems,
      });
      t.namespaces.forEach((n, ni) => {
        const nid = `${tid}n${ni + 1}`;
        const nl = [`namespace ${n.name}`, ...(n.claim ? [`PVC ${n.claim.pvc} → PV ${n.claim.pv}`] : [])];
        out.push({
          id: nid,
          parent: tid,
          level: "namespace",
          lines: [...nl, ...rules(n.problems)],
          problems: n.problems,
        });
        n.consumers.forEach((k, ki) => {
          const who = runsAsText(k);
          out.push({
            id: `${nid}c${ki + 1}`,
            parent: nid,
            level: "consumer",
            lines: [`${k.kind} ${k.name}`, ...(who ? [who] : []), ...rules(k.problems)],
            problems: k.problems,
          });
        });
      });
    });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// mermaid

/** Mermaid label text: quotes and angle brackets as entity codes (a label is HTML in GitHub's renderer). */
const mm = (s: string) => s.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;");

const MERMAID_SHAPE: Record<Visit["level"], [string, string]> = {
  repository: ['[("', '")]'],
  transport: ['{{"', '"}}'],
  namespace: ['["', '"]'],
  consumer: ['("', '")'],
};

/** A Mermaid flowchart inside a ```mermaid fence: pastes as is into a GitHub comment, issue or README. */
export function renderGraphMermaid(g: Graph): string {
  const out = ["```mermaid", "flowchart LR"];
  const visits = walk(g);
  for (const v of visits) {
    const [open, close] = MERMAID_SHAPE[v.level];
    out.push(`  ${v.id}${open}${v.lines.map(mm).join("<br/>")}${close}`);
    if (v.parent) out.push(`  ${v.parent} --> ${v.id}`);
  }
  if (g.repositories.length === 0) out.push('  none["no consumer of a Kopia repository found"]');
  if (g.other.length > 0) {
    out.push(`  other["${mm(`${plural(g.other.length, "other problem")}: kopiashare lint`)}"]`);
  }
  const errors = visits.filter((v) => worst(v.problems) === "error").map((v) => v.id);
  const warnings = visits.filter((v) => worst(v.problems) === "warning").map((v) => v.id);
  out.push("  classDef error fill:#fdd,stroke:#c00,color:#600");
  out.push("  classDef warning fill:#ffd,stroke:#b80,color:#640");
  if (errors.length > 0) out.push(`  class ${errors.join(",")} error`);
  if (warnings.length > 0) out.push(`  class ${warnings.join(",")} warning`);
  if (g.other.length > 0) out.push(`  class other ${worst(g.other)}`);
  out.push("```");
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// dot

const dq = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');

const DOT_SHAPE: Record<Visit["level"], string> = {
  repository: "cylinder",
  transport: "hexagon",
  namespace: "folder",
  consumer: "box",
};

/** Graphviz: `kopiashare graph -o dot | dot -Tsvg > graph.svg`. */
export function renderGraphDot(g: Graph): string {
  const out = [
    "digraph kopiashare {",
    "  rankdir=LR;",
    '  node [fontname="Helvetica", fontsize=10];',
    `  label="${dq(summaryText(g))}";`,
    "  labelloc=b;",
  ];
  for (const v of walk(g)) {
    const w = worst(v.problems);
    const color =
      w === "error"
        ? ', style=filled, fillcolor="#ffdddd", color="#cc0000"'
        : w === "warning"
          ? ', style=filled, fillcolor="#ffffdd", color="#bb8800"'
          : v.level === "consumer"
            ? ", style=rounded"
            : "";
    out.push(`  ${v.id} [shape=${DOT_SHAPE[v.level]}, label="${v.lines.map(dq).join("\\n")}"${color}];`);
    if (v.parent) out.push(`  ${v.parent} -> ${v.id};`);
  }
  if (g.other.length > 0) {
    out.push(
      `  other [shape=note, label="${dq(`${plural(g.other.length, "other problem")}: kopiashare lint`)}", style=filled, fillcolor="#ffdddd"];`,
    );
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// json

export interface GraphMeta {
  repo: string;
  version: string;
}

/** `{ version: 1, tool, repo, summary, repositories[], other[] }` (docs/commands.md#graph). */
export function renderGraphJson(g: Graph, meta: GraphMeta): string {
  const doc = {
    version: 1,
    tool: { name: "kopiashare", version: meta.version },
    repo: meta.repo,
    ...(g.live ? { live: g.live } : {}),
    summary: g.summary,
    repositories: g.repositories,
    other: g.other,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function renderGraph(format: GraphFormat, g: Graph, c: Paint, meta: GraphMeta): string {
  switch (format) {
    case "mermaid":
      return renderGraphMermaid(g);
    case "dot":
      return renderGraphDot(g);
    case "json":
      return renderGraphJson(g, meta);
    default:
      return renderGraphText(g, c);
  }
}
