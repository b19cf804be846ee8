/**
 * Registration: listing what kopiashare writes in the kustomization.yaml that delivers it, done one way
 * for `enable` and `init`. Flux builds a folder without a kustomization.yaml from every YAML file below
 * it, so creating one in a folder that already holds manifests would silently stop Flux from applying
 * them: such a folder only gets a note.
 */
import { renderKustomization, renderNamespace } from "../core/render/instance.ts";
import { addEntry } from "./kustomize-edit.ts";
import { type FileChange, readMaybe } from "./plan.ts";
import type { RepoScan } from "./scan.ts";

const BUILTIN_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);

/** What a registration adds to: the plan's changes, its notes, and the manifests -o yaml prints. */
export interface Registering {
  changes: FileChange[];
  notes: string[];
  manifests: Record<string, string>;
}

/**
 * Lists `entries` in `<dir>/kustomization.yaml`, merged into a change of that file the plan already has.
 * False (and nothing planned) when the file does not exist.
 */
function addToKustomization(root: string, dir: string, entries: string[], changes: FileChange[]): boolean {
  const file = `${dir}/kustomization.yaml`;
  const pending = changes.find((ch) => ch.path === file);
  const before = pending ? pending.before : readMaybe(root, file);
  const current = pending ? pending.after : before;
  if (current === null) return false;
  let after = current;
  for (const e of entries) after = addEntry(after, file, e);
  if (pending) pending.after = after;
  else changes.push({ path: file, before, after });
  return true;
}

/** Lists `entries` in `<dir>/kustomization.yaml`; a note when there is none (never creates one). */
export function register(scan: RepoScan, dir: string, entries: string[], plan: Registering): void {
  if (addToKustomization(scan.root, dir, entries, plan.changes)) return;
  plan.notes.push(
    `${dir}/ has no kustomization.yaml: make sure whatever applies ${dir}/ includes ${entries.join(", ")}`,
  );
}

/** YAML files below `dir` in the repo that this plan does not write itself. */
function holdsOtherManifests(scan: RepoScan, dir: string, changes: FileChange[]): boolean {
  const own = new Set(changes.map((c) => c.path));
  for (const f of scan.texts.keys()) if (f.startsWith(`${dir}/`) && !own.has(f)) return true;
  return false;
}

/**
 * Lists `entries` in the namespace folder's kustomization.yaml. When the folder has none:
 * - it holds other manifests: a note (a new kustomization.yaml would hide them from Flux);
 * - otherwise a new folder: creates its kustomization.yaml (with a namespace.yaml first, unless the repo
 *   already declares the Namespace or it is built in) and lists the folder in its parent's kustomization.yaml.
 */
export function registerInNamespaceFolder(
  scan: RepoScan,
  o: { namespace: string; nsDir: string; entries: string[] },
  plan: Registering,
): void {
  const { nsDir } = o;
  if (addToKustomization(scan.root, nsDir, o.entries, plan.changes)) return;
  if (holdsOtherManifests(scan, nsDir, plan.changes)) {
    plan.notes.push(
      `${nsDir}/ has manifests but no kustomization.yaml: make sure whatever applies it includes ${o.entries.join(", ")}`,
    );
    return;
  }
  const entries = [...o.entries];
  const declared = scan.objects.some((x) => x.kind === "Namespace" && x.name === o.namespace);
  if (!declared && !BUILTIN_NAMESPACES.has(o.namespace)) {
    const file = `${nsDir}/namespace.yaml`;
    const after = renderNamespace(o.namespace);
    plan.manifests[file] = after;
    plan.changes.push({ path: file, before: readMaybe(scan.root, file), after, expected: after });
    entries.unshift("./namespace.yaml");
  }
  plan.changes.push({ path: `${nsDir}/kustomization.yaml`, before: null, after: renderKustomization(entries) });
  const parent = nsDir.slice(0, nsDir.lastIndexOf("/"));
  register(scan, parent, [`./${nsDir.slice(parent.length + 1)}`], plan);
}
