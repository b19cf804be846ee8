/** binding/*: each namespace's PVC `kopia` binds its own reserved PV, and only that one. */
import { isSharedPv, repositoryClaims, sharedPvs } from "../claims.ts";
import { arr, type ModelObject, objectsOf, perModel, str } from "../model.ts";
import { claimMismatches, pvcFactsOf } from "../volume-facts.ts";
import { type Finding, PVC_ONLY, type Rule, type RuleContext, reporter, where } from "./types.ts";
import { factsOfPv } from "./volume.ts";

const DYNAMIC_PV = /^pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The first delivered copy of each claim (one per namespace and document); shared by the rules, do not mutate. */
const claimList = perModel((model): ModelObject[] => {
  const seen = new Set<string>();
  const out: ModelObject[] = [];
  for (const p of repositoryClaims(model)) {
    const key = `${p.namespace ?? ""}\0${p.doc.file}\0${p.doc.index}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
});

const claims = (ctx: RuleContext) => claimList(ctx.model);

/** PVs by name (the first delivered one of each name); shared by the rules, do not mutate. */
const pvsByName = perModel((model) => {
  const m = new Map<string, ModelObject>();
  for (const pv of objectsOf(model, "PersistentVolume")) if (!m.has(pv.name)) m.set(pv.name, pv);
  return m;
});

const pvIndex = (ctx: RuleContext) => pvsByName(ctx.model);

const subjectPvc = (p: ModelObject) => `PersistentVolumeClaim ${p.namespace ?? "?"}/${p.name}`;

export const noClaimRef: Rule = {
  meta: {
    id: "binding/no-claim-ref",
    transports: PVC_ONLY,
    severity: "warning",
    title: "shared PV not reserved with claimRef",
    why: "a PV without spec.claimRef can be bound by any claim that matches its class, size and access modes, in any namespace: another tenant's PVC can take the shared backup volume",
  },
  check(ctx) {
    const report = reporter(this.meta);
    return sharedPvs(ctx.model)
      .filter((pv) => str(pv.body, "spec", "claimRef", "name") === undefined)
      .map((pv) => {
        const claim = repositoryClaims(ctx.model).find((p) => str(p.body, "spec", "volumeName") === pv.name);
        const ns = claim?.namespace ?? pv.name.replace(ctx.conventions.pvPrefix, "");
        return report(
          where(ctx, pv, ["spec"]),
          `PersistentVolume ${pv.name}`,
          "has no spec.claimRef, so any matching claim in any namespace can bind it",
          `reserve it for its claim: spec.claimRef: {apiVersion: v1, kind: PersistentVolumeClaim, namespace: ${ns}, name: ${ctx.conventions.claimName}} (no uid); kopiashare enable writes it`,
        );
      });
  },
};

export const staleClaimRef: Rule = {
  meta: {
    id: "binding/stale-claim-ref",
    transports: PVC_ONLY,
    severity: "warning",
    title: "claimRef with uid or resourceVersion in Git",
    why: "a claimRef uid belongs to one PVC object: once that PVC is deleted and recreated the PV stays Released and the new PVC Pending until uid and resourceVersion are removed (kubernetes/kubernetes#91847)",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    for (const pv of sharedPvs(ctx.model)) {
      for (const key of ["uid", "resourceVersion"]) {
        if (str(pv.body, "spec", "claimRef", key) === undefined) continue;
        out.push(
          report(
            where(ctx, pv, ["spec", "claimRef", key]),
            `PersistentVolume ${pv.name}`,
            `spec.claimRef.${key} is set in Git`,
            `remove claimRef.${key}; keep only namespace and name (live PV: kubectl patch pv ${pv.name} --type json -p '[{"op":"remove","path":"/spec/claimRef/${key}"}]')`,
          ),
        );
      }
    }
    return out;
  },
};

export const unknownVolume: Rule = {
  meta: {
    id: "binding/unknown-volume",
    transports: PVC_ONLY,
    severity: "error",
    title: "PVC names a PV that the repository does not declare",
    severityNote: "info for a dynamic `pvc-<uid>` volume",
    why: "a PVC whose volumeName names a PV that does not exist stays Pending, and the movers of that namespace never start",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const pvs = pvIndex(ctx);
    const out: Finding[] = [];
    for (const p of claims(ctx)) {
      const vn = str(p.body, "spec", "volumeName");
      if (vn === undefined || pvs.has(vn)) continue;
      const dynamic = DYNAMIC_PV.test(vn);
      out.push(
        report(
          where(ctx, p, ["spec", "volumeName"]),
          subjectPvc(p),
          dynamic
            ? `volumeName ${vn} is a dynamically provisioned PV, not declared in Git`
            : `volumeName ${vn} names a PersistentVolume that is not delivered by this repository`,
          dynamic
            ? "fine for the original repository volume; declare a static PV (kopiashare enable) if this namespace should be reproducible from Git"
            : `declare PersistentVolume ${vn} next to this PVC (kopiashare enable ${p.namespace ?? "<namespace>"} writes both), or fix volumeName`,
          dynamic ? { severity: "info" } : {},
        ),
      );
    }
    return out;
  },
};

export const noVolumeName: Rule = {
  meta: {
    id: "binding/no-volume-name",
    transports: PVC_ONLY,
    severity: "error",
    title: "PVC of the shared volume without volumeName",
    severityNote: "info in the repository namespace",
    why: "a PVC `kopia` without spec.volumeName is provisioned dynamically: the namespace gets a new, empty volume and its movers create a second repository there",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const c = ctx.conventions;
    return claims(ctx)
      .filter((p) => str(p.body, "spec", "volumeName") === undefined)
      .map((p) =>
        p.namespace === c.repositoryNamespace
          ? report(
              where(ctx, p, ["spec"]),
              subjectPvc(p),
              "the repository namespace's PVC has no volumeName: it is (or was) provisioned dynamically",
              `fine if this claim created the subvolume; otherwise bind it to ${c.pvPrefix}${p.namespace} with spec.volumeName`,
              { severity: "info" },
            )
          : report(
              where(ctx, p, ["spec"]),
              subjectPvc(p),
              "has no spec.volumeName: it will be bound to a new dynamically provisioned volume, not the shared repository",
              `add spec.volumeName: ${c.pvPrefix}${p.namespace ?? "<namespace>"} and declare that PV (kopiashare enable ${p.namespace ?? "<namespace>"})`,
            ),
      );
  },
};

const modes = (o: ModelObject) => arr(o.body, "spec", "accessModes").map(String);

export const mismatch: Rule = {
  meta: {
    id: "binding/mismatch",
    transports: PVC_ONLY,
    severity: "error",
    title: "PVC and its PV disagree on class, size or access modes",
    why: "the binder only binds a pre-bound PVC to its PV when storageClassName matches, the PV is at least as large as the request, and the PV offers every requested access mode; otherwise the PVC stays Pending",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const pvs = pvIndex(ctx);
    const out: Finding[] = [];
    for (const p of claims(ctx)) {
      const vn = str(p.body, "spec", "volumeName");
      const pv = vn !== undefined ? pvs.get(vn) : undefined;
      if (!pv) continue;
      const subject = subjectPvc(p);
      // The binder's comparison is shared with doctor (core/volume-facts.ts); reported class, size, modes.
      const found = claimMismatches(pvcFactsOf(p), factsOfPv(ctx.model, pv));
      for (const field of ["storageClassName", "size", "accessModes"] as const) {
        const m = found.find((x) => x.field === field);
        if (!m) continue;
        if (field === "storageClassName") {
          out.push(
            m.unset
              ? report(
                  where(ctx, p, ["spec"]),
                  subject,
                  `has no storageClassName, so the default class is filled in; its PV ${pv.name} has "${m.pv}"`,
                  `set spec.storageClassName: ${m.pv}`,
                )
              : report(
                  where(ctx, p, ["spec", "storageClassName"]),
                  subject,
                  `storageClassName "${m.pvc}" differs from "${m.pv}" of its PV ${pv.name}`,
                  `use the same class on both: storageClassName: ${m.pv || '""'}`,
                ),
          );
        } else if (field === "size") {
          out.push(
            report(
              where(ctx, p, ["spec", "resources", "requests", "storage"]),
              subject,
              `requests ${m.pvc} but its PV ${pv.name} offers ${m.pv}`,
              `request at most ${m.pv} (the same value on PV and PVC is the convention)`,
            ),
          );
        } else {
          out.push(
            report(
              where(ctx, p, ["spec", "accessModes"]),
              subject,
              `requests access mode ${(m.missing ?? []).join(", ")} that its PV ${pv.name} does not offer`,
              "use accessModes: [ReadWriteMany] on both",
            ),
          );
        }
      }
    }
    return out;
  },
};

export const notRwx: Rule = {
  meta: {
    id: "binding/not-rwx",
    transports: PVC_ONLY,
    severity: "error",
    title: "shared PV or PVC without ReadWriteMany",
    why: "movers, maintenance and the init Job of one namespace run on different nodes at the same time; the shared volume must be ReadWriteMany on the PV and on the PVC",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    const check = (o: ModelObject, subject: string) => {
      if (modes(o).includes("ReadWriteMany")) return;
      out.push(
        report(
          where(ctx, o, modes(o).length > 0 ? ["spec", "accessModes"] : ["spec"]),
          subject,
          `accessModes ${modes(o).length > 0 ? `[${modes(o).join(", ")}]` : "missing"}: ReadWriteMany is required`,
          "set accessModes: [ReadWriteMany] on the PV and its PVC (a PVC spec is immutable: recreate the PVC; the PV keeps the data)",
        ),
      );
    };
    for (const pv of sharedPvs(ctx.model)) check(pv, `PersistentVolume ${pv.name}`);
    const pvs = pvIndex(ctx);
    for (const p of claims(ctx)) {
      const vn = str(p.body, "spec", "volumeName");
      const pv = vn !== undefined ? pvs.get(vn) : undefined;
      if (pv && !isSharedPv(ctx.model, pv)) continue;
      check(p, subjectPvc(p));
    }
    return out;
  },
};

export const claimRefMismatch: Rule = {
  meta: {
    id: "binding/claim-ref-mismatch",
    transports: PVC_ONLY,
    severity: "error",
    title: "PV reserved for another claim than the PVC that names it",
    why: "a PVC's volumeName and its PV's claimRef must name each other; otherwise the PV is held for a claim that never comes and the PVC stays Pending",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const pvs = pvIndex(ctx);
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const p of claims(ctx)) {
      const vn = str(p.body, "spec", "volumeName");
      const pv = vn !== undefined ? pvs.get(vn) : undefined;
      if (!pv) continue;
      const refNs = str(pv.body, "spec", "claimRef", "namespace");
      const refName = str(pv.body, "spec", "claimRef", "name");
      if (refNs === undefined && refName === undefined) continue;
      if (refNs === p.namespace && refName === p.name) continue;
      const key = `${pv.name}\0${p.namespace}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(
        report(
          where(ctx, pv, ["spec", "claimRef"]),
          `PersistentVolume ${pv.name}`,
          `claimRef names ${refNs ?? "?"}/${refName ?? "?"}, but it is PVC ${p.namespace ?? "?"}/${p.name} (${p.doc.file}:${p.doc.line}) that names this PV`,
          `set claimRef to namespace: ${p.namespace ?? "<namespace>"}, name: ${p.name}; or point the PVC at the PV reserved for it`,
        ),
      );
    }
    return out;
  },
};

