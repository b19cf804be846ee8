// A Job controller + kubelet stand-in: each created Job gets one Pod, and a pluggable runner
// decides, after a short delay, whether it succeeded and what it logged.

import type { ResourceType } from "./registry.ts";
import type { Store, StoredEvent } from "./store.ts";
import { clone, dig, isObject, type JsonObject, type KubeObject, str } from "./types.ts";

export interface JobRunContext {
  namespace: string;
  /** PVCs the pod template mounts (missing ones are left out). */
  pvcs: KubeObject[];
  /** PVs those PVCs are bound to. */
  pvs: KubeObject[];
  store: Store;
}

export interface JobResult {
  succeeded: boolean;
  logs?: string;
  /** Never completes (unless the Job has activeDeadlineSeconds). */
  hang?: boolean;
}

export type JobRunner = (job: KubeObject, ctx: JobRunContext) => JobResult | Promise<JobResult>;

/** Succeeds when every mounted PVC is Bound, otherwise hangs like an unschedulable pod. */
export const defaultJobRunner: JobRunner = (job, ctx) => {
  if (!allClaimsBound(job, ctx)) return { succeeded: false, hang: true };
  return { succeeded: true, logs: "ok\n" };
};

export function claimNamesOf(job: KubeObject): string[] {
  const volumes = dig(job, "spec", "template", "spec", "volumes");
  if (!Array.isArray(volumes)) return [];
  return volumes.map((v) => str(dig(v, "persistentVolumeClaim", "claimName"))).filter((n): n is string => !!n);
}

function allClaimsBound(job: KubeObject, ctx: JobRunContext): boolean {
  const names = claimNamesOf(job);
  return ctx.pvcs.length === names.length && ctx.pvcs.every((c) => str(dig(c, "status", "phase")) === "Bound");
}

const now = () => `${new Date().toISOString().slice(0, 19)}Z`;

export interface JobControllerOptions {
  delayMs: number;
  deadlineMsPerSecond: number;
  runner: () => JobRunner;
}

export class JobController {
  private readonly store: Store;
  private readonly opts: JobControllerOptions;
  private readonly jobType: ResourceType;
  private readonly podType: ResourceType;
  private readonly logs = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(store: Store, opts: JobControllerOptions) {
    this.store = store;
    this.opts = opts;
    this.jobType = store.registry.resolve("jobs.batch");
    this.podType = store.registry.resolve("pods");
    store.addController((ev) => this.onEvent(ev));
  }

