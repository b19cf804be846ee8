/** volume/*: every PV of the shared repository points at the same CephFS subvolume, safely. */
import { sharedPvs } from "../claims.ts";
import { get, type ModelObject, objectsOf, perModel, type RepoModel, rec, str } from "../model.ts";
import { styleOf } from "../topology.ts";
import {
  crossStyleVolume,
  identityOf,
  identityText,
  keepsData,
  type PvFacts,
  pickRepositoryPv,
  pvFactsOf,
  reclaimVerdict,
  retainPatch,
} from "../volume-facts.ts";
import {
  compareKube,
  describeStated,
  type Finding,
  formatKubeVersion,
  minorsOf,
  PVC_ONLY,
  type Rule,
  type RuleContext,
  reporter,
  VERSION_FLAG_FIX,
  where,
} from "./types.ts";

/** The style of a PV as written (the one definition in core/topology.ts). */
const styleOfPv = (pv: ModelObject) =>
  styleOf(get(pv.body, "spec", "csi", "volumeAttributes") as Record<string, unknown>);

function attr(pv: ModelObject, key: string): string | undefined {
  return str(pv.body, "spec", "csi", "volumeAttributes", key);
}

const factsCache = perModel(() => new Map<ModelObject, PvFacts>());

/** pvFactsOf, once per PV copy: several rules read the facts of every shared PV. */
export function factsOfPv(model: RepoModel, pv: ModelObject): PvFacts {
  const cache = factsCache(model);
  let f = cache.get(pv);
  if (!f) {
    f = pvFactsOf(pv);
    cache.set(pv, f);
  }
  return f;
}

/** Picks made per list of PVs (sharedPvs is one list per model, asked by several rules). */
const picks = new WeakMap<readonly ModelObject[], { conventions: object; pv: ModelObject | undefined }>();

/** The repository PV every other PV is compared with: the same pick doctor makes on a live cluster. */
export function referencePv(ctx: RuleContext, pvs: ModelObject[]): ModelObject | undefined {
  let pick = picks.get(pvs);
  if (pick?.conventions !== ctx.conventions) {
    const model = ctx.model;
    // The PV the repository namespace's claim names in volumeName comes first: that claim binds it.
    const c = ctx.conventions;
    const bound = objectsOf(model, "PersistentVolumeClaim", c.repositoryNamespace).find((p) => p.name === c.claimName);
    const volumeName = bound && str(bound.body, "spec", "volumeName");
    pick = {
      conventions: c,
      pv: pvs.find((pv) => pv.name === volumeName) ?? pickRepositoryPv(pvs, c, (pv) => factsOfPv(model, pv))?.pv,
    };
    picks.set(pvs, pick);
  }
  return pick.pv;
}

/** How a fix that recreates a PV object must begin, and whether it may promise the data stays. */
function recreate(pv: ModelObject, how: string): string {
  const facts = pvFactsOf(pv);
  return keepsData(facts)
    ? `${how}; the data stays (Retain)`
    : `${how}; first make it Retain (${retainPatch(pv.name)}), or deleting it can delete the data`;
}

const ref = (pv: ModelObject) => `${pv.name} (${pv.doc.file}:${pv.doc.line})`;

