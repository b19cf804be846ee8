/**
 * Who a mover Job runs as: the UID, GID and fsGroup with which a Volsync or Kopiur mover writes the
 * repository, read from the objects as each operator resolves them. One definition for the permission
 * rules (and for any check on live objects).
 *
 * - Volsync: the mover's `moverSecurityContext` (a PodSecurityContext) under `spec.kopia`; KopiaMaintenance
 *   calls it `podSecurityContext` (some forks: `moverSecurityContext`). Without one, Volsync's mover image
 *   decides, which the repository does not say: no identity.
 * - Kopiur: layers merged field by field, the highest layer that pins a UID (container `securityContext`
 *   before pod `podSecurityContext` within a layer) wins: the hardened base (fsGroup 65532,
 *   fsGroupChangePolicy OnRootMismatch) < the Repository's `spec.moverDefaults` < the recipe's
 *   `spec.mover`. With no UID pinned anywhere the mover image's `USER 65532:65532` applies. A recipe that
 *   inherits its context from a workload (`inheritSecurityContextFrom`) or asks for `privilegedMode` runs
 *   as something only the cluster knows: no identity, unless the recipe pins the UID itself.
 *
 * Pure: reads model objects only.
 */
import { moverSpec } from "./consumers.ts";
import { type ModelObject, rec, str } from "./model.ts";

export interface MoverIdentity {
  uid: number | undefined;
  gid: number | undefined;
  fsGroup: number | undefined;
  changePolicy: string | undefined;
  /** The object and key path a fix should edit (where the UID is set, else where it would go). */
  at: ModelObject;
  keys: (string | number)[];
  /** Where fsGroup is (or would go): a Kopiur Repository's moverDefaults can set it for every mover. */
  fsAt: ModelObject;
  fsKeys: (string | number)[];
  /** Which layer decided the UID, for messages: "spec.mover.securityContext", "Kopiur's default (65532)". */
  from: string;
  /** Where a fix sets runAsUser/runAsGroup for this mover: "moverSecurityContext", "spec.moverDefaults.securityContext". */
  setIn: string;
}

/** Kopiur's mover image runs as `USER 65532:65532` (distroless nonroot); its hardened pod context uses it as fsGroup. */
export const KOPIUR_MOVER_ID = 65532;

/** The Kopiur kinds whose objects run mover Jobs that write the repository, and where their mover block is. */
export const KOPIUR_WRITERS: ReadonlySet<string> = new Set([
  "SnapshotPolicy",
  "Restore",
  "Maintenance",
  "Repository",
  "ClusterRepository",
]);

export const int = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined;

const VOLSYNC_KEYS = {
  maintenance: ["spec", "moverSecurityContext"],
  maintenancePod: ["spec", "podSecurityContext"],
  mover: ["spec", "kopia", "moverSecurityContext"],
};
/** MoverIdentity.from of each key path (moverSpecPath plus its last key), made once: asked for every mover. */
const VOLSYNC_FROM = new Map<string[], string>(
  [VOLSYNC_KEYS.maintenance, VOLSYNC_KEYS.maintenancePod, VOLSYNC_KEYS.mover].map((k) => [k, k.join(".")]),
);

/** A Volsync mover's identity, or undefined when it sets no security context. */
export function volsyncMoverIdentity(o: ModelObject): MoverIdentity | undefined {
  const maint = o.kind === "KopiaMaintenance";
  const own = rec(moverSpec(o), "moverSecurityContext");
  const sc = own ?? (maint ? rec(moverSpec(o), "podSecurityContext") : undefined);
  if (!sc) return undefined;
  const keys = !maint ? VOLSYNC_KEYS.mover : own ? VOLSYNC_KEYS.maintenance : VOLSYNC_KEYS.maintenancePod;
  return {
    uid: int(sc.runAsUser),
    gid: int(sc.runAsGroup),
    fsGroup: int(sc.fsGroup),
    changePolicy: str(sc, "fsGroupChangePolicy"),
    at: o,
    keys,
    fsAt: o,
    fsKeys: keys,
    from: VOLSYNC_FROM.get(keys) as string,
    setIn: keys[keys.length - 1] as string,
  };
}

