/**
 * `drift`: the repository's declared PV/PVC pairs against the cluster's. Reports objects only in the
 * cluster, objects only in the repo, and differing handles, rootPaths, claimRefs, volumeNames and
 * reclaim policies. Pure: the desired pairs come from the GitOps model, the observed from a snapshot.
 */

import type { RepositoryPair } from "./claims.ts";
import { type Conventions, ksName } from "./config.ts";
import { kopiaPvs, type LivePv, type LivePvc, namespaceOfPv, type Observed } from "./live.ts";
import { str } from "./model.ts";
import { keepsData, retainFirst } from "./volume-facts.ts";

export interface DesiredPv {
  name: string;
  volumeHandle: string | undefined;
  rootPath: string | undefined;
  reclaimPolicy: string | undefined;
  claimRef: { namespace: string; name: string } | undefined;
  where: string;
}

export interface DesiredPvc {
  namespace: string;
  name: string;
  volumeName: string | undefined;
  where: string;
}

export interface DesiredPair {
  namespace: string;
  pv: DesiredPv | undefined;
  pvc: DesiredPvc | undefined;
  /** Flux Kustomization id (namespace/name) that delivers it. */
  via: string | undefined;
}

export type DriftChange = "not-in-repo" | "missing-in-cluster" | "differs";

export interface DriftItem {
  namespace: string;
  kind: "PersistentVolume" | "PersistentVolumeClaim";
  name: string;
  change: DriftChange;
  field?: string;
  repo?: string;
  cluster?: string;
  /** file:line in the repo, when declared there. */
  where?: string;
  fix: string;
}

export interface DriftReport {
  items: DriftItem[];
  /** Namespaces declared in the repo / present in the cluster. */
  repoNamespaces: string[];
  clusterNamespaces: string[];
  drift: boolean;
}

/** `${VAR}` left unresolved: not comparable. */
const unresolved = (v: string | undefined): boolean => v?.includes("${") === true;

export function desiredFromPairs(pairs: RepositoryPair[]): DesiredPair[] {
  return pairs.map((p) => {
    const pv = p.pv;
    const pvc = p.pvc;
    const refNs = pv ? str(pv.body, "spec", "claimRef", "namespace") : undefined;
    const refName = pv ? str(pv.body, "spec", "claimRef", "name") : undefined;
    return {
      namespace: p.namespace,
      via: p.via,
      pv: pv
        ? {
            name: pv.name,
            volumeHandle: str(pv.body, "spec", "csi", "volumeHandle"),
            rootPath: str(pv.body, "spec", "csi", "volumeAttributes", "rootPath"),
            reclaimPolicy: str(pv.body, "spec", "persistentVolumeReclaimPolicy"),
            claimRef: refName ? { namespace: refNs ?? "", name: refName } : undefined,
            where: `${pv.file}:${pv.line}`,
          }
        : undefined,
      pvc: pvc
        ? {
            namespace: pvc.namespace ?? p.namespace,
            name: pvc.name,
            volumeName: str(pvc.body, "spec", "volumeName"),
            where: `${pvc.file}:${pvc.line}`,
          }
        : undefined,
    };
  });
}

function reconcileFix(c: Conventions, pair: DesiredPair | undefined, ns: string): string {
  const ks = pair?.via?.split("/")[1] ?? ksName(c, ns);
  return `flux reconcile kustomization ${ks} --with-source`;
}

/**
 * What a fix that deletes `pv` or its claim says about the data: with Retain it stays; otherwise the fix
 * starts with the Retain patch (retainFirst) and says why.
 */
function dataNote(pv: LivePv | undefined): string {
  if (!pv) return "";
  return keepsData(pv)
    ? "Retain: the data stays"
    : `PV ${pv.name} is ${pv.reclaimPolicy || "not Retain"}: made Retain first, or deleting it or its claim can delete the subvolume it points at`;
}

