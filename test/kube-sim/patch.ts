// Patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902); strategic merge and
// server-side apply are approximated by merge patch (lists are replaced, not merged by key).

import { parse as parseYaml } from "yaml";
import { ApiError, badRequest, status } from "./errors.ts";
import { clone, isObject, type JsonObject, type JsonValue } from "./types.ts";

export const PATCH_TYPES = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
} as const;
export type PatchContentType = (typeof PATCH_TYPES)[keyof typeof PATCH_TYPES];

export function patchTypeOf(contentType: string | undefined): PatchContentType {
  const base = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  for (const t of Object.values(PATCH_TYPES)) if (t === base) return t;
  throw new ApiError(
    status(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${Object.values(PATCH_TYPES).join(", ")}`,
    ),
  );
}

/** Parses a patch body (string or already-decoded JSON). Apply patches may be YAML. */
export function parsePatchBody(type: PatchContentType, body: string | JsonValue): JsonValue {
  if (typeof body !== "string") return body;
  try {
    return (type === PATCH_TYPES.apply ? parseYaml(body) : JSON.parse(body)) as JsonValue;
  } catch (e) {
    throw badRequest(`error decoding patch: ${(e as Error).message}`);
  }
}

export function mergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = mergePatch(out[k], v);
  }
  return out;
}

const unescapeToken = (s: string) => s.replace(/~1/g, "/").replace(/~0/g, "~");

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw badRequest(`the server rejected our request due to an error in our request`);
  return path.slice(1).split("/").map(unescapeToken);
}

interface Parent {
  container: JsonObject | JsonValue[];
  key: string;
}

function resolveParent(doc: JsonValue, tokens: string[], op: string, path: string): Parent {
  let cur: JsonValue | undefined = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined || cur === null || typeof cur !== "object") {
      throw jsonPatchError(op, path, "doc is missing path");
    }
  }
  if (cur === null || typeof cur !== "object") throw jsonPatchError(op, path, "doc is missing path");
  return { container: cur, key: tokens[tokens.length - 1] ?? "" };
}

function jsonPatchError(op: string, path: string, why: string): ApiError {
  // apiserver wraps evanphx/json-patch errors into a 422 (Invalid) for most failures.
  return new ApiError(
    status(422, "Invalid", `the server rejected our request due to an error in our request`, {
      causes: [{ reason: "FieldValueInvalid", message: `${why}: "${path}" (op ${op})`, field: path }],
    }),
  );
}

function getAt(doc: JsonValue, tokens: string[], op: string, path: string): JsonValue {
  if (tokens.length === 0) return doc;
  const { container, key } = resolveParent(doc, tokens, op, path);
  const v = Array.isArray(container) ? container[Number(key)] : container[key];
  if (v === undefined) throw jsonPatchError(op, path, "doc is missing key");
  return v;
}

function removeAt(doc: JsonValue, tokens: string[], op: string, path: string): JsonValue {
  const { container, key } = resolveParent(doc, tokens, op, path);
  if (Array.isArray(container)) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= container.length) throw jsonPatchError(op, path, "index out of range");
    return container.splice(i, 1)[0] as JsonValue;
  }
  if (!Object.hasOwn(container, key)) throw jsonPatchError(op, path, "unable to remove nonexistent key");
  const v = container[key] as JsonValue;
  delete container[key];
  return v;
}

function addAt(
  doc: JsonValue,
  tokens: string[],
  value: JsonValue,
  op: string,
  path: string,
  replace: boolean,
): JsonValue {
  if (tokens.length === 0) return value;
  const { container, key } = resolveParent(doc, tokens, op, path);
  if (Array.isArray(container)) {
    const i = key === "-" ? container.length : Number(key);
    if (!Number.isInteger(i) || i < 0 || i > container.length || (replace && i === container.length)) {
      throw jsonPatchError(op, path, "index out of range");
    }
    if (replace) container[i] = value;
    else container.splice(i, 0, value);
  } else {
    if (replace && !Object.hasOwn(container, key)) throw jsonPatchError(op, path, "doc is missing key");
    container[key] = value;
  }
  return doc;
}

export function jsonPatch(doc: JsonValue, ops: JsonValue): JsonValue {
  if (!Array.isArray(ops)) throw badRequest("json patch must be an array of operations");
  let cur = clone(doc);
  for (const raw of ops) {
    if (!isObject(raw)) throw badRequest("json patch operation must be an object");
    const op = String(raw.op ?? "");
    const path = String(raw.path ?? "");
    const tokens = pointer(path);
    switch (op) {
      case "add":
        cur = addAt(cur, tokens, clone(raw.value ?? null), op, path, false);
        break;
      case "replace":
        cur = addAt(cur, tokens, clone(raw.value ?? null), op, path, true);
        break;
      case "remove":
        removeAt(cur, tokens, op, path);
        break;
      case "test": {
        const actual = getAt(cur, tokens, op, path);
        if (JSON.stringify(actual) !== JSON.stringify(raw.value ?? null)) {
          throw jsonPatchError(op, path, "testing value failed");
        }
        break;
      }
      case "move":
      case "copy": {
        const from = String(raw.from ?? "");
        const fromTokens = pointer(from);
        const v = op === "move" ? removeAt(cur, fromTokens, op, from) : clone(getAt(cur, fromTokens, op, from));
        cur = addAt(cur, tokens, v, op, path, false);
        break;
      }
      default:
        throw badRequest(`Unexpected kind: ${op}`);
    }
  }
  return cur;
}

/** Applies any supported patch to `current` (a plain JSON object) and returns the new object. */
export function applyPatch(current: JsonObject, type: PatchContentType, body: JsonValue): JsonValue {
  if (type === PATCH_TYPES.json) return jsonPatch(current, body);
  if (!isObject(body)) throw badRequest("patch body must be a JSON object");
  return mergePatch(current, body);
}
