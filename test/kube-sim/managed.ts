// Field ownership for server-side apply: metadata.managedFields entries per field manager, and the
// 409 Conflict an apply gets when it would change a field another manager owns. A coarse model of
// structured-merge-diff (see README.md, "Server-side apply"): a field is a leaf path of the JSON
// object, lists are atomic (owned whole), and only identical paths are compared.

import { ApiError, status } from "./errors.ts";
import { apiVersionOf, type ResourceType } from "./registry.ts";
import { clone, deepEqual, dig, isObject, type JsonObject, type JsonValue, type KubeObject } from "./types.ts";

export interface ManagedFieldsEntry extends JsonObject {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: JsonObject;
}

type Path = string[];

/** metadata fields that are identity or server-owned, never part of a field set. */
const META_SKIP = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "managedFields",
  "selfLink",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
]);

/** The leaf paths of an object (objects recurse, lists and scalars are leaves; an empty object is a leaf). */
export function leafPaths(obj: KubeObject, t: ResourceType): Path[] {
  const out: Path[] = [];
  const walk = (v: JsonValue | undefined, p: Path) => {
    if (v === undefined) return;
    if (isObject(v) && Object.keys(v).some((k) => v[k] !== undefined)) {
      for (const [k, c] of Object.entries(v)) walk(c, [...p, k]);
    } else out.push(p);
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === "apiVersion" || k === "kind") continue;
    if (k === "status" && t.statusSubresource) continue;
    if (k === "metadata" && isObject(v)) {
      for (const [mk, mv] of Object.entries(v)) if (!META_SKIP.has(mk)) walk(mv, ["metadata", mk]);
      continue;
    }
    walk(v, [k]);
  }
  return out;
}

const keyOf = (p: Path) => JSON.stringify(p);

export function toFieldsV1(paths: Path[]): JsonObject {
  const root: JsonObject = {};
  for (const p of paths) {
    let node = root;
    for (const seg of p) {
      const k = `f:${seg}`;
      let next = node[k];
      if (!isObject(next)) {
        next = {};
        node[k] = next;
      }
      node = next;
    }
  }
  return root;
}

/** Leaf paths of a FieldsV1 set; anything but "f:" keys (list keys, ".") makes its node a leaf. */
export function fromFieldsV1(f: JsonValue | undefined): Path[] {
  const out: Path[] = [];
  const walk = (node: JsonValue | undefined, p: Path) => {
    const keys = isObject(node) ? Object.keys(node) : [];
    const fields = keys.filter((k) => k.startsWith("f:"));
    if (fields.length === 0 || fields.length !== keys.length) {
      if (p.length) out.push(p);
      if (fields.length === 0) return;
    }
    for (const k of fields) walk((node as JsonObject)[k], [...p, k.slice(2)]);
  };
  walk(f, []);
  return out;
}

export function entriesOf(obj: KubeObject | undefined): ManagedFieldsEntry[] {
  const mf = obj?.metadata.managedFields;
  return Array.isArray(mf)
    ? (mf.filter((e) => isObject(e) && typeof e.manager === "string") as ManagedFieldsEntry[])
    : [];
}

const now = () => `${new Date().toISOString().slice(0, 19)}Z`;

/** A new entry; it keeps `prev`'s time when the field set is the same (a no-op write stays a no-op). */
function entry(
  t: ResourceType,
  manager: string,
  operation: "Apply" | "Update",
  paths: Path[],
  prev?: ManagedFieldsEntry,
): ManagedFieldsEntry {
  const fieldsV1 = toFieldsV1(paths);
  if (prev && prev.apiVersion === apiVersionOf(t) && deepEqual(prev.fieldsV1, fieldsV1)) return prev;
  return {
    manager,
    operation,
    apiVersion: apiVersionOf(t),
    time: now(),
    fieldsType: "FieldsV1",
    fieldsV1,
  };
}

/** How apiserver names a manager in a conflict: `"m"` for Apply, `"m" using v1` for Update. */
const printManager = (e: ManagedFieldsEntry) =>
  e.operation === "Update" ? `"${e.manager}" using ${e.apiVersion}` : `"${e.manager}"`;

const dotted = (p: Path) => `.${p.join(".")}`;

