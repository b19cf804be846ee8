/**
 * identity/*: restores find the snapshots their sources wrote, and no two sources share one identity.
 * Identities live in one repository: they are compared per repository (core/transport.ts), whatever the
 * transport (PVC, NFS or object store).
 */
import { moverSpec } from "../consumers.ts";
import { isKopiur, isVolsync, type ModelObject, objectsOf, perModel, type RepoModel, rec, str } from "../model.ts";
import { reachOf } from "../transport.ts";
import { ALL_TRANSPORTS, type Finding, type Rule, type RuleContext, reporter, where } from "./types.ts";

export const USERNAME_MAX = 50;

/**
 * The Kopia username the Volsync fork derives from a name: characters outside [A-Za-z0-9._-]
 * become '-', cut at 50 characters. The hostname is the namespace: identity `<user>@<namespace>:/data`.
 */
export function kopiaUsername(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, USERNAME_MAX);
}

const usernames = new Map<string, string>();

function username(name: string): string {
  let u = usernames.get(name);
  if (u === undefined) {
    u = kopiaUsername(name);
    if (usernames.size < 100_000) usernames.set(name, u);
  }
  return u;
}

export function sourceIdentity(rs: ModelObject): string {
  const kopia = rec(rs.body, "spec", "kopia");
  const user = str(kopia, "username") ?? username(rs.name);
  const host = str(kopia, "hostname") ?? rs.namespace ?? "";
  return `${user}@${host}`;
}

/** A Volsync object with a kopia mover (whatever its repository's transport). */
function kopiaMover(o: ModelObject): boolean {
  return isVolsync(o) && moverSpec(o) !== undefined;
}

/**
 * The repository a source or destination uses; undefined when lint cannot tell (unresolved, or a path on no
 * volume, which path/* reports): such a one matches any repository.
 */
function repositoryOf(model: RepoModel, o: ModelObject): string | undefined {
  const r = reachOf(model, o);
  return !r.resolved || r.repository.startsWith("container:") ? undefined : r.repository;
}

interface Written {
  source: ModelObject;
  repository: string | undefined;
}

