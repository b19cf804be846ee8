import { Command, Option } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";
import type { ProbeResult, ProbeRun } from "../core/probe.ts";
import { EXIT_INTERRUPTED, EXIT_PROBLEM, EXIT_UNCHECKED, usageError } from "../errors.ts";
import { parseDuration } from "../kube/duration.ts";
import {
  allNamespacesOption,
  checkKubeFlags,
  connectKube,
  contextOption,
  kubeconfigOption,
  liveConventions,
  liveOutputOption,
  liveSink,
  namespaceOption,
  requestTimeoutOption,
  retryBudgetOption,
  scopeOf,
  withKube,
} from "./kube-common.ts";
import { repoOption } from "./shared.ts";

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

function id(v: string, flag: string): number {
  if (!/^[0-9]+$/.test(v) || Number(v) > 2147483647)
    throw usageError(`${flag} ${v}: expected a numeric ID such as 1000`);
  return Number(v);
}

export function doctorCommand(ctx: Ctx) {
  return new Command("doctor")
    .description("diagnose the shared repository on a live cluster: a fixed list of checks, each with the exact fix")
    .addOption(namespaceOption())
    .addOption(allNamespacesOption("every namespace with a kopia PVC or PV, or a Kopia consumer"))
    .addOption(liveOutputOption())
    .option("--probe", "also run a Job per namespace that writes, reads and deletes a file in the repository")
    .addOption(new Option("--uid <uid>", "UID the probe runs as (default: uid in kopiashare.yaml, else 1000)"))
    .addOption(new Option("--gid <gid>", "GID the probe runs as (default: gid in kopiashare.yaml, else 1000)"))
    .addOption(new Option("--timeout <duration>", "how long the probe may take").default("2m"))
    .addOption(new Option("--image <image>", "image of the probe Job (needs sh, id, stat)").default("busybox:1.36"))
    .addOption(kubeconfigOption())
    .addOption(contextOption())
    .addOption(requestTimeoutOption())
    .addOption(retryBudgetOption())
    .addOption(repoOption())
    .addHelpText(
      "after",
      `
Examples:
  kopiashare doctor                       # every check, every namespace
  kopiashare doctor -n media              # why is media's PVC Pending? prints the exact kubectl fix
  kopiashare doctor --probe -n media      # can the mover UID write /repository/repository?
  kopiashare doctor --probe --uid 568 --gid 568 --timeout 5m
  kopiashare doctor -o json | jq '.checks[] | select(.status != "pass")'

Checks (stable ids, group/name; docs/commands.md#doctor explains each and lists their former flat ids):
repository/pv, volume/reclaim-retain, volume/style, volume/same-subvolume, volume/server-version,
cluster/backup-crds, repository/maintenance, kopiur/repository-ready, admission/policy,
delivery/consumers-without-pvc, pv/missing, pv/bound-elsewhere, pv/released-stale-claim, pv/mismatch,
pvc/bound, pv/claim-ref, permissions/privileged-movers, backups/stale,
and with --probe: permissions/probe. A check the cluster refuses to let us read is a warning; one whose
API the cluster does not serve (or with nothing to look at) is skipped with the reason.
Exit 1 when a check fails; 3 when the cluster could not be checked (unreachable, 401, timed out, or
neither PVs nor PVCs may be listed). The probe deletes its Jobs when done, on failure and on Ctrl-C.`,
    )
    .action((opts) =>
      withKube(async () => {
        // Every flag is checked before connecting: a bad value is exit 2 even without a cluster.
        const scope = scopeOf(opts);
        const timeoutMs = parseDuration(opts.timeout, "--timeout", "2m, 5m or 90s");
        if (timeoutMs < 1000) throw usageError(`--timeout ${opts.timeout}: the probe needs at least 1s`);
        const uidFlag = opts.uid !== undefined ? id(opts.uid, "--uid") : undefined;
        const gidFlag = opts.gid !== undefined ? id(opts.gid, "--gid") : undefined;
        checkKubeFlags(opts);
        const conventions = liveConventions(ctx, opts.repo);
        const uid = uidFlag ?? conventions.uid;
        const gid = gidFlag ?? conventions.gid;
        const kube = await connectKube(ctx, opts);
        const { takeSnapshot } = await import("../kube/snapshot.ts");
        const observed = await takeSnapshot(kube, { conventions, namespace: opts.namespace, depth: "full" });
        const { runDoctor, summary } = await import("../core/doctor.ts");
        const reports = runDoctor(observed, conventions, { namespaces: scope, now: new Date() });
        let probe: ProbeRun | undefined;
        if (opts.probe) {
          const { probeReport, probeTargets } = await import("../core/probe.ts");
          const targets = probeTargets(observed, conventions.claimName, scope);
          const ac = new AbortController();
          const onSignal = () => ac.abort(new Error("interrupted"));
          process.once("SIGINT", onSignal);
          process.once("SIGTERM", onSignal);
          const progress = progressReporter(ctx, `probing ${targets.probe.length} namespace(s) as ${uid}:${gid}`);
          try {
            const { runProbe } = await import("../kube/probe.ts");
            probe =
              targets.probe.length > 0
                ? await runProbe(kube, {
                    namespaces: targets.probe,
                    uid,
                    gid,
                    timeoutMs,
                    image: opts.image,
                    conventions,
                    signal: ac.signal,
                    onProgress: progress.update,
                  })
                : undefined;
          } finally {
            progress.stop();
            process.off("SIGINT", onSignal);
            process.off("SIGTERM", onSignal);
          }
          reports.push(probeReport(probe?.results ?? [], targets.skipped, { uid, gid, conventions }));
        }
        const s = summary(reports);
        // Forbidden everywhere that matters (neither PVs nor PVCs readable) and nothing failed: the
        // repository could not be checked at all, which is not "healthy".
        const blind = (["persistentvolumes", "persistentvolumeclaims"] as const).every((src) =>
          observed.denied.some((d) => d.source === src),
        );
        if (s.fail > 0) ctx.exitCode = EXIT_PROBLEM;
        else if (blind) ctx.exitCode = EXIT_UNCHECKED;
        if (probe?.aborted) ctx.exitCode = EXIT_INTERRUPTED;
        const { renderDoctorJson, renderDoctorText } = await import("../output/checks.ts");
        const run = { observed, scope, reports, summary: s, probe, requests: kube.stats.requests };
        if (opts.output === "json") ctx.io.stdout.write(renderDoctorJson(run));
        else renderDoctorText(liveSink(ctx), run);
        if (ctx.exitCode === EXIT_UNCHECKED) {
          ctx.say(
            `could not check: neither PVs nor PVCs ${conventions.claimName} may be listed (${observed.denied
              .filter((d) => d.source === "persistentvolumes" || d.source === "persistentvolumeclaims")
              .map((d) => d.resource)
              .join(", ")} forbidden): exit ${EXIT_UNCHECKED}`,
          );
        }
        if (probe) {
          ctx.say(
            `probe: deleted ${probe.deleted.length} Job(s) (${probe.deleted.join(", ") || "none"})${probe.aborted ? "; aborted" : ""}`,
          );
          for (const l of probe.leftovers) ctx.say(`probe: could not delete ${l}`);
        }
      }),
    );
}

/** A spinner on a TTY stderr; plain lines (one per finished namespace) otherwise. */
function progressReporter(ctx: Ctx, label: string) {
  const tty = ctx.io.stderr.isTTY === true;
  let frame = 0;
  let text = `${label}…`;
  let timer: ReturnType<typeof setInterval> | undefined;
  if (tty) {
    timer = setInterval(() => {
      frame = (frame + 1) % SPINNER.length;
      ctx.io.stderr.write(`\r\x1b[2K${SPINNER[frame]} ${text}`);
    }, 80);
    timer.unref?.();
  } else {
    ctx.say(`${label}…`);
  }
  return {
    update: (p: { done: number; total: number; finished?: ProbeResult }) => {
      text = `${label}: ${p.done}/${p.total} done`;
      if (!tty && p.finished) ctx.say(`probe ${p.finished.namespace}: ${p.finished.status} (${p.done}/${p.total})`);
    },
    stop: () => {
      if (timer) {
        clearInterval(timer);
        ctx.io.stderr.write("\r\x1b[2K");
      }
    },
  };
}