function conflictError(conflicts: { entry: ManagedFieldsEntry; path: Path }[]): ApiError {
  let message: string;
  const first = conflicts[0];
  if (conflicts.length === 1 && first) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(first.entry)}: ${dotted(first.path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const m = printManager(c.entry);
      byManager.set(m, [...(byManager.get(m) ?? []), dotted(c.path)]);
    }
    const lines: string[] = [];
    for (const m of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${m}:`);
      for (const p of byManager.get(m) ?? []) lines.push(`- ${p}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`;
  }
  return new ApiError(
    status(409, "Conflict", message, {
      causes: conflicts.map((c) => ({
        reason: "FieldManagerConflict",
        message: `conflict with ${printManager(c.entry)}`,
        field: dotted(c.path),
      })),
    }),
  );
}

function removeAt(obj: JsonObject, p: Path): void {
  const parent = dig(obj, ...p.slice(0, -1));
  const last = p[p.length - 1];
  if (isObject(parent) && last !== undefined) delete parent[last];
}

/**
 * Server-side apply of `applied` by `manager` onto `existing` (undefined: create), given `merged`
 * (the object after the merge): checks conflicts (409 unless `force`), takes ownership of the
 * applied fields, removes fields this manager applied before and no longer applies (when nobody
 * else owns them), and returns `merged` with metadata.managedFields set.
 */
export function applyOwnership(
  t: ResourceType,
  existing: KubeObject | undefined,
  applied: KubeObject,
  merged: KubeObject,
  manager: string,
  force: boolean,
): KubeObject {
  const appliedPaths = leafPaths(applied, t);
  const appliedKeys = new Set(appliedPaths.map(keyOf));
  const others = entriesOf(existing)
    .filter((e) => !(e.manager === manager && e.operation === "Apply"))
    .map((e) => ({ entry: e, paths: fromFieldsV1(e.fieldsV1) }));
  const conflicts: { entry: ManagedFieldsEntry; path: Path }[] = [];
  for (const o of others) {
    if (o.entry.manager === manager) continue; // the same manager's Update entry: no conflict with itself
    for (const p of o.paths) {
      if (appliedKeys.has(keyOf(p)) && existing && !deepEqual(dig(existing, ...p), dig(applied, ...p))) {
        conflicts.push({ entry: o.entry, path: p });
      }
    }
  }
  if (conflicts.length && !force) throw conflictError(conflicts);
  const lost = new Set(conflicts.map((c) => keyOf(c.path)));
  const out = clone(merged);
  const before = entriesOf(existing).find((e) => e.manager === manager && e.operation === "Apply");
  const owned = new Set(others.flatMap((o) => o.paths.filter((p) => !lost.has(keyOf(p))).map(keyOf)));
  for (const p of before ? fromFieldsV1(before.fieldsV1) : []) {
    const k = keyOf(p);
    if (!appliedKeys.has(k) && !owned.has(k)) removeAt(out, p);
  }
  const entries: ManagedFieldsEntry[] = [];
  for (const o of others) {
    const kept = o.paths.filter((p) => !(lost.has(keyOf(p)) && o.entry.manager !== manager));
    if (kept.length) entries.push({ ...o.entry, fieldsV1: toFieldsV1(kept) });
  }
  entries.push(entry(t, manager, "Apply", appliedPaths, before));
  out.metadata.managedFields = entries;
  return out;
}

/**
 * A non-apply write (create, update, merge/json patch) by `manager`: it owns the fields whose value
 * it set or changed (an Update entry); the others lose those fields; removed fields leave every set.
 */
export function updateOwnership(
  t: ResourceType,
  existing: KubeObject | undefined,
  next: KubeObject,
  manager: string,
): JsonValue[] {
  const nextPaths = leafPaths(next, t);
  const oldPaths = existing ? leafPaths(existing, t) : [];
  const nextKeys = new Set(nextPaths.map(keyOf));
  const changed = nextPaths.filter((p) => !existing || !deepEqual(dig(existing, ...p), dig(next, ...p)));
  const touched = new Set([...changed.map(keyOf), ...oldPaths.filter((p) => !nextKeys.has(keyOf(p))).map(keyOf)]);
  const entries: ManagedFieldsEntry[] = [];
  let mine: Path[] = [];
  let prev: ManagedFieldsEntry | undefined;
  for (const e of entriesOf(existing)) {
    const paths = fromFieldsV1(e.fieldsV1).filter((p) => nextKeys.has(keyOf(p)));
    if (e.manager === manager && e.operation === "Update") {
      mine = paths;
      prev = e;
      continue;
    }
    const kept = paths.filter((p) => !touched.has(keyOf(p)));
    if (kept.length)
      entries.push(
        kept.length === paths.length && paths.length === fromFieldsV1(e.fieldsV1).length
          ? e
          : { ...e, fieldsV1: toFieldsV1(kept) },
      );
  }
  const mineKeys = new Set(mine.map(keyOf));
  for (const p of changed) if (!mineKeys.has(keyOf(p))) mine.push(p);
  if (mine.length) entries.push(entry(t, manager, "Update", mine, prev));
  return entries;
}
