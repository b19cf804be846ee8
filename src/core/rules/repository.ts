/**
 * repository/*: the shared repository as a whole stays healthy. Repositories are the keys core/transport.ts
 * resolves consumers to (a volume and directory, an object store URL, a Kopiur repository object), whatever
 * the transport.
 */
import { moverSecretName, moverSpec } from "../consumers.ts";
import { arr, isKopiur, isVolsync, type ModelObject, objectsOf, type RepoModel, rec, str } from "../model.ts";
import { type Reach, reachesOf } from "../transport.ts";
import { ALL_TRANSPORTS, type Finding, type Rule, reporter, where } from "./types.ts";
import { podWriters, writerRepository } from "./wiring.ts";

/** Consumers that write snapshots (restores and maintenance alone do not make a repository grow). */
const SNAPSHOT_WRITERS = ["ReplicationSource", "SnapshotPolicy", "SnapshotSchedule", "Snapshot"];

/** A command line that runs Kopia maintenance, or a Kopia server (which runs it when it owns the repository). */
const MAINTAINS = /\bmaintenance\s+run\b|\bserver\s+start\b/;

/** What maintains which repositories: keys, volumes (a maintainer whose directory is unknown) and wildcards. */
interface Maintainers {
  repositories: Map<string, string>;
  /**
   * Volumes a maintainer writes: every repository on them counts as maintained (a second directory on one
   * volume is a split repository, which path/mismatch reports; a maintainer whose directory is unknown may
   * be in any of them).
   */
  storages: Map<string, string>;
  /** A maintainer lint cannot place (a secret made outside Git, a ${VAR}): it may maintain anything. */
  unplaced: string | undefined;
}

function commandText(c: Record<string, unknown>): string {
  const parts: unknown[] = [c.command, c.args];
  return parts
    .flat()
    .filter((x): x is string => typeof x === "string")
    .join(" ");
}

function maintainers(model: RepoModel): Maintainers {
  const m: Maintainers = { repositories: new Map(), storages: new Map(), unplaced: undefined };
  const add = (o: ModelObject, label: string) => {
    for (const r of reachesOf(model, o)) {
      if (!r.resolved || r.repository.includes("${")) m.unplaced ??= label;
      else {
        if (!m.repositories.has(r.repository)) m.repositories.set(r.repository, label);
        // Another directory of the same volume is a second repository there: path/mismatch reports that.
        if (r.dir !== undefined && !m.storages.has(r.storage)) m.storages.set(r.storage, label);
      }
    }
  };
  for (const o of objectsOf(model, "KopiaMaintenance")) {
    if (isVolsync(o)) add(o, `KopiaMaintenance ${o.namespace ?? "?"}/${o.name}`);
  }
  for (const o of objectsOf(model, "Maintenance")) {
    if (isKopiur(o)) add(o, `Maintenance ${o.namespace ?? "?"}/${o.name}`);
  }
  // Kopiur creates and runs a Maintenance for every Repository and ClusterRepository unless told not to.
  for (const kind of ["Repository", "ClusterRepository"]) {
    for (const o of objectsOf(model, kind)) {
      if (isKopiur(o) && rec(o.body, "spec", "maintenance")?.enabled !== false) add(o, `${kind} ${o.name}`);
    }
  }
  for (const w of podWriters(model)) {
    if (!MAINTAINS.test(commandText(w.container))) continue;
    const at = writerRepository(model, w);
    m.storages.set(at.storage, w.label);
    if (at.dir !== undefined) m.repositories.set(at.repository, w.label);
  }
  return m;
}

