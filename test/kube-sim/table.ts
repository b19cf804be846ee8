// meta.k8s.io/v1 Table responses, which kubectl asks for when it prints `get` output.

import { dig, type JsonObject, type JsonValue, type KubeObject, str } from "./types.ts";

interface Column {
  name: string;
  type: "string" | "integer" | "date";
  format?: string;
  priority?: number;
  cell: (o: KubeObject) => JsonValue;
}

export function humanAge(iso: string | undefined, nowMs = Date.now()): string {
  if (!iso) return "<unknown>";
  const s = Math.max(0, Math.floor((nowMs - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

const MODE_SHORT: Record<string, string> = {
  ReadWriteOnce: "RWO",
  ReadOnlyMany: "ROX",
  ReadWriteMany: "RWX",
  ReadWriteOncePod: "RWOP",
};

const modes = (v: JsonValue | undefined) =>
  Array.isArray(v) ? v.map((m) => MODE_SHORT[String(m)] ?? String(m)).join(",") : "";
const text = (v: JsonValue | undefined) => (v === undefined || v === null ? "" : String(v));
const name: Column = { name: "Name", type: "string", format: "name", cell: (o) => o.metadata.name ?? "" };
const age: Column = { name: "Age", type: "string", cell: (o) => humanAge(o.metadata.creationTimestamp) };

const COLUMNS: Record<string, Column[]> = {
  PersistentVolume: [
    name,
    { name: "Capacity", type: "string", cell: (o) => text(dig(o, "spec", "capacity", "storage")) },
    { name: "Access Modes", type: "string", cell: (o) => modes(dig(o, "spec", "accessModes")) },
    { name: "Reclaim Policy", type: "string", cell: (o) => text(dig(o, "spec", "persistentVolumeReclaimPolicy")) },
    { name: "Status", type: "string", cell: (o) => text(dig(o, "status", "phase")) },
    {
      name: "Claim",
      type: "string",
      cell: (o) => {
        const ns = str(dig(o, "spec", "claimRef", "namespace"));
        const n = str(dig(o, "spec", "claimRef", "name"));
        return n ? `${ns ?? ""}/${n}` : "";
      },
    },
    { name: "StorageClass", type: "string", cell: (o) => text(dig(o, "spec", "storageClassName")) },
    {
      name: "VolumeAttributesClass",
      type: "string",
      cell: (o) => text(dig(o, "spec", "volumeAttributesClassName")) || "<unset>",
    },
    { name: "Reason", type: "string", cell: (o) => text(dig(o, "status", "reason")) },
    age,
    { name: "VolumeMode", type: "string", priority: 1, cell: (o) => text(dig(o, "spec", "volumeMode")) },
  ],
  PersistentVolumeClaim: [
    name,
    { name: "Status", type: "string", cell: (o) => text(dig(o, "status", "phase")) },
    { name: "Volume", type: "string", cell: (o) => text(dig(o, "spec", "volumeName")) },
    { name: "Capacity", type: "string", cell: (o) => text(dig(o, "status", "capacity", "storage")) },
    { name: "Access Modes", type: "string", cell: (o) => modes(dig(o, "status", "accessModes")) },
    { name: "StorageClass", type: "string", cell: (o) => text(dig(o, "spec", "storageClassName")) },
    {
      name: "VolumeAttributesClass",
      type: "string",
      cell: (o) => text(dig(o, "spec", "volumeAttributesClassName")) || "<unset>",
    },
    age,
    { name: "VolumeMode", type: "string", priority: 1, cell: (o) => text(dig(o, "spec", "volumeMode")) },
  ],
  Namespace: [name, { name: "Status", type: "string", cell: (o) => text(dig(o, "status", "phase")) }, age],
  Event: [
    { name: "Last Seen", type: "string", cell: (o) => humanAge(str(o.lastTimestamp) ?? o.metadata.creationTimestamp) },
    { name: "Type", type: "string", cell: (o) => text(o.type) },
    { name: "Reason", type: "string", cell: (o) => text(o.reason) },
    {
      name: "Object",
      type: "string",
      cell: (o) => `${text(dig(o, "involvedObject", "kind")).toLowerCase()}/${text(dig(o, "involvedObject", "name"))}`,
    },
    { name: "Message", type: "string", cell: (o) => text(o.message) },
    { name: "Count", type: "integer", priority: 1, cell: (o) => Number(o.count ?? 1) },
    { name: "Name", type: "string", priority: 1, cell: (o) => o.metadata.name ?? "" },
  ],
  Pod: [
    name,
    {
      name: "Ready",
      type: "string",
      cell: (o) => {
        const cs = dig(o, "status", "containerStatuses");
        const list = Array.isArray(cs) ? cs : [];
        return `${list.filter((c) => dig(c, "ready") === true).length}/${list.length}`;
      },
    },
    {
      name: "Status",
      type: "string",
      cell: (o) => text(dig(o, "status", "reason")) || text(dig(o, "status", "phase")),
    },
    { name: "Restarts", type: "integer", cell: () => 0 },
    age,
  ],
  Job: [
    name,
    {
      name: "Status",
      type: "string",
      cell: (o) => {
        const conds = dig(o, "status", "conditions");
        const list = Array.isArray(conds) ? conds : [];
        if (list.some((c) => dig(c, "type") === "Complete")) return "Complete";
        if (list.some((c) => dig(c, "type") === "Failed")) return "Failed";
        return "Running";
      },
    },
    {
      name: "Completions",
      type: "string",
      cell: (o) => `${Number(dig(o, "status", "succeeded") ?? 0)}/${Number(dig(o, "spec", "completions") ?? 1)}`,
    },
    age,
  ],
};

export function toTable(kind: string, items: KubeObject[], resourceVersion: string, includeObject: string): JsonObject {
  const cols = COLUMNS[kind] ?? [name, age];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? "",
      description: c.name,
      priority: c.priority ?? 0,
    })),
    rows: items.map((o) => {
      const row: JsonObject = { cells: cols.map((c) => c.cell(o)) };
      if (includeObject === "Object") row.object = o;
      else if (includeObject !== "None") {
        row.object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
      }
      return row;
    }),
  };
}

/** True when the Accept header asks for a meta.k8s.io Table. */
export const wantsTable = (accept: string | undefined) => !!accept && /as=Table/.test(accept);
