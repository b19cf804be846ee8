/**
 * How the repository volume reaches each writer: mover Jobs (admission policy, `moverVolumes`,
 * `repositoryPVC`: resolved in core/transport.ts), pods that mount the PVC, and the Kopia server in an
 * app-template HelmRelease. Shared by the path, permissions and admission rules.
 */
import { consumersByNamespace, filesystemPath, isConsumer, repositoryOfSecret } from "../consumers.ts";
import {
  arr,
  get,
  isKopiur,
  isVolsync,
  type ModelObject,
  objectsOf,
  perModel,
  type RepoModel,
  rec,
  str,
} from "../model.ts";
import { containersOf, type Mount, mountsOf, normalizeAbs, onVolume, type PodView, workloads } from "../pods.ts";
import { onRepositoryVolume, reachesOf, repositoryKey, type Volume, volumeKey, volumeOfSource } from "../transport.ts";

export type { AdmissionWiring, MoverMount } from "../transport.ts";
// The wiring is resolved once, in core/transport.ts; the rules read it from here.
export { admissionWirings, moverMounts } from "../transport.ts";

/** Volsync objects using the shared repository (sources, destinations, maintenance). */
export const volsyncConsumers = perModel((model: RepoModel): ModelObject[] => {
  const out: ModelObject[] = [];
  for (const kind of ["ReplicationSource", "ReplicationDestination", "KopiaMaintenance"]) {
    for (const o of objectsOf(model, kind)) if (isVolsync(o) && isConsumer(model, o)) out.push(o);
  }
  return out;
});

/** A container that mounts the repository's volume (the PVC, or an NFS export a consumer reaches it on). */
export interface Writer {
  /** The volume it mounts: the PVC `kopia`, or the NFS export as the pod names it. */
  volume: Volume;
  owner: ModelObject;
  /** Human label: "Job volsync-system/kopia-init container kopia". */
  label: string;
  mounts: { mountPath: string; subPath: string }[];
  mountKeys: (string | number)[] | undefined;
  container: Record<string, unknown>;
  containerKeys: (string | number)[];
  /** Pod-level security context and its key path. */
  podSecurity: Record<string, unknown> | undefined;
  podSecurityKeys: (string | number)[];
}

/**
 * NFS exports some consumer's movers reach a repository on (core/transport.ts), as "server:/path". A pod
 * that mounts one of them, a directory above it or one below it (the init Job, a Kopia server) writes the
 * same files as those movers.
 */
const reachedExports = perModel((model: RepoModel): { server: string; path: string }[] => {
  const seen = new Map<string, { server: string; path: string }>();
  const add = (o: ModelObject) => {
    for (const r of reachesOf(model, o)) {
      const nfs = r.transport === "nfs" ? r.mount?.nfs : undefined;
      if (nfs && !nfs.path.includes("${")) seen.set(`${nfs.server}:${normalizeAbs(nfs.path)}`, nfs);
    }
  };
  for (const list of consumersByNamespace(model).values()) for (const o of list) add(o);
  for (const o of objectsOf(model, "ClusterRepository")) if (isKopiur(o)) add(o);
  return [...seen.values()];
});

/** Is `p` the directory `dir` or inside it (both normalised)? */
const under = (dir: string, p: string) => p === dir || p.startsWith(dir === "/" ? "/" : `${dir}/`);

/** Is `v` the repository's volume: the PVC `claim`, or NFS on (or above, or below) an export a consumer reaches? */
function repositoryVolume(model: RepoModel, v: Volume | undefined): v is Volume {
  if (!v) return false;
  if (v.type === "pvc") return v.claimName === model.conventions.claimName;
  if (v.type !== "nfs" || v.path.includes("${")) return false;
  const p = normalizeAbs(v.path);
  return reachedExports(model).some((e) => {
    if (e.server !== v.server) return false;
    const q = normalizeAbs(e.path);
    return under(p, q) || under(q, p);
  });
}

