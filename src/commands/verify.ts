import { Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import type { VerifyReport } from "../core/live.ts";
import { CliError, EXIT_PROBLEM, EXIT_UNCHECKED } from "../errors.ts";
import {
  allNamespacesOption,
  checkKubeFlags,
  connectReader,
  contextOption,
  kubeconfigOption,
  liveConventions,
  liveOutputOption,
  namespaceOption,
  requestTimeoutOption,
  retryBudgetOption,
  scopeOf,
  table,
  withKube,
} from "./kube-common.ts";
import { repoOption } from "./shared.ts";

export function verifyCommand(ctx: Ctx) {
  return new Command("verify")
    .description("check every namespace's PVC kopia and its PV against the shared repository volume (live cluster)")
    .addOption(namespaceOption())
    .addOption(allNamespacesOption())
    .addOption(liveOutputOption())
    .addOption(kubeconfigOption())
    .addOption(contextOption())
    .addOption(requestTimeoutOption())
    .addOption(retryBudgetOption())
    .addOption(repoOption())
    .addHelpText(
      "after",
      `
Examples:
  kopiashare verify                     # every namespace with a PVC kopia or a kopia-repository-pv-* PV
  kopiashare verify -n media            # one namespace (the seed's Step 6)
  kopiashare verify -o json | jq '.namespaces[] | select(.healthy | not)'
  kopiashare verify --context prod --kubeconfig ~/.kube/prod.yaml

Columns: PVC (phase), PV (the PV the claim names), PV PHASE, VOLUME (✓ when the PV's volumeHandle, or
rootPath for static PVs, is the repository PV's), RECLAIM, RESERVED (✓ when spec.claimRef names this claim).
Two LIST requests (without -n also /apis and, where Kopiur is served, its ClusterRepositories, whose
allowed namespaces are in scope too), whatever the number of namespaces. Exit 1 when any namespace is unhealthy
(\`kopiashare doctor\` explains why and prints the fix), 3 when the cluster could not be checked
(unreachable, 401, timed out, listing PVs or PVCs forbidden), 2 on a usage error.`,
    )
    .action((opts) =>
      withKube(async () => {
        const scope = scopeOf(opts);
        checkKubeFlags(opts);
        const conventions = liveConventions(ctx, opts.repo);
        const kube = await connectReader(ctx, opts);
        const [{ takeSnapshot }, { permissionText, verify }] = await Promise.all([
          import("../kube/snapshot.ts"),
          import("../core/live.ts"),
        ]);
        const observed = await takeSnapshot(kube, {
          conventions,
          namespace: opts.namespace,
          depth: "storage",
          kopiurScope: scope === undefined,
        });
        const denied = observed.denied.find(
          (d) => d.source === "persistentvolumes" || d.source === "persistentvolumeclaims",
        );
        if (denied) throw new CliError(`could not check: ${permissionText(denied)}`, EXIT_UNCHECKED);
        for (const d of observed.denied) {
          if (d !== denied)
            ctx.say(`note: namespaces consuming the repository through Kopiur not read: ${permissionText(d)}`);
        }
        const report = verify(observed, conventions, scope);
        if (!report.healthy || report.namespaces.length === 0) ctx.exitCode = EXIT_PROBLEM;
        if (opts.output === "json") {
          ctx.io.stdout.write(`${JSON.stringify({ ...report, requests: kube.stats.requests }, null, 2)}\n`);
          return;
        }
        printVerify(ctx, report, kube.stats.requests);
      }),
    );
}

function printVerify(ctx: Ctx, r: VerifyReport, requests: number): void {
  const c = ctx.colors("stdout");
  const ok = (v: boolean | undefined) => (v === undefined ? "-" : v ? c.green("✓") : c.red("✗"));
  const repo = r.repository;
  ctx.say(
    `repository: ${repo.pv ? `PV ${repo.pv}` : repo.origin}${
      repo.style === "static"
        ? `, rootPath ${repo.rootPath ?? "?"}`
        : repo.volumeHandle
          ? `, handle ${repo.volumeHandle}`
          : ""
    } (${r.server}, ${requests} API request(s))`,
  );
  if (r.namespaces.length === 0) {
    ctx.say("no namespace has a PVC kopia or a kopia-repository-pv-* PV: nothing to verify");
    return;
  }
  const e = ctx.colors("stderr");
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
  ctx.io.stdout.write(table(["NAMESPACE", "PVC", "PV", "PV PHASE", "VOLUME", "RECLAIM", "RESERVED"], rows));
  const bad = r.namespaces.filter((n) => !n.healthy);
  for (const n of bad) ctx.say(`${e.red("✗")} ${n.namespace}: ${n.problems.join("; ")}`);
  ctx.say(
    bad.length === 0
      ? `${r.namespaces.length} namespace(s) healthy`
      : `${bad.length} of ${r.namespaces.length} namespace(s) unhealthy: run \`kopiashare doctor${bad.length === 1 ? ` -n ${bad[0]?.namespace}` : ""}\` for the cause and the fix`,
  );
}
