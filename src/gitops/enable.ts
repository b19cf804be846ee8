/** Plans `enable` and `disable` of a namespace: instance files plus comment-preserving registration edits. */
import { type Conventions, type Layout, pvName } from "../core/config.ts";
import { checkLabel } from "../core/names.ts";
import { instancePaths, renderInstance, renderKustomization, renderNamespace } from "../core/render/instance.ts";
import type { RepositoryVolume, SourceRef } from "../core/topology.ts";
import { usageError } from "../errors.ts";
import {
  detectLayout,
  discoverSource,
  findInstances,
  instanceDir,
  resolveVolume,
  type VolumeFlags,
} from "./discover.ts";
import { allowedNamespacesChange } from "./init.ts";
import { addEntry, removeEntry } from "./kustomize-edit.ts";
import { type FileChange, type Plan, readMaybe } from "./plan.ts";
import type { RepoScan } from "./scan.ts";

const BUILTIN_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);

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

/** Adds `entry` to the kustomization.yaml in `dir` as a change of the plan; a note when there is none. */
function register(root: string, dir: string, entry: string, notes: string[]): FileChange | undefined {
  const file = `${dir}/kustomization.yaml`;
  const before = readMaybe(root, file);
  if (before === null) {
    notes.push(`${dir}/ has no kustomization.yaml: make sure whatever applies ${dir}/ includes ${entry}`);
    return undefined;
  }
  return { path: file, before, after: addEntry(before, file, entry) };
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
  const elsewhere = scan.objects.find(
    (x) => x.kind === "PersistentVolume" && x.name === pvName(conv, o.namespace) && x.doc.file !== paths.pvc,
  );
  if (elsewhere) {
    throw usageError(
      `PersistentVolume ${elsewhere.name} is already declared in ${elsewhere.doc.file}:${elsewhere.doc.line}`,
      "namespace looks enabled by hand; remove that declaration first, or leave it as it is",
    );
  }
  const volume = resolveVolume(scan, conv, o);
  const source = discoverSource(scan, conv, o.source);
  const manifests = renderInstance({ namespace: o.namespace, dir: where.dir, volume, source, conventions: conv });
  const changes: FileChange[] = Object.entries(manifests).map(([path, after]) => ({
    path,
    before: readMaybe(scan.root, path),
    after,
  }));
  const notes: string[] = [];
  const entry = `./${conv.folder}/ks.yaml`;
  const nsKustomization = readMaybe(scan.root, `${where.nsDir}/kustomization.yaml`);
  const nsFolderInUse = [...scan.texts.keys()].some(
    (f) => f.startsWith(`${where.nsDir}/`) && !f.startsWith(`${where.dir}/`),
  );
  if (nsKustomization !== null) {
    changes.push({
      path: `${where.nsDir}/kustomization.yaml`,
      before: nsKustomization,
      after: addEntry(nsKustomization, `${where.nsDir}/kustomization.yaml`, entry),
    });
  } else if (nsFolderInUse) {
    // Manifests without a kustomization.yaml are picked up by Flux's generated one; creating a
    // kustomization.yaml here would hide them, so leave the registration to the user.
    notes.push(
      `${where.nsDir}/ has manifests but no kustomization.yaml: make sure whatever applies it includes ${entry}`,
    );
  } else {
    // A new namespace folder: list it in its parent, and declare the Namespace unless the repo already does.
    const declared = scan.objects.some((x) => x.kind === "Namespace" && x.name === o.namespace);
    const entries = [entry];
    if (!declared && !BUILTIN_NAMESPACES.has(o.namespace)) {
      const file = `${where.nsDir}/namespace.yaml`;
      manifests[file] = renderNamespace(o.namespace);
      changes.push({ path: file, before: readMaybe(scan.root, file), after: manifests[file] });
      entries.unshift("./namespace.yaml");
    }
    changes.push({ path: `${where.nsDir}/kustomization.yaml`, before: null, after: renderKustomization(entries) });
    const parent = where.nsDir.slice(0, where.nsDir.lastIndexOf("/"));
    const up = register(scan.root, parent, `./${where.nsDir.slice(parent.length + 1)}`, notes);
    if (up) changes.push(up);
  }
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
}

/**
 * Removes the instance files and the registration. Refuses the repository's own namespace, and
 * namespaces that still have consumers (ReplicationSources etc.) unless forced.
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
  if (!instance)
    return { plan: { root: scan.root, changes: [] }, namespace: o.namespace, dir: undefined, clusterSteps: [] };
  const users = consumers(o.namespace);
  if (users.length > 0 && !o.force) {
    throw usageError(
      `namespace ${o.namespace} still has ${users.length} backup consumer(s) in the repository; nothing was written`,
      "remove or move them first, or pass --force (their movers will fail without the PVC)",
      users.map((u) => `  ${u.kind}/${u.name}  ${u.file}:${u.line}`).join("\n"),
    );
  }
  const paths = instancePaths(instance.dir);
  const changes: FileChange[] = [paths.pvc, paths.kustomization, paths.ks].map((path) => ({
    path,
    before: readMaybe(scan.root, path),
    after: null,
  }));
  const nsDir = instance.dir.slice(0, instance.dir.lastIndexOf("/"));
  const file = `${nsDir}/kustomization.yaml`;
  const before = readMaybe(scan.root, file);
  if (before !== null) changes.push({ path: file, before, after: removeEntry(before, file, `./${c.folder}/ks.yaml`) });
  const allowed = allowedNamespacesChange(scan, c, { remove: o.namespace });
  if (allowed) changes.push(allowed);
  const pv = pvName(c, o.namespace);
  return {
    plan: { root: scan.root, changes },
    namespace: o.namespace,
    dir: instance.dir,
    clusterSteps: [`kubectl delete pvc -n ${o.namespace} ${c.claimName}`, `kubectl delete pv ${pv}`],
  };
}
