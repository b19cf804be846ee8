/** admission/*: the MutatingAdmissionPolicy that mounts the repository into mover Jobs works on this cluster. */
import { type ModelObject, objectsOf } from "../model.ts";
import {
  compareKube,
  describeStated,
  FILESYSTEM,
  type Finding,
  formatKubeVersion,
  type KubeVersion,
  PVC_ONLY,
  type Rule,
  type RuleContext,
  type RuleMeta,
  reporter,
  VERSION_FLAG_FIX,
  where,
} from "./types.ts";
import { admissionWirings } from "./wiring.ts";

/** Kubernetes minors that serve each MutatingAdmissionPolicy version (DOMAIN.md). */
export const MAP_BANDS: Record<string, { from: [number, number]; to?: [number, number]; note: string }> = {
  v1alpha1: {
    from: [1, 32],
    to: [1, 33],
    note: "1.32-1.33, feature gate MutatingAdmissionPolicy and --runtime-config",
  },
  v1beta1: { from: [1, 34], to: [1, 35], note: "1.34-1.35, feature gate MutatingAdmissionPolicy and --runtime-config" },
  v1: { from: [1, 36], note: "1.36 and later, on by default" },
};

export function mapVersionFor(v: KubeVersion): string | undefined {
  for (const [version, band] of Object.entries(MAP_BANDS)) {
    const lo = compareKube(v, band.from[0], band.from[1]) >= 0;
    const hi = band.to === undefined || compareKube(v, band.to[0], band.to[1]) <= 0;
    if (lo && hi) return version;
  }
  return undefined;
}

export const apiVersion: Rule = {
  meta: {
    id: "admission/api-version",
    transports: FILESYSTEM,
    severity: "error",
    severityNote:
      "warning for an older version on a newer cluster, still served while --runtime-config enables it; info when the repository states versions that disagree",
    title: "MutatingAdmissionPolicy apiVersion not served by the cluster",
    why: "admissionregistration.k8s.io serves MutatingAdmissionPolicy as v1alpha1 on 1.32-1.33, v1beta1 on 1.34-1.35 (both behind a feature gate and runtime-config) and v1 from 1.36; any other version fails to apply, and the movers run without the repository",
  },
  check(ctx) {
    const v = ctx.kubernetesVersion;
    if (!v) return uncertainApiVersion(ctx, this.meta);
    const report = reporter(this.meta);
    const want = mapVersionFor(v);
    const out: Finding[] = [];
    for (const { kind, o, got } of admissionObjects(ctx)) {
      if (got === want) continue;
      const band = MAP_BANDS[got];
      // An older version on a newer cluster is deprecated, not gone: Kubernetes keeps serving a beta
      // API for releases after its GA when --runtime-config enables it, which lint cannot see.
      const older = want !== undefined && band?.to !== undefined && compareKube(v, band.to[0], band.to[1]) > 0;
      out.push(
        report(
          where(ctx, o, ["apiVersion"]),
          `${kind} ${o.name}`,
          older
            ? `apiVersion ${o.apiVersion} is deprecated on Kubernetes ${formatKubeVersion(v)} (it serves ${want}; ${got} only while --runtime-config still enables it)`
            : `apiVersion ${o.apiVersion} is not served by Kubernetes ${formatKubeVersion(v)}${want ? ` (it serves ${want})` : " (it has no MutatingAdmissionPolicy API; 1.32 is the first)"}`,
          want
            ? `use apiVersion: admissionregistration.k8s.io/${want} (${MAP_BANDS[want]?.note})`
            : "upgrade to Kubernetes 1.32 or later, or use Volsync >= 0.17 moverVolumes instead of an admission policy",
          older
            ? {
                severity: "warning",
                why: "a newer Kubernetes serves the older MutatingAdmissionPolicy version only while --runtime-config enables it, and drops it a few releases after GA; then the policy fails to apply and movers run without the repository",
              }
            : {},
        ),
      );
    }
    return out;
  },
};

const GROUP = "admissionregistration.k8s.io/";

/** Every MutatingAdmissionPolicy and binding once per name, with the version of its apiVersion. */
function admissionObjects(ctx: RuleContext): { kind: string; o: ModelObject; got: string }[] {
  const out: { kind: string; o: ModelObject; got: string }[] = [];
  for (const kind of ["MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"]) {
    const seen = new Set<string>();
    for (const o of objectsOf(ctx.model, kind)) {
      if (!o.apiVersion.startsWith(GROUP) || seen.has(o.name)) continue;
      seen.add(o.name);
      out.push({ kind, o, got: o.apiVersion.slice(GROUP.length) });
    }
  }
  return out;
}

