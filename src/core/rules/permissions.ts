/**
 * permissions/*: one UID/GID writes each repository, and nothing re-owns it. Only writers of a filesystem
 * repository (a PVC or an NFS export: core/transport.ts) count; an object store has no file owners.
 */
import { consumersByNamespace } from "../consumers.ts";
import { get, isKopiur, isVolsync, type ModelObject, objectsOf, perModel, type RepoModel, rec, str } from "../model.ts";
import { int, KOPIUR_WRITERS, kopiurMoverIdentity, type MoverIdentity, volsyncMoverIdentity } from "../movers.ts";
import { onFilesystem, type Reach, reachesOf, reachOf, type Transport, volumeKey } from "../transport.ts";
import {
  FILESYSTEM,
  type Finding,
  PVC_ONLY,
  type Rule,
  type RuleContext,
  reporter,
  type Severity,
  where,
} from "./types.ts";
import { podWriters, volsyncConsumers, writerRepository } from "./wiring.ts";

/** A security context that applies to a writer of the repository. */
interface Context {
  /** Every writer this place stands for (component copies collapse into one place), in delivery order. */
  subjects: string[];
  owner: ModelObject;
  keys: (string | number)[];
  /** Where fsGroup is (the pod's security context for pods; a Kopiur Repository's moverDefaults). */
  fsOwner: ModelObject;
  fsKeys: (string | number)[];
  uid: number | undefined;
  gid: number | undefined;
  fsGroup: number | undefined;
  changePolicy: string | undefined;
  kind: "mover" | "pod";
  /** Kopiur gives each app's movers the app's identity by design: their differences weigh less. */
  kopiur: boolean;
  /** Where the UID comes from when it is not written at `keys` (a Kopiur default or moverDefaults). */
  from: string | undefined;
  /** Movers: where a fix sets the UID and GID. */
  setIn: string | undefined;
  /** The repository it writes (core/transport.ts Reach.repository) and the volume that holds it. */
  repository: string;
  storage: string;
  /** The directory on the volume is known (else it joins the largest group on the same volume). */
  dirKnown: boolean;
  transport: Transport;
  /** How many writers (mover objects, pod containers) this one place stands for. */
  writers: number;
}

/** Every writer's effective security context, each place once (with the writers it stands for). */
export function writerContexts(ctx: RuleContext): Context[] {
  return contexts(ctx.model);
}

