/**
 * The graph `kopiashare graph` draws: repository → transport → namespaces → consumers, made from the one
 * resolution of core/transport.ts (reachesOf), with the lint findings at error and warning attached to the
 * node they are about. Pure: reads the model and the findings; ordering is stable (sorted by key, never by
 * delivery order), so the same repository always gives the same graph.
 */
import { repositoryPairs } from "../claims.ts";
import { repositoryOfMover } from "../consumers.ts";
import { isClusterScoped, isKopiur, isVolsync, type ModelObject, type RepoModel } from "../model.ts";
import { KOPIUR_WRITERS, kopiurMoverIdentity, type MoverIdentity, volsyncMoverIdentity } from "../movers.ts";
import type { Finding } from "../rules/types.ts";
import { moverMounts, type Reach, reachesOf, type Transport } from "../transport.ts";

export interface Problem {
  rule: string;
  severity: "error" | "warning";
  file: string;
  line: number;
  subject: string;
  what: string;
}

export interface ObjectRef {
  kind: string;
  name: string;
  namespace?: string;
  file: string;
  line: number;
}

export interface ConsumerNode extends ObjectRef {
  namespace: string;
  /** Where the repository is on the volume, as the mover sees it ("/kopia/store"); filesystem transports. */
  path?: string;
  /** Who the mover runs as; absent for objects that run no mover (SnapshotSchedule) or when not known. */
  runsAs?: { uid?: number; gid?: number; fsGroup?: number };
  problems: Problem[];
}

export interface NamespaceNode {
  name: string;
  /** pvc transport: the namespace's claim and the PV it binds ("-" when not declared). */
  claim?: { pvc: string; pv: string; file?: string; line?: number };
  problems: Problem[];
  consumers: ConsumerNode[];
}

export interface TransportNode {
  transport: Transport;
  /** How the consumers below get the repository: "admission policy <name>", "moverVolumes", ... */
  via: string;
  /** The volume ("PVC kopia", "NFS nas.lan:/export") for filesystem transports. */
  volume?: string;
  /** Where movers mount it. */
  mountPath?: string;
  /** The object that provides it (an admission policy, a Kopiur repository), when one does. */
  object?: ObjectRef;
  problems: Problem[];
  namespaces: NamespaceNode[];
}

export interface RepositoryNode {
  /** core/transport.ts Reach.repository: consumers with one key write one repository. */
  key: string;
  transport: Transport;
  /** false: the key rests on data the repository does not hold (see core/transport.ts "unknown"). */
  resolved: boolean;
  transports: TransportNode[];
}

export interface Graph {
  /** Drawn from a cluster (`graph --live`): objects have no file, and nothing was linted. */
  live?: { server: string; unreadSecrets: string[] };
  repositories: RepositoryNode[];
  /** Error and warning findings that concern no node of the graph (a Flux Kustomization, a YAML file). */
  other: Problem[];
  summary: { repositories: number; namespaces: number; consumers: number; errors: number; warnings: number };
}

/** Order of consumer kinds of one name (an app's): backups, restores, maintenance; Volsync before Kopiur. */
const KIND_ORDER = [
  "ReplicationSource",
  "ReplicationDestination",
  "KopiaMaintenance",
  "SnapshotPolicy",
  "SnapshotSchedule",
  "Snapshot",
  "Restore",
  "Maintenance",
  "RepositoryReplication",
];

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const kindRank = (k: string) => {
  const i = KIND_ORDER.indexOf(k);
  return i === -1 ? KIND_ORDER.length : i;
};

/** The objects drawn as consumers: Volsync kopia movers and maintenance, namespaced Kopiur objects but Repository. */
function isGraphConsumer(o: ModelObject): boolean {
  if (o.namespace === undefined) return false;
  if (isVolsync(o)) {
    if (o.kind === "KopiaMaintenance") return true;
    if (o.kind !== "ReplicationSource" && o.kind !== "ReplicationDestination") return false;
    const spec = o.body.spec;
    return spec !== null && typeof spec === "object" && "kopia" in (spec as Record<string, unknown>);
  }
  return isKopiur(o) && !isClusterScoped(o.kind) && o.kind !== "Repository";
}

function refOf(o: ModelObject): ObjectRef {
  return {
    kind: o.kind,
    name: o.name,
    ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    file: o.doc.file,
    line: o.doc.line,
  };
}

function identityOf(o: ModelObject, reach: Reach): MoverIdentity | undefined {
  if (isVolsync(o)) return volsyncMoverIdentity(o);
  if (!KOPIUR_WRITERS.has(o.kind)) return undefined;
  return kopiurMoverIdentity(o, reach.repositoryObject);
}

