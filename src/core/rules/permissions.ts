/**
 * permissions/*: one UID/GID writes each repository, and nothing re-owns it. Only writers of a filesystem
 * repository (a PVC or an NFS export: core/transport.ts) count; an object store has no file owners.
 */
import { consumersByNamespace, moverSpec } from "../consumers.ts";
import { get, isVolsync, objectsOf, perModel, rec, str } from "../model.ts";
import { onFilesystem, reachOf, type Transport, volumeKey } from "../transport.ts";
import { type Finding, type Rule, type RuleContext, reporter, where } from "./types.ts";
import { podWriters, volsyncConsumers, writerRepository } from "./wiring.ts";

/** A security context that applies to a writer of the repository. */
interface Context {
  subject: string;
  owner: { doc: { file: string; index: number; line: number } };
  keys: (string | number)[];
  /** Where fsGroup is (the pod's security context for pods). */
  fsKeys: (string | number)[];
  uid: number | undefined;
  gid: number | undefined;
  fsGroup: number | undefined;
  changePolicy: string | undefined;
  kind: "mover" | "pod";
  /** The repository it writes (core/transport.ts Reach.repository) and the volume that holds it. */
  repository: string;
  storage: string;
  /** The directory on the volume is known (else it joins the largest group on the same volume). */
  dirKnown: boolean;
  transport: Transport;
  /** How many writers (mover objects, pod containers) this one place stands for. */
  writers: number;
}

const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined;

/** Every writer's effective security context, each place once (with the number of writers it stands for). */
export function writerContexts(ctx: RuleContext): Context[] {
  return contexts(ctx.model);
}

const contexts = perModel((model): Context[] => {
  const out: Context[] = [];
  // document -> "keys uid gid fsGroup policy repository" -> context: one per place, values and repository
  // (component copies collapse, and count as writers of it).
  const seen = new Map<object, Map<string, Context>>();
  const push = (c: Context, key: string) => {
    let inner = seen.get(c.owner.doc);
    if (!inner) {
      inner = new Map();
      seen.set(c.owner.doc, inner);
    }
    const prev = inner.get(key);
    if (prev) {
      prev.writers++;
      return;
    }
    inner.set(key, c);
    out.push(c);
  };
  const MOVER_KEYS = {
    KopiaMaintenance: ["spec", "moverSecurityContext"],
    KopiaMaintenancePod: ["spec", "podSecurityContext"],
    other: ["spec", "kopia", "moverSecurityContext"],
  };
  const seedStorage = volumeKey({ type: "pvc", claimName: model.conventions.claimName });
  for (const o of volsyncConsumers(model)) {
    const reach = reachOf(model, o);
    if (!onFilesystem(model, reach)) continue;
    // KopiaMaintenance names it podSecurityContext (some forks: moverSecurityContext)
    const maint = o.kind === "KopiaMaintenance";
    const mover = rec(moverSpec(o), "moverSecurityContext");
    const sc = mover ?? (maint ? rec(moverSpec(o), "podSecurityContext") : undefined);
    if (!sc) continue;
    const uid = num(sc.runAsUser);
    const gid = num(sc.runAsGroup);
    const fsGroup = num(sc.fsGroup);
    const changePolicy = str(sc, "fsGroupChangePolicy");
    const keys = !maint ? MOVER_KEYS.other : mover ? MOVER_KEYS.KopiaMaintenance : MOVER_KEYS.KopiaMaintenancePod;
    // Unresolved in a repository with the seed's layout: taken to be the per-namespace PVC, directory unknown.
    const guessed = !reach.resolved;
    const storage = guessed ? seedStorage : reach.storage;
    push(
      {
        subject: `${o.kind} ${o.namespace ?? "?"}/${o.name} (mover)`,
        owner: o,
        keys,
        fsKeys: keys,
        uid,
        gid,
        fsGroup,
        changePolicy,
        kind: "mover",
        repository: guessed ? storage : reach.repository,
        storage,
        dirKnown: !guessed && reach.dir !== undefined,
        transport: guessed ? "pvc" : reach.transport,
        writers: 1,
      },
      `mover ${uid} ${gid} ${fsGroup} ${changePolicy} ${guessed ? storage : reach.repository}`,
    );
  }
  for (const w of podWriters(model)) {
    const pod = w.podSecurity ?? {};
    const own = rec(w.container, "securityContext") ?? {};
    const uid = num(own.runAsUser) ?? num(pod.runAsUser);
    const gid = num(own.runAsGroup) ?? num(pod.runAsGroup);
    const ownKeys = [...w.containerKeys, "securityContext"];
    const keys = own.runAsUser !== undefined ? ownKeys : w.podSecurity ? w.podSecurityKeys : w.containerKeys;
    const fsGroup = num(pod.fsGroup);
    const changePolicy = str(pod, "fsGroupChangePolicy");
    const repo = writerRepository(model, w);
    push(
      {
        subject: w.label,
        owner: w.owner,
        keys,
        fsKeys: w.podSecurityKeys,
        uid,
        gid,
        fsGroup,
        changePolicy,
        kind: "pod",
        repository: repo.repository,
        storage: repo.storage,
        dirKnown: repo.dir !== undefined,
        transport: "pvc",
        writers: 1,
      },
      `${keys.join("/")} ${uid} ${gid} ${fsGroup} ${changePolicy} ${repo.repository}`,
    );
  }
  return out;
});