const contexts = perModel((model): Context[] => {
  const out: Context[] = [];
  // document -> "keys uid gid fsGroup policy repository" -> context: one per place, values and repository
  // (component copies collapse, and count as writers of it).
  const seen = new Map<object, Map<string, Context>>();
  // Each place's subjects as a set too: a component copied into thousands of apps collapses into one place,
  // and a list lookup per copy would be quadratic.
  const subjectsOf = new Map<Context, Set<string>>();
  /** Counts a writer into the place it collapses into; false: the place is new (then `add` it). */
  const collapsed = (doc: object, key: string, subject: string): boolean => {
    const prev = seen.get(doc)?.get(key);
    if (!prev) return false;
    prev.writers++;
    const known = subjectsOf.get(prev) as Set<string>;
    if (!known.has(subject)) {
      known.add(subject);
      prev.subjects.push(subject);
    }
    return true;
  };
  const add = (c: Context, key: string) => {
    let inner = seen.get(c.owner.doc);
    if (!inner) {
      inner = new Map();
      seen.set(c.owner.doc, inner);
    }
    inner.set(key, c);
    subjectsOf.set(c, new Set(c.subjects));
    out.push(c);
  };
  const seedStorage = volumeKey({ type: "pvc", claimName: model.conventions.claimName });
  const addMover = (o: ModelObject, id: MoverIdentity, reach: Reach) => {
    // Unresolved in a repository with the seed's layout: taken to be the per-namespace PVC, directory unknown.
    const guessed = !reach.resolved;
    const storage = guessed ? seedStorage : reach.storage;
    const repository = guessed ? storage : reach.repository;
    const subject = `${o.kind} ${o.namespace === undefined ? "" : `${o.namespace}/`}${o.name} (mover)`;
    const key = `mover ${o.kind} ${o.doc.index} ${id.keys.join("/")} ${id.uid} ${id.gid} ${id.fsGroup} ${id.changePolicy} ${repository}`;
    // Component copies collapse into one place: build the context only for the first.
    if (collapsed(id.at.doc, key, subject)) return;
    add(
      {
        subjects: [subject],
        owner: id.at,
        keys: id.keys,
        fsOwner: id.fsAt,
        fsKeys: id.fsKeys,
        uid: id.uid,
        gid: id.gid,
        fsGroup: id.fsGroup,
        changePolicy: id.changePolicy,
        kind: "mover",
        kopiur: isKopiur(o),
        from: id.at === o && !id.from.startsWith("Kopiur") ? undefined : id.from,
        setIn: id.setIn,
        repository,
        storage,
        dirKnown: !guessed && reach.dir !== undefined,
        transport: guessed ? "pvc" : reach.transport,
        writers: 1,
      },
      key,
    );
  };
  for (const o of volsyncConsumers(model)) {
    const reach = reachOf(model, o);
    if (!onFilesystem(model, reach)) continue;
    const id = volsyncMoverIdentity(o);
    if (id) addMover(o, id, reach);
  }
  for (const o of kopiurWriters(model)) {
    for (const reach of reachesOf(model, o)) {
      // Only a delivered repository on a volume has file owners (an unresolved reference could be anything).
      if (!reach.resolved || !onFilesystem(model, reach)) continue;
      const id = kopiurMoverIdentity(o, reach.repositoryObject);
      if (id) addMover(o, id, reach);
    }
  }
  for (const w of podWriters(model)) {
    const pod = w.podSecurity ?? {};
    const own = rec(w.container, "securityContext") ?? {};
    const uid = int(own.runAsUser) ?? int(pod.runAsUser);
    const gid = int(own.runAsGroup) ?? int(pod.runAsGroup);
    const ownKeys = [...w.containerKeys, "securityContext"];
    const keys = own.runAsUser !== undefined ? ownKeys : w.podSecurity ? w.podSecurityKeys : w.containerKeys;
    const fsGroup = int(pod.fsGroup);
    const changePolicy = str(pod, "fsGroupChangePolicy");
    const repo = writerRepository(model, w);
    const key = `${keys.join("/")} ${uid} ${gid} ${fsGroup} ${changePolicy} ${repo.repository}`;
    if (collapsed(w.owner.doc, key, w.label)) continue;
    add(
      {
        subjects: [w.label],
        owner: w.owner,
        keys,
        fsOwner: w.owner,
        fsKeys: w.podSecurityKeys,
        uid,
        gid,
        fsGroup,
        changePolicy,
        kind: "pod",
        kopiur: false,
        from: undefined,
        setIn: undefined,
        repository: repo.repository,
        storage: repo.storage,
        dirKnown: repo.dir !== undefined,
        transport: w.volume.type === "nfs" ? "nfs" : "pvc",
        writers: 1,
      },
      key,
    );
  }
  return out;
});

/** Kopiur objects that run movers writing a repository: recipes and the repositories themselves (bootstrap). */
const kopiurWriters = perModel((model: RepoModel): ModelObject[] => {
  const out: ModelObject[] = [];
  for (const kind of KOPIUR_WRITERS) for (const o of objectsOf(model, kind)) if (isKopiur(o)) out.push(o);
  return out;
});

/** "A", "A and B", "A, B and C": every subject, in order. */
function subjectsText(subjects: string[]): string {
  if (subjects.length <= 1) return subjects[0] ?? "";
  return `${subjects.slice(0, -1).join(", ")} and ${subjects[subjects.length - 1]}`;
}

/**
 * The UID:GID pair the writers of one repository should share: the pair most writers use (each weighted by
 * the writers it stands for; ties: the conventions' pair, then the first). Only pairs that some writer
 * uses are candidates; without any writer stating both, the most common UID with the conventions' GID.
 */