function volumeText(reach: Reach): string | undefined {
  const m = reach.mount;
  if (!m) return undefined;
  if (m.claimName !== undefined) return `PVC ${m.claimName}`;
  if (m.nfs) return `NFS ${m.nfs.server}:${m.nfs.path}`;
  return undefined;
}

const docKey = (file: string, index: number) => `${file}\0${index}`;

type Target =
  | { kind: "consumer"; node: ConsumerNode }
  | { kind: "namespace"; node: NamespaceNode }
  | {
      kind: "transport";
      node: TransportNode;
    };

/** Namespace of a target (for narrowing a finding on a shared document to the copy its subject names). */
function nsOfTarget(t: Target): string | undefined {
  if (t.kind === "consumer") return t.node.namespace;
  if (t.kind === "namespace") return t.node.name;
  return undefined;
}

function problemOf(f: Finding): Problem {
  return {
    rule: f.rule,
    severity: f.severity as "error" | "warning",
    file: f.file,
    line: f.line,
    subject: f.subject,
    what: f.what,
  };
}

const SEVERITY_RANK = { error: 0, warning: 1 } as const;

function sortProblems(list: Problem[]): void {
  list.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      cmp(a.rule, b.rule) ||
      cmp(a.file, b.file) ||
      a.line - b.line ||
      cmp(a.subject, b.subject) ||
      cmp(a.what, b.what),
  );
}

/**
 * Builds the graph. `findings` are lint's (any severity; info is left out). A finding is attached to the
 * node whose object's document holds its file:line (a consumer, the Secret a Volsync consumer reads, a
 * namespace's PV or PVC, the admission policy or Kopiur repository that provides a transport); when that
 * document is shared by several namespaces (a kustomize Component), to the copies whose namespace its
 * subject names. A finding about a namespace ("namespace media") goes to that namespace. Anything else is
 * listed under `other`.
 */