/** "1.34-1.35" for v1beta1: where an apiVersion is served. */
function servedOn(api: string): string {
  const band = MAP_BANDS[api];
  if (!band) return "no Kubernetes version";
  const from = `${band.from[0]}.${band.from[1]}`;
  return band.to ? `Kubernetes ${from}-${band.to[0]}.${band.to[1]}` : `Kubernetes ${from} and later`;
}

/**
 * No known version, but the repository states several that disagree: a policy that some of them would
 * reject is worth knowing about, never an error (which statement is true is a guess).
 */
function uncertainApiVersion(ctx: RuleContext, meta: RuleMeta): Finding[] {
  const candidates = ctx.kubernetesVersionCandidates ?? [];
  if (candidates.length === 0) return [];
  const report = reporter(meta);
  const out: Finding[] = [];
  for (const { kind, o, got } of admissionObjects(ctx)) {
    const rejecting = candidates.filter((c) => mapVersionFor(c.version) !== got);
    if (rejecting.length === 0) continue;
    const advice = new Map<string, string>();
    for (const c of rejecting) {
      const w = mapVersionFor(c.version);
      advice.set(
        formatKubeVersion(c.version),
        w ? `apiVersion: ${GROUP}${w}` : "no MutatingAdmissionPolicy (1.32 is the first)",
      );
    }
    out.push(
      report(
        where(ctx, o, ["apiVersion"]),
        `${kind} ${o.name}`,
        `apiVersion ${o.apiVersion} is served by ${servedOn(got)}; the repository states Kubernetes ${describeStated(candidates)}, so whether the cluster serves it is not certain`,
        `${VERSION_FLAG_FIX} to check it against the cluster's version; ${[...advice].map(([minor, a]) => `on ${minor}: ${a}`).join("; ")}`,
        { severity: "info" },
      ),
    );
  }
  return out;
}

export const noBinding: Rule = {
  meta: {
    id: "admission/no-binding",
    transports: FILESYSTEM,
    severity: "error",
    title: "MutatingAdmissionPolicy without a binding",
    why: "a MutatingAdmissionPolicy does nothing until a MutatingAdmissionPolicyBinding names it: mover Jobs get no repository volume",
  },
  check(ctx) {
    const report = reporter(this.meta);
    return admissionWirings(ctx.model)
      .filter((w) => !w.bound)
      .map((w) =>
        report(
          where(ctx, w.policy),
          `MutatingAdmissionPolicy ${w.policy.name}`,
          "no MutatingAdmissionPolicyBinding has spec.policyName " + w.policy.name,
          `add a MutatingAdmissionPolicyBinding (same apiVersion) with spec.policyName: ${w.policy.name}, in the same file`,
        ),
      );
  },
};

export const noGuard: Rule = {
  meta: {
    id: "admission/no-guard",
    transports: FILESYSTEM,
    severity: "warning",
    title: "policy adds the volume without an idempotency guard",
    why: 'admission runs again on reinvocation and on UPDATE; a policy without a matchCondition like "no volume named repository yet" adds the volume twice and the Job is rejected (duplicate volume name)',
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    for (const w of admissionWirings(ctx.model)) {
      const vol = w.volume ?? "repository";
      const guarded = w.conditions.some(
        (c) =>
          /volumes/.test(c.expression) &&
          /exists|all\(|filter\(/.test(c.expression) &&
          (c.expression.includes(`'${vol}'`) || c.expression.includes(`"${vol}"`)),
      );
      if (guarded) continue;
      out.push(
        report(
          where(ctx, w.policy, ["spec", w.conditions.length > 0 ? "matchConditions" : "mutations"]),
          `MutatingAdmissionPolicy ${w.policy.name}`,
          `no matchCondition checks that the Job has no volume named "${vol}" yet`,
          `add a matchCondition: name: no-${vol}-volume-yet, expression: "!object.spec.template.spec.?volumes.orValue([]).exists(v, v.name == '${vol}')"`,
        ),
      );
    }
    return out;
  },
};

export const claimName: Rule = {
  meta: {
    id: "admission/claim-name",
    transports: PVC_ONLY,
    severity: "error",
    title: "policy mounts another PVC than the per-namespace claim",
    why: "the policy cannot look objects up: it mounts whatever claimName it names in every mover's namespace, and only the per-namespace PVC (kopia) exists there",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const want = ctx.conventions.claimName;
    const out: Finding[] = [];
    for (const w of admissionWirings(ctx.model)) {
      if (w.claimName === undefined || w.claimName === want) continue;
      out.push(
        report(
          where(ctx, w.policy, ["spec", "mutations"]),
          `MutatingAdmissionPolicy ${w.policy.name}`,
          `mounts claimName '${w.claimName}', but the per-namespace PVC is named ${want}`,
          `use claimName: '${want}' (or set claimName in kopiashare.yaml if your PVCs use another name)`,
        ),
      );
    }
    return out;
  },
};

export const admissionRules: Rule[] = [apiVersion, noBinding, noGuard, claimName];
export type { Finding };
