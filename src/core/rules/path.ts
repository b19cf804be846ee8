/**
 * path/*: every place that names the Kopia repository resolves to one directory of the volume that holds
 * it. Applies to filesystem repositories on a PVC or an inline NFS volume (core/transport.ts); object
 * stores name no path.
 */

import { kopiurClaimName } from "../config.ts";
import { filesystemPath, moverSecretName, repositoryOfMover, repositoryOfSecret } from "../consumers.ts";
import { isKopiur, type ModelObject, objectsOf, str } from "../model.ts";
import { normalizeAbs, onVolume } from "../pods.ts";
import { type MoverMount, mountHolding, onRepositoryVolume, reachesOf, volumeKey } from "../transport.ts";
import {
  type At,
  atKey,
  FILESYSTEM,
  type Finding,
  type Rule,
  type RuleContext,
  reporter,
  resolve,
  where,
} from "./types.ts";
import {
  admissionWirings,
  envFromSecrets,
  envRepository,
  moverMounts,
  pathArgs,
  podWriters,
  volsyncConsumers,
} from "./wiring.ts";

/** One place that names the repository. */
export interface Place {
  at: At;
  subject: string;
  /** Who reads the repository from this place (a component's secret serves every app's movers): the first few. */
  users: User[];
  /** How many read it in all. */
  userCount: number;
  /** The path as the container sees it, e.g. "/repository/repository". */
  abs: string;
  /** Directory on the volume ("" is its root); undefined: not on the volume at all. */
  dir: string | undefined;
  /** The volume the place is resolved on (core/transport.ts volumeKey): places on different volumes are not compared. */
  storage: string;
  /** How the volume is mounted there, for messages. */
  how: string;
  /** A Kopiur repository: the repository is the root of what it mounts, `path` only says where. */
  kopiur?: boolean;
}

type User = ModelObject | string;

const label = (u: User) => (typeof u === "string" ? u : `${u.kind} ${u.namespace ?? "?"}/${u.name}`);

function usedBy(p: Place): string {
  const shown = p.users.map(label).join(", ");
  return p.userCount > p.users.length ? `${shown} and ${p.userCount - p.users.length} more` : shown;
}

const show = (dir: string | undefined) =>
  dir === undefined
    ? "no directory of the shared volume"
    : dir === ""
      ? "the volume's root"
      : `"${dir}/" on the volume`;

