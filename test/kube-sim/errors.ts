// Kubernetes Status objects and the error that carries them.

import type { JsonObject } from "./types.ts";

export type StatusReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "Forbidden"
  | "Unauthorized"
  | "TooManyRequests"
  | "InternalError"
  | "ServiceUnavailable"
  | "Expired"
  | "Gone"
  | "BadRequest"
  | "MethodNotAllowed"
  | "UnsupportedMediaType"
  | "NotAcceptable";

export interface StatusDetails extends JsonObject {
  name?: string;
  group?: string;
  kind?: string;
  retryAfterSeconds?: number;
  causes?: { reason: string; message: string; field: string }[];
}

export interface Status extends JsonObject {
  kind: "Status";
  apiVersion: "v1";
  metadata: JsonObject;
  status: "Failure";
  message: string;
  reason: StatusReason;
  details?: StatusDetails;
  code: number;
}

export function status(code: number, reason: StatusReason, message: string, details?: StatusDetails): Status {
  const s: Status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
  if (details) s.details = details;
  return s;
}

/** Thrown by the store and the controllers; the server turns it into a Status response. */
export class ApiError extends Error {
  readonly code: number;
  readonly status: Status;
  constructor(st: Status) {
    super(st.message);
    this.name = "ApiError";
    this.code = st.code;
    this.status = st;
  }
}

/** `resource` is the plural, `group` the API group ("" for core), as in real messages. */
const qualified = (resource: string, group: string) => (group ? `${resource}.${group}` : resource);

export const notFound = (resource: string, group: string, name: string, kind = resource) =>
  new ApiError(status(404, "NotFound", `${qualified(resource, group)} "${name}" not found`, { name, group, kind }));

export const alreadyExists = (resource: string, group: string, name: string, kind = resource) =>
  new ApiError(
    status(409, "AlreadyExists", `${qualified(resource, group)} "${name}" already exists`, { name, group, kind }),
  );

export const conflict = (resource: string, group: string, name: string, kind = resource) =>
  new ApiError(
    status(
      409,
      "Conflict",
      `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, group, kind },
    ),
  );

export interface Cause {
  field: string;
  reason: "FieldValueForbidden" | "FieldValueRequired" | "FieldValueInvalid" | "FieldValueNotSupported";
  detail: string;
}

const causeLabel: Record<Cause["reason"], string> = {
  FieldValueForbidden: "Forbidden",
  FieldValueRequired: "Required value",
  FieldValueInvalid: "Invalid value",
  FieldValueNotSupported: "Unsupported value",
};

/** 422 like apimachinery's NewInvalid: `Kind "name" is invalid: field: Forbidden: detail`. */
export function invalid(kind: string, group: string, name: string, causes: Cause[]): ApiError {
  const parts = causes.map((c) => `${c.field}: ${causeLabel[c.reason]}: ${c.detail}`);
  const joined = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  return new ApiError(
    status(422, "Invalid", `${kind} "${name}" is invalid: ${joined}`, {
      name,
      group,
      kind,
      causes: causes.map((c) => ({
        reason: c.reason,
        message: `${causeLabel[c.reason]}: ${c.detail}`,
        field: c.field,
      })),
    }),
  );
}

export const badRequest = (message: string) => new ApiError(status(400, "BadRequest", message));