interface Layer {
  object: ModelObject;
  base: string[];
  container: Record<string, unknown> | undefined;
  pod: Record<string, unknown> | undefined;
}

function layerOf(object: ModelObject, base: string[]): Layer | undefined {
  const block = rec(object.body, ...base);
  if (!block) return undefined;
  return { object, base, container: rec(block, "securityContext"), pod: rec(block, "podSecurityContext") };
}

/**
 * A Kopiur mover's identity. `o` is the recipe (SnapshotPolicy, Restore, Maintenance) or the Repository /
 * ClusterRepository itself (its bootstrap mover); `repository` the Repository or ClusterRepository it
 * writes, when delivered. Undefined when the UID is decided in the cluster (inherited or privileged).
 */
export function kopiurMoverIdentity(o: ModelObject, repository: ModelObject | undefined): MoverIdentity | undefined {
  const isRepo = o.kind === "Repository" || o.kind === "ClusterRepository";
  const recipe = isRepo ? undefined : layerOf(o, ["spec", "mover"]);
  const repo = isRepo ? o : repository;
  const defaults = repo ? layerOf(repo, ["spec", "moverDefaults"]) : undefined;
  // Highest layer first: the first one that pins a value decides it.
  const layers = [recipe, defaults].filter((l): l is Layer => l !== undefined);
  const pick = (key: string, dims: ("container" | "pod")[]) => {
    for (const l of layers) {
      for (const d of dims) {
        const v = l[d]?.[key];
        if (v !== undefined) return { v, layer: l, dim: d };
      }
    }
    return undefined;
  };
  const uid = pick("runAsUser", ["container", "pod"]);
  const mover = recipe ? rec(o.body, "spec", "mover") : undefined;
  // Decided in the cluster: a workload's context, a privileged mover, or a Repository we cannot read.
  if (!uid && (!repo || mover?.inheritSecurityContextFrom !== undefined || mover?.privilegedMode === true)) {
    return undefined;
  }
  const gid = pick("runAsGroup", ["container", "pod"]);
  const fsGroup = pick("fsGroup", ["pod"]);
  const policy = pick("fsGroupChangePolicy", ["pod"]);
  const keyOf = (p: { layer: Layer; dim: "container" | "pod" }) => [
    ...p.layer.base,
    p.dim === "container" ? "securityContext" : "podSecurityContext",
  ];
  const own = recipe ? ["spec", "mover"] : ["spec"];
  return {
    uid: uid ? int(uid.v) : KOPIUR_MOVER_ID,
    // A UID pinned without a group runs with the group the image gives that user: not known here.
    gid: gid ? int(gid.v) : uid ? undefined : KOPIUR_MOVER_ID,
    fsGroup: fsGroup ? int(fsGroup.v) : KOPIUR_MOVER_ID,
    changePolicy: policy ? str(policy.v) : "OnRootMismatch",
    at: uid?.layer.object ?? o,
    keys: uid ? keyOf(uid) : own,
    fsAt: fsGroup?.layer.object ?? o,
    fsKeys: fsGroup ? keyOf(fsGroup) : own,
    from: uid
      ? `${uid.layer.object === o ? "" : `${uid.layer.object.kind} ${uid.layer.object.name} `}${keyOf(uid).join(".")}`
      : `Kopiur's default (${KOPIUR_MOVER_ID})`,
    // The Repository's moverDefaults reach every mover of it, its bootstrap included.
    setIn: uid
      ? `${uid.layer.object === o ? "" : `${uid.layer.object.kind} ${uid.layer.object.name} `}${keyOf(uid).join(".")}`
      : isRepo
        ? "spec.moverDefaults.securityContext"
        : `spec.mover.securityContext, or once for every mover in ${repo?.kind ?? "the Repository"} ${repo?.name ?? ""} spec.moverDefaults.securityContext`,
  };
}