/** Every place that names the repository, each once (component copies collapse onto their file line). */
export function repositoryPlaces(ctx: RuleContext): Place[] {
  const model = ctx.model;
  const places: Place[] = [];
  // doc -> "keys\0abs\0dir" -> place; the inner key is built only once per document copy shape.
  const byDoc = new Map<object, Map<string, Place>>();
  const add = (given: Omit<Place, "users" | "userCount">, user?: User) => {
    // A claim whose PV mounts a directory of the repository's volume (Kopiur's): places on it are that directory.
    const on = onRepositoryVolume(model, given.storage, given.dir);
    const p = on.storage === given.storage ? given : { ...given, storage: on.storage, dir: on.dir };
    let inner = byDoc.get(p.at.doc);
    if (!inner) {
      inner = new Map();
      byDoc.set(p.at.doc, inner);
    }
    const key = `${p.at.keys.join("/")}\0${p.abs}\0${p.dir ?? "\u0000"}\0${p.storage}`;
    const prev = inner.get(key);
    if (prev) {
      if (user && !prev.users.includes(user)) {
        prev.userCount++;
        if (prev.users.length < 3) prev.users.push(user);
      }
      return;
    }
    const place: Place = { ...p, users: user ? [user] : [], userCount: user ? 1 : 0 };
    inner.set(key, place);
    places.push(place);
  };
  for (const o of volsyncConsumers(model)) {
    const mounts = moverMounts(model, o);
    if (mounts.length === 0) continue; // path/not-mounted reports it
    const secret = moverSecretName(o);
    if (!secret) continue;
    for (const r of repositoryOfMover(model, o)) {
      const abs = filesystemPath(r.url);
      if (abs === undefined || r.url.includes("${")) continue;
      // Any volume mounted where the path points holds the repository; none: the first one was meant.
      const held = mountHolding(mounts, abs);
      const m: MoverMount = held?.mount ?? (mounts[0] as MoverMount);
      add(
        {
          at: { doc: r.holder.doc, keys: r.path },
          subject: `${r.holder.kind} ${r.holder.namespace ?? "?"}/${r.holder.name}`,
          abs,
          dir: held?.dir,
          how: m.how,
          storage: volumeKey(m.volume),
        },
        o,
      );
    }
  }
  // Kopiur mounts a filesystem repository's volume at the backend's `path` and keeps the repository at the
  // root of what it mounts: its place is the volume's root, whatever `path` says.
  for (const kind of ["ClusterRepository", "Repository"]) {
    for (const o of objectsOf(model, kind)) {
      if (!isKopiur(o)) continue;
      const path = str(o.body, "spec", "backend", "filesystem", "path");
      const r = reachesOf(model, o)[0];
      if (path === undefined || !r?.mount || r.dir === undefined || !r.resolved) continue;
      const mounted =
        r.mount.claimName !== undefined
          ? `PVC ${r.mount.claimName}`
          : r.mount.nfs
            ? `NFS ${r.mount.nfs.server}:${r.mount.nfs.path}`
            : r.storage;
      // The mount's own volume; add() moves it onto the repository's volume when its PV's root is a directory of it.
      const own =
        r.mount.claimName !== undefined ? volumeKey({ type: "pvc", claimName: r.mount.claimName }) : r.storage;
      add({
        at: { doc: o.doc, keys: ["spec", "backend", "filesystem", "path"] },
        subject: `${kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}`,
        abs: path,
        dir: "",
        how: `Kopiur mounts ${mounted} at ${path} and keeps the repository at its root`,
        storage: own,
        kopiur: true,
      });
    }
  }
  for (const w of podWriters(model)) {
    const podStorage = volumeKey(w.volume);
    const how = `${w.label} mounts it at ${w.mounts.map((m) => (m.subPath ? `${m.mountPath} (subPath ${m.subPath})` : m.mountPath)).join(", ")}`;
    const env = envRepository(w.container);
    const refs: { abs: string; at: At; subject: string; user?: string }[] = [];
    if (env) {
      const abs = filesystemPath(env.value);
      if (abs !== undefined && !env.value.includes("${")) {
        refs.push({ abs, at: { doc: w.owner.doc, keys: [...w.containerKeys, ...env.keys] }, subject: w.label });
      }
    }
    for (const s of envFromSecrets(w.container)) {
      for (const r of repositoryOfSecret(model, w.owner.namespace, s.name)) {
        const abs = filesystemPath(r.url);
        if (abs === undefined || r.url.includes("${")) continue;
        refs.push({
          abs,
          at: { doc: r.holder.doc, keys: r.path },
          subject: `${r.holder.kind} ${r.holder.namespace ?? "?"}/${r.holder.name}`,
          user: w.label,
        });
      }
    }
    for (const a of pathArgs(w.container)) {
      if (a.value.includes("${")) continue;
      refs.push({ abs: a.value, at: { doc: w.owner.doc, keys: [...w.containerKeys, ...a.keys] }, subject: w.label });
    }
    for (const r of refs)
      add(
        { at: r.at, subject: r.subject, abs: r.abs, dir: onVolume(r.abs, w.mounts), how, storage: podStorage },
        r.user,
      );
  }
  return places;
}

