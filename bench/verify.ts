/**
 * `kopiashare verify -A` against the seed's manual procedure, on a simulated cluster.
 *
 *   node --import tsx bench/verify.ts [--namespaces 500] [--runs 5]
 *
 * Starts test/kube-sim with N namespaces (volsync-system + N, each with its static PV and PVC kopia,
 * all Bound), builds the CLI if dist/ is older than src/, then measures, as whole processes:
 *   - kopiashare: `node bin/kopiashare.js verify -A -o json` (median of --runs runs);
 *   - the seed: Step 6's pipeline for every namespace, one after the other, as a user's shell loop runs it:
 *       kubectl get pvc -n <ns> kopia -o jsonpath='{.spec.volumeName}' | xargs kubectl get pv -o jsonpath='{.spec.csi.volumeHandle}'
 * and prints both times, their ratio (target: kopiashare >= 20x faster at N = 500) and the API
 * requests each made. Both answers are compared: every handle kubectl prints must equal verify's.
 * Without kubectl only kopiashare's numbers are printed. The simulator runs in this process, so every
 * child process is spawned asynchronously.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
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

interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a whole process asynchronously (the simulator must keep serving) and times it. */
function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ ms: performance.now() - t0, code, stdout, stderr }));
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

async function main(): Promise<void> {
  ensureBuilt();
  const kubectlVersion = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  const kubectl = kubectlVersion.status === 0 ? (kubectlVersion.stdout.split("\n")[0] ?? "kubectl") : undefined;
  const sim = await startSim({});
  const home = mkdtempSync(path.join(tmpdir(), "kopiashare-bench-home-"));
  try {
    const { namespaces } = sharedRepository(sim, { namespaces: N, style: "shared-handle" });
    const env = { ...process.env, HOME: home, KUBECONFIG: sim.kubeconfigPath, NO_COLOR: "1" };

    // kopiashare verify -A
    const times: number[] = [];
    const requests: number[] = [];
    let report: { namespaces: { namespace: string; pv?: { volumeHandle?: string } }[]; healthy: boolean } | undefined;
    for (let i = 0; i < RUNS; i++) {
      sim.resetRequests();
      const r = await timed(
        process.execPath,
        [path.join(ROOT, "bin", "kopiashare.js"), "verify", "-A", "-o", "json"],
        env,
      );
      if (r.code !== 0) throw new Error(`kopiashare verify exited ${r.code}: ${r.stderr}`);
      times.push(r.ms);
      requests.push(sim.requests.length);
      report = JSON.parse(r.stdout);
    }
    const ks = median(times);
    const rows = report?.namespaces.length ?? 0;
    if (rows !== N + 1) throw new Error(`verify reported ${rows} namespaces, expected ${N + 1}`);

    const machine = `${cpus().length}x ${cpus()[0]?.model.trim() ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}`;
    const lines = [
      `machine: ${machine}`,
      `namespaces: ${N} (+ volsync-system), shared-handle PVs, all Bound`,
      `kopiashare verify -A: median ${fmt(ks)} over ${RUNS} runs (${times.map(fmt).join(", ")}), ${median(requests)} API requests per run`,
    ];

    if (!kubectl) {
      lines.push("kubectl is not installed: the seed's procedure was not timed (only kopiashare's numbers above)");
    } else {
      // One warm-up call fills kubectl's discovery cache, as it is on a user's machine.
      await timed("kubectl", ["get", "pv", "kopia-repository-pv-volsync-system", "-o", "name"], env);
      const all = ["volsync-system", ...namespaces];
      const script = `for ns in ${all.join(" ")}; do kubectl get pvc -n "$ns" kopia -o jsonpath='{.spec.volumeName}' | xargs kubectl get pv -o jsonpath='{.spec.csi.volumeHandle}'; echo " $ns"; done`;
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
      let same = 0;
      for (const n of report?.namespaces ?? []) if (handles.get(n.namespace) === n.pv?.volumeHandle) same++;
      lines.push(
        `seed Step 6 for every namespace (${kubectl}): ${fmt(seed.ms)}, ${seedRequests} API requests (${(seedRequests / all.length).toFixed(1)} per namespace), ${all.length * 2} kubectl processes`,
        `ratio: kopiashare is ${(seed.ms / ks).toFixed(1)}x faster (target >= 20x); answers agree for ${same}/${all.length} namespaces`,
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await sim.close();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
