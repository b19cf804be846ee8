/** delivery/*: Flux actually applies the PV, the PVC and every consumer, in an order that works. */
import { concernsBackups, stopsBackups } from "../backups.ts";
import { repositoryPairs } from "../claims.ts";
import { consumersByNamespace, isConsumer } from "../consumers.ts";
import {
  arr,
  type FluxKs,
  type KustomizeDir,
  kustomizationById,
  type ModelObject,
  objectsOf,
  type PathRef,
} from "../model.ts";
import { claimWorkloads } from "../pods.ts";
import { claimNeeded, reachesOf } from "../transport.ts";
import { ALL_TRANSPORTS, type Finding, PVC_ONLY, type Rule, reporter, where } from "./types.ts";

const BUILTIN = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);

export const notApplied: Rule = {
  meta: {
    id: "delivery/not-applied",
    transports: ALL_TRANSPORTS,
    severity: "warning",
    title: "Flux Kustomization that nothing applies",
    why: "a ks.yaml only takes effect when a kustomization.yaml that Flux applies lists it; otherwise its PV, PVC or app never reach the cluster",
    severityNote:
      "info when it would deliver nothing of the backup system; silent in dot-folders and when its entry is commented out",
  },
  check(ctx) {
    const m = ctx.model;
    if (m.mode !== "flux" || m.roots === "none") return [];
    const report = reporter(this.meta);
    const out: Finding[] = [];
    for (const ks of m.kustomizations) {
      if (ks.reachable || ks.excluded || ks.external) continue;
      const file = ks.doc.file;
      const { entry, up } = missingEntry(m.kustomizeDirs, file);
      const backups = ks.wouldApply.some((o) => concernsBackups(m, o));
      out.push(
        report(
          where(ctx, ks),
          `Kustomization ${ks.id}`,
          ks.parent
            ? `is listed by ${ks.parent}, which is itself not applied`
            : `${file} is not listed by any kustomization.yaml that Flux applies`,
          ks.parent
            ? `make ${ks.parent} reachable from the cluster's root Kustomization`
            : `add "${entry}" to the resources of ${up === "" ? "" : `${up}/`}kustomization.yaml (or comment it out there to say it is off on purpose)`,
          backups
            ? {}
            : {
                severity: "info",
                why: "a ks.yaml only takes effect when a kustomization.yaml that Flux applies lists it; this one delivers nothing of the backup system",
              },
        ),
      );
    }
    return out;
  },
};

const parentDir = (p: string) => (p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "");

/**
 * The entry whose absence keeps `file` (a ks.yaml) from being applied: `./<folder>/ks.yaml` in the
 * kustomization.yaml above its folder, unless that one lists it already; then the entry of that folder in
 * its parent's kustomization.yaml, and so on up (a namespace folder whose registration in the tier was lost
 * gets `./<namespace>` in the tier's kustomization.yaml, not the entry that is already there).
 */
function missingEntry(dirs: readonly KustomizeDir[], file: string): { entry: string; up: string } {
  const byDir = new Map(dirs.map((d) => [d.dir, d]));
  let target = file;
  let up = parentDir(parentDir(file));
  for (;;) {
    if (!byDir.get(up)?.resources.some((r) => r.target === target) || up === "") break;
    target = up;
    up = parentDir(up);
  }
  return { entry: `./${target.slice(up === "" ? 0 : up.length + 1)}`, up };
}

