// Label and field selectors, parsed the way apimachinery parses them.

import { badRequest } from "./errors.ts";
import type { ResourceType } from "./registry.ts";
import { dig, type KubeObject } from "./types.ts";

type LabelOp = "=" | "!=" | "in" | "notin" | "exists" | "!exists";
interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

export type Matcher = (obj: KubeObject) => boolean;

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function parseLabelRequirement(raw: string, selector: string): LabelRequirement {
  const setMatch = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(raw);
  let req: LabelRequirement;
  if (setMatch) {
    const values = (setMatch[3] ?? "")
      .split(",")
      .map((v) => v.trim())
      .filter((v) => v !== "");
    req = { key: setMatch[1] ?? "", op: setMatch[2] === "in" ? "in" : "notin", values };
  } else if (raw.startsWith("!")) {
    req = { key: raw.slice(1).trim(), op: "!exists", values: [] };
  } else {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(raw);
    if (m) req = { key: m[1] ?? "", op: m[2] === "!=" ? "!=" : "=", values: [m[3] ?? ""] };
    else req = { key: raw, op: "exists", values: [] };
  }
  if (!LABEL_KEY.test(req.key)) throw badRequest(`unable to parse requirement: invalid label key "${req.key}"`);
  if (req.op !== "exists" && req.op !== "!exists" && !req.values.every((v) => /^[-A-Za-z0-9_.]*$/.test(v))) {
    throw badRequest(`unable to parse requirement: invalid label value in "${raw}" (selector "${selector}")`);
  }
  return req;
}

export function parseLabelSelector(selector: string | undefined): Matcher {
  if (!selector) return () => true;
  const reqs = splitTopLevel(selector).map((r) => parseLabelRequirement(r, selector));
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return reqs.every((r) => {
      const has = Object.hasOwn(labels, r.key);
      const v = labels[r.key];
      switch (r.op) {
        case "exists":
          return has;
        case "!exists":
          return !has;
        case "=":
          return has && v === r.values[0];
        case "!=":
          return !has || v !== r.values[0];
        case "in":
          return has && r.values.includes(v ?? "");
        case "notin":
          return !has || !r.values.includes(v ?? "");
      }
      return false;
    });
  };
}

function fieldValue(obj: KubeObject, label: string): string {
  if (label === "source") return String(dig(obj, "source", "component") ?? "");
  const v = dig(obj, ...label.split("."));
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : String(v);
}

/** Field selectors: only the labels the real API supports for the type (400 otherwise). */
export function parseFieldSelector(selector: string | undefined, type: ResourceType): Matcher {
  if (!selector) return () => true;
  const supported = new Set(["metadata.name", "metadata.namespace", ...type.fieldLabels]);
  const reqs = splitTopLevel(selector).map((raw) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(raw);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
    const label = m[1] ?? "";
    if (!supported.has(label)) throw badRequest(`field label not supported: ${label}`);
    return { label, neg: m[2] === "!=", value: m[3] ?? "" };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.label) === r.value) !== r.neg);
}