/** The most common value, each value weighted by its writers. */
function majority(values: { v: number; n: number }[], fallback: number): number {
  const counts = new Map<number, number>();
  for (const { v, n } of values) counts.set(v, (counts.get(v) ?? 0) + n);
  let best = fallback;
  let n = -1;
  for (const [v, k] of counts) {
    if (k > n || (k === n && v === fallback)) {
      best = v;
      n = k;
    }
  }
  return best;
}

/**
 * Writers grouped by the repository they write: writers of different repositories never conflict. A writer
 * whose directory on the volume is unknown joins the group of its volume with the most writers.
 */
function byRepository(ctxs: Context[]): Context[][] {
  const groups = new Map<string, Context[]>();
  const add = (key: string, c: Context) => {
    const g = groups.get(key);
    if (g) g.push(c);
    else groups.set(key, [c]);
  };
  for (const c of ctxs) if (c.dirKnown) add(c.repository, c);
  const weight = (g: Context[]) => g.reduce((n, c) => n + c.writers, 0);
  for (const c of ctxs) {
    if (c.dirKnown) continue;
    let best: string | undefined;
    let size = -1;
    for (const [key, g] of groups) {
      if ((g[0] as Context).storage !== c.storage || !(g[0] as Context).dirKnown) continue;
      const w = weight(g);
      if (w > size) {
        best = key;
        size = w;
      }
    }
    add(best ?? c.repository, c);
  }
  return [...groups.values()];
}

export const uidMismatch: Rule = {
  meta: {
    id: "permissions/uid-mismatch",
    severity: "error",
    title: "writers run with different UIDs or GIDs",
    severityNote: "warning when only the GID differs",
    why: "movers, maintenance, the init Job and the Kopia server must write the repository as one UID/GID; a writer with another UID leaves files and index blobs the others cannot read or delete (the most common incident: xunholy/k8s-gitops#4291, Tanguille/cluster#3823). Writers of different repositories do not conflict; object stores have no file owners",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const groups = byRepository(writerContexts(ctx));
    const out: Finding[] = [];
    for (const group of groups) {
      const uid = majority(
        group.flatMap((c) => (c.uid !== undefined ? [{ v: c.uid, n: c.writers }] : [])),
        ctx.conventions.uid,
      );
      const gid = majority(
        group.flatMap((c) => (c.gid !== undefined ? [{ v: c.gid, n: c.writers }] : [])),
        ctx.conventions.gid,
      );
      const repository = (group.find((c) => c.dirKnown) ?? (group[0] as Context)).repository;
      const nfs = group.some((c) => c.transport === "nfs");
      for (const c of group) {
        const diffs: string[] = [];
        const otherUid = c.uid !== undefined && c.uid !== uid;
        if (otherUid) diffs.push(`runAsUser ${c.uid} (others: ${uid})`);
        if (c.gid !== undefined && c.gid !== gid) diffs.push(`runAsGroup ${c.gid} (others: ${gid})`);
        if (diffs.length === 0) continue;
        const writers = c.writers > 1 ? ` (${c.writers} writers)` : "";
        out.push(
          report(
            where(ctx, c.owner, c.keys),
            c.subject,
            `writes the repository${groups.length > 1 ? ` ${repository}` : ""} with ${diffs.join(" and ")}${writers}`,
            `run it as runAsUser: ${uid}, runAsGroup: ${gid}${c.kind === "mover" ? ` (${c.keys[c.keys.length - 1]})` : ""}, like every other writer; then fix ownership once: chown -R ${uid}:${gid} on the repository directory${
              nfs
                ? `. On NFS fsGroup does nothing (kubelet does not re-own NFS files): if the UIDs must differ, give every writer one supplemental group (supplementalGroups: [${gid}]) and make the export group-writable with setgid (chmod -R 2775)`
                : ""
            }`,
            otherUid
              ? {}
              : {
                  severity: "warning",
                  why: "Kopia creates its files and directories for their owner only (0600/0700), so writers with the same UID can read each other's files whatever their group; a different group still breaks access where the repository relies on group permissions (an NFS export shared by group)",
                },
          ),
        );
      }
    }
    return out;
  },
};