export const noMaintenance: Rule = {
  meta: {
    id: "repository/no-maintenance",
    transports: ALL_TRANSPORTS,
    severity: "warning",
    title: "repository that nothing maintains",
    why: "Kopia compacts indexes and frees the space of expired snapshots only in maintenance, and only the repository's maintenance owner runs it automatically; Volsync movers connect under a new pod identity each run, so an owner stamped by the first mover never comes back: without a KopiaMaintenance, a Kopiur Maintenance or a job running `kopia maintenance run`, the repository grows without bound and slows down",
  },
  check(ctx) {
    const m = ctx.model;
    const report = reporter(this.meta);
    // repository key -> the snapshot writers on it (in namespace order)
    const users = new Map<string, { reach: Reach; objects: ModelObject[] }>();
    for (const kind of SNAPSHOT_WRITERS) {
      for (const o of objectsOf(m, kind)) {
        if (o.namespace === undefined || !(isKopiur(o) || (isVolsync(o) && moverSpec(o) !== undefined))) continue;
        for (const r of reachesOf(m, o)) {
          // A path on no volume (path/* reports it) or a ${VAR}: not a repository lint can name.
          if (!r.resolved || r.transport === "unknown" || r.repository.startsWith("container:")) continue;
          if (r.repository.includes("${")) continue;
          const u = users.get(r.repository);
          if (u) u.objects.push(o);
          else users.set(r.repository, { reach: r, objects: [o] });
        }
      }
    }
    if (users.size === 0) return [];
    const known = maintainers(m);
    if (known.unplaced !== undefined) return [];
    const out: Finding[] = [];
    for (const [key, { reach, objects }] of users) {
      if (known.repositories.has(key) || known.storages.has(reach.storage)) continue;
      const first = objects[0] as ModelObject;
      const names = [...new Set(objects.map((o) => `${o.kind} ${o.namespace ?? "?"}/${o.name}`))];
      const repo = reach.repositoryObject;
      const off = repo && rec(repo.body, "spec", "maintenance")?.enabled === false ? repo : undefined;
      const writers = `${names.length} snapshot writer${names.length === 1 ? "" : "s"} (${names.slice(0, 3).join(", ")}${names.length > 3 ? ", ..." : ""}) use${names.length === 1 ? "s" : ""} ${key} (${reach.via})`;
      out.push(
        off
          ? report(
              where(ctx, off, ["spec", "maintenance", "enabled"]),
              `repository ${key}`,
              `${writers}, and ${off.kind} ${off.name} turns Kopiur's maintenance off while no Maintenance names it`,
              `remove spec.maintenance.enabled: false from ${off.kind} ${off.name}, or deliver a Kopiur Maintenance naming it, unless something outside this repository runs kopia maintenance on it`,
            )
          : report(
              where(ctx, first),
              `repository ${key}`,
              `${writers}, and no KopiaMaintenance, Kopiur Maintenance or job running \`kopia maintenance run\` maintains it`,
              `deliver a KopiaMaintenance that uses the same repository secret as ${first.kind} ${first.name} (kopiashare init writes one for the repository it sets up), unless something outside this repository runs kopia maintenance on it`,
            ),
      );
    }
    return out;
  },
};

/**
 * Where a Volsync mover's KOPIA_PASSWORD comes from, as a comparable signature (never the value itself in
 * a message): a Secret's literal value, or an ExternalSecret's store, template text for the key and its
 * `data` references. Undefined when it cannot be told offline (no such object in the repository, a
 * SOPS-encrypted value).
 */
