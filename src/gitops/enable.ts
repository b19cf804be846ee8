/** Plans `enable` and `disable` of a namespace: instance files plus comment-preserving registration edits. */

import { readdirSync } from "node:fs";
import { type Conventions, type Layout, pvName } from "../core/config.ts";
import { checkLabel } from "../core/names.ts";
import { instancePaths, renderInstance, renderKustomization, renderNamespace } from "../core/render/instance.ts";
import { sameText } from "../core/text-style.ts";
import type { RepositoryVolume, SourceRef } from "../core/topology.ts";
import { usageError } from "../errors.ts";
import { resolveDelivery } from "./delivery.ts";
import {
  detectLayout,
  discoverSource,
  type FoundInstance,
  findInstances,
  instanceDir,
  isFluxKustomization,
  resolveVolume,
  type VolumeFlags,
  volumeOf,
} from "./discover.ts";
import { allowedNamespacesChange, detectState } from "./init.ts";
import { findKopiurVolume } from "./kopiur.ts";
import { removeEntry } from "./kustomize-edit.ts";
import { type FileChange, type Plan, readMaybe } from "./plan.ts";
import { registerInNamespaceFolder } from "./register.ts";
import { resolveInside } from "./repo.ts";
import { type RepoScan, str } from "./scan.ts";

export function validateNamespace(ns: string): void {
  const problem = checkLabel(ns, "namespace");
  if (problem) throw usageError(problem, "namespaces follow RFC 1123: at most 63 characters of a-z, 0-9 and '-'");
}

export interface EnableOptions extends VolumeFlags {
  namespace: string;
  tier?: string;
  layout?: Layout;
  source?: string;
}

export interface EnablePlan {
  plan: Plan;
  namespace: string;
  dir: string;
  layout: Layout;
  volume: RepositoryVolume;
  source: SourceRef;
  /** The instance manifests (path -> content), what `-o yaml` prints. */
  manifests: Record<string, string>;
  /** Things the user should know (e.g. a parent kustomization that does not exist). */
  notes: string[];
}

/**
 * Refuses a namespace whose PV `<pvPrefix><ns>`, or whose PVC `<claimName>`, the repository already declares
 * outside the instance enable writes (enabled by hand): a second declaration would fight the first. A claim
 * counts by its metadata.namespace or by the namespace Flux delivers it into.
 */
function refuseDeclaredElsewhere(scan: RepoScan, c: Conventions, ns: string, pvcFile: string): void {
  const hint = "the namespace looks enabled by hand; remove that declaration first, or leave it as it is";
  const pv = scan.objects.find(
    (x) => x.kind === "PersistentVolume" && x.name === pvName(c, ns) && x.doc.file !== pvcFile,
  );
  if (pv) throw usageError(`PersistentVolume ${pv.name} is already declared in ${pv.doc.file}:${pv.doc.line}`, hint);
  const isClaim = (x: { kind: string; name: string; apiVersion: string }, file: string) =>
    x.kind === "PersistentVolumeClaim" && x.apiVersion === "v1" && x.name === c.claimName && file !== pvcFile;
  const claims = scan.objects.filter((x) => isClaim(x, x.doc.file));
  if (claims.length === 0) return;
  const written = claims.find((x) => x.namespace === ns);
  const at = written
    ? written.doc
    : resolveDelivery(scan, c).objects.find((x) => isClaim(x, x.file) && x.namespace === ns)?.doc;
  if (at)
    throw usageError(`PersistentVolumeClaim ${ns}/${c.claimName} is already declared in ${at.file}:${at.line}`, hint);
}

export function planEnable(scan: RepoScan, c: Conventions, o: EnableOptions): EnablePlan {
  validateNamespace(o.namespace);
  const conv: Conventions = { ...c, layout: o.layout ?? c.layout };
  const instances = findInstances(scan, conv);
  const existing = instances.find((i) => i.namespace === o.namespace);
  const layout = existing?.layout ?? detectLayout(instances, conv);
  const where = existing
    ? { dir: existing.dir, nsDir: existing.dir.slice(0, existing.dir.lastIndexOf("/")), tier: existing.tier }
    : instanceDir(scan, conv, o.namespace, layout, o.tier ?? c.tier);
  const paths = instancePaths(where.dir);
  refuseDeclaredElsewhere(scan, conv, o.namespace, paths.pvc);
  const volume = resolveVolume(scan, conv, o);
  const source = discoverSource(scan, conv, o.source);
  // Kopiur: the namespace also gets the PV whose root is the repository directory, as the repository's own.
  const kopiurVolume = detectState(scan, conv).mover === "kopiur" ? findKopiurVolume(scan, conv) : undefined;
  const manifests = renderInstance({
    namespace: o.namespace,
    dir: where.dir,
    volume,
    source,
    conventions: conv,
    kopiurVolume,
  });
  // An existing instance file is expected to be exactly what enable renders now: anything else is a hand edit.
  const changes: FileChange[] = Object.entries(manifests).map(([path, after]) => ({
    path,
    before: readMaybe(scan.root, path),
    after,
    expected: after,
  }));
  const notes: string[] = [];
  registerInNamespaceFolder(
    scan,
    { namespace: o.namespace, nsDir: where.nsDir, entries: [`./${conv.folder}/ks.yaml`] },
    { changes, notes, manifests },
  );
  const allowed = allowedNamespacesChange(scan, conv, { add: o.namespace });
  if (allowed) changes.push(allowed);
  return {
    plan: { root: scan.root, changes },
    namespace: o.namespace,
    dir: where.dir,
    layout,
    volume,
    source,
    manifests,
    notes,
  };
}