export const unsetUid: Rule = {
  meta: {
    id: "permissions/unset-uid",
    severity: "warning",
    title: "a pod writes the repository as the image's user",
    why: "a Job, server or pod that mounts the repository without runAsUser runs as whatever user its image declares (root for kopia/kopia): the files it creates are owned by that user and the unprivileged movers cannot write them",
  },
  check(ctx) {
    const report = reporter(this.meta);
    return writerContexts(ctx)
      .filter((c) => c.kind === "pod" && c.uid === undefined)
      .map((c) =>
        report(
          where(ctx, c.owner, c.keys),
          c.subject,
          "mounts the repository but sets no runAsUser",
          `set securityContext.runAsUser: ${ctx.conventions.uid} and runAsGroup: ${ctx.conventions.gid} (the movers' UID/GID)`,
        ),
      );
  },
};

export const fsGroupPolicy: Rule = {
  meta: {
    id: "permissions/fsgroup-change-policy",
    severity: "warning",
    title: "fsGroup without fsGroupChangePolicy: OnRootMismatch",
    why: "ceph-csi's CSIDriver has fsGroupPolicy: File, so kubelet re-owns every file of the volume to the fsGroup on every mount unless fsGroupChangePolicy is OnRootMismatch: slow mounts of a large repository, and ownership flapping between writers. Not reported for NFS volumes: kubelet never applies fsGroup to NFS (shared writers there need one UID or a supplemental group)",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    for (const c of writerContexts(ctx)) {
      if (c.fsGroup === undefined || c.changePolicy === "OnRootMismatch") continue;
      // Only a volume that honours fsGroup is re-owned: not NFS (inline, or an NFS export the mover mounts).
      if (c.transport === "nfs") continue;
      out.push(
        report(
          where(ctx, c.owner, [...c.fsKeys, "fsGroup"]),
          c.subject,
          `sets fsGroup ${c.fsGroup} ${c.changePolicy ? `with fsGroupChangePolicy ${c.changePolicy}` : "without fsGroupChangePolicy"}`,
          "add fsGroupChangePolicy: OnRootMismatch next to fsGroup",
        ),
      );
    }
    return out;
  },
};

export const privilegedMovers: Rule = {
  meta: {
    id: "permissions/privileged-movers",
    severity: "warning",
    title: "namespace runs privileged movers",
    why: 'with the namespace annotation volsync.backube/privileged-movers: "true" Volsync runs that namespace\'s movers as root: they create root-owned files in the shared repository that every unprivileged writer then fails on (adampetrovic/home-ops#2008)',
  },
  check(ctx) {
    const report = reporter(this.meta);
    const model = ctx.model;
    const users = consumersByNamespace(model);
    // Volsync movers (the annotation is Volsync's) that write files: root in an object store owns nothing.
    const writes = (ns: string) =>
      (users.get(ns) ?? []).some((o) => isVolsync(o) && onFilesystem(model, reachOf(model, o)));
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const ns of objectsOf(model, "Namespace")) {
      const v = get(ns.body, "metadata", "annotations", "volsync.backube/privileged-movers");
      if (v !== true && v !== "true") continue;
      if (seen.has(ns.name) || !writes(ns.name)) continue;
      seen.add(ns.name);
      out.push(
        report(
          where(ctx, ns, ["metadata", "annotations", "volsync.backube/privileged-movers"]),
          `Namespace ${ns.name}`,
          `is annotated volsync.backube/privileged-movers: "true" and its movers write the shared repository`,
          `remove the annotation and set moverSecurityContext (runAsUser: ${ctx.conventions.uid}, runAsGroup: ${ctx.conventions.gid}) on its ReplicationSources/Destinations`,
        ),
      );
    }
    return out;
  },
};

export const permissionRules: Rule[] = [uidMismatch, unsetUid, fsGroupPolicy, privilegedMovers];