export const missingPath: Rule = {
  meta: {
    id: "delivery/missing-path",
    transports: ALL_TRANSPORTS,
    severity: "error",
    title: "path, component or resource that does not exist",
    why: "Flux fails the whole Kustomization when its path, a component or a kustomize resource is missing (or a listed folder has no kustomization.yaml): nothing in it is applied, including later fixes",
    severityNote:
      "warning when the failing Kustomization delivers nothing of the backup system; only kustomization.yaml files a reachable Kustomization builds",
  },
  check(ctx) {
    const m = ctx.model;
    const report = reporter(this.meta);
    const out: Finding[] = [];
    const bad = (r: PathRef) => !r.remote && (!r.exists || r.noKustomization === true);
    const describe = (r: PathRef) =>
      r.target === undefined
        ? `"${r.entry}" leaves the repository`
        : r.noKustomization
          ? `"${r.entry}" is a folder without kustomization.yaml (kustomize cannot build it)`
          : `"${r.entry}" (${r.target || "."}) does not exist`;
    const unrelated = { severity: "warning" as const, why: UNRELATED_WHY };
    for (const ks of m.kustomizations) {
      if (!ks.reachable && m.roots !== "none") continue;
      if (ks.external) continue;
      // A Kustomization with a missing path delivers nothing: judge it by its name, its components and its role.
      // Only asked when something is missing (it needs the backup index over every delivered object).
      const backups = () =>
        ks.root ||
        ks.name.startsWith(ctx.conventions.ksPrefix) ||
        stopsBackups(m, [ks.id]) ||
        ks.components.some((c) => c.target === ctx.conventions.componentDir || /volsync|kopia|kopiur/i.test(c.entry)) ||
        ks.wouldApply.some((o) => concernsBackups(m, o));
      if (ks.path && bad(ks.path)) {
        out.push(
          report(
            ks.path.loc,
            `Kustomization ${ks.id}`,
            `spec.path ${describe(ks.path)}`,
            "fix spec.path: it is relative to the repository root, e.g. ./kubernetes/apps/<tier>/<namespace>/<app>/app",
            backups() ? {} : unrelated,
          ),
        );
      }
      for (const c of ks.components) {
        if (!bad(c)) continue;
        out.push(
          report(
            c.loc,
            `Kustomization ${ks.id}`,
            `spec.components entry ${describe(c)}`,
            `components are relative to spec.path (${ks.path?.target ?? "?"}); e.g. ../../../../components/volsync`,
            backups() ? {} : unrelated,
          ),
        );
      }
    }
    for (const kd of m.kustomizeDirs) {
      if (m.mode === "flux" && kd.deliveredBy.length === 0) continue; // nothing builds it
      const backups = () => m.mode === "files" || stopsBackups(m, kd.deliveredBy);
      for (const [key, list] of [
        ["resources", kd.resources],
        ["components", kd.components],
      ] as const) {
        for (const r of list) {
          if (!bad(r)) continue;
          out.push(
            report(
              r.loc,
              `${kd.dir || "."}/kustomization.yaml`,
              `${key} entry ${describe(r)}${m.mode === "flux" ? ` (built by ${kd.deliveredBy.slice(0, 3).join(", ")}${kd.deliveredBy.length > 3 ? ", ..." : ""})` : ""}`,
              r.noKustomization
                ? `list the files inside it, or add a kustomization.yaml to ${r.target}`
                : `fix the entry (relative to ${kd.dir || "."}) or remove it`,
              backups() ? {} : unrelated,
            ),
          );
        }
      }
    }
    return out;
  },
};

/** The why of a delivery failure that does not touch the backup system: real, but not ours to fail CI on. */
const UNRELATED_WHY =
  "Flux fails this Kustomization, so nothing in it is applied; it delivers nothing of the backup system, so this is a warning, not an error";

export const buildFails: Rule = {
  meta: {
    id: "delivery/build-fails",
    transports: ALL_TRANSPORTS,
    severity: "error",
    severityNote: "warning when the failing Kustomization delivers nothing of the backup system",
    title: "a patch that kustomize cannot apply",
    why: "kustomize fails the whole build when a patch does not apply (a JSON 6902 op on a path that does not exist, a strategic merge of a map into a list): Flux applies nothing of that Kustomization, nor of the Kustomizations it delivers",
  },
  check(ctx) {
    const report = reporter(this.meta);
    return ctx.model.buildErrors.map((e) =>
      report(
        e.loc,
        `Kustomization ${e.kustomizations.slice(0, 3).join(", ")}${e.kustomizations.length > 3 ? ", ..." : ""}`,
        `kustomize cannot apply a patch: ${e.message}`,
        "fix the patch or its target (a JSON 6902 `add` needs the parent path to exist; target only the objects that have it), and check with `kubectl kustomize` or `flux build kustomization`",
        stopsBackups(ctx.model, e.kustomizations) ? {} : { severity: "warning", why: UNRELATED_WHY },
      ),
    );
  },
};