function majorityPair(group: Context[], fallback: { uid: number; gid: number }): { uid: number; gid: number } {
  const pairs = new Map<string, { uid: number; gid: number; n: number }>();
  const uids = new Map<number, number>();
  for (const c of group) {
    if (c.uid === undefined) continue;
    uids.set(c.uid, (uids.get(c.uid) ?? 0) + c.writers);
    if (c.gid === undefined) continue;
    const key = `${c.uid}:${c.gid}`;
    const p = pairs.get(key) ?? { uid: c.uid, gid: c.gid, n: 0 };
    p.n += c.writers;
    pairs.set(key, p);
  }
  let best: { uid: number; gid: number; n: number } | undefined;
  for (const p of pairs.values()) {
    const preferred = p.uid === fallback.uid && p.gid === fallback.gid;
    if (!best || p.n > best.n || (p.n === best.n && preferred)) best = p;
  }
  if (best) return { uid: best.uid, gid: best.gid };
  let uid = fallback.uid;
  let n = -1;
  for (const [v, k] of uids) {
    if (k > n || (k === n && v === fallback.uid)) {
      uid = v;
      n = k;
    }
  }
  return { uid, gid: fallback.gid };
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

const WHY_GID =
  "Kopia creates its files and directories for their owner only (0600/0700), so writers with the same UID can read each other's files whatever their group; a different group still breaks access where the repository relies on group permissions (an NFS export shared by group)";
const WHY_NFS =
  "a writer with another UID leaves files (Kopia makes them owner-only, 0600/0700) that the others cannot read or delete, unless the NFS export maps every user to one (all_squash / Mapall User), which the repository does not say; on an export that keeps UIDs this breaks backups and maintenance";
const WHY_KOPIUR =
  "Kopiur runs each app's movers with that app's identity by design (so that they can read and restore the app's files), and real setups run many UIDs against one repository; whether the others can still read what one UID wrote depends on the volume (an NFS export that maps every user to one makes it moot). Worth knowing when a mover fails with permission denied";

/**
 * How sure a UID/GID difference is to break the repository: another UID on a volume that keeps owners
 * (CephFS) is an error; on NFS the export may map every user to one (a warning); Kopiur's per-app
 * identities weigh one step less (by design, and common in working setups); the same UID with another
 * GID is at most a warning.
 */
function uidSeverity(c: Context, otherUid: boolean, nfs: boolean): { severity?: Severity; why?: string } {
  if (c.kopiur) return { severity: otherUid && !nfs ? "warning" : "info", why: WHY_KOPIUR };
  if (!otherUid) return { severity: "warning", why: WHY_GID };
  return nfs ? { severity: "warning", why: WHY_NFS } : {};
}

export const uidMismatch: Rule = {
  meta: {
    id: "permissions/uid-mismatch",
    transports: FILESYSTEM,
    severity: "error",
    title: "writers run with different UIDs or GIDs",
    severityNote:
      "warning when only the GID differs, and on NFS (an export that maps every user to one makes UIDs moot, and the repository does not say); for Kopiur movers, which run with each app's identity by design: warning on a PVC, info on NFS",
    why: "movers, maintenance, the init Job and the Kopia server must write the repository as one UID/GID; a writer with another UID leaves files and index blobs the others cannot read or delete (the most common incident: xunholy/k8s-gitops#4291, Tanguille/cluster#3823). Writers of different repositories do not conflict; object stores have no file owners",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const groups = byRepository(writerContexts(ctx));
    const out: Finding[] = [];
    for (const group of groups) {
      const { uid, gid } = majorityPair(group, ctx.conventions);
      const repository = (group.find((c) => c.dirKnown) ?? (group[0] as Context)).repository;
      const nfs = group.some((c) => c.transport === "nfs");
      for (const c of group) {
        const diffs: string[] = [];
        const otherUid = c.uid !== undefined && c.uid !== uid;
        if (otherUid) diffs.push(`runAsUser ${c.uid} (others: ${uid})`);
        if (c.gid !== undefined && c.gid !== gid) diffs.push(`runAsGroup ${c.gid} (others: ${gid})`);
        if (diffs.length === 0) continue;
        const writers = c.writers > 1 ? ` (${c.writers} writers)` : "";
        const from = c.from ? `, from ${c.from}` : "";
        out.push(
          report(
            where(ctx, c.owner, c.keys),
            subjectsText(c.subjects),
            `${c.subjects.length > 1 ? "write" : "writes"} the repository${groups.length > 1 ? ` ${repository}` : ""} with ${diffs.join(" and ")}${from}${writers}`,
            `run it as runAsUser: ${uid}, runAsGroup: ${gid}${c.setIn ? ` (${c.setIn})` : ""}, like every other writer; then fix ownership once: chown -R ${uid}:${gid} on the repository directory${
              nfs
                ? `. On NFS fsGroup does nothing (kubelet does not re-own NFS files): if the UIDs must differ, give every writer one supplemental group (supplementalGroups: [${gid}]) and make the export group-writable with setgid (chmod -R 2775)`
                : ""
            }`,
            uidSeverity(c, otherUid, nfs),
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
    transports: FILESYSTEM,
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
          subjectsText(c.subjects),
          `${c.subjects.length > 1 ? "mount" : "mounts"} the repository but ${c.subjects.length > 1 ? "set" : "sets"} no runAsUser`,
          `set securityContext.runAsUser: ${ctx.conventions.uid} and runAsGroup: ${ctx.conventions.gid} (the movers' UID/GID)`,
        ),
      );
  },
};

export const fsGroupPolicy: Rule = {
  meta: {
    id: "permissions/fsgroup-change-policy",
    transports: PVC_ONLY,
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
          where(ctx, c.fsOwner, [...c.fsKeys, "fsGroup"]),
          subjectsText(c.subjects),
          `${c.subjects.length > 1 ? "set" : "sets"} fsGroup ${c.fsGroup} ${c.changePolicy ? `with fsGroupChangePolicy ${c.changePolicy}` : "without fsGroupChangePolicy"}`,
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
    transports: FILESYSTEM,
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