export const duplicateNamespace: Rule = {
  meta: {
    id: "binding/duplicate-namespace",
    transports: PVC_ONLY,
    severity: "error",
    title: "two shared PVs for one namespace",
    why: "one namespace has one PVC `kopia`, so it needs exactly one PV; the second is either unbound and up for grabs, or competes for the same claim",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const c = ctx.conventions;
    const byNs = new Map<string, ModelObject>();
    const out: Finding[] = [];
    const claimOf = new Map<string, string>();
    for (const p of claims(ctx)) {
      const vn = str(p.body, "spec", "volumeName");
      if (vn !== undefined && p.namespace !== undefined) claimOf.set(vn, p.namespace);
    }
    for (const pv of sharedPvs(ctx.model)) {
      const ns =
        str(pv.body, "spec", "claimRef", "namespace") ??
        claimOf.get(pv.name) ??
        (pv.name.startsWith(c.pvPrefix) ? pv.name.slice(c.pvPrefix.length) : undefined);
      if (ns === undefined) continue;
      const first = byNs.get(ns);
      if (!first) {
        byNs.set(ns, pv);
        continue;
      }
      if (first.name === pv.name) continue;
      out.push(
        report(
          where(ctx, pv),
          `PersistentVolume ${pv.name}`,
          `is a second PV for namespace ${ns}; ${first.name} (${first.doc.file}:${first.doc.line}) already serves it`,
          `keep one PV per namespace (by convention ${c.pvPrefix}${ns}) and remove the other`,
        ),
      );
    }
    return out;
  },
};