export const unknownSource: Rule = {
  meta: {
    id: "delivery/unknown-source",
    transports: ALL_TRANSPORTS,
    severity: "error",
    title: "sourceRef names a source the repository does not declare",
    why: "a Flux Kustomization whose sourceRef names a GitRepository that does not exist never reconciles; the seed's `home-kubernetes` is one user's name, Flux's default is `flux-system`",
    severityNote: "warning when the Kustomization delivers nothing of the backup system",
  },
  check(ctx) {
    const m = ctx.model;
    if (m.mode !== "flux" || (m.sources.length === 0 && !m.fluxInstance)) return [];
    const report = reporter(this.meta);
    const known = new Set(m.sources.map((s) => `${s.kind}/${s.name}`));
    const out: Finding[] = [];
    for (const ks of m.kustomizations) {
      if (!ks.reachable || !ks.sourceRef) continue;
      const s = ks.sourceRef;
      if (known.has(`${s.kind}/${s.name}`)) continue;
      const names = m.sources.filter((x) => x.kind === s.kind).map((x) => x.name);
      out.push(
        report(
          where(ctx, ks, ["spec", "sourceRef", "name"]),
          `Kustomization ${ks.id}`,
          `sourceRef ${s.kind}/${s.name} is not declared in the repository`,
          names.length > 0
            ? `use one of: ${names.join(", ")}`
            : `declare ${s.kind} ${s.name}, or name the source Flux was bootstrapped with`,
          stopsBackups(m, [ks.id]) || ks.wouldApply.some((o) => concernsBackups(m, o))
            ? {}
            : { severity: "warning", why: UNRELATED_WHY },
        ),
      );
    }
    return out;
  },
};