function passwordSource(model: RepoModel, o: ModelObject): { key: string; holder: ModelObject } | undefined {
  const secret = moverSecretName(o);
  if (!secret || o.namespace === undefined || secret.name.includes("${")) return undefined;
  for (const es of objectsOf(model, "ExternalSecret", o.namespace)) {
    if ((str(es.body, "spec", "target", "name") ?? es.name) !== secret.name) continue;
    const spec = rec(es.body, "spec");
    const store = `${str(spec, "secretStoreRef", "kind") ?? "SecretStore"}/${str(spec, "secretStoreRef", "name") ?? "?"}`;
    const template = str(spec, "target", "template", "data", "KOPIA_PASSWORD");
    const data = arr(spec, "data").map((d) => JSON.stringify([str(d, "secretKey"), rec(d, "remoteRef")]));
    // dataFrom is left out: which of several extracted items holds KOPIA_PASSWORD is not known offline,
    // and one extra item (an S3 key next to the password) must not make two sources look different.
    const key = JSON.stringify([store, template ?? null, data.sort()]);
    return key.includes("${") ? undefined : { key, holder: es };
  }
  for (const sec of objectsOf(model, "Secret", o.namespace)) {
    if (sec.name !== secret.name) continue;
    const value = str(sec.body, "stringData", "KOPIA_PASSWORD") ?? str(sec.body, "data", "KOPIA_PASSWORD");
    if (value === undefined || value.startsWith("ENC[") || rec(sec.body, "sops")) return undefined;
    const plain = str(sec.body, "stringData", "KOPIA_PASSWORD") ?? Buffer.from(value, "base64").toString("utf8");
    return { key: `literal:${plain}`, holder: sec };
  }
  return undefined;
}

export const passwordMismatch: Rule = {
  meta: {
    id: "repository/password-mismatch",
    transports: ALL_TRANSPORTS,
    severity: "warning",
    title: "movers of one repository read KOPIA_PASSWORD from different sources",
    why: "a Kopia repository has one password: a mover whose Secret holds another cannot open it and fails every run (or, where the repository is missing, creates a second one with its own password); different sources may hold the same value, which is why this is a warning",
  },
  check(ctx) {
    const m = ctx.model;
    const report = reporter(this.meta);
    // repository key -> password source key -> the movers reading it
    const byRepo = new Map<string, Map<string, { holder: ModelObject; users: ModelObject[] }>>();
    for (const kind of ["ReplicationSource", "ReplicationDestination", "KopiaMaintenance"]) {
      for (const o of objectsOf(m, kind)) {
        if (!isVolsync(o) || (o.kind !== "KopiaMaintenance" && moverSpec(o) === undefined)) continue;
        const r = reachesOf(m, o)[0];
        if (!r?.resolved || r.transport === "unknown" || r.repository.startsWith("container:")) continue;
        if (r.repository.includes("${")) continue;
        const src = passwordSource(m, o);
        if (!src) continue;
        let sources = byRepo.get(r.repository);
        if (!sources) {
          sources = new Map();
          byRepo.set(r.repository, sources);
        }
        const entry = sources.get(src.key);
        if (entry) entry.users.push(o);
        else sources.set(src.key, { holder: src.holder, users: [o] });
      }
    }
    const out: Finding[] = [];
    for (const [repo, sources] of byRepo) {
      if (sources.size < 2) continue;
      // The source most movers read is taken as the repository's; every other one is reported at its holder.
      const ranked = [...sources.values()].sort((a, b) => b.users.length - a.users.length);
      const main = ranked[0] as (typeof ranked)[number];
      const at = where(ctx, main.holder);
      for (const other of ranked.slice(1)) {
        const names = [...new Set(other.users.map((u) => `${u.kind} ${u.namespace ?? "?"}/${u.name}`))];
        out.push(
          report(
            where(ctx, other.holder),
            `${other.holder.kind} ${other.holder.namespace ?? "?"}/${other.holder.name}`,
            `${names.slice(0, 3).join(", ")}${names.length > 3 ? ` and ${names.length - 3} more` : ""} read KOPIA_PASSWORD for ${repo} from here, while ${main.users.length} other mover(s) read it from ${main.holder.kind} ${main.holder.namespace ?? "?"}/${main.holder.name} (${at.file}:${at.line})`,
            `read the password from the same source as the other movers of ${repo} (the same store and remote key), or make sure both hold the same value`,
          ),
        );
      }
    }
    return out;
  },
};

export const repositoryRules: Rule[] = [noMaintenance, passwordMismatch];