export const mismatch: Rule = {
  meta: {
    id: "path/mismatch",
    transports: FILESYSTEM,
    severity: "error",
    title: "places name different repository directories",
    why: "the Kopia mover connects to KOPIA_REPOSITORY and, when nothing is there, creates a new empty repository: a path that differs in one place silently splits backups into two repositories (the seed's origin had /kopia/repository, /repository/repository and /repository)",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const places = repositoryPlaces(ctx);
    if (places.length === 0) return [];
    const c = ctx.conventions;
    const convention = normalizeAbs(c.repositoryDir).slice(1);
    const seedStorage = volumeKey({ type: "pvc", claimName: c.claimName });
    // One volume, one repository directory: places on different volumes (an NFS export and the PVC) are
    // different repositories, not a mismatch.
    const byStorage = new Map<string, Place[]>();
    for (const p of places) {
      const list = byStorage.get(p.storage);
      if (list) list.push(p);
      else byStorage.set(p.storage, [p]);
    }
    const out: Finding[] = [];
    for (const [storage, group] of byStorage) {
      const counts = new Map<string, number>();
      for (const p of group) if (p.dir !== undefined) counts.set(p.dir, (counts.get(p.dir) ?? 0) + 1);
      if (counts.size <= 1 && group.every((p) => p.dir !== undefined)) continue;
      const preferred = storage === seedStorage ? convention : undefined;
      let expected = preferred ?? "";
      let best = -1;
      for (const [dir, n] of counts) {
        if (n > best || (n === best && dir === preferred)) {
          best = n;
          expected = dir;
        }
      }
      const agreeing = group.filter((p) => p.dir === expected);
      const example = agreeing[0] ? resolve(ctx, agreeing[0].at) : undefined;
      for (const p of group) {
        if (p.dir === expected) continue;
        const mountOf = p.how.replace(/^.* at /, "");
        out.push(
          report(
            resolve(ctx, p.at),
            p.userCount > 0 ? `${p.subject} (used by ${usedBy(p)})` : p.subject,
            `"${p.abs}" is ${show(p.dir)} (${p.how}), but ${agreeing.length} other place${agreeing.length === 1 ? "" : "s"} use ${show(expected)}${example ? ` (e.g. ${example.file}:${example.line})` : ""}`,
            p.kopiur
              ? `Kopiur cannot use a subdirectory of what it mounts: give its movers a volume whose root is ${show(expected)} (a static PV whose rootPath is the subvolume's path plus /${expected}: \`kopiashare init --mover kopiur\` and \`migrate --to kopiur\` write one per namespace, PVC ${kopiurClaimName(ctx.conventions)}), or keep the repository at the volume's root for every writer`
              : p.dir === undefined
                ? `use a path under the mount point (${mountOf}), i.e. the directory ${show(expected)}`
                : expected === ""
                  ? "point it at the volume's root: the mount point itself"
                  : `point it at ${show(expected)}: the mount point plus /${expected}`,
          ),
        );
      }
    }
    return out;
  },
};

export const notMounted: Rule = {
  meta: {
    id: "path/not-mounted",
    transports: FILESYSTEM,
    severity: "error",
    title: "mover without the repository volume",
    why: "a Volsync kopia mover whose KOPIA_REPOSITORY is a filesystem path but whose Job gets no volume (the PVC or an NFS export) creates a fresh repository inside the container on every run: backups that vanish with the pod",
  },
  check(ctx) {
    if (ctx.conventions.mover === "kopiur") return [];
    const report = reporter(this.meta);
    const model = ctx.model;
    const wirings = admissionWirings(model);
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const o of volsyncConsumers(model)) {
      // Any volume counts (PVC, NFS, ...): path/mismatch checks that the path lies on it.
      if (moverMounts(model, o).length > 0) continue;
      const secret = moverSecretName(o);
      if (!secret) continue;
      const refs = repositoryOfMover(model, o).filter((r) => filesystemPath(r.url) !== undefined);
      if (refs.length === 0) continue;
      const key = atKey({ doc: o.doc, keys: secret.path }, o.kind);
      if (seen.has(key)) continue;
      seen.add(key);
      const loc = where(ctx, o, secret.path);
      const unbound = wirings.find((w) => !w.bound);
      out.push(
        report(
          loc,
          `${o.kind} ${o.namespace ?? "?"}/${o.name}`,
          `its repository is ${refs[0]?.url} but no volume is mounted into its mover Job (no moverVolumes, repositoryPVC or bound admission policy gives it PVC ${ctx.conventions.claimName} or an NFS export)${unbound ? `; MutatingAdmissionPolicy ${unbound.policy.name} has no binding` : ""}`,
          ctx.conventions.mover === "volsync-0.17"
            ? `add moverVolumes: [{mountPath: repository, volumeSource: {persistentVolumeClaim: {claimName: ${ctx.conventions.claimName}}}}]`
            : "deliver the MutatingAdmissionPolicy (and its binding) that mounts the PVC into volsync-src-*/volsync-dst-*/kopia-maint-* Jobs, or use moverVolumes (Volsync >= 0.17)",
        ),
      );
    }
    return out;
  },
};

export const pathRules: Rule[] = [mismatch, notMounted];
