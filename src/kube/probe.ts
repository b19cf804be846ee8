/**
 * The permission probe: in each namespace a short-lived Job mounts PVC `kopia` at the mount path,
 * runs as the mover UID/GID and creates, reads and deletes a file in the repository directory.
 * Everything it creates is labelled, bounded (activeDeadlineSeconds, ttlSecondsAfterFinished) and
 * deleted again with propagationPolicy Background: on success, on failure, on timeout and on abort.
 * Only the API calls live here; reading a probe's log into a verdict is core/probe.ts.
 */
import { randomBytes } from "node:crypto";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { type Conventions, repositoryPath } from "../core/config.ts";
import { type ProbeResult, type ProbeRun, probeFailure } from "../core/probe.ts";
import { type Kube, sleep } from "./client.ts";
import { KubeError } from "./errors.ts";

export const MANAGED_BY = "app.kubernetes.io/managed-by";
export const RUN_LABEL = "kopiashare.io/probe-run";

export interface ProbeOptions {
  namespaces: string[];
  uid: number;
  gid: number;
  timeoutMs: number;
  image: string;
  conventions: Conventions;
  /** Abort (Ctrl-C): stop waiting, clean up, report what finished. */
  signal?: AbortSignal;
  /** Called when a namespace finishes, and on every poll. */
  onProgress?(p: { done: number; total: number; finished?: ProbeResult }): void;
  /** Poll interval bounds (ms); polling starts fast and backs off. */
  pollMinMs?: number;
  pollMaxMs?: number;
}

export function probeScript(c: Conventions): string {
  const dir = repositoryPath(c);
  return [
    `d='${dir}'`,
    'echo "kopiashare probe: uid=$(id -u) gid=$(id -g)"',
    'if [ ! -d "$d" ]; then echo "MISSING $d"; exit 2; fi',
    'echo "owner of $d: uid=$(stat -c %u "$d") gid=$(stat -c %g "$d") mode=$(stat -c %a "$d")"',
    'f="$d/.kopiashare-probe-$(hostname)"',
    'if ! echo kopiashare > "$f"; then echo "CANNOT-CREATE $f"; exit 3; fi',
    'if [ "$(cat "$f")" != kopiashare ]; then echo "CANNOT-READ $f"; rm -f "$f"; exit 4; fi',
    'if ! rm "$f"; then echo "CANNOT-DELETE $f"; exit 5; fi',
    'echo "PASS"',
  ].join("\n");
}

export function probeJob(
  name: string,
  namespace: string,
  runId: string,
  opts: Pick<ProbeOptions, "uid" | "gid" | "timeoutMs" | "image" | "conventions">,
): V1Job {
  const c = opts.conventions;
  const labels = { [MANAGED_BY]: "kopiashare", "app.kubernetes.io/name": "kopiashare-probe", [RUN_LABEL]: runId };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace, labels },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 300,
      activeDeadlineSeconds: Math.max(1, Math.ceil(opts.timeoutMs / 1000)),
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          securityContext: { runAsUser: opts.uid, runAsGroup: opts.gid, runAsNonRoot: opts.uid !== 0 },
          containers: [
            {
              name: "probe",
              image: opts.image,
              command: ["sh", "-c", probeScript(c)],
              volumeMounts: [{ name: "repository", mountPath: c.mountPath }],
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
              resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } },
            },
          ],
          volumes: [{ name: "repository", persistentVolumeClaim: { claimName: c.claimName } }],
        },
      },
    },
  };
}

function finished(job: V1Job): "succeeded" | "failed" | undefined {
  const conds = job.status?.conditions ?? [];
  if ((job.status?.succeeded ?? 0) > 0 || conds.some((x) => x.type === "Complete" && x.status === "True")) {
    return "succeeded";
  }
  if ((job.status?.failed ?? 0) > 0 || conds.some((x) => x.type === "Failed" && x.status === "True")) return "failed";
  return undefined;
}

function podProblem(pod: V1Pod | undefined): string {
  if (!pod) return "no pod was created";
  const waiting = pod.status?.containerStatuses?.find((s) => s.state?.waiting)?.state?.waiting;
  if (waiting)
    return `pod ${pod.metadata?.name} is waiting: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`;
  const cond = pod.status?.conditions?.find((x) => x.type === "PodScheduled" && x.status === "False");
  if (cond) return `pod ${pod.metadata?.name} is not scheduled: ${cond.message ?? cond.reason}`;
  return `pod ${pod.metadata?.name} is ${pod.status?.phase ?? "in an unknown phase"}`;
}