/** Every Volsync kopia ReplicationSource, once per namespace/name, with its identity and repository. */
const sourcesOf = perModel((model: RepoModel) => {
  const seen = new Set<string>();
  const list: ModelObject[] = [];
  const byIdentity = new Map<string, Written[]>();
  for (const o of objectsOf(model, "ReplicationSource")) {
    if (!kopiaMover(o)) continue;
    const key = `${o.namespace ?? ""}/${o.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    list.push(o);
    const id = sourceIdentity(o);
    const w = { source: o, repository: repositoryOf(model, o) };
    const prev = byIdentity.get(id);
    if (prev) prev.push(w);
    else byIdentity.set(id, [w]);
  }
  return { list, byIdentity };
});

/** The source that writes identity `id` into `repository` (undefined: any repository). */
function writerOf(model: RepoModel, id: string, repository: string | undefined): Written | undefined {
  const all = sourcesOf(model).byIdentity.get(id);
  if (!all) return undefined;
  return all.find((w) => repository === undefined || w.repository === undefined || w.repository === repository);
}

function sources(ctx: RuleContext): ModelObject[] {
  return sourcesOf(ctx.model).list;
}

/** sourceIdentity of a destination: sourceName, sourceNamespace (default: its own), and the raw map. */
function wanted(rd: ModelObject): { name: string | undefined; ns: string | undefined; nsSet: boolean } {
  const si = rec(rd.body, "spec", "kopia", "sourceIdentity");
  const ns = str(si, "sourceNamespace");
  return { name: str(si, "sourceName"), ns: ns ?? rd.namespace, nsSet: ns !== undefined };
}

const SI = ["spec", "kopia", "sourceIdentity"];
const SOURCE_NAMESPACE = [...SI, "sourceNamespace"].join("/");

export const noSource: Rule = {
  meta: {
    id: "identity/no-source",
    transports: ALL_TRANSPORTS,
    severity: "error",
    title: "restore looks for a source that does not exist",
    why: "a ReplicationDestination restores the snapshots of identity <sourceName>@<sourceNamespace>:/data (sourceNamespace defaults to its own namespace); when no ReplicationSource writes that identity the restore finds nothing, or another app's data",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const { byIdentity } = sourcesOf(ctx.model);
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const rd of objectsOf(ctx.model, "ReplicationDestination")) {
      const w = wanted(rd);
      const name = w.name;
      if (name === undefined || name.includes("${") || !kopiaMover(rd)) continue;
      const ns = w.ns ?? "";
      if (ns.includes("${")) continue;
      const id = `${username(name)}@${ns}`;
      const repository = repositoryOf(ctx.model, rd);
      if (writerOf(ctx.model, id, repository)) continue;
      // The identity exists, but in another repository than the one this destination reads.
      const elsewhere = byIdentity.get(id)?.[0];
      const nsSet = w.nsSet;
      const loc = where(ctx, rd, nsSet ? [...SI, "sourceNamespace"] : [...SI, "sourceName"]);
      const key = `${loc.file}:${loc.line}:${id}:${rd.namespace}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const defaulted = explainDefault(rd);
      const here = sources(ctx).find((s) => s.namespace === rd.namespace && s.name === name);
      out.push(
        report(
          loc,
          `ReplicationDestination ${rd.namespace ?? "?"}/${rd.name}`,
          elsewhere
            ? `looks for snapshots of ${id}:/data in ${repository}, but ReplicationSource ${elsewhere.source.namespace ?? "?"}/${elsewhere.source.name} writes that identity to ${elsewhere.repository}`
            : `looks for snapshots of ${id}:/data, but no ReplicationSource writes that identity${defaulted ? `; ${defaulted}` : ""}`,
          elsewhere
            ? `give the destination the source's repository secret (spec.kopia.repository), so both use ${elsewhere.repository}`
            : here
              ? `the source is ${sourceIdentity(here)}: remove sourceNamespace (it defaults to the destination's namespace) or set it to ${here.namespace}`
              : nsSet
                ? `set sourceIdentity.sourceName/sourceNamespace to an existing ReplicationSource (remove sourceNamespace to use ${rd.namespace ?? "the destination's namespace"})`
                : `set sourceIdentity.sourceName to the ReplicationSource's name in ${ns}`,
        ),
      );
    }
    out.push(...kopiurRestores(ctx, report));
    return out;
  },
};

/**
 * Kopiur Restores that restore "from policy" name a SnapshotPolicy of their own namespace; when none is
 * delivered there the restore has no snapshots to find (with `onMissingSnapshot: Continue`, the app comes up
 * empty without a word).
 */
