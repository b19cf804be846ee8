/**
 * `kopiashare verify -A` against the floor and against the seed's manual procedure, on a simulated cluster.
 *
 *   node --import tsx bench/verify.ts [--namespaces 500] [--runs 5] [--seed | --no-seed]
 *
 * Starts test/kube-sim with N namespaces (volsync-system + N, each with its static PV and PVC kopia,
 * all Bound), builds the CLI if dist/ is older than src/, then measures, as whole processes:
 *   - kopiashare: `node bin/kopiashare.js verify -A -o json`;
 *   - the floor: `kubectl get pv,pvc -A -o json` (the same two LISTs, the least any client can do; its
 *     discovery cache warmed once first, as on a user's machine), alternating with kopiashare run by
 *     run, medians of --runs runs each, their ratio (goal: verify within 1.5x of the floor) and the
 *     peak memory (RSS) of each process: /usr/bin/time -f %M when present, else the child's own
 *     process.resourceUsage().maxRSS for node (kubectl's then is not measured, and the bench says so);
 *   - the seed: Step 6's pipeline for every namespace, one after the other, as a user's shell loop runs it:
 *       kubectl get pvc -n <ns> kopia -o jsonpath='{.spec.volumeName}' | xargs kubectl get pv -o jsonpath='{.spec.csi.volumeHandle}'
 *     (by default only when N <= 500: two kubectl processes per namespace; --seed forces it, --no-seed skips it),
 * and prints the times, the ratios (target: kopiashare >= 20x faster than the seed at N = 500) and the API
 * requests each made. The answers are compared: every handle kubectl gives must equal verify's.
 * Without kubectl (or when it cannot read the simulator) only kopiashare's numbers are printed, with
 * the reason. The simulator runs in this process, so every child process is spawned asynchronously.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { startSim } from "../test/kube-sim/index.ts";
import { sharedRepository } from "../test/kube-sim/scenarios.ts";
import { ensureBuilt, ROOT } from "./build.ts";

const args = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : def;
};
const N = flag("--namespaces", 500);
const RUNS = flag("--runs", 5);
const SEED = args.includes("--seed") ? true : args.includes("--no-seed") ? false : N <= 500;
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
/** Without /usr/bin/time, a node child reports its own peak RSS on exit (kubectl's is then not measured). */
const RSS_HOOK = `data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss-kb "+process.resourceUsage().maxRSS+"\\n"))`;

interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size in KiB, when measured. */
  rssKb?: number;
}

/**
 * Runs a whole process asynchronously (the simulator must keep serving) and times it; with
 * `memory`, under /usr/bin/time -f %M (the last line of stderr is the peak RSS in KiB).
 */