export const mixedStyle: Rule = {
  meta: {
    id: "volume/mixed-style",
    transports: PVC_ONLY,
    severity: "error",
    title: "shared-handle and static PVs mixed",
    severityNote:
      "warning when both name the same subvolume (the handle's UUID is the one in the static rootPath), or when one of them does not say which",
    why: 'a repository uses one way to reach the subvolume: either every PV copies the original volume handle, or every PV is a ceph-csi static volume (staticVolume: "true", same rootPath, unique handles). A PV of the other style on another subvolume, file system or cluster mounts a separate, empty repository; on the same subvolume it works, but mounts the data two ways and hides which PV is safe to delete',
  },
  check(ctx) {
    const report = reporter(this.meta);
    const pvs = sharedPvs(ctx.model);
    const reference = referencePv(ctx, pvs);
    if (!reference) return [];
    const want = styleOfPv(reference);
    const refId = identityOf(factsOfPv(ctx.model, reference));
    return pvs
      .filter((pv) => styleOfPv(pv) !== want)
      .map((pv) => {
        const id = identityOf(factsOfPv(ctx.model, pv));
        const verdict = crossStyleVolume(refId, id);
        const where_ =
          verdict === "same"
            ? `, on the same subvolume (${id.subvolume})`
            : verdict === "other"
              ? `, and reaches another subvolume: ${identityText(id)}${id.clusterID !== undefined ? ` in cluster ${id.clusterID}` : ""}, not ${identityText(refId)}${refId.clusterID !== undefined ? ` in cluster ${refId.clusterID}` : ""}. Its namespace writes a separate, empty repository`
              : `; which subvolume its ${identityText(id)} reaches cannot be read from it`;
        return report(
          where(ctx, pv, ["spec", "csi"]),
          `PersistentVolume ${pv.name}`,
          `uses the ${styleOfPv(pv)} style, but the repository PV ${ref(reference)} uses the ${want} style${where_}`,
          want === "static"
            ? recreate(
                pv,
                `make it a static volume like ${reference.name}: volumeAttributes.staticVolume: "true", the same rootPath, and volumeHandle: ${pv.name} (delete and recreate the PV object: spec.csi is immutable)`,
              )
            : recreate(
                pv,
                `copy csi.volumeHandle and volumeAttributes from ${reference.name} and drop staticVolume/rootPath (delete and recreate the PV object)`,
              ),
          verdict === "other"
            ? {}
            : {
                severity: "warning",
                why:
                  verdict === "same"
                    ? "both PVs mount the same subvolume, so backups still land in one repository; but the data is mounted two ways (one of them as the original dynamic volume, which its provisioner may delete), and which PV is safe to delete is no longer obvious"
                    : "the PV does not say which subvolume it reaches (a handle not made by ceph-csi, or a rootPath outside /volumes/), so lint cannot tell whether it is the repository's; if it is not, that namespace writes a separate repository",
              },
        );
      });
  },
};

const FIELDS: { label: string; read: (pv: ModelObject) => string | undefined; keys: string[] }[] = [
  { label: "csi.driver", read: (pv) => str(pv.body, "spec", "csi", "driver"), keys: ["spec", "csi", "driver"] },
  {
    label: "volumeAttributes.clusterID",
    read: (pv) => attr(pv, "clusterID"),
    keys: ["spec", "csi", "volumeAttributes", "clusterID"],
  },
  {
    label: "volumeAttributes.fsName",
    read: (pv) => attr(pv, "fsName"),
    keys: ["spec", "csi", "volumeAttributes", "fsName"],
  },
  {
    label: "nodeStageSecretRef",
    read: (pv) => {
      const r = rec(pv.body, "spec", "csi", "nodeStageSecretRef");
      return r ? `${str(r, "namespace") ?? ""}/${str(r, "name") ?? ""}` : undefined;
    },
    keys: ["spec", "csi", "nodeStageSecretRef"],
  },
];

export const attributeMismatch: Rule = {
  meta: {
    id: "volume/attribute-mismatch",
    transports: PVC_ONLY,
    severity: "error",
    title: "PVs differ in driver, clusterID, fsName or node-stage secret",
    why: "every per-namespace PV must reach the same CephFS file system through the same driver and credentials; a PV that differs mounts another file system (an empty repository) or fails to stage",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const pvs = sharedPvs(ctx.model);
    const reference = referencePv(ctx, pvs);
    if (!reference) return [];
    const out: Finding[] = [];
    const wanted = FIELDS.map((f) => f.read(reference));
    for (const pv of pvs) {
      if (pv === reference) continue;
      for (let i = 0; i < FIELDS.length; i++) {
        const f = FIELDS[i] as (typeof FIELDS)[number];
        const want = wanted[i];
        const got = f.read(pv);
        if (want === got) continue;
        out.push(
          report(
            where(ctx, pv, got === undefined ? ["spec", "csi"] : f.keys),
            `PersistentVolume ${pv.name}`,
            `${f.label} is ${got === undefined ? "missing" : `"${got}"`}, the repository PV ${ref(reference)} has ${want === undefined ? "none" : `"${want}"`}`,
            `set ${f.label} to ${want === undefined ? "match" : `"${want}"`} as in ${reference.name}; spec.csi is immutable, so delete and recreate the PV object (never the data)`,
          ),
        );
      }
    }
    return out;
  },
};