  /** Logs of a pod, or undefined when the runner has not finished it. */
  podLogs(namespace: string, pod: string): string | undefined {
    return this.logs.get(`${namespace}/${pod}`);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private onEvent(ev: StoredEvent): void {
    if (ev.resource !== this.jobType || ev.type !== "ADDED") return;
    if (ev.object.status && isObject(ev.object.status) && Object.keys(ev.object.status).length > 0) return;
    this.start(ev.object);
  }

  private later(ms: number, fn: () => void | Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) void fn();
    }, ms);
    this.timers.add(t);
  }

  private start(job: KubeObject): void {
    const ns = job.metadata.namespace ?? "default";
    const jobName = job.metadata.name ?? "";
    const uid = job.metadata.uid ?? "";
    this.setJobStatus(job, { active: 1, ready: 0, startTime: now(), uncountedTerminatedPods: {} });
    const template = dig(job, "spec", "template");
    const podSpec = clone(isObject(template) && isObject(template.spec) ? template.spec : { containers: [] });
    const templateLabels = dig(template, "metadata", "labels");
    const pod = this.store.createTyped(this.podType, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `${jobName}-${this.store.randomSuffix()}`,
        namespace: ns,
        labels: {
          ...(isObject(templateLabels) ? (templateLabels as Record<string, string>) : {}),
          "batch.kubernetes.io/controller-uid": uid,
          "batch.kubernetes.io/job-name": jobName,
          "controller-uid": uid,
          "job-name": jobName,
        },
        ownerReferences: [
          { apiVersion: "batch/v1", kind: "Job", name: jobName, uid, controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: podSpec,
      status: { phase: "Pending", conditions: [], containerStatuses: this.containerStatuses(podSpec, "waiting") },
    });
    this.later(this.opts.delayMs, () => this.run(job, pod));
  }

  private async run(job: KubeObject, pod: KubeObject): Promise<void> {
    const ns = job.metadata.namespace ?? "default";
    const ctx = this.context(job);
    let result: JobResult;
    try {
      result = await this.opts.runner()(clone(job), ctx);
    } catch (e) {
      result = { succeeded: false, logs: `kube-sim: job runner threw: ${(e as Error).message}\n` };
    }
    if (this.closed || !this.alive(job)) return;
    const podName = pod.metadata.name ?? "";
    if (result.hang) {
      if (allClaimsBound(job, ctx)) this.setPodPhase(pod, "Running");
      else this.markUnschedulable(pod);
      const deadline = Number(dig(job, "spec", "activeDeadlineSeconds"));
      if (Number.isFinite(deadline) && deadline > 0) {
        this.later(deadline * this.opts.deadlineMsPerSecond, () => {
          if (!this.alive(job)) return;
          this.setPodPhase(pod, "Failed", "DeadlineExceeded");
          this.finish(job, false, "DeadlineExceeded", "Job was active longer than specified deadline");
        });
      }
      return;
    }
    this.logs.set(`${ns}/${podName}`, result.logs ?? "");
    this.setPodPhase(pod, result.succeeded ? "Succeeded" : "Failed");
    if (result.succeeded) this.finish(job, true, "CompletionsReached", "Reached expected number of succeeded pods");
    else this.finish(job, false, "BackoffLimitExceeded", "Job has reached the specified backoff limit");
  }

  private context(job: KubeObject): JobRunContext {
    const ns = job.metadata.namespace ?? "default";
    const pvcs = claimNamesOf(job)
      .map((n) => this.store.get("persistentvolumeclaims", n, ns))
      .filter((c): c is KubeObject => !!c);
    const pvs = pvcs
      .map((c) => str(dig(c, "spec", "volumeName")))
      .map((n) => (n ? this.store.get("persistentvolumes", n) : undefined))
      .filter((v): v is KubeObject => !!v);
    return { namespace: ns, pvcs, pvs, store: this.store };
  }

  private alive(job: KubeObject): boolean {
    const cur = this.store.raw(this.jobType, job.metadata.name ?? "", job.metadata.namespace);
    return !!cur && cur.metadata.uid === job.metadata.uid && !isFinished(cur);
  }

  private finish(job: KubeObject, ok: boolean, reason: string, message: string): void {
    const cur = this.store.raw(this.jobType, job.metadata.name ?? "", job.metadata.namespace);
    if (!cur) return;
    const ts = now();
    const cond = (type: string) => ({
      type,
      status: "True",
      lastProbeTime: ts,
      lastTransitionTime: ts,
      reason,
      message,
    });
    const prev = isObject(cur.status) ? cur.status : {};
    const status: JsonObject = { ...prev, active: undefined, ready: 0, terminating: 0 };
    if (ok) {
      status.succeeded = 1;
      status.completionTime = ts;
      status.conditions = [cond("SuccessCriteriaMet"), cond("Complete")];
    } else {
      status.failed = 1;
      status.conditions = [cond("FailureTarget"), cond("Failed")];
    }
    this.setJobStatus(cur, status);
  }

  private setJobStatus(job: KubeObject, status: JsonObject): void {
    this.store.updateTyped(this.jobType, { ...job, status }, { subresource: "status" });
  }

  private containerStatuses(
    podSpec: JsonObject,
    state: "waiting" | "running" | "terminated",
    exitCode = 0,
    reason?: string,
  ) {
    const containers = Array.isArray(podSpec.containers) ? podSpec.containers : [];
    return containers.map((c) => {
      const name = str(dig(c, "name")) ?? "";
      const image = str(dig(c, "image")) ?? "";
      const st =
        state === "waiting"
          ? { waiting: { reason: "ContainerCreating" } }
          : state === "running"
            ? { running: { startedAt: now() } }
            : {
                terminated: {
                  exitCode,
                  reason: reason ?? (exitCode === 0 ? "Completed" : "Error"),
                  startedAt: now(),
                  finishedAt: now(),
                },
              };
      return { name, image, ready: state === "running", restartCount: 0, started: state === "running", state: st };
    });
  }

  private setPodPhase(pod: KubeObject, phase: "Running" | "Succeeded" | "Failed", reason?: string): void {
    const cur = this.store.raw(this.podType, pod.metadata.name ?? "", pod.metadata.namespace);
    if (!cur) return;
    const spec = isObject(cur.spec) ? cur.spec : {};
    const next = clone(cur);
    const state = phase === "Running" ? "running" : "terminated";
    next.status = {
      phase,
      startTime: now(),
      conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: now() }],
      containerStatuses: this.containerStatuses(spec, state, phase === "Failed" ? 1 : 0, reason),
    };
    if (reason) (next.status as JsonObject).reason = reason;
    this.store.updateTyped(this.podType, next, { subresource: "status" });
  }

  private markUnschedulable(pod: KubeObject): void {
    const cur = this.store.raw(this.podType, pod.metadata.name ?? "", pod.metadata.namespace);
    if (!cur) return;
    const next = clone(cur);
    next.status = {
      ...(isObject(cur.status) ? cur.status : {}),
      phase: "Pending",
      conditions: [
        {
          type: "PodScheduled",
          status: "False",
          lastTransitionTime: now(),
          reason: "Unschedulable",
          message:
            "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        },
      ],
    };
    this.store.updateTyped(this.podType, next, { subresource: "status" });
  }
}

function isFinished(job: KubeObject): boolean {
  const conds = dig(job, "status", "conditions");
  return (
    Array.isArray(conds) &&
    conds.some((c) => (dig(c, "type") === "Complete" || dig(c, "type") === "Failed") && dig(c, "status") === "True")
  );
}
