// Discovery documents: /version, /api, /api/v1, /apis, /apis/<group>[/<version>].

import { type Registry, type ResourceType, VERBS } from "./registry.ts";
import type { JsonObject } from "./types.ts";

export interface ServerVersion {
  major: string;
  minor: string;
}

export function versionDoc(v: ServerVersion): JsonObject {
  return {
    major: v.major,
    minor: v.minor,
    gitVersion: `v${v.major}.${v.minor}.0`,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2024-12-11T00:00:00Z",
    goVersion: "go1.23.4",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

export function apiVersionsDoc(serverAddress: string): JsonObject {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function resourceEntries(t: ResourceType): JsonObject[] {
  const main: JsonObject = {
    name: t.plural,
    singularName: t.singular,
    namespaced: t.namespaced,
    kind: t.kind,
    verbs: VERBS,
  };
  if (t.shortNames.length) main.shortNames = t.shortNames;
  if (t.categories.length) main.categories = t.categories;
  const out = [main];
  if (t.statusSubresource) {
    out.push({
      name: `${t.plural}/status`,
      singularName: "",
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: ["get", "patch", "update"],
    });
  }
  if (t.kind === "Pod") {
    out.push({ name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] });
  }
  return out;
}

/** APIResourceList for a group/version, or undefined when it is not served. */
export function resourceListDoc(registry: Registry, group: string, version: string): JsonObject | undefined {
  const types = registry.types.filter((t) => t.group === group && t.version === version);
  if (!types.length) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources: types.flatMap(resourceEntries),
  };
}

function groupDoc(group: string, versions: string[]): JsonObject {
  const gv = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: gv, preferredVersion: gv[0] ?? null };
}

export function apiGroupListDoc(registry: Registry): JsonObject {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: registry
      .groups()
      .filter((g) => g.group !== "")
      .map((g) => groupDoc(g.group, g.versions)),
  };
}

export function apiGroupDoc(registry: Registry, group: string): JsonObject | undefined {
  const g = registry.groups().find((x) => x.group === group && group !== "");
  return g ? { kind: "APIGroup", apiVersion: "v1", ...groupDoc(g.group, g.versions) } : undefined;
}