export const handleMismatch: Rule = {
  meta: {
    id: "volume/handle-mismatch",
    transports: PVC_ONLY,
    severity: "error",
    title: "shared-handle PVs with different volume handles",
    why: "in the shared-handle style every PV copies the handle of the original volume; a PV with another handle mounts another subvolume, so that namespace's backups land in a separate, isolated repository",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const pvs = sharedPvs(ctx.model).filter((p) => styleOfPv(p) === "shared-handle");
    const all = sharedPvs(ctx.model);
    const reference = referencePv(ctx, all);
    if (!reference || styleOfPv(reference) !== "shared-handle") return [];
    const want = str(reference.body, "spec", "csi", "volumeHandle");
    return pvs
      .filter((pv) => pv !== reference && str(pv.body, "spec", "csi", "volumeHandle") !== want)
      .map((pv) =>
        report(
          where(ctx, pv, ["spec", "csi", "volumeHandle"]),
          `PersistentVolume ${pv.name}`,
          `volumeHandle "${str(pv.body, "spec", "csi", "volumeHandle") ?? ""}" differs from the repository PV ${ref(reference)}`,
          recreate(
            pv,
            `use volumeHandle: ${want ?? "<the original handle>"} (kubectl get pv ${reference.name} -o jsonpath='{.spec.csi.volumeHandle}'); delete and recreate the PV object`,
          ),
        ),
      );
  },
};

export const staticLayout: Rule = {
  meta: {
    id: "volume/static-layout",
    transports: PVC_ONLY,
    severity: "error",
    title: "static PVs with different rootPaths or a shared handle",
    why: "ceph-csi static volumes must all name the same rootPath (the repository's subvolume) and each needs its own volumeHandle: kubelet keys the node's staging mount by handle, and two PVs with one static handle on a node collide",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const pvs = sharedPvs(ctx.model).filter((p) => styleOfPv(p) === "static");
    if (pvs.length === 0) return [];
    const reference = referencePv(ctx, pvs) as ModelObject;
    const out: Finding[] = [];
    const wantRoot = attr(reference, "rootPath");
    const handles = new Map<string, ModelObject>();
    for (const pv of pvs) {
      const root = attr(pv, "rootPath");
      if (root === undefined) {
        out.push(
          report(
            where(ctx, pv, ["spec", "csi", "volumeAttributes"]),
            `PersistentVolume ${pv.name}`,
            'static volume (staticVolume: "true") without volumeAttributes.rootPath',
            `add rootPath: ${wantRoot ?? "<the subvolume path>"} (ceph fs subvolume getpath <fs> <subvolume> <group>)`,
          ),
        );
      } else if (pv !== reference && wantRoot !== undefined && root !== wantRoot) {
        out.push(
          report(
            where(ctx, pv, ["spec", "csi", "volumeAttributes", "rootPath"]),
            `PersistentVolume ${pv.name}`,
            `rootPath "${root}" differs from "${wantRoot}" in the repository PV ${ref(reference)}: this namespace mounts another directory, a separate repository`,
            recreate(pv, `set rootPath: ${wantRoot}; delete and recreate the PV object (spec.csi is immutable)`),
          ),
        );
      }
      const handle = str(pv.body, "spec", "csi", "volumeHandle") ?? "";
      const first = handles.get(handle);
      if (first && first.name !== pv.name) {
        out.push(
          report(
            where(ctx, pv, ["spec", "csi", "volumeHandle"]),
            `PersistentVolume ${pv.name}`,
            `static volumeHandle "${handle}" is also used by ${ref(first)}`,
            `give every static PV its own handle, by convention its name: volumeHandle: ${pv.name}`,
          ),
        );
      } else if (!first) handles.set(handle, pv);
    }
    return out;
  },
};