export const duplicateName: Rule = {
  meta: {
    id: "binding/duplicate-name",
    transports: PVC_ONLY,
    severity: "error",
    title: "one PV or PVC `kopia` declared twice",
    why: "two documents declaring the same PV (or the same PVC in one namespace) fight over one object: Flux applies whichever it reads last, and pruning one deletes the other's object",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    const first = new Map<string, ModelObject>();
    const sameDoc = (a: ModelObject, b: ModelObject) => a.doc.file === b.doc.file && a.doc.index === b.doc.index;
    for (const pv of sharedPvs(ctx.model)) {
      const f = first.get(`pv\0${pv.name}`);
      if (!f) first.set(`pv\0${pv.name}`, pv);
      else if (!sameDoc(f, pv)) {
        out.push(
          report(
            where(ctx, pv),
            `PersistentVolume ${pv.name}`,
            `is also declared in ${f.doc.file}:${f.doc.line}`,
            "keep one declaration and delete the other",
          ),
        );
      }
    }
    for (const p of claims(ctx)) {
      const key = `pvc\0${p.namespace ?? ""}`;
      const f = first.get(key);
      if (!f) first.set(key, p);
      else if (!sameDoc(f, p)) {
        out.push(
          report(
            where(ctx, p),
            subjectPvc(p),
            `is also declared in ${f.doc.file}:${f.doc.line}`,
            "keep one declaration and delete the other",
          ),
        );
      }
    }
    return out;
  },
};

export const bindingRules: Rule[] = [
  noClaimRef,
  staleClaimRef,
  unknownVolume,
  noVolumeName,
  mismatch,
  notRwx,
  claimRefMismatch,
  duplicateNamespace,
  duplicateName,
];