function kopiurRestores(ctx: RuleContext, report: ReturnType<typeof reporter>): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const r of objectsOf(ctx.model, "Restore")) {
    const policy = str(r.body, "spec", "source", "fromPolicy", "name");
    if (!isKopiur(r) || policy === undefined || policy.includes("${") || r.namespace === undefined) continue;
    if (objectsOf(ctx.model, "SnapshotPolicy", r.namespace).some((p) => p.name === policy && isKopiur(p))) continue;
    const loc = where(ctx, r, ["spec", "source", "fromPolicy", "name"]);
    const key = `${loc.file}:${loc.line}:${r.namespace}/${policy}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const elsewhere = objectsOf(ctx.model, "SnapshotPolicy").find((p) => p.name === policy && isKopiur(p));
    out.push(
      report(
        loc,
        `Restore ${r.namespace}/${r.name}`,
        `restores from SnapshotPolicy ${policy}, which nothing delivers into ${r.namespace}${elsewhere ? ` (one is delivered into ${elsewhere.namespace ?? "?"})` : ""}${str(r.body, "spec", "policy", "onMissingSnapshot") === "Continue" ? ": with onMissingSnapshot: Continue the volume comes up empty" : ""}`,
        `name the SnapshotPolicy that backs up this app in ${r.namespace} (spec.source.fromPolicy.name), or deliver it with the Restore`,
        {
          why: "a Kopiur Restore from policy finds the snapshots of a SnapshotPolicy in its own namespace; when that policy does not exist it finds none, and with onMissingSnapshot: Continue the app starts on an empty volume",
        },
      ),
    );
  }
  return out;
}

/** "`${NAMESPACE:-default}` took its default ..." when sourceNamespace came from a default of an unset variable. */
function explainDefault(rd: ModelObject): string | undefined {
  const occ = rd.vars.find((v) => {
    if (v.use.how !== "default") return false;
    // Only a path that ends as this one can join to it: join only those (asked for every default of every copy).
    const last = v.path[v.path.length - 1];
    return typeof last === "string" && SOURCE_NAMESPACE.endsWith(last) && v.path.join("/") === SOURCE_NAMESPACE;
  });
  if (!occ) return undefined;
  return `sourceNamespace ${occ.use.expr} took its default "${occ.use.value}" because ${occ.use.name} is not set by ${rd.via ?? "the Kustomization"}`;
}

export const defaultedNamespace: Rule = {
  meta: {
    id: "identity/defaulted-namespace",
    transports: ALL_TRANSPORTS,
    severity: "warning",
    title: "sourceNamespace comes from the default of an unset variable",
    why: "the origin wrote sourceNamespace: ${NAMESPACE:-default} and never set NAMESPACE, so every restore outside `default` looked for another namespace's snapshots; when such a source happens to exist the restore silently brings back the wrong data",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const rd of objectsOf(ctx.model, "ReplicationDestination")) {
      if (rd.vars.length === 0) continue;
      const why = explainDefault(rd);
      if (!why) continue;
      const w = wanted(rd);
      const ns = w.nsSet ? w.ns : undefined;
      const name = w.name;
      if (ns === undefined || name === undefined || ns === rd.namespace) continue;
      if (!writerOf(ctx.model, `${username(name)}@${ns}`, repositoryOf(ctx.model, rd))) continue; // identity/no-source reports it
      const loc = where(ctx, rd, [...SI, "sourceNamespace"]);
      const key = `${loc.file}:${loc.line}:${rd.namespace}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(
        report(
          loc,
          `ReplicationDestination ${rd.namespace ?? "?"}/${rd.name}`,
          `restores ${name}@${ns} although it runs in ${rd.namespace ?? "?"}: ${why}`,
          `remove sourceNamespace (it defaults to ${rd.namespace ?? "the destination's namespace"}), or set the variable in postBuild.substitute`,
        ),
      );
    }
    return out;
  },
};

export const collision: Rule = {
  meta: {
    id: "identity/collision",
    transports: ALL_TRANSPORTS,
    severity: "error",
    title: "two sources write one snapshot identity",
    why: "in one shared repository the snapshot identity is <username>@<namespace>:/data, the username being the ReplicationSource name sanitised and cut at 50 characters; two sources with the same identity in the same repository interleave their snapshots and retention deletes each other's",
  },
  check(ctx) {
    const report = reporter(this.meta);
    // Per repository: two sources with one identity in different repositories never meet.
    const first = new Map<string, ModelObject>();
    const out: Finding[] = [];
    for (const rs of sources(ctx)) {
      const id = sourceIdentity(rs);
      const key = `${repositoryOf(ctx.model, rs) ?? ""}\0${id}`;
      const f = first.get(key);
      if (!f) {
        first.set(key, rs);
        continue;
      }
      out.push(
        report(
          where(ctx, rs, ["metadata", "name"]),
          `ReplicationSource ${rs.namespace ?? "?"}/${rs.name}`,
          `writes snapshots as ${id}:/data, like ReplicationSource ${f.namespace ?? "?"}/${f.name} (${f.doc.file}:${f.doc.line})`,
          rs.name.length > USERNAME_MAX
            ? `shorten the name so the first ${USERNAME_MAX} characters differ, or set spec.kopia.username`
            : "rename one source, or give it its own spec.kopia.username",
        ),
      );
    }
    return out;
  },
};

export const identityRules: Rule[] = [noSource, defaultedNamespace, collision];