export function computeDrift(desired: DesiredPair[], o: Observed, c: Conventions, only?: string[]): DriftReport {
  const inScope = (ns: string) => !only || only.includes(ns);
  const items: DriftItem[] = [];
  const pvcs = new Map<string, LivePvc>();
  for (const p of o.pvcs) if (p.name === c.claimName) pvcs.set(p.namespace, p);
  const pvs = new Map<string, LivePv>();
  for (const pv of o.pvs) pvs.set(pv.name, pv);
  const declaredPvs = new Set<string>();
  const declaredPvcs = new Set<string>();

  for (const d of desired) {
    if (!inScope(d.namespace)) continue;
    if (d.pvc) {
      declaredPvcs.add(d.pvc.namespace);
      const live = pvcs.get(d.pvc.namespace);
      if (!live) {
        items.push({
          namespace: d.namespace,
          kind: "PersistentVolumeClaim",
          name: `${d.pvc.namespace}/${d.pvc.name}`,
          change: "missing-in-cluster",
          where: d.pvc.where,
          fix: reconcileFix(c, d, d.namespace),
        });
      } else if (
        d.pvc.volumeName !== undefined &&
        !unresolved(d.pvc.volumeName) &&
        live.volumeName !== d.pvc.volumeName
      ) {
        const bound = live.volumeName ? pvs.get(live.volumeName) : undefined;
        const note = dataNote(bound);
        items.push({
          namespace: d.namespace,
          kind: "PersistentVolumeClaim",
          name: `${d.pvc.namespace}/${d.pvc.name}`,
          change: "differs",
          field: "spec.volumeName",
          repo: d.pvc.volumeName,
          cluster: live.volumeName ?? "(none)",
          where: d.pvc.where,
          fix: `${retainFirst(bound)}kubectl delete pvc -n ${d.pvc.namespace} ${d.pvc.name} && ${reconcileFix(c, d, d.namespace)}  # a PVC's volumeName is immutable${note ? `; ${note}` : ""}`,
        });
      }
    }
    if (d.pv) {
      declaredPvs.add(d.pv.name);
      const live = pvs.get(d.pv.name);
      if (!live) {
        items.push({
          namespace: d.namespace,
          kind: "PersistentVolume",
          name: d.pv.name,
          change: "missing-in-cluster",
          where: d.pv.where,
          fix: reconcileFix(c, d, d.namespace),
        });
        continue;
      }
      const recreate = `${retainFirst(live)}kubectl delete pvc -n ${d.namespace} ${c.claimName} && kubectl delete pv ${d.pv.name} && ${reconcileFix(c, d, d.namespace)}  # spec.csi is immutable; ${dataNote(live)}`;
      const cmp = (field: string, repo: string | undefined, cluster: string | undefined, fix: string) => {
        if (repo === undefined || unresolved(repo) || repo === cluster) return;
        items.push({
          namespace: d.namespace,
          kind: "PersistentVolume",
          name: d.pv?.name ?? "",
          change: "differs",
          field,
          repo,
          cluster: cluster ?? "(none)",
          where: d.pv?.where,
          fix,
        });
      };
      cmp("spec.csi.volumeHandle", d.pv.volumeHandle, live.volumeHandle, recreate);
      cmp("spec.csi.volumeAttributes.rootPath", d.pv.rootPath, live.volumeAttributes.rootPath, recreate);
      cmp(
        "spec.persistentVolumeReclaimPolicy",
        d.pv.reclaimPolicy,
        live.reclaimPolicy,
        `${reconcileFix(c, d, d.namespace)}  # or: kubectl patch pv ${d.pv.name} -p '{"spec":{"persistentVolumeReclaimPolicy":"${d.pv.reclaimPolicy}"}}'`,
      );
      if (d.pv.claimRef) {
        const want = `${d.pv.claimRef.namespace}/${d.pv.claimRef.name}`;
        const have = live.claimRef ? `${live.claimRef.namespace}/${live.claimRef.name}` : undefined;
        cmp(
          "spec.claimRef",
          want,
          have,
          have
            ? `the PV is held by ${have}: see \`kopiashare doctor -n ${d.namespace}\` (check pv/bound-elsewhere)`
            : `kubectl patch pv ${d.pv.name} --type merge -p '{"spec":{"claimRef":{"namespace":"${d.pv.claimRef.namespace}","name":"${d.pv.claimRef.name}"}}}'`,
        );
      }
    }
  }

  for (const [ns, p] of [...pvcs.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (declaredPvcs.has(ns) || !inScope(ns)) continue;
    const bound = p.volumeName ? pvs.get(p.volumeName) : undefined;
    const note = dataNote(bound);
    items.push({
      namespace: ns,
      kind: "PersistentVolumeClaim",
      name: `${ns}/${p.name}`,
      change: "not-in-repo",
      fix: `kopiashare enable ${ns}  # declare it; or, if it is no longer wanted: ${retainFirst(bound)}kubectl delete pvc -n ${ns} ${p.name}${note ? ` (${note})` : ""}`,
    });
  }
  for (const pv of kopiaPvs(o, c).sort((a, b) => a.name.localeCompare(b.name))) {
    const ns = namespaceOfPv(pv, c) ?? "";
    if (declaredPvs.has(pv.name) || !inScope(ns)) continue;
    items.push({
      namespace: ns,
      kind: "PersistentVolume",
      name: pv.name,
      change: "not-in-repo",
      fix: ns
        ? `kopiashare enable ${ns}  # declare it; or, if it is no longer wanted: ${retainFirst(pv)}kubectl delete pv ${pv.name} (${dataNote(pv)})`
        : `${retainFirst(pv)}kubectl delete pv ${pv.name}  # if it is no longer wanted (${dataNote(pv)})`,
    });
  }
  items.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind));
  const repoNamespaces = [...new Set(desired.map((d) => d.namespace))].filter(inScope).sort();
  const clusterNamespaces = [...new Set([...pvcs.keys(), ...kopiaPvs(o, c).map((pv) => namespaceOfPv(pv, c) ?? "")])]
    .filter((n) => n && inScope(n))
    .sort();
  return { items, repoNamespaces, clusterNamespaces, drift: items.length > 0 };
}
