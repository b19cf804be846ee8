/**
 * The live verbs' reports, as output/findings.ts renders lint's: doctor's checks, verify's table and
 * drift's differences, each in text and json. Text goes to a LiveSink (the report on stdout, headers
 * and notes on stderr, with each stream's injected Colors); json is one string for stdout.
 */
import type { CheckReport, Status } from "../core/doctor.ts";
import { PROBE_CHECK } from "../core/doctor.ts";
import type { DriftReport } from "../core/drift.ts";
import type { Observed, VerifyReport } from "../core/live.ts";
import type { ProbeRun } from "../core/probe.ts";
import type { Colors } from "./colors.ts";
import { table } from "./table.ts";

export interface LiveSink {
  /** Writes to stdout (the report itself). */
  out(s: string): void;
  /** One line on stderr (what was asked, notes, verify's verdict). */
  say(line: string): void;
  /** Colours of stdout and of stderr. */
  colors: Colors;
  errColors: Colors;
}

const json = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`;

// ---------------------------------------------------------------------------------------------
// doctor

const BADGE: Record<Status, (c: Colors) => string> = {
  pass: (c) => c.green("PASS"),
  skip: (c) => c.dim("SKIP"),
  warn: (c) => c.yellow("WARN"),
  fail: (c) => c.red("FAIL"),
};

export interface DoctorRun {
  observed: Observed;
  /** The namespaces of -n, undefined for every namespace. */
  scope: string[] | undefined;
  reports: CheckReport[];
  summary: Record<Status, number>;
  probe: ProbeRun | undefined;
  requests: number;
}

export function renderDoctorText(sink: LiveSink, d: DoctorRun): void {
  const { observed: o, reports, summary: s } = d;
  const c = sink.colors;
  sink.say(
    `doctor: ${o.server}${o.version ? ` (Kubernetes ${o.version.gitVersion})` : ""}${o.namespace ? `, namespace ${o.namespace}` : ""}, ${d.requests} API request(s)`,
  );
  const w = Math.max(...reports.map((r) => r.id.length));
  for (const r of reports) {
    const problems = r.results.filter((x) => x.status !== "pass");
    // A pass, or a skip with one reason, is one line: what was seen, or why the check could not look.
    const oneLine = problems.length === 0 || (r.status === "skip" && r.results.length === 1);
    const head = oneLine ? (r.results[0]?.what ?? r.title) : r.title;
    sink.out(`${BADGE[r.status](c)}  ${r.id.padEnd(w)}  ${head}\n`);
    const shown = oneLine ? [] : r.id === PROBE_CHECK.meta.id ? r.results : problems;
    for (const x of shown) {
      const mark = { pass: c.green("✓"), skip: c.dim("-"), warn: c.yellow("!"), fail: c.red("✗") }[x.status];
      sink.out(`      ${mark} ${x.what}\n`);
      if (x.why) sink.out(`        ${c.dim("why:")} ${x.why}\n`);
      if (x.fix) {
        const [first, ...rest] = x.fix.split("\n");
        sink.out(`        ${c.dim("fix:")} ${first}\n`);
        for (const l of rest) sink.out(`             ${l}\n`);
      }
    }
  }
  sink.out(
    `\n${reports.length} checks: ${s.pass} passed, ${s.warn} warning(s), ${s.fail} failed${s.skip ? `, ${s.skip} skipped` : ""}\n`,
  );
}

export function renderDoctorJson(d: DoctorRun): string {
  const { probe } = d;
  return json({
    server: d.observed.server,
    version: d.observed.version?.gitVersion,
    namespaces: d.scope ?? "all",
    checks: d.reports,
    summary: d.summary,
    probe: probe && {
      runId: probe.runId,
      deleted: probe.deleted,
      leftovers: probe.leftovers,
      aborted: probe.aborted,
    },
    requests: d.requests,
  });
}

// ---------------------------------------------------------------------------------------------
// verify

export function renderVerifyText(sink: LiveSink, r: VerifyReport, requests: number): void {
  const c = sink.colors;
  const ok = (v: boolean | undefined) => (v === undefined ? "-" : v ? c.green("✓") : c.red("✗"));
  const repo = r.repository;
  sink.say(
    `repository: ${repo.pv ? `PV ${repo.pv}` : repo.origin}${
      repo.style === "static"
        ? `, rootPath ${repo.rootPath ?? "?"}`
        : repo.volumeHandle
          ? `, handle ${repo.volumeHandle}`
          : ""
    } (${r.server}, ${requests} API request(s))`,
  );
  if (r.namespaces.length === 0) {
    sink.say("no namespace has a PVC kopia or a kopia-repository-pv-* PV: nothing to verify");
    return;
  }
  const e = sink.errColors;
  const rows = r.namespaces.map((n) => {
    const phase = n.pvc?.phase || "?";
    const pvc = n.pvc ? `${n.pvc.name} (${n.pvc.phase === "Bound" ? phase : c.red(phase)})` : c.red("missing");
    const reserved =
      n.reserved === undefined ? "-" : n.reserved ? c.green("✓") : c.red(n.reservedFor ? `✗ ${n.reservedFor}` : "✗");
    return [
      n.healthy ? n.namespace : c.red(n.namespace),
      pvc,
      n.pv ? n.pv.name : n.pvName ? c.red(`${n.pvName} (missing)`) : "-",
      n.pv ? (n.pv.phase === "Bound" ? n.pv.phase : c.red(n.pv.phase || "?")) : "-",
      ok(n.volumeMatches),
      n.pv ? (n.pv.reclaimPolicy === "Retain" ? n.pv.reclaimPolicy : c.red(n.pv.reclaimPolicy)) : "-",
      reserved,
    ];
  });
  sink.out(table(["NAMESPACE", "PVC", "PV", "PV PHASE", "VOLUME", "RECLAIM", "RESERVED"], rows));
  const bad = r.namespaces.filter((n) => !n.healthy);
  for (const n of bad) sink.say(`${e.red("✗")} ${n.namespace}: ${n.problems.join("; ")}`);
  sink.say(
    bad.length === 0
      ? `${r.namespaces.length} namespace(s) healthy`
      : `${bad.length} of ${r.namespaces.length} namespace(s) unhealthy: run \`kopiashare doctor${bad.length === 1 ? ` -n ${bad[0]?.namespace}` : ""}\` for the cause and the fix`,
  );
}