/** Containers of pods, jobs, deployments ... that mount the PVC `kopia` or an NFS export of the repository. */
export const podWriters = perModel((model: RepoModel): Writer[] => {
  const out: Writer[] = [];
  for (const p of workloads(model)) {
    // Volume name -> the repository volume it is (a pod mounts one of them; the first wins).
    const byName = new Map<string, Volume>();
    for (const v of arr(p.spec, "volumes")) {
      const volume = volumeOfSource(v);
      const name = str(v, "name");
      if (name !== undefined && repositoryVolume(model, volume)) byName.set(name, volume);
    }
    if (byName.size === 0) continue;
    const names = [...byName.keys()];
    for (const c of containersOf(p)) {
      const mounts: Mount[] = mountsOf(c, names);
      if (mounts.length === 0) continue;
      const mounted = arr(c.c, "volumeMounts").find((m) => byName.has(str(m, "name") ?? ""));
      out.push({
        volume: byName.get(str(mounted, "name") ?? "") as Volume,
        owner: p.owner,
        label: `${p.owner.kind} ${p.owner.namespace ?? "?"}/${p.owner.name} container ${c.name}`,
        mounts,
        mountKeys: mounts[0]?.loc,
        container: c.c,
        containerKeys: c.path,
        podSecurity: rec(p.spec, "securityContext"),
        podSecurityKeys: [...p.path, "securityContext"],
      });
    }
  }
  out.push(...helmWriters(model));
  return out;
});

/**
 * bjw-s app-template HelmReleases (the usual way to run a Kopia server): `persistence.<x>.existingClaim`
 * naming the PVC, or `type: nfs` with the `server` and `path` of an export the repository is on, mounted
 * at `globalMounts[].path` (default /<x>) into every container.
 */
function helmWriters(model: RepoModel): Writer[] {
  const out: Writer[] = [];
  for (const hr of objectsOf(model, "HelmRelease")) {
    const values = rec(hr.body, "spec", "values");
    const persistence = rec(values, "persistence");
    if (!values || !persistence) continue;
    const mounts: { mountPath: string; subPath: string }[] = [];
    let mountKeys: (string | number)[] | undefined;
    let volume: Volume | undefined;
    for (const key of Object.keys(persistence)) {
      const p = persistence[key];
      const claim = str(p, "existingClaim");
      const v: Volume | undefined =
        claim !== undefined
          ? { type: "pvc", claimName: claim }
          : str(p, "type") === "nfs"
            ? { type: "nfs", server: str(p, "server") ?? "?", path: str(p, "path") ?? "/" }
            : undefined;
      if (!repositoryVolume(model, v)) continue;
      volume ??= v;
      const gm = arr(p, "globalMounts");
      if (gm.length === 0) {
        mounts.push({ mountPath: `/${key}`, subPath: "" });
        mountKeys ??= ["spec", "values", "persistence", key, "existingClaim"];
      }
      gm.forEach((m, i) => {
        mounts.push({ mountPath: str(m, "path") ?? `/${key}`, subPath: str(m, "subPath") ?? "" });
        mountKeys ??= ["spec", "values", "persistence", key, "globalMounts", i, "path"];
      });
      const adv = rec(p, "advancedMounts") ?? {};
      for (const [ctrl, byContainer] of Object.entries(adv)) {
        for (const [cname, list] of Object.entries((byContainer ?? {}) as Record<string, unknown>)) {
          (Array.isArray(list) ? list : []).forEach((m, i) => {
            mounts.push({ mountPath: str(m, "path") ?? `/${key}`, subPath: str(m, "subPath") ?? "" });
            mountKeys ??= ["spec", "values", "persistence", key, "advancedMounts", ctrl, cname, i, "path"];
          });
        }
      }
    }
    if (mounts.length === 0 || !volume) continue;
    const podSecurity = rec(values, "defaultPodOptions", "securityContext");
    for (const [ctrl, cv] of Object.entries(rec(values, "controllers") ?? {})) {
      const ctrlPod = rec(cv, "pod", "securityContext");
      for (const [cname, cont] of Object.entries(rec(cv, "containers") ?? {})) {
        out.push({
          volume,
          owner: hr,
          label: `HelmRelease ${hr.namespace ?? "?"}/${hr.name} container ${ctrl}/${cname}`,
          mounts,
          mountKeys,
          container: (cont ?? {}) as Record<string, unknown>,
          containerKeys: ["spec", "values", "controllers", ctrl, "containers", cname],
          podSecurity: ctrlPod ?? podSecurity,
          podSecurityKeys: ctrlPod
            ? ["spec", "values", "controllers", ctrl, "pod", "securityContext"]
            : ["spec", "values", "defaultPodOptions", "securityContext"],
        });
      }
    }
  }
  return out;
}