function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv, memory = false): Promise<Timed> {
  const wrap = memory && TIME !== undefined;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(wrap ? TIME : cmd, wrap ? ["-f", "maxrss-kb %M", cmd, ...argv] : argv, {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      const m = /(?:^|\n)maxrss-kb (\d+)\s*$/.exec(stderr);
      const rssKb = m ? Number(m[1]) : undefined;
      if (m) stderr = stderr.slice(0, m.index);
      resolve({ ms, code, stdout, stderr, rssKb });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const mib = (kb: number[]) => (kb.length ? `${(median(kb) / 1024).toFixed(0)} MiB peak RSS` : "peak RSS not measured");

interface Item {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { csi?: { volumeHandle?: string }; volumeName?: string };
}

/** namespace -> the volumeHandle of the PV its PVC kopia names, from `kubectl get pv,pvc -A -o json`. */
function handlesOf(json: string): Map<string, string> {
  const items = (JSON.parse(json) as { items: Item[] }).items;
  const handle = new Map<string, string>();
  for (const x of items) {
    const h = x.spec?.csi?.volumeHandle;
    if (x.kind === "PersistentVolume" && h) handle.set(x.metadata?.name ?? "", h);
  }
  const out = new Map<string, string>();
  for (const x of items) {
    if (x.kind !== "PersistentVolumeClaim" || x.metadata?.name !== "kopia") continue;
    const h = handle.get(x.spec?.volumeName ?? "");
    if (h) out.set(x.metadata?.namespace ?? "", h);
  }
  return out;
}

/** Why kubectl cannot be the floor here, or undefined when it can (it read the simulator once). */
async function kubectlProblem(env: NodeJS.ProcessEnv, argv: string[]): Promise<string | undefined> {
  const v = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  if (v.error) return `kubectl is not installed (${v.error.message})`;
  if (v.status !== 0) return `'kubectl version --client' exited ${v.status}`;
  const r = await timed("kubectl", argv, env);
  if (r.code !== 0) return `'kubectl ${argv.join(" ")}' exited ${r.code}: ${r.stderr.trim().split("\n")[0]}`;
  return undefined;
}

async function main(): Promise<void> {
  ensureBuilt();
  const kubectlVersion = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  const kubectl = kubectlVersion.status === 0 ? (kubectlVersion.stdout.split("\n")[0] ?? "kubectl") : "kubectl";
  const sim = await startSim({});
  const home = mkdtempSync(path.join(tmpdir(), "kopiashare-bench-home-"));
  try {
    const { namespaces } = sharedRepository(sim, { namespaces: N, style: "shared-handle" });
    const env = { ...process.env, HOME: home, KUBECONFIG: sim.kubeconfigPath, NO_COLOR: "1" };
    const cacheDir = path.join(home, "kube-cache");
    const floorArgv = [
      "get",
      "pv,pvc",
      "-A",
      "-o",
      "json",
      "--kubeconfig",
      sim.kubeconfigPath,
      "--cache-dir",
      cacheDir,
    ];
    // The first kubectl call fills its discovery cache (as it is on a user's machine) and says whether it works.
    const noKubectl = await kubectlProblem(env, floorArgv);
    const verifyArgv = [
      ...(TIME
        ? []
        : ["--import", `data:text/javascript,${encodeURIComponent(RSS_HOOK.slice("data:text/javascript,".length))}`]),
      path.join(ROOT, "bin", "kopiashare.js"),
      "verify",
      "-A",
      "-o",
      "json",
    ];

    // kopiashare verify -A and the floor, alternating run by run (the machine's load hits both alike).
    const ks: Timed[] = [];
    const ksRequests: number[] = [];
    const floor: Timed[] = [];
    const floorRequests: number[] = [];
    let report: { namespaces: { namespace: string; pv?: { volumeHandle?: string } }[]; healthy: boolean } | undefined;
    let floorHandles = new Map<string, string>();
    for (let i = 0; i < RUNS; i++) {
      sim.resetRequests();
      const r = await timed(process.execPath, verifyArgv, env, true);
      if (r.code !== 0) throw new Error(`kopiashare verify exited ${r.code}: ${r.stderr}`);
      ks.push(r);
      ksRequests.push(sim.requests.length);
      report = JSON.parse(r.stdout);
      if (noKubectl) continue;
      sim.resetRequests();
      const f = await timed("kubectl", floorArgv, env, true);
      if (f.code !== 0) throw new Error(`kubectl get pv,pvc -A exited ${f.code}: ${f.stderr}`);
      floor.push(f);
      floorRequests.push(sim.requests.length);
      if (i === 0) floorHandles = handlesOf(f.stdout);
    }
    const ksMs = median(ks.map((r) => r.ms));
    const rows = report?.namespaces.length ?? 0;
    if (rows !== N + 1) throw new Error(`verify reported ${rows} namespaces, expected ${N + 1}`);
    const rss = (xs: Timed[]) => xs.flatMap((r) => (r.rssKb === undefined ? [] : [r.rssKb]));
    const agree = (handles: Map<string, string>) => {
      let same = 0;
      for (const n of report?.namespaces ?? []) if (handles.get(n.namespace) === n.pv?.volumeHandle) same++;
      return same;
    };

    const machine = `${cpus().length}x ${cpus()[0]?.model.trim() ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}`;
    const lines = [
      `machine: ${machine}; load average at the start ${loadavg()
        .map((x) => x.toFixed(2))
        .join(" ")}`,
      `namespaces: ${N} (+ volsync-system), shared-handle PVs, all Bound`,
      `kopiashare verify -A: median ${fmt(ksMs)} over ${RUNS} runs (${ks.map((r) => fmt(r.ms)).join(", ")}), ${median(ksRequests)} API requests per run, ${mib(rss(ks))}`,
    ];
    if (noKubectl) {
      lines.push(`floor not measured: ${noKubectl}`);
    } else {
      const fMs = median(floor.map((r) => r.ms));
      const fRss = rss(floor);
      lines.push(
        `floor, kubectl get pv,pvc -A -o json (${kubectl}): median ${fmt(fMs)} over ${RUNS} runs (${floor.map((r) => fmt(r.ms)).join(", ")}), ${median(floorRequests)} API requests per run, ${fRss.length ? mib(fRss) : "peak RSS not measured (no /usr/bin/time)"}`,
        `ratio to the floor: verify takes ${(ksMs / fMs).toFixed(2)}x kubectl's time (goal <= 1.5x)${fRss.length && rss(ks).length ? `, ${(median(rss(ks)) / median(fRss)).toFixed(2)}x its memory` : ""}; answers agree for ${agree(floorHandles)}/${rows} namespaces`,
      );
    }

    if (noKubectl) {
      lines.push("the seed's procedure was not timed either (it runs kubectl)");
    } else if (!SEED) {
      lines.push(
        `the seed's procedure was not timed (${args.includes("--no-seed") ? "--no-seed" : `N > 500: ${2 * rows} kubectl processes; pass --seed to time it`})`,
      );
    } else {
      const all = ["volsync-system", ...namespaces];
      const script = `for ns in ${all.join(" ")}; do kubectl --cache-dir ${cacheDir} get pvc -n "$ns" kopia -o jsonpath='{.spec.volumeName}' | xargs kubectl --cache-dir ${cacheDir} get pv -o jsonpath='{.spec.csi.volumeHandle}'; echo " $ns"; done`;
      sim.resetRequests();
      const seed = await timed("sh", ["-c", script], env);
      if (seed.code !== 0) throw new Error(`the seed's procedure failed: ${seed.stderr}`);
      const seedRequests = sim.requests.length;
      const handles = new Map(
        seed.stdout
          .trim()
          .split("\n")
          .map((l) => {
            const [h, ns] = l.trim().split(" ");
            return [ns as string, h as string];
          }),
      );
      lines.push(
        `seed Step 6 for every namespace (${kubectl}): ${fmt(seed.ms)}, ${seedRequests} API requests (${(seedRequests / all.length).toFixed(1)} per namespace), ${all.length * 2} kubectl processes`,
        `ratio to the seed: kopiashare is ${(seed.ms / ksMs).toFixed(1)}x faster (target >= 20x); answers agree for ${agree(handles)}/${all.length} namespaces`,
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await sim.close();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
