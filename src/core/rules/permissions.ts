/** permissions/*: one UID/GID writes the repository, and nothing re-owns it. */
import { consumersByNamespace, get, moverSpec, objectsOf, perModel, rec, str } from "../model.ts";
import { type Finding, type Rule, type RuleContext, reporter, where } from "./types.ts";
import { podWriters, volsyncConsumers } from "./wiring.ts";

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
}

const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined;

/** Every writer's effective security context, each place once. */
export function writerContexts(ctx: RuleContext): Context[] {
  return contexts(ctx.model);
}

const contexts = perModel((model): Context[] => {
  const out: Context[] = [];
  // document -> "keys uid gid fsGroup policy": one context per place and values (component copies collapse)
  const seen = new Map<object, Set<string>>();
  const push = (c: Context) => {
    let inner = seen.get(c.owner.doc);
    if (!inner) {
      inner = new Set();
      seen.set(c.owner.doc, inner);
    }
    const key = `${c.keys.join("/")} ${c.uid} ${c.gid} ${c.fsGroup} ${c.changePolicy}`;
    if (inner.has(key)) return;
    inner.add(key);
    out.push(c);
  };
  const MOVER_KEYS = {
    KopiaMaintenance: ["spec", "moverSecurityContext"],
    KopiaMaintenancePod: ["spec", "podSecurityContext"],
    other: ["spec", "kopia", "moverSecurityContext"],
  };
  for (const o of volsyncConsumers(model)) {
    // KopiaMaintenance names it podSecurityContext (some forks: moverSecurityContext)
    const maint = o.kind === "KopiaMaintenance";
    const mover = rec(moverSpec(o), "moverSecurityContext");
    const sc = mover ?? (maint ? rec(moverSpec(o), "podSecurityContext") : undefined);
    if (!sc) continue;
    const uid = num(sc.runAsUser);
    const gid = num(sc.runAsGroup);
    const fsGroup = num(sc.fsGroup);
    const changePolicy = str(sc, "fsGroupChangePolicy");
    let inner = seen.get(o.doc);
    if (!inner) {
      inner = new Set();
      seen.set(o.doc, inner);
    }
    const key = `mover ${uid} ${gid} ${fsGroup} ${changePolicy}`;
    if (inner.has(key)) continue;
    inner.add(key);
    const keys = !maint ? MOVER_KEYS.other : mover ? MOVER_KEYS.KopiaMaintenance : MOVER_KEYS.KopiaMaintenancePod;
    out.push({
      subject: `${o.kind} ${o.namespace ?? "?"}/${o.name} (mover)`,
      owner: o,
      keys,
      fsKeys: keys,
      uid,
      gid,
      fsGroup,
      changePolicy,
      kind: "mover",
    });
  }
  for (const w of podWriters(model)) {
    const pod = w.podSecurity ?? {};
    const own = rec(w.container, "securityContext") ?? {};
    const uid = num(own.runAsUser) ?? num(pod.runAsUser);
    const gid = num(own.runAsGroup) ?? num(pod.runAsGroup);
    const ownKeys = [...w.containerKeys, "securityContext"];
    push({
      subject: w.label,
      owner: w.owner,
      keys: own.runAsUser !== undefined ? ownKeys : w.podSecurity ? w.podSecurityKeys : w.containerKeys,
      fsKeys: w.podSecurityKeys,
      uid,
      gid,
      fsGroup: num(pod.fsGroup),
      changePolicy: str(pod, "fsGroupChangePolicy"),
      kind: "pod",
    });
  }
  return out;
});

function majority(values: number[], fallback: number): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
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

export const uidMismatch: Rule = {
  meta: {
    id: "permissions/uid-mismatch",
    severity: "error",
    title: "writers run with different UIDs or GIDs",
    why: "movers, maintenance, the init Job and the Kopia server must write the repository as one UID/GID; a writer with another UID leaves files and index blobs the others cannot read or delete (the most common incident: xunholy/k8s-gitops#4291, Tanguille/cluster#3823)",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const ctxs = writerContexts(ctx);
    const uid = majority(
      ctxs.flatMap((c) => (c.uid !== undefined ? [c.uid] : [])),
      ctx.conventions.uid,
    );
    const gid = majority(
      ctxs.flatMap((c) => (c.gid !== undefined ? [c.gid] : [])),
      ctx.conventions.gid,
    );
    const out: Finding[] = [];
    for (const c of ctxs) {
      const diffs: string[] = [];
      if (c.uid !== undefined && c.uid !== uid) diffs.push(`runAsUser ${c.uid} (others: ${uid})`);
      if (c.gid !== undefined && c.gid !== gid) diffs.push(`runAsGroup ${c.gid} (others: ${gid})`);
      if (diffs.length === 0) continue;
      out.push(
        report(
          where(ctx, c.owner, c.keys),
          c.subject,
          `writes the repository with ${diffs.join(" and ")}`,
          `run it as runAsUser: ${uid}, runAsGroup: ${gid}${c.kind === "mover" ? ` (${c.keys[c.keys.length - 1]})` : ""}, like every other writer; then fix ownership once: chown -R ${uid}:${gid} on the repository directory`,
        ),
      );
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
    why: "ceph-csi's CSIDriver has fsGroupPolicy: File, so kubelet re-owns every file of the volume to the fsGroup on every mount unless fsGroupChangePolicy is OnRootMismatch: slow mounts of a large repository, and ownership flapping between writers",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    for (const c of writerContexts(ctx)) {
      if (c.fsGroup === undefined || c.changePolicy === "OnRootMismatch") continue;
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
    const users = consumersByNamespace(ctx.model);
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const ns of objectsOf(ctx.model, "Namespace")) {
      const v = get(ns.body, "metadata", "annotations", "volsync.backube/privileged-movers");
      if (v !== true && v !== "true") continue;
      if ((users.get(ns.name)?.length ?? 0) === 0 || seen.has(ns.name)) continue;
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