export function buildGraph(model: RepoModel, findings: readonly Finding[], live?: Graph["live"]): Graph {
  const repos = new Map<string, RepositoryNode>();
  const transports = new Map<string, TransportNode>();
  const namespaces = new Map<string, NamespaceNode>();
  const seen = new Set<string>();
  const byDoc = new Map<string, Target[]>();
  const addTarget = (file: string, index: number, t: Target) => {
    const k = docKey(file, index);
    const list = byDoc.get(k);
    if (list) {
      if (!list.some((x) => x.node === t.node)) list.push(t);
    } else byDoc.set(k, [t]);
  };
  const pairs = new Map(repositoryPairs(model).map((p) => [p.namespace, p]));

  for (const o of model.objects) {
    if (!isGraphConsumer(o)) continue;
    const ns = o.namespace as string;
    const id = `${o.kind}\0${ns}\0${o.name}`;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const reach of reachesOf(model, o)) {
      let repo = repos.get(reach.repository);
      if (!repo) {
        repo = { key: reach.repository, transport: reach.transport, resolved: reach.resolved, transports: [] };
        repos.set(reach.repository, repo);
      }
      const volume = volumeText(reach);
      // A Volsync object store is named in each app's own Secret: one transport node for all of them.
      const via =
        reach.transport === "object" && reach.via.startsWith("secret ")
          ? "KOPIA_REPOSITORY of the movers' secrets"
          : reach.via;
      const mountPath = reach.mount?.mountPath;
      const tKey = `${reach.repository}\0${reach.transport}\0${via}\0${volume ?? ""}\0${mountPath ?? ""}`;
      let t = transports.get(tKey);
      if (!t) {
        t = {
          transport: reach.transport,
          via,
          ...(volume !== undefined ? { volume } : {}),
          ...(mountPath !== undefined ? { mountPath } : {}),
          problems: [],
          namespaces: [],
        };
        const provider =
          reach.repositoryObject ??
          (isVolsync(o) ? moverMounts(model, o).find((m) => m.via === reach.via)?.at.object : undefined);
        if (provider && provider !== o) {
          t.object = refOf(provider);
          addTarget(provider.doc.file, provider.doc.index, { kind: "transport", node: t });
        }
        transports.set(tKey, t);
        repo.transports.push(t);
      }
      const nKey = `${tKey}\0${ns}`;
      let n = namespaces.get(nKey);
      if (!n) {
        n = { name: ns, problems: [], consumers: [] };
        if (reach.transport === "pvc") {
          const p = pairs.get(ns);
          const claimName = reach.mount?.claimName ?? model.conventions.claimName;
          const pvcName = p?.pvc?.name ?? "-";
          n.claim = {
            pvc: p?.pvc ? pvcName : `${claimName} (not declared)`,
            pv: p?.pv?.name ?? "-",
            ...(p?.pvc ? { file: p.pvc.doc.file, line: p.pvc.doc.line } : {}),
          };
          for (const x of [p?.pvc, p?.pv]) if (x) addTarget(x.doc.file, x.doc.index, { kind: "namespace", node: n });
        }
        namespaces.set(nKey, n);
        t.namespaces.push(n);
      }
      const who = identityOf(o, reach);
      const runsAs =
        who && (who.uid !== undefined || who.gid !== undefined || who.fsGroup !== undefined)
          ? {
              ...(who.uid !== undefined ? { uid: who.uid } : {}),
              ...(who.gid !== undefined ? { gid: who.gid } : {}),
              ...(who.fsGroup !== undefined ? { fsGroup: who.fsGroup } : {}),
            }
          : undefined;
      const path =
        reach.dir !== undefined && reach.mount
          ? `${reach.mount.mountPath.replace(/\/+$/, "")}${reach.dir === "" ? "" : `/${reach.dir}`}` || "/"
          : undefined;
      const c: ConsumerNode = {
        ...refOf(o),
        namespace: ns,
        ...(path !== undefined ? { path } : {}),
        ...(runsAs ? { runsAs } : {}),
        problems: [],
      };
      n.consumers.push(c);
      addTarget(o.doc.file, o.doc.index, { kind: "consumer", node: c });
      if (isVolsync(o)) {
        for (const ref of repositoryOfMover(model, o)) {
          addTarget(ref.holder.doc.file, ref.holder.doc.index, { kind: "consumer", node: c });
        }
      }
    }
  }

  // Where each document of each file starts, to find the document that holds a finding's line.
  const starts = new Map<string, { line: number; index: number }[]>();
  const known = new Set<string>();
  for (const o of model.objects) {
    const k = docKey(o.doc.file, o.doc.index);
    if (known.has(k)) continue;
    known.add(k);
    const list = starts.get(o.doc.file) ?? [];
    list.push({ line: o.doc.line, index: o.doc.index });
    starts.set(o.doc.file, list);
  }
  for (const list of starts.values()) list.sort((a, b) => a.line - b.line);
  const nsByName = new Map<string, NamespaceNode[]>();
  for (const n of namespaces.values()) nsByName.set(n.name, [...(nsByName.get(n.name) ?? []), n]);

  const other: Problem[] = [];
  let errors = 0;
  let warnings = 0;
  for (const f of findings) {
    if (f.severity === "info") continue;
    if (f.severity === "error") errors++;
    else warnings++;
    const p = problemOf(f);
    let targets: Target[] = [];
    const docs = starts.get(f.file) ?? [];
    let at: { line: number; index: number } | undefined;
    for (const d of docs) if (d.line <= f.line) at = d;
    if (at) targets = byDoc.get(docKey(f.file, at.index)) ?? [];
    if (targets.length > 1) {
      const named = targets.filter((t) => {
        const ns = nsOfTarget(t);
        return ns !== undefined && (f.subject.includes(`${ns}/`) || f.subject === `namespace ${ns}`);
      });
      if (named.length > 0) targets = named;
    }
    if (targets.length === 0) {
      const ns = /^namespace (\S+)$/.exec(f.subject)?.[1];
      if (ns !== undefined) targets = (nsByName.get(ns) ?? []).map((node) => ({ kind: "namespace", node }));
    }
    if (targets.length === 0) other.push(p);
    for (const t of targets) t.node.problems.push(p);
  }

  const out = [...repos.values()].sort((a, b) => cmp(a.key, b.key));
  for (const r of out) {
    r.transports.sort(
      (a, b) =>
        cmp(a.transport, b.transport) ||
        cmp(a.via, b.via) ||
        cmp(a.volume ?? "", b.volume ?? "") ||
        cmp(a.mountPath ?? "", b.mountPath ?? ""),
    );
    for (const t of r.transports) {
      sortProblems(t.problems);
      t.namespaces.sort((a, b) => cmp(a.name, b.name));
      for (const n of t.namespaces) {
        sortProblems(n.problems);
        n.consumers.sort((a, b) => cmp(a.name, b.name) || kindRank(a.kind) - kindRank(b.kind) || cmp(a.kind, b.kind));
        for (const c of n.consumers) sortProblems(c.problems);
      }
    }
  }
  sortProblems(other);
  return {
    ...(live ? { live } : {}),
    repositories: out,
    other,
    summary: { repositories: out.length, namespaces: nsByName.size, consumers: seen.size, errors, warnings },
  };
}
