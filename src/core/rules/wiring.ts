/**
 * How the repository volume reaches each writer: mover Jobs (admission policy, `moverVolumes`,
 * `repositoryPVC`), pods that mount the PVC, and the Kopia server in an app-template HelmRelease.
 * Shared by the path, permissions and admission rules.
 */
import {
  arr,
  claimVolumes,
  claimWorkloads,
  containersOf,
  get,
  isConsumer,
  isVolsync,
  type ModelObject,
  type Mount,
  mountsOf,
  moverSpec,
  moverSpecPath,
  objectsOf,
  type PodView,
  perModel,
  type RepoModel,
  rec,
  str,
} from "../model.ts";

export interface AdmissionWiring {
  policy: ModelObject;
  /** Volume name the patch adds (e.g. "repository"). */
  volume: string | undefined;
  claimName: string | undefined;
  mountPath: string | undefined;
  /** Which mover Jobs it matches. */
  sources: boolean;
  destinations: boolean;
  maintenance: boolean;
  /** A MutatingAdmissionPolicyBinding names it. */
  bound: boolean;
  /** Text of the match conditions (for the idempotency check). */
  conditions: { name: string; expression: string; index: number }[];
  /** The mount it gives movers (built on first use). */
  mount?: MoverMount;
}

function textOf(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  if (typeof v === "object")
    return Object.values(v as Record<string, unknown>)
      .map(textOf)
      .join("\n");
  return String(v);
}

const quoted = (key: string) => new RegExp(`${key}\\s*:\\s*['"]([^'"]+)['"]`);

/** Delivered MutatingAdmissionPolicies that add a PVC volume to Jobs (the Volsync <= 0.16 wiring). */
export const admissionWirings = perModel((model: RepoModel): AdmissionWiring[] => {
  const bindings = objectsOf(model, "MutatingAdmissionPolicyBinding").map((b) => str(b.body, "spec", "policyName"));
  const out: AdmissionWiring[] = [];
  const seen = new Set<string>();
  for (const p of objectsOf(model, "MutatingAdmissionPolicy")) {
    if (seen.has(p.name)) continue;
    const mutations = textOf(get(p.body, "spec", "mutations"));
    if (!/persistentVolumeClaim|claimName/.test(mutations)) continue;
    seen.add(p.name);
    const conditions = arr(p.body, "spec", "matchConditions").map((c, index) => ({
      name: str(c, "name") ?? "",
      expression: str(c, "expression") ?? "",
      index,
    }));
    const match = `${conditions.map((c) => c.expression).join("\n")}\n${textOf(get(p.body, "spec", "matchConstraints"))}`;
    const names = /volsync-src-|volsync-dst-|kopia-maint-/.test(match);
    const volumeMatch = /name\s*:\s*['"]([^'"]+)['"]\s*,?\s*persistentVolumeClaim/.exec(mutations);
    out.push({
      policy: p,
      volume: volumeMatch?.[1] ?? quoted("name").exec(mutations)?.[1],
      claimName: quoted("claimName").exec(mutations)?.[1],
      mountPath: quoted("mountPath").exec(mutations)?.[1],
      sources: !names || match.includes("volsync-src-"),
      destinations: !names || match.includes("volsync-dst-"),
      maintenance: !names || match.includes("kopia-maint-"),
      bound: bindings.includes(p.name),
      conditions,
    });
  }
  return out;
});

export interface MoverMount {
  /** Where the mover sees the volume. */
  mounts: { mountPath: string; subPath: string }[];
  how: string;
  /** Key path (in the mover object) or policy that provides the mount. */
  at: { object: ModelObject; keys: (string | number)[] };
}

const NONE: readonly unknown[] = [];

/** How the repository volume is mounted into the mover Job of a Volsync object; undefined: it is not. */
export function moverMount(model: RepoModel, o: ModelObject, wirings: AdmissionWiring[]): MoverMount | undefined {
  const claim = model.conventions.claimName;
  const spec = moverSpec(o) ?? {};
  const base = moverSpecPath(o);
  const mv: readonly unknown[] = Array.isArray(spec.moverVolumes) ? spec.moverVolumes : NONE;
  for (let i = 0; i < mv.length; i++) {
    const v = mv[i];
    if (str(v, "volumeSource", "persistentVolumeClaim", "claimName") !== claim) continue;
    const m = (str(v, "mountPath") ?? "").replace(/^\/+|\/+$/g, "");
    const mountPath = `/mnt/${m}`;
    // moverVolumes fixes where the volume is mounted (/mnt/<mountPath>), not the directory inside it:
    // KOPIA_REPOSITORY must lie under the mount, and is resolved through it like any other place.
    return {
      mounts: [{ mountPath, subPath: "" }],
      how: `moverVolumes mounts PVC ${claim} at ${mountPath}`,
      at: { object: o, keys: [...base, "moverVolumes", i, "mountPath"] },
    };
  }
  if (o.kind === "ReplicationSource" && str(spec, "repositoryPVC") === claim) {
    return {
      mounts: [{ mountPath: "/kopia", subPath: "" }],
      how: `repositoryPVC mounts PVC ${claim} at /kopia`,
      at: { object: o, keys: [...base, "repositoryPVC"] },
    };
  }
  for (const w of wirings) {
    const applies =
      (o.kind === "ReplicationSource" && w.sources) ||
      (o.kind === "ReplicationDestination" && w.destinations) ||
      (o.kind === "KopiaMaintenance" && w.maintenance);
    if (!applies || !w.mountPath || !w.bound) continue;
    // One object per policy: every mover it wires shares it (and the path lookups cached on it).
    w.mount ??= {
      mounts: [{ mountPath: w.mountPath, subPath: "" }],
      how: `MutatingAdmissionPolicy ${w.policy.name} mounts PVC ${w.claimName ?? "?"} at ${w.mountPath}`,
      at: { object: w.policy, keys: ["spec", "mutations"] },
    };
    return w.mount;
  }
  return undefined;
}

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

export type { PodView };
