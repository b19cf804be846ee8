import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { Command, Option } from "@commander-js/extra-typings";
import { load as loadYaml } from "js-yaml";
import type { Ctx } from "../cli.ts";
import { type Conventions, DEFAULTS, parseConventions } from "../core/config.ts";
import { OPT_IN } from "../core/names.ts";
import { CliError, EXIT_UNCHECKED, usageError } from "../errors.ts";
import { parseDuration } from "../kube/duration.ts";
import { checkKubeFlags, contextOption, kubeconfigOption, requestTimeoutOption, withKube } from "./kube-common.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;

export function controllerCommand(ctx: Ctx) {
  return new Command("controller")
    .description(
      "run in the cluster: keep every consuming namespace's PV and PVC kopia right (watches, leader election, metrics)",
    )
    .addOption(kubeconfigOption())
    .addOption(contextOption())
    .addOption(requestTimeoutOption())
    .option(
      "--config <file>",
      "conventions (a kopiashare.yaml, e.g. mounted from a ConfigMap); default: the built-in ones",
    )
    .option("--repository <name>", `the value of the ${OPT_IN} label that opts a namespace in`, "kopia")
    .option(
      "--repository-pv <name>",
      "the repository PV (default: the one doctor finds, kopia-repository-pv-<repository namespace> first)",
    )
    .option("--adopt", "take over PVs/PVCs made by hand (never those Flux delivers)", false)
    .option("--dry-run", "log what would be written; write nothing", false)
    .option("--workers <n>", "namespaces reconciled in parallel", "16")
    .option("--no-leader-elect", "act without a lease (one replica only)")
    .option("--lease-namespace <ns>", "namespace of the Lease (default: POD_NAMESPACE, else default)")
    .option("--lease-name <name>", "name of the Lease", "kopiashare-controller")
    .option("--lease-duration <duration>", "how long a lease holds without renewal", "15s")
    .option("--renew-deadline <duration>", "the leader gives up when it cannot renew for this long", "10s")
    .option("--retry-period <duration>", "how often the lease is renewed or tried", "2s")
    .option("--startup-timeout <duration>", "how long a busy or unreachable API server may delay the start", "60s")
    .option("--health-port <port>", "port of /healthz, /readyz and /metrics (0: any free port; -1: none)", "8080")
    .addOption(new Option("--log-level <level>", "least level logged").choices(LEVELS).default("info" as const))
    .addHelpText(
      "after",
      `
Examples:
  kopiashare controller --dry-run --no-leader-elect    # from a laptop: log what it would do
  kubectl label namespace media ${OPT_IN}=kopia       # opt a namespace in (or give it a consumer)
  kopiashare init --controller                         # write its Deployment, RBAC and policy into the repo

A namespace is managed when it carries ${OPT_IN}=<--repository>, or when a Volsync/Kopiur consumer in it
reaches the repository through the PVC (the resolution lint uses). For each one the controller applies
the PV kopia-repository-pv-<ns> and the PVC kopia that enable would write (server-side apply, field
manager kopiashare-controller, label app.kubernetes.io/managed-by=kopiashare-controller); objects Flux
delivers are left to Flux, others only with --adopt. When a namespace stops consuming or is deleted:
its PVC first, then its PV once no claim is left, only a Retain PV, never the repository PV. A PV
Released with a stale claimRef.uid is released again. Logs are JSON lines on stderr.

Exit codes: 0 stopped by SIGTERM/SIGINT, 2 usage error, 3 the cluster could not be read at start
(401/403 at once; a busy or unreachable server after --startup-timeout).
Docs: docs/commands.md#controller`,
    )
    .action((opts) =>
      withKube(async () => {
        checkKubeFlags(opts);
        const workers = Number(opts.workers);
        if (!Number.isInteger(workers) || workers < 1 || workers > 256)
          throw usageError(`--workers ${opts.workers}: a whole number from 1 to 256`);
        const port = Number(opts.healthPort);
        if (!Number.isInteger(port) || port < -1 || port > 65535)
          throw usageError(`--health-port ${opts.healthPort}: a port number, 0 (any) or -1 (none)`);
        const leaseDurationMs = parseDuration(opts.leaseDuration, "--lease-duration");
        const renewDeadlineMs = parseDuration(opts.renewDeadline, "--renew-deadline");
        const retryPeriodMs = parseDuration(opts.retryPeriod, "--retry-period");
        // client-go's constraints: a renew can be retried before the deadline, and the deadline ends before the lease.
        if (!(retryPeriodMs > 0 && 1.2 * retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs))
          throw usageError(
            `--retry-period x 1.2 (${opts.retryPeriod}) < --renew-deadline (${opts.renewDeadline}) < --lease-duration (${opts.leaseDuration}) must hold`,
          );
        const startupTimeoutMs = parseDuration(opts.startupTimeout, "--startup-timeout");
        const conventions = opts.config ? readConventions(path.resolve(ctx.io.cwd, opts.config)) : DEFAULTS;
        const env = ctx.io.env;
        const identity = env.POD_NAME || `${hostname()}_${process.pid}`;
        const [{ openRest }, { runController }, { jsonLog }] = await Promise.all([
          import("../kube/rest.ts"),
          import("../controller/run.ts"),
          import("../controller/log.ts"),
        ]);
        const log = jsonLog((line) => ctx.io.stderr.write(line), opts.logLevel);
        const stop = new AbortController();
        const rest = await openRest({
          kubeconfig: opts.kubeconfig ? path.resolve(ctx.io.cwd, opts.kubeconfig) : undefined,
          context: opts.context,
          env,
          timeoutMs: parseDuration(opts.requestTimeout, "--request-timeout"),
          userAgent: "kopiashare-controller",
        });
        const onSignal = (sig: NodeJS.Signals) => {
          log("info", `received ${sig}`);
          stop.abort();
        };
        process.once("SIGTERM", onSignal);
        process.once("SIGINT", onSignal);
        try {
          let running: Awaited<ReturnType<typeof runController>>;
          try {
            running = await runController(
              rest,
              {
                conventions,
                repository: opts.repository,
                repositoryPv: opts.repositoryPv,
                adopt: opts.adopt,
                dryRun: opts.dryRun,
                workers,
                identity,
                leaderElect: opts.leaderElect,
                leaseNamespace: opts.leaseNamespace ?? env.POD_NAMESPACE ?? "default",
                leaseName: opts.leaseName,
                leaseDurationMs,
                renewDeadlineMs,
                retryPeriodMs,
                port,
                startupTimeoutMs,
              },
              log,
              stop.signal,
            );
          } catch (e) {
            const err = e as { name?: string; message?: string };
            if (err.name === "KubeError" || err.name === "RestError")
              throw new CliError(`could not start: ${err.message}`, EXIT_UNCHECKED);
            throw e;
          }
          await running.done;
        } finally {
          process.off("SIGTERM", onSignal);
          process.off("SIGINT", onSignal);
        }
      }),
    );
}

function readConventions(file: string): Conventions {
  let raw: unknown;
  try {
    raw = loadYaml(readFileSync(file, "utf8"));
  } catch (e) {
    throw usageError(`--config ${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  try {
    return parseConventions(raw, file);
  } catch (e) {
    throw usageError((e as Error).message);
  }
}