/**
 * When enable created the namespace folder (its kustomization.yaml is exactly what enable writes for a new
 * folder, next to it only enable's namespace.yaml and the instance) and nothing else in the repository uses
 * the namespace: the changes that remove the folder's kustomization.yaml, its namespace.yaml and the
 * folder's entry in the parent's kustomization.yaml, so that disable undoes enable exactly. Undefined
 * otherwise (then only the instance's entry is removed).
 */
function folderCreatedByEnable(
  scan: RepoScan,
  c: Conventions,
  ns: string,
  nsDir: string,
  kustomization: string,
): { changes: FileChange[]; namespaceFile?: string } | undefined {
  const entry = `./${c.folder}/ks.yaml`;
  const nsFile = `${nsDir}/namespace.yaml`;
  const namespaceText = readMaybe(scan.root, nsFile);
  const withNs = namespaceText !== null && sameText(namespaceText, renderNamespace(ns));
  if (namespaceText !== null && !withNs) return undefined;
  const expected = renderKustomization(withNs ? ["./namespace.yaml", entry] : [entry]);
  if (!sameText(kustomization, expected)) return undefined;
  // nothing else in the folder (any file, YAML or not), and nothing elsewhere in or into the namespace
  const own = new Set(["kustomization.yaml", "namespace.yaml", c.folder]);
  let names: string[];
  try {
    names = readdirSync(resolveInside(scan.root, nsDir));
  } catch {
    return undefined;
  }
  if (names.some((n) => !own.has(n))) return undefined;
  const inside = (f: string) => f.startsWith(`${nsDir}/`);
  const usesNs = scan.objects.some(
    (x) =>
      !inside(x.doc.file) &&
      (x.namespace === ns ||
        (x.kind === "Namespace" && x.name === ns) ||
        str(x.body, "spec", "targetNamespace") === ns),
  );
  if (usesNs) return undefined;
  const changes: FileChange[] = [{ path: `${nsDir}/kustomization.yaml`, before: kustomization, after: null }];
  if (withNs) changes.push({ path: nsFile, before: namespaceText, after: null, expected: renderNamespace(ns) });
  const parent = nsDir.slice(0, nsDir.lastIndexOf("/"));
  const parentFile = `${parent}/kustomization.yaml`;
  const parentText = readMaybe(scan.root, parentFile);
  if (parentText !== null) {
    const after = removeEntry(parentText, parentFile, `./${nsDir.slice(parent.length + 1)}`);
    if (after !== parentText) changes.push({ path: parentFile, before: parentText, after });
  }
  return { changes, ...(withNs ? { namespaceFile: nsFile } : {}) };
}

export interface DisableOptions {
  namespace: string;
  force?: boolean;
}

export interface DisablePlan {
  plan: Plan;
  namespace: string;
  /** Empty when the namespace is not enabled. */
  dir: string | undefined;
  /** Cluster-side steps, in order. */
  clusterSteps: string[];
  /** The repo's PV for the namespace says persistentVolumeReclaimPolicy: Retain. */
  retain: boolean;
  /** What the user must know before running the cluster steps. */
  warnings: string[];
}

const RECLAIM_RETAIN_PATCH = `'{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'`;

/**
 * The instance files as enable renders them with the values kopiashare derives (volume, capacity, storage
 * class, claimRef, sourceRef, Flux timings) read back from the instance itself: a file that differs from
 * this differs in something kopiashare never writes, i.e. it was edited by hand.
 */
