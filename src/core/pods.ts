/** Pods: where workloads mount volumes and which user they run as. Pure. */
import { arr, type ModelObject, objectsOf, perModel, type RepoModel, rec, str } from "./model.ts";

export interface PodView {
  owner: ModelObject;
  /** Key path of the pod spec inside the owner. */
  path: (string | number)[];
  spec: Record<string, unknown>;
}

const POD_PATHS: Record<string, (string | number)[]> = {
  Pod: ["spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
};

export function podOf(o: ModelObject): PodView | undefined {
  const path = POD_PATHS[o.kind];
  if (!path) return undefined;
  const spec = rec(o.body, ...path);
  return spec ? { owner: o, path, spec } : undefined;
}

export interface ContainerView {
  name: string;
  path: (string | number)[];
  c: Record<string, unknown>;
}

export function containersOf(p: PodView): ContainerView[] {
  const out: ContainerView[] = [];
  for (const key of ["initContainers", "containers"]) {
    arr(p.spec, key).forEach((c, i) => {
      if (c && typeof c === "object") {
        out.push({
          name: str(c, "name") ?? `${key}[${i}]`,
          path: [...p.path, key, i],
          c: c as Record<string, unknown>,
        });
      }
    });
  }
  return out;
}

/** Names of the pod's volumes that use the PVC `claim`. */
export function claimVolumes(p: PodView, claim: string): string[] {
  return arr(p.spec, "volumes")
    .filter((v) => str(v, "persistentVolumeClaim", "claimName") === claim)
    .map((v) => str(v, "name") ?? "");
}

export interface Mount {
  mountPath: string;
  subPath: string;
  loc: (string | number)[];
}

export function mountsOf(c: ContainerView, volumes: string[]): Mount[] {
  const out: Mount[] = [];
  arr(c.c, "volumeMounts").forEach((m, i) => {
    const name = str(m, "name");
    const mountPath = str(m, "mountPath");
    if (name !== undefined && volumes.includes(name) && mountPath !== undefined) {
      out.push({ mountPath, subPath: str(m, "subPath") ?? "", loc: [...c.path, "volumeMounts", i, "mountPath"] });
    }
  });
  return out;
}

/** Every workload (pods, jobs, deployments, ...) with a pod spec. */
export const workloads = perModel((model: RepoModel): PodView[] => {
  const out: PodView[] = [];
  for (const kind of Object.keys(POD_PATHS)) {
    for (const o of objectsOf(model, kind)) {
      const p = podOf(o);
      if (p) out.push(p);
    }
  }
  return out;
});

/** Workloads (pods, jobs, deployments, ...) that mount the PVC `claim`. */
export const claimWorkloads = perModel((model: RepoModel): PodView[] =>
  workloads(model).filter((p) => claimVolumes(p, model.conventions.claimName).length > 0),
);

/** "/repository" + "repository" relative path helpers (POSIX, no trailing slash). */
export function normalizeAbs(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join("/")}`;
}

/**
 * The directory on the volume that `abs` names inside a container that mounts the volume at the given
 * mounts (longest mount first; subPath honoured). "" is the volume's root; undefined: not on the volume.
 */
export function onVolume(abs: string, mounts: { mountPath: string; subPath: string }[]): string | undefined {
  let memo = volumeMemo.get(mounts);
  if (!memo) {
    memo = new Map();
    volumeMemo.set(mounts, memo);
  }
  if (memo.has(abs)) return memo.get(abs);
  const v = onVolumeOf(abs, mounts);
  memo.set(abs, v);
  return v;
}

/** Keyed by the mounts array: callers that reuse one mounts array for many lookups get them cached. */
const volumeMemo = new WeakMap<object, Map<string, string | undefined>>();

function onVolumeOf(abs: string, mounts: { mountPath: string; subPath: string }[]): string | undefined {
  const p = normalizeAbs(abs);
  let best: { mountPath: string; subPath: string } | undefined;
  for (const m of mounts) {
    const mp = normalizeAbs(m.mountPath);
    if (p === mp || p.startsWith(mp === "/" ? "/" : `${mp}/`)) {
      if (!best || normalizeAbs(best.mountPath).length < mp.length) best = m;
    }
  }
  if (!best) return undefined;
  const mp = normalizeAbs(best.mountPath);
  const rest = p.slice(mp === "/" ? 1 : mp.length + 1);
  return normalizeAbs(`${best.subPath}/${rest}`).slice(1);
}