export function renderVerifyJson(r: VerifyReport, requests: number): string {
  return json({ ...r, requests });
}

// ---------------------------------------------------------------------------------------------
// drift

export function renderDriftText(sink: LiveSink, r: DriftReport, root: string, server: string): void {
  const c = sink.colors;
  sink.say(
    `drift: repo ${root} (${r.repoNamespaces.length} namespace(s)) vs ${server} (${r.clusterNamespaces.length} namespace(s))`,
  );
  if (!r.drift) {
    sink.out("no drift: the cluster has exactly the PVs and PVCs the repo declares\n");
    return;
  }
  const label = (ch: string) =>
    ch === "not-in-repo" ? c.yellow(ch) : ch === "missing-in-cluster" ? c.red(ch) : c.red(ch);
  const rows = r.items.map((i) => [
    i.namespace || "-",
    i.kind === "PersistentVolume" ? `pv/${i.name}` : `pvc/${i.name}`,
    label(i.change),
    i.field ? `${i.field}: repo ${i.repo} ≠ cluster ${i.cluster}` : (i.where ?? ""),
  ]);
  sink.out(table(["NAMESPACE", "OBJECT", "DRIFT", "DETAIL"], rows));
  sink.out("\nfixes:\n");
  for (const i of r.items) sink.out(`  ${i.kind === "PersistentVolume" ? "pv" : "pvc"}/${i.name}: ${i.fix}\n`);
  sink.say(`${r.items.length} difference(s)`);
}

export function renderDriftJson(r: DriftReport, root: string, server: string): string {
  return json({ repo: root, server, ...r });
}