export async function runProbe(kube: Kube, opts: ProbeOptions): Promise<ProbeRun> {
  const c = opts.conventions;
  const runId = randomBytes(3).toString("hex");
  const name = `kopiashare-probe-${runId}`;
  const results = new Map<string, ProbeResult>();
  const created: string[] = [];
  const run: ProbeRun = { runId, results: [], deleted: [], leftovers: [], aborted: false };
  const base = { uid: opts.uid, gid: opts.gid };
  const done = (r: ProbeResult) => {
    results.set(r.namespace, r);
    opts.onProgress?.({ done: results.size, total: opts.namespaces.length, finished: r });
  };
  const signal = opts.signal;

  try {
    // Create every Job; all creates are awaited, so cleanup knows exactly what exists.
    await Promise.all(
      opts.namespaces.map(async (ns) => {
        try {
          await kube.call({ verb: "create", resource: "jobs.batch", namespace: ns }, () =>
            kube.batch.createNamespacedJob({ namespace: ns, body: probeJob(name, ns, runId, opts) }),
          );
          created.push(ns);
        } catch (e) {
          if (!(e instanceof KubeError) || e.kind === "unreachable" || e.kind === "unauthorized") throw e;
          done({
            namespace: ns,
            job: undefined,
            status: "fail",
            ...base,
            what: `could not create the probe Job: ${e.message}`,
            fix:
              e.kind === "forbidden"
                ? `grant "create jobs.batch" in ${ns} (and get/list/delete jobs, list pods, get pods/log)`
                : `kubectl get namespace ${ns}`,
          });
        }
      }),
    );
    const deadline = Date.now() + opts.timeoutMs;
    let wait = opts.pollMinMs ?? 100;
    const pending = () => created.filter((ns) => !results.has(ns));
    // Several namespaces: one labelled list per poll; per-namespace reads when that list is forbidden.
    let clusterList = created.length > 1;
    const poll = async (): Promise<Map<string, V1Job>> => {
      const out = new Map<string, V1Job>();
      if (clusterList) {
        try {
          const list = await kube.call({ verb: "list", resource: "jobs.batch" }, () =>
            kube.batch.listJobForAllNamespaces({ labelSelector: `${RUN_LABEL}=${runId}` }),
          );
          for (const j of list.items) if (j.metadata?.namespace) out.set(j.metadata.namespace, j);
          return out;
        } catch (e) {
          if (!(e instanceof KubeError && e.kind === "forbidden")) throw e;
          clusterList = false;
        }
      }
      for (const ns of pending()) {
        out.set(
          ns,
          await kube.call({ verb: "get", resource: "jobs.batch", namespace: ns }, () =>
            kube.batch.readNamespacedJob({ name, namespace: ns }),
          ),
        );
      }
      return out;
    };
    while (pending().length > 0) {
      if (signal?.aborted) throw signal.reason;
      const jobs = await poll();
      for (const ns of pending()) {
        const job = jobs.get(ns);
        if (!job) continue;
        const state = finished(job);
        if (!state) continue;
        if (state === "succeeded") {
          done({
            namespace: ns,
            job: name,
            status: "pass",
            ...base,
            what: `UID ${opts.uid} (GID ${opts.gid}) can create, read and delete files in ${repositoryPath(c)}`,
          });
          continue;
        }
        const log = await podLog(kube, ns, name);
        const deadlineHit = job.status?.conditions?.some((x) => x.reason === "DeadlineExceeded");
        const v = probeFailure(ns, log, deadlineHit === true, opts);
        done({ namespace: ns, job: name, status: "fail", ...base, what: v.what, fix: v.fix, log });
      }
      if (pending().length === 0) break;
      opts.onProgress?.({ done: results.size, total: opts.namespaces.length });
      if (Date.now() >= deadline) {
        for (const ns of pending()) {
          const pod = await firstPod(kube, ns, name).catch(() => undefined);
          done({
            namespace: ns,
            job: name,
            status: "fail",
            ...base,
            what: `the probe did not finish within ${Math.round(opts.timeoutMs / 1000)}s: ${podProblem(pod)}`,
            fix: `kopiashare verify -n ${ns}  # is PVC ${c.claimName} Bound? then: kubectl -n ${ns} describe pod -l ${RUN_LABEL}=${runId}`,
          });
        }
        break;
      }
      await sleep(Math.min(wait, Math.max(1, deadline - Date.now())), signal);
      wait = Math.min(wait * 2, opts.pollMaxMs ?? 2000);
    }
  } catch (e) {
    if (!signal?.aborted) {
      await cleanup(kube, created, name, run);
      throw e;
    }
    run.aborted = true;
    for (const ns of opts.namespaces) {
      if (!results.has(ns)) {
        results.set(ns, {
          namespace: ns,
          job: created.includes(ns) ? name : undefined,
          status: "aborted",
          ...base,
          what: "aborted before the probe finished",
        });
      }
    }
  }
  await cleanup(kube, created, name, run);
  run.results = opts.namespaces.map((ns) => results.get(ns) as ProbeResult);
  return run;
}

async function firstPod(kube: Kube, ns: string, job: string): Promise<V1Pod | undefined> {
  const pods = await kube.call({ verb: "list", resource: "pods", namespace: ns }, () =>
    kube.core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${job}` }),
  );
  return pods.items[0];
}

async function podLog(kube: Kube, ns: string, job: string): Promise<string> {
  try {
    const pod = await firstPod(kube, ns, job);
    const name = pod?.metadata?.name;
    if (!name) return "";
    const log = await kube.call({ verb: "get", resource: "pods/log", namespace: ns }, () =>
      kube.core.readNamespacedPodLog({ name, namespace: ns }),
    );
    return typeof log === "string" ? log : String(log ?? "");
  } catch (e) {
    if (e instanceof KubeError && e.kind !== "unreachable") return `(no log: ${e.message})`;
    throw e;
  }
}

async function cleanup(kube: Kube, namespaces: string[], name: string, run: ProbeRun): Promise<void> {
  await Promise.all(
    namespaces.map(async (ns) => {
      try {
        await kube.call({ verb: "delete", resource: "jobs.batch", namespace: ns }, () =>
          kube.batch.deleteNamespacedJob({ name, namespace: ns, propagationPolicy: "Background" }),
        );
        run.deleted.push(`${ns}/${name}`);
      } catch (e) {
        if (e instanceof KubeError && e.kind === "notfound") run.deleted.push(`${ns}/${name}`);
        else run.leftovers.push(`${ns}/${name}: ${(e as Error).message}`);
      }
    }),
  );
  run.deleted.sort();
}