export function expectedInstance(scan: RepoScan, c: Conventions, instance: FoundInstance): Record<string, string> {
  const paths = instancePaths(instance.dir);
  const ks = scan.objects.find((x) => x.doc.file === paths.ks && isFluxKustomization(x));
  const kind = ks && str(ks.body, "spec", "sourceRef", "kind");
  const name = ks && str(ks.body, "spec", "sourceRef", "name");
  const source: SourceRef =
    kind && name
      ? {
          kind: kind as SourceRef["kind"],
          name,
          namespace: str(ks.body, "spec", "sourceRef", "namespace") ?? c.fluxNamespace,
        }
      : discoverSource(scan, c);
  const timing = (key: "interval" | "retryInterval" | "timeout") => (ks && str(ks.body, "spec", key)) ?? c[key];
  const conventions: Conventions = {
    ...c,
    capacity: undefined,
    storageClassName: undefined,
    claimRef: str(instance.pv.body, "spec", "claimRef", "name") !== undefined,
    interval: timing("interval"),
    retryInterval: timing("retryInterval"),
    timeout: timing("timeout"),
  };
  const kopiurPv = scan.objects.find((x) => x.doc.file === paths.kopiur && x.kind === "PersistentVolume");
  return renderInstance({
    namespace: instance.namespace,
    dir: instance.dir,
    volume: volumeOf(instance.pv),
    source,
    conventions,
    kopiurVolume: kopiurPv ? volumeOf(kopiurPv) : undefined,
  });
}

/**
 * Removes the instance files and the registration. Refuses the repository's own namespace, and
 * namespaces that still have consumers (ReplicationSources etc.) unless forced. The instance files are
 * expected to be what enable writes (see expectedInstance): runPlan refuses to delete hand edits.
 */
export function planDisable(
  scan: RepoScan,
  c: Conventions,
  o: DisableOptions,
  consumers: (ns: string) => { kind: string; name: string; file: string; line: number }[],
): DisablePlan {
  validateNamespace(o.namespace);
  if (o.namespace === c.repositoryNamespace) {
    throw usageError(
      `refusing to disable ${o.namespace}: it is the shared repository's home (repositoryNamespace)`,
      "its PV and PVC are the repository every namespace backs up into",
    );
  }
  const instance = findInstances(scan, c).find((i) => i.namespace === o.namespace);
  if (!instance) {
    return {
      plan: { root: scan.root, changes: [] },
      namespace: o.namespace,
      dir: undefined,
      clusterSteps: [],
      retain: true,
      warnings: [],
    };
  }
  const users = consumers(o.namespace);
  if (users.length > 0 && !o.force) {
    throw usageError(
      `namespace ${o.namespace} still has ${users.length} backup consumer(s) in the repository; nothing was written`,
      "remove or move them first, or pass --force (their movers will fail without the PVC)",
      users.map((u) => `  ${u.kind}/${u.name}  ${u.file}:${u.line}`).join("\n"),
    );
  }
  const paths = instancePaths(instance.dir);
  const expected = expectedInstance(scan, c, instance);
  const files = [
    paths.pvc,
    ...(readMaybe(scan.root, paths.kopiur) !== null ? [paths.kopiur] : []),
    paths.kustomization,
    paths.ks,
  ];
  const changes: FileChange[] = files.map((path) => ({
    path,
    before: readMaybe(scan.root, path),
    after: null,
    expected: expected[path] ?? null,
  }));
  const nsDir = instance.dir.slice(0, instance.dir.lastIndexOf("/"));
  const file = `${nsDir}/kustomization.yaml`;
  const before = readMaybe(scan.root, file);
  const created = before !== null ? folderCreatedByEnable(scan, c, o.namespace, nsDir, before) : undefined;
  if (created) changes.push(...created.changes);
  else if (before !== null)
    changes.push({ path: file, before, after: removeEntry(before, file, `./${c.folder}/ks.yaml`) });
  const allowed = allowedNamespacesChange(scan, c, { remove: o.namespace });
  if (allowed) changes.push(allowed);
  const pv = instance.pv.name;
  const policy = str(instance.pv.body, "spec", "persistentVolumeReclaimPolicy");
  const retain = policy === "Retain";
  const clusterSteps = [`kubectl delete pvc -n ${o.namespace} ${c.claimName}`, `kubectl delete pv ${pv}`];
  const warnings: string[] = [];
  if (created?.namespaceFile) {
    warnings.push(
      `${created.namespaceFile} goes too (enable created it with the namespace folder); it is annotated kustomize.toolkit.fluxcd.io/prune: disabled, so Flux leaves Namespace ${o.namespace} in the cluster: delete it yourself if nothing else runs there`,
    );
  }
  if (!retain) {
    clusterSteps.unshift(`kubectl patch pv ${pv} -p ${RECLAIM_RETAIN_PATCH}`);
    warnings.push(
      `PV ${pv} is not Retain (${policy === undefined ? "no persistentVolumeReclaimPolicy" : `persistentVolumeReclaimPolicy: ${policy}`} in ${instance.pv.doc.file}:${instance.pv.doc.line}): make it Retain (cluster step 1) before deleting its claim or the PV object; with Delete, a PV that shares the repository's volume handle can make the provisioner delete the whole shared subvolume, every namespace's backups with it`,
    );
  }
  return {
    plan: { root: scan.root, changes },
    namespace: o.namespace,
    dir: instance.dir,
    clusterSteps,
    retain,
    warnings,
  };
}
