// Denied permissions, answered with the apiserver's Forbidden Status.

import { ApiError, status } from "./errors.ts";
import type { Verb } from "./types.ts";

export interface DenyRule {
  verb: Verb;
  /** Plural resource name, e.g. "persistentvolumes"; a subresource as "pods/log". */
  resource: string;
  /** Omit to deny in every namespace and at the cluster scope. */
  namespace?: string;
  /** API group; omit to match the resource in any group. */
  group?: string;
}

export interface AccessRequest {
  verb: Verb;
  resource: string;
  group: string;
  namespace?: string;
  name?: string;
}

export class Denied {
  /** The user named in Forbidden messages. */
  user: string;
  private readonly rules: DenyRule[] = [];
  private readonly paths = new Set<string>();

  constructor(user: string) {
    this.user = user;
  }

  add(rule: DenyRule): void {
    this.rules.push(rule);
  }

  clear(): void {
    this.rules.length = 0;
    this.paths.clear();
  }

  /** Denies "get" of a non-resource URL (a discovery document such as "/apis/volsync.backube/v1alpha1"). */
  addPath(path: string): void {
    this.paths.add(path);
  }

  /** Throws the authorizer's 403 when `path` is denied. */
  checkPath(path: string): void {
    if (this.paths.has(path)) {
      throw new ApiError(status(403, "Forbidden", `forbidden: User "${this.user}" cannot get path "${path}"`));
    }
  }

  get list(): readonly DenyRule[] {
    return this.rules;
  }

  /** Throws a 403 ApiError when a rule denies the request. */
  check(r: AccessRequest): void {
    const hit = this.rules.find(
      (x) =>
        x.verb === r.verb &&
        x.resource === r.resource &&
        (x.group === undefined || x.group === r.group) &&
        (x.namespace === undefined || x.namespace === r.namespace),
    );
    if (hit) throw forbidden(this.user, r);
  }
}

/**
 * The authorizer's message, e.g. `persistentvolumes is forbidden: User "u" cannot list resource
 * "persistentvolumes" in API group "" at the cluster scope`; subresources read "pods/log".
 */
export function forbidden(user: string, r: AccessRequest): ApiError {
  const resource = r.resource.split("/")[0] ?? r.resource;
  const qualified = r.group ? `${resource}.${r.group}` : resource;
  const subject = r.name ? `${qualified} "${r.name}"` : qualified;
  const scope = r.namespace ? `in the namespace "${r.namespace}"` : "at the cluster scope";
  const message = `${subject} is forbidden: User "${user}" cannot ${r.verb} resource "${r.resource}" in API group "${r.group}" ${scope}`;
  const details: { kind: string; group: string; name?: string } = { kind: resource, group: r.group };
  if (r.name) details.name = r.name;
  return new ApiError(status(403, "Forbidden", message, details));
}