export const reclaimPolicy: Rule = {
  meta: {
    id: "volume/reclaim-policy",
    transports: PVC_ONLY,
    severity: "error",
    title: "shared PV not Retain",
    severityNote: "warning for static PVs",
    why: "ceph-csi resolves a copied handle as the original dynamic volume: when the claim of a PV with reclaim policy Delete goes away, the provisioner deletes the whole shared subvolume, every namespace's backups (rook/rook#15008)",
  },
  check(ctx) {
    const report = reporter(this.meta);
    const out: Finding[] = [];
    for (const pv of sharedPvs(ctx.model)) {
      const verdict = reclaimVerdict(factsOfPv(ctx.model, pv));
      if (!verdict) continue;
      out.push(
        report(
          where(ctx, pv, ["spec", "persistentVolumeReclaimPolicy"]),
          `PersistentVolume ${pv.name}`,
          `persistentVolumeReclaimPolicy is ${verdict.policy}${verdict.style === "shared-handle" ? " on a PV with the shared volume handle: deleting its claim can delete the subvolume" : ""}`,
          `set persistentVolumeReclaimPolicy: Retain (${retainPatch(pv.name)} for the live object)`,
          { severity: verdict.severity, why: verdict.why },
        ),
      );
    }
    return out;
  },
};

export const oldKubernetes: Rule = {
  meta: {
    id: "volume/old-kubernetes",
    transports: PVC_ONLY,
    severity: "error",
    severityNote: "info when the repository states versions that disagree",
    title: "shared volume handle on Kubernetes < 1.24",
    why: "before 1.24 kubelet keyed the node's staging path by PV name, so two PVs with one handle on a node break each other's mounts (kubernetes/kubernetes#105899, fixed by #107065)",
  },
  check(ctx) {
    const v = ctx.kubernetesVersion;
    // Unknown version: the repository's statements disagree, and one below 1.24 is worth an info, never an error.
    const old = v ? [] : (ctx.kubernetesVersionCandidates ?? []).filter((c) => compareKube(c.version, 1, 24) < 0);
    if (v ? compareKube(v, 1, 24) >= 0 : old.length === 0) return [];
    const report = reporter(this.meta);
    const pvs = sharedPvs(ctx.model).filter((p) => styleOfPv(p) === "shared-handle");
    if (pvs.length < 2) return [];
    const first = referencePv(ctx, pvs) as ModelObject;
    if (!v) {
      return [
        report(
          where(ctx, first, ["spec", "csi", "volumeHandle"]),
          `PersistentVolume ${first.name}`,
          `${pvs.length} PVs share one volume handle, and the repository states Kubernetes ${describeStated(ctx.kubernetesVersionCandidates ?? [])}: if the cluster runs ${minorsOf(old)}, they break each other's mounts; which statement is true is not certain`,
          `${VERSION_FLAG_FIX} to check it; on a cluster older than 1.24, upgrade or switch every PV to the static style`,
          { severity: "info" },
        ),
      ];
    }
    return [
      report(
        where(ctx, first, ["spec", "csi", "volumeHandle"]),
        `PersistentVolume ${first.name}`,
        `${pvs.length} PVs share one volume handle and the cluster runs Kubernetes ${formatKubeVersion(v)}`,
        'upgrade to Kubernetes 1.24 or later, or switch every PV to the static style (staticVolume: "true", rootPath, unique handles)',
      ),
    ];
  },
};

export const volumeRules: Rule[] = [
  mixedStyle,
  attributeMismatch,
  handleMismatch,
  staticLayout,
  reclaimPolicy,
  oldKubernetes,
];
