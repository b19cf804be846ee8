/** flux/*: postBuild substitution produces what was meant (Flux >= 2.9 substitutes strictly). */
import { stopsBackups } from "../backups.ts";
import { kustomizationOf, type Loc, type ModelObject, type VarOccurrence } from "../model.ts";
import { ALL_TRANSPORTS, type Finding, placeKey, type Rule, type RuleContext, reporter, where } from "./types.ts";

const locOf = (ctx: RuleContext, o: ModelObject, occ: VarOccurrence) => where(ctx, o, occ.path);

export const undefinedVariable: Rule = {
  meta: {
    id: "flux/undefined-variable",
    transports: ALL_TRANSPORTS,
    severity: "error",
    title: "${VAR} with no value and no default",
    why: "from Flux 2.9 postBuild substitution is strict: a ${VAR} that is not set and has no default fails the whole Kustomization (before, it silently became an empty string); a `$` meant for a shell script must be written `$$`",
    severityNote:
      "warning when the Kustomization delivers nothing of the backup system; info when a substituteFrom whose keys are not in Git may set it",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    const seen = new Set<string>();
    // Variables that a substituteFrom lint cannot see may set: one info per such source set, not one per use.
    const unknown = new Map<string, { loc: Loc; names: Set<string>; via: Set<string>; uses: number }>();
    for (const o of ctx.model.objects) {
      if (o.vars.length === 0) continue;
      for (const occ of o.vars) {
        if (occ.use.how !== "missing") continue;
        const loc = locOf(ctx, o, occ);
        const key = placeKey(loc, occ.use.name, o.via ?? "");
        if (seen.has(key)) continue;
        seen.add(key);
        const ks = kustomizationOf(ctx.model, o);
        const unresolved = ks?.substituteFrom.filter((f) => !f.found || !f.keysKnown) ?? [];
        if (unresolved.length > 0) {
          const sources = unresolved.map((f) => `${f.kind}/${f.name}`).join(", ");
          let u = unknown.get(sources);
          if (!u) {
            u = { loc, names: new Set(), via: new Set(), uses: 0 };
            unknown.set(sources, u);
          }
          u.names.add(occ.use.name);
          if (o.via) u.via.add(o.via);
          u.uses++;
          continue;
        }
        const lower = occ.use.name !== occ.use.name.toUpperCase();
        out.push(
          report(
            loc,
            `${o.kind} ${o.namespace ?? "?"}/${o.name}`,
            `${occ.use.expr} has no value${o.via ? ` in ${o.via}` : ""} and no default`,
            lower
              ? `if this is a shell variable, escape it as $\${${occ.use.name}}; otherwise set ${occ.use.name} in spec.postBuild.substitute of ${o.via ?? "the Kustomization"}`
              : `set ${occ.use.name} in spec.postBuild.substitute of ${o.via ?? "the Kustomization"}, or give it a default: \${${occ.use.name}:=<value>}`,
            stopsBackups(ctx.model, [o.via]) ? {} : { severity: "warning", why: UNRELATED_WHY },
          ),
        );
      }
    }
    for (const [sources, u] of unknown) {
      const names = [...u.names].sort();
      out.push(
        report(
          u.loc,
          `${u.via.size} Kustomization${u.via.size === 1 ? "" : "s"}`,
          `${names.length} variable${names.length === 1 ? "" : "s"} (${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""}) used ${u.uses} time${u.uses === 1 ? "" : "s"} have no value in the repository; ${sources}, whose keys are not in the repository, may set them`,
          `nothing to do if ${sources} holds them; else set them in spec.postBuild.substitute or give them defaults (\${VAR:=<value>})`,
          { severity: "info", why: UNKNOWN_WHY },
        ),
      );
    }
    return out;
  },
};

export const noPostBuild: Rule = {
  meta: {
    id: "flux/no-post-build",
    transports: ALL_TRANSPORTS,
    severity: "error",
    title: "${VAR} placeholders applied literally",
    why: "substitution only runs when the Flux Kustomization has spec.postBuild; without it a component's ${APP} stays in names and values, which the API server rejects or, worse, accepts as a literal",
    severityNote: "warning when the Kustomization delivers nothing of the backup system",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const o of ctx.model.objects) {
      if (o.literal.length === 0 || o.via === undefined) continue;
      const inName = o.literal.filter(
        (v) => v.path[0] === "metadata" && (v.path[1] === "name" || v.path[1] === "namespace"),
      );
      if (o.component === undefined && inName.length === 0) continue;
      const occ = inName[0] ?? o.literal[0];
      if (!occ) continue;
      const loc = locOf(ctx, o, occ);
      const key = placeKey(loc, o.via);
      if (seen.has(key)) continue;
      seen.add(key);
      const names = [...new Set(o.literal.map((v) => v.use.name))];
      out.push(
        report(
          loc,
          `${o.kind} ${o.namespace ?? "?"}/${o.name}`,
          `${o.via} has no spec.postBuild, so ${names.map((n) => `\${${n}}`).join(", ")} ${names.length === 1 ? "is" : "are"} applied literally`,
          `add to ${o.via}: spec.postBuild.substitute: {${names.map((n) => `${n}: <value>`).join(", ")}}`,
          stopsBackups(ctx.model, [o.via]) ? {} : { severity: "warning", why: UNRELATED_WHY },
        ),
      );
    }
    return out;
  },
};

export const substituteFromMissing: Rule = {
  meta: {
    id: "flux/substitute-from-missing",
    transports: ALL_TRANSPORTS,
    severity: "info",
    title: "postBuild.substituteFrom names an object not in the repository",
    why: "Flux fails a Kustomization whose substituteFrom ConfigMap/Secret does not exist (unless optional: true); such objects are often made in the cluster (by bootstrap, or an ExternalSecret elsewhere), so lint cannot tell, and cannot see its variables either",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    // One finding per missing object (a root's patch often gives every child the same substituteFrom).
    const missing = new Map<string, { loc: Loc; ids: string[] }>();
    for (const ks of ctx.model.kustomizations) {
      if (!ks.reachable) continue;
      for (const f of ks.substituteFrom) {
        if (f.found || f.optional) continue;
        const key = `${f.kind}/${f.name}`;
        const m = missing.get(key);
        if (m) m.ids.push(ks.id);
        else missing.set(key, { loc: f.loc, ids: [ks.id] });
      }
    }
    for (const [key, m] of missing) {
      const names = `${m.ids.slice(0, 3).join(", ")}${m.ids.length > 3 ? ` and ${m.ids.length - 3} more` : ""}`;
      out.push(
        report(
          m.loc,
          `Kustomization ${names}`,
          `substituteFrom ${key} is not declared in the repository (read by ${m.ids.length} Kustomization${m.ids.length === 1 ? "" : "s"})`,
          `declare it in Git (SOPS-encrypted for Secrets), mark it optional: true, or make sure it is created before they reconcile`,
        ),
      );
    }
    return out;
  },
};

const UNRELATED_WHY =
  "Flux fails this Kustomization, so nothing in it is applied; it delivers nothing of the backup system, so this is a warning, not an error";
const UNKNOWN_WHY =
  "a substituteFrom object that is not in Git (made in the cluster, or encrypted) may set it; lint cannot see its values";

export const fluxRules: Rule[] = [undefinedVariable, noPostBuild, substituteFromMissing];
