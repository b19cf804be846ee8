/**
 * repository/*: the shared repository as a whole stays healthy. Repositories are the keys core/transport.ts
 * resolves consumers to (a volume and directory, an object store URL, a Kopiur repository object), whatever
 * the transport.
 */
import { moverSpec } from "../consumers.ts";
import { isKopiur, isVolsync, type ModelObject, objectsOf, type RepoModel, rec } from "../model.ts";
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

export const repositoryRules: Rule[] = [noMaintenance];
