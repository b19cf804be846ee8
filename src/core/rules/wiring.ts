/**
 * How the repository volume reaches each writer: mover Jobs (admission policy, `moverVolumes`,
 * `repositoryPVC`: resolved in core/transport.ts), pods that mount the PVC, and the Kopia server in an
 * app-template HelmRelease. Shared by the path, permissions and admission rules.
 */
import { filesystemPath, isConsumer, repositoryOfSecret } from "../consumers.ts";
import { arr, get, isVolsync, type ModelObject, objectsOf, perModel, type RepoModel, rec, str } from "../model.ts";
import { claimVolumes, claimWorkloads, containersOf, type Mount, mountsOf, onVolume, type PodView } from "../pods.ts";
import { repositoryKey, volumeKey } from "../transport.ts";

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

/** A container that mounts the repository PVC, with where it mounts it. */
export interface Writer {
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

/** Containers of pods, jobs, deployments ... that mount the PVC `kopia`. */
export const podWriters = perModel((model: RepoModel): Writer[] => {
  const out: Writer[] = [];
  const claim = model.conventions.claimName;
  for (const p of claimWorkloads(model)) {
    const vols = claimVolumes(p, claim);
    for (const c of containersOf(p)) {
      const mounts: Mount[] = mountsOf(c, vols);
      if (mounts.length === 0) continue;
      out.push({
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
 * naming the PVC, mounted at `globalMounts[].path` (default /<x>) into every container.
 */
function helmWriters(model: RepoModel): Writer[] {
  const claim = model.conventions.claimName;
  const out: Writer[] = [];
  for (const hr of objectsOf(model, "HelmRelease")) {
    const values = rec(hr.body, "spec", "values");
    const persistence = rec(values, "persistence");
    if (!values || !persistence) continue;
    const mounts: { mountPath: string; subPath: string }[] = [];
    let mountKeys: (string | number)[] | undefined;
    for (const key of Object.keys(persistence)) {
      const p = persistence[key];
      if (str(p, "existingClaim") !== claim) continue;
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
    if (mounts.length === 0) continue;
    const podSecurity = rec(values, "defaultPodOptions", "securityContext");
    for (const [ctrl, cv] of Object.entries(rec(values, "controllers") ?? {})) {
      const ctrlPod = rec(cv, "pod", "securityContext");
      for (const [cname, cont] of Object.entries(rec(cv, "containers") ?? {})) {
        out.push({
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
  const storage = volumeKey({ type: "pvc", claimName: model.conventions.claimName });
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
    const dir = onVolume(abs, w.mounts);
    if (dir !== undefined) return { storage, repository: repositoryKey(storage, dir), dir };
  }
  return { storage, repository: storage, dir: undefined };
}

export type { PodView };
