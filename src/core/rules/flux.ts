/** flux/*: postBuild substitution produces what was meant (Flux >= 2.9 substitutes strictly). */
import { kustomizationById, type ModelObject, type VarOccurrence } from "../model.ts";
import { type Finding, placeKey, type Rule, type RuleContext, reporter, where } from "./types.ts";

const locOf = (ctx: RuleContext, o: ModelObject, occ: VarOccurrence) => where(ctx, o, occ.path);

export const undefinedVariable: Rule = {
  meta: {
    id: "flux/undefined-variable",
    severity: "error",
    title: "${VAR} with no value and no default",
    why: "from Flux 2.9 postBuild substitution is strict: a ${VAR} that is not set and has no default fails the whole Kustomization (before, it silently became an empty string); a `$` meant for a shell script must be written `$$`",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const o of ctx.model.objects) {
      if (o.vars.length === 0) continue;
      for (const occ of o.vars) {
        if (occ.use.how !== "missing") continue;
        const loc = locOf(ctx, o, occ);
        const key = placeKey(loc, occ.use.name, o.via ?? "");
        if (seen.has(key)) continue;
        seen.add(key);
        const ks = o.via ? kustomizationById(ctx.model, o.via) : undefined;
        const unresolved = ks?.substituteFrom.filter((f) => !f.found) ?? [];
        const lower = occ.use.name !== occ.use.name.toUpperCase();
        out.push(
          report(
            loc,
            `${o.kind} ${o.namespace ?? "?"}/${o.name}`,
            `${occ.use.expr} has no value${o.via ? ` in ${o.via}` : ""} and no default${unresolved.length > 0 ? ` (unless ${unresolved.map((f) => `${f.kind}/${f.name}`).join(", ")}, not in the repository, sets it)` : ""}`,
            lower
              ? `if this is a shell variable, escape it as $\${${occ.use.name}}; otherwise set ${occ.use.name} in spec.postBuild.substitute of ${o.via ?? "the Kustomization"}`
              : `set ${occ.use.name} in spec.postBuild.substitute of ${o.via ?? "the Kustomization"}, or give it a default: \${${occ.use.name}:=<value>}`,
            unresolved.length > 0 ? { severity: "warning" } : {},
          ),
        );
      }
    }
    return out;
  },
};

export const noPostBuild: Rule = {
  meta: {
    id: "flux/no-post-build",
    severity: "error",
    title: "${VAR} placeholders applied literally",
    why: "substitution only runs when the Flux Kustomization has spec.postBuild; without it a component's ${APP} stays in names and values, which the API server rejects or, worse, accepts as a literal",
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
        ),
      );
    }
    return out;
  },
};

export const substituteFromMissing: Rule = {
  meta: {
    id: "flux/substitute-from-missing",
    severity: "warning",
    title: "postBuild.substituteFrom names an object not in the repository",
    why: "Flux fails a Kustomization whose substituteFrom ConfigMap/Secret does not exist (unless optional: true); lint cannot see its variables either",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    for (const ks of ctx.model.kustomizations) {
      if (!ks.reachable) continue;
      for (const f of ks.substituteFrom) {
        if (f.found || f.optional) continue;
        out.push(
          report(
            f.loc,
            `Kustomization ${ks.id}`,
            `substituteFrom ${f.kind}/${f.name} is not declared in the repository (namespace ${ks.namespace})`,
            `declare it in Git (SOPS-encrypted for Secrets), mark it optional: true, or make sure it is created before ${ks.id} reconciles`,
          ),
        );
      }
    }
    return out;
  },
};

export const fluxRules: Rule[] = [undefinedVariable, noPostBuild, substituteFromMissing];