export const noClaim: Rule = {
  meta: {
    id: "delivery/no-claim",
    transports: PVC_ONLY,
    severity: "error",
    severityNote: "warning when the claim is declared in a file its kustomization.yaml leaves out (made by hand)",
    title: "namespace with consumers but no PVC `kopia`",
    why: "PVCs are namespaced: movers, maintenance and jobs in a namespace can only mount the shared repository through a PVC `kopia` delivered into that same namespace; without it the mover Jobs stay Pending and no backup is taken. Only consumers that reach the repository through a PVC count (not an inline NFS volume or an object store)",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const c = ctx.conventions;
    const m = ctx.model;
    // namespace -> claim -> the objects that need it
    const users = new Map<string, Map<string, ModelObject[]>>();
    const add = (ns: string, claim: string, o: ModelObject) => {
      let byClaim = users.get(ns);
      if (!byClaim) {
        byClaim = new Map();
        users.set(ns, byClaim);
      }
      const list = byClaim.get(claim);
      if (list) list.push(o);
      else byClaim.set(claim, [o]);
    };
    for (const [ns, list] of consumersByNamespace(m)) {
      for (const o of list) {
        const claim = claimNeeded(m, o);
        if (claim !== undefined) add(ns, claim, o);
      }
    }
    for (const p of claimWorkloads(m)) {
      const ns = p.owner.namespace;
      if (ns !== undefined) add(ns, c.claimName, p.owner);
    }
    const out: Finding[] = [];
    for (const [ns, byClaim] of [...users.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      for (const [claim, list] of byClaim) {
        if (objectsOf(m, "PersistentVolumeClaim", ns).some((p) => p.name === claim)) continue;
        const first = list[0] as ModelObject;
        const kinds = [...new Set(list.map((o) => `${o.kind} ${o.name}`))];
        const held = m.excludedClaims.find((x) => x.namespace === ns && x.name === claim);
        out.push(
          report(
            where(ctx, first),
            `namespace ${ns}`,
            `${kinds.length} object${kinds.length === 1 ? "" : "s"} use the shared repository in ${ns} (${kinds.slice(0, 3).join(", ")}${kinds.length > 3 ? ", ..." : ""}) but no PVC ${claim} is delivered into it${held ? ` (${held.file} declares it, but its kustomization.yaml leaves it out: made by hand?)` : ""}`,
            held
              ? `if the PVC is made by hand, keep it so; to let Flux recreate it, list ${held.file.slice(held.file.lastIndexOf("/") + 1)} in its kustomization.yaml`
              : claim === c.claimName
                ? `kopiashare enable ${ns}`
                : `deliver a PVC ${claim} into ${ns}, bound to the volume that holds the repository`,
            held
              ? {
                  severity: "warning",
                  why: "the claim is declared beside what Flux applies but left out on purpose, so it is probably made by hand: backups work while it exists, and nothing recreates it if it is deleted",
                }
              : {},
          ),
        );
      }
    }
    return out;
  },
};

export const orphan: Rule = {
  meta: {
    id: "delivery/orphan",
    transports: PVC_ONLY,
    severity: "info",
    title: "PV/PVC for a namespace that nothing uses",
    why: "a per-namespace PV and PVC that no consumer uses cost nothing but attention; when the namespace itself is gone from the repository they are leftovers to remove with `kopiashare disable`. Consumers that reach their repository over NFS or an object store do not use the PVC",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const c = ctx.conventions;
    const m = ctx.model;
    const using = new Set<string>();
    for (const [ns, list] of consumersByNamespace(m)) {
      if (list.some((o) => claimNeeded(m, o) !== undefined)) using.add(ns);
    }
    for (const p of claimWorkloads(m)) if (p.owner.namespace !== undefined) using.add(p.owner.namespace);
    const declared = new Set(objectsOf(m, "Namespace").map((n) => n.name));
    const out: Finding[] = [];
    for (const pair of repositoryPairs(m)) {
      const ns = pair.namespace;
      if (ns === "" || ns === c.repositoryNamespace) continue;
      if (using.has(ns)) continue;
      const at = (pair.pvc ?? pair.pv) as ModelObject;
      const gone = !declared.has(ns) && !BUILTIN.has(ns) && !hasOtherObjects(m.objects, ns, c.claimName);
      out.push(
        report(
          where(ctx, at),
          `namespace ${ns}`,
          gone
            ? `PV/PVC for namespace ${ns}, which the repository no longer declares (no Namespace, no other objects)`
            : `PV/PVC for namespace ${ns}, but nothing in ${ns} uses the shared repository through it yet`,
          gone
            ? `kopiashare disable ${ns}`
            : `add the Volsync component to an app in ${ns}, or kopiashare disable ${ns} if it is not needed`,
        ),
      );
    }
    return out;
  },
};

function hasOtherObjects(objects: ModelObject[], ns: string, claim: string): boolean {
  return objects.some((o) => o.namespace === ns && !(o.kind === "PersistentVolumeClaim" && o.name === claim));
}

export const missingDependsOn: Rule = {
  meta: {
    id: "delivery/missing-depends-on",
    transports: PVC_ONLY,
    severity: "warning",
    title: "app without dependsOn on its namespace's repository PVC",
    why: "without dependsOn, Flux may apply an app's backup objects (a ReplicationSource, a Kopiur SnapshotPolicy) before the namespace's PVC `kopia` exists: the first mover Job fails (or, with a dynamic fallback, writes elsewhere); on a fresh cluster restores race the PVC. Only consumers that reach the repository through that PVC count",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const c = ctx.conventions;
    const m = ctx.model;
    const claimKs = new Map<string, string>();
    for (const p of objectsOf(m, "PersistentVolumeClaim")) {
      if (p.name === c.claimName && p.namespace !== undefined && p.via !== undefined && !claimKs.has(p.namespace)) {
        claimKs.set(p.namespace, p.via);
      }
    }
    const out: Finding[] = [];
    for (const ks of m.kustomizations) {
      if (!ks.reachable) continue;
      const namespaces = new Set<string>();
      for (const o of ks.objects) {
        if (o.namespace !== undefined && isConsumer(m, o) && claimNeeded(m, o) === c.claimName) {
          namespaces.add(o.namespace);
        }
      }
      for (const ns of namespaces) {
        const need = claimKs.get(ns);
        if (need === undefined || need === ks.id || dependsOn(m, ks, need)) continue;
        const name = need.slice(need.indexOf("/") + 1);
        const nsOfNeed = need.slice(0, need.indexOf("/"));
        out.push(
          report(
            where(ctx, ks, ["spec"]),
            `Kustomization ${ks.id}`,
            `delivers backup consumers into ${ns} but does not depend on ${need}, which delivers PVC ${c.claimName} there`,
            `add to spec.dependsOn: - name: ${name}${nsOfNeed !== ks.namespace ? `\n  namespace: ${nsOfNeed}` : ""}`,
          ),
        );
      }
    }
    return out;
  },
};

/** `${d.namespace}/${d.name}` === id, without building the string. */
function isDep(d: FluxKs["dependsOn"][number], id: string): boolean {
  const n = d.namespace.length;
  return (
    id.length === n + 1 + d.name.length &&
    id.charCodeAt(n) === 47 /* / */ &&
    id.startsWith(d.namespace) &&
    id.endsWith(d.name)
  );
}

function dependsOn(model: Parameters<typeof kustomizationById>[0], ks: FluxKs, target: string): boolean {
  // Usually a direct dependency: no walk.
  for (const d of ks.dependsOn) if (isDep(d, target)) return true;
  const seen = new Set<string>();
  const stack = [ks];
  while (stack.length > 0) {
    const k = stack.pop() as FluxKs;
    for (const d of k.dependsOn) {
      const id = `${d.namespace}/${d.name}`;
      if (id === target) return true;
      if (seen.has(id)) continue;
      seen.add(id);
      const next = kustomizationById(model, id);
      if (next) stack.push(next);
    }
  }
  return false;
}

export const noRoot: Rule = {
  meta: {
    id: "delivery/no-root",
    transports: ALL_TRANSPORTS,
    severity: "info",
    title: "no bootstrap Kustomization found",
    why: "lint follows what Flux applies from the cluster's root Kustomization (the one that delivers itself, or a FluxInstance's sync path); without one it guesses the roots and cannot tell which ks.yaml files are never applied",
  },
  check(ctx) {
    const m = ctx.model;
    const report = reporter(this.meta);
    const out: Finding[] = m.unfollowed.map((u) =>
      report(
        u.loc,
        `source ${u.source}`,
        `the cluster syncs ${u.path} from ${u.source}, an artifact whose root folder in this checkout is unknown: what it delivers is not checked`,
        `tell lint where the artifact's root is: artifactRoots: {${u.source}: <folder>} in kopiashare.yaml (the folder that \`flux push artifact --path\` pushes)`,
      ),
    );
    if (m.mode !== "flux" || m.roots !== "guessed") return out;
    const roots = m.kustomizations.filter((k) => k.root);
    const first = roots[0];
    if (!first) return out;
    return [
      ...out,
      report(
        where(ctx, first),
        `Kustomization ${first.id}`,
        `no self-delivering Kustomization or FluxInstance; treating ${roots.map((k) => k.id).join(", ")} as the root${roots.length === 1 ? "" : "s"}`,
        "commit the bootstrap Kustomization (flux bootstrap writes clusters/<name>/flux-system/gotk-sync.yaml) so lint can follow delivery from it",
      ),
    ];
  },
};

export const notAllowed: Rule = {
  meta: {
    id: "delivery/not-allowed",
    transports: ALL_TRANSPORTS,
    severity: "error",
    title: "Kopiur consumer in a namespace its ClusterRepository does not allow",
    why: "Kopiur's admission webhook rejects every consumer (SnapshotPolicy, SnapshotSchedule, Snapshot, Restore, ...) whose namespace the ClusterRepository's spec.allowedNamespaces leaves out: Flux fails to apply the Kustomization that delivers it, and the app is never backed up",
  },
  check(ctx) {
    const m = ctx.model;
    const report = reporter(this.meta);
    const out: Finding[] = [];
    for (const [ns, list] of consumersByNamespace(m)) {
      for (const o of list) {
        for (const r of reachesOf(m, o)) {
          const repo = r.repositoryObject;
          if (r.allowed !== false || !repo) continue;
          const listed = arr(repo.body, "spec", "allowedNamespaces", "list").join(", ");
          out.push(
            report(
              where(ctx, o, ["spec"]),
              `${o.kind} ${ns}/${o.name}`,
              `uses ClusterRepository ${repo.name}, whose allowedNamespaces list (${listed}) does not include ${ns}: Kopiur rejects it on apply`,
              `add ${ns} to spec.allowedNamespaces.list of ClusterRepository ${repo.name} (${repo.doc.file}:${ctx.at(repo.doc, ["spec", "allowedNamespaces", "list"])})`,
            ),
          );
        }
      }
    }
    return out;
  },
};

export const deliveryRules: Rule[] = [
  notApplied,
  missingPath,
  buildFails,
  unknownSource,
  noClaim,
  orphan,
  missingDependsOn,
  notAllowed,
  noRoot,
];