/** KOPIA_REPOSITORY given directly in a container's env (list or app-template map form). */
export function envRepository(c: Record<string, unknown>): { value: string; keys: (string | number)[] } | undefined {
  const env = get(c, "env");
  if (Array.isArray(env)) {
    for (let i = 0; i < env.length; i++) {
      if (str(env[i], "name") === "KOPIA_REPOSITORY") {
        const v = str(env[i], "value");
        if (v !== undefined) return { value: v, keys: ["env", i, "value"] };
      }
    }
  } else if (env && typeof env === "object") {
    const v = (env as Record<string, unknown>).KOPIA_REPOSITORY;
    if (typeof v === "string") return { value: v, keys: ["env", "KOPIA_REPOSITORY"] };
    const vv = str(v, "value");
    if (vv !== undefined) return { value: vv, keys: ["env", "KOPIA_REPOSITORY", "value"] };
  }
  return undefined;
}

/** Secret names a container reads its whole environment from. */
export function envFromSecrets(c: Record<string, unknown>): { name: string; keys: (string | number)[] }[] {
  const out: { name: string; keys: (string | number)[] }[] = [];
  arr(c, "envFrom").forEach((e, i) => {
    const n = str(e, "secretRef", "name");
    if (n) out.push({ name: n, keys: ["envFrom", i, "secretRef", "name"] });
  });
  return out;
}

/** `--path=/x` / `--path /x` arguments in command and args (also inside shell scripts). */
export function pathArgs(c: Record<string, unknown>): { value: string; keys: (string | number)[] }[] {
  const out: { value: string; keys: (string | number)[] }[] = [];
  for (const key of ["command", "args"]) {
    const list = get(c, key);
    const items = Array.isArray(list) ? list : typeof list === "string" ? [list] : [];
    items.forEach((item, i) => {
      if (typeof item !== "string") return;
      if (item === "--path" && typeof items[i + 1] === "string") {
        out.push({ value: items[i + 1] as string, keys: [key, i + 1] });
        return;
      }
      for (const m of item.matchAll(/--path(?:=|\s+)["']?(\/[^\s"';]*)/g)) {
        out.push({ value: m[1] as string, keys: Array.isArray(list) ? [key, i] : [key] });
      }
    });
  }
  return out;
}

/** Where a pod writer's repository is: the volume's key and the directory its first repository path names on it. */
export function writerRepository(
  model: RepoModel,
  w: Writer,
): { storage: string; repository: string; dir: string | undefined } {
  const own = volumeKey(w.volume);
  const storage = onRepositoryVolume(model, own, undefined).storage;
  const paths: string[] = [];
  const env = envRepository(w.container);
  if (env) {
    const abs = filesystemPath(env.value);
    if (abs !== undefined) paths.push(abs);
  }
  for (const s of envFromSecrets(w.container)) {
    for (const r of repositoryOfSecret(model, w.owner.namespace, s.name)) {
      const abs = filesystemPath(r.url);
      if (abs !== undefined) paths.push(abs);
    }
  }
  for (const a of pathArgs(w.container)) paths.push(a.value);
  for (const abs of paths) {
    if (abs.includes("${")) continue;
    const dir = onRepositoryVolume(model, own, onVolume(abs, w.mounts)).dir;
    if (dir !== undefined) return { storage, repository: repositoryKey(storage, dir), dir };
  }
  return { storage, repository: storage, dir: undefined };
}

export type { PodView };
