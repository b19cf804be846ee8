// core/v1 Events as the client-go event recorder writes them, with count aggregation.

import type { Store } from "./store.ts";
import type { KubeObject } from "./types.ts";

export interface EventInput {
  involved: KubeObject;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  component: string;
}

const now = () => `${new Date().toISOString().slice(0, 19)}Z`;

/** Records (or bumps the count of) an Event in the involved object's namespace. */
export function recordEvent(store: Store, e: EventInput): KubeObject {
  const ns = e.involved.metadata.namespace || "default";
  const involvedObject = {
    kind: e.involved.kind,
    namespace: e.involved.metadata.namespace,
    name: e.involved.metadata.name,
    uid: e.involved.metadata.uid,
    apiVersion: e.involved.apiVersion,
    resourceVersion: e.involved.metadata.resourceVersion,
  };
  const evType = store.registry.resolve("events");
  const same = store
    .listTyped(evType, { namespace: ns })
    .find(
      (x) =>
        x.reason === e.reason &&
        x.message === e.message &&
        x.type === e.type &&
        typeof x.involvedObject === "object" &&
        x.involvedObject !== null &&
        !Array.isArray(x.involvedObject) &&
        x.involvedObject.uid === e.involved.metadata.uid,
    );
  const ts = now();
  if (same) {
    const next = structuredClone(same);
    next.count = Number(same.count ?? 1) + 1;
    next.lastTimestamp = ts;
    next.involvedObject = involvedObject;
    return store.updateTyped(evType, next);
  }
  const hex = `${Date.now().toString(16)}${store.resourceVersion.toString(16).padStart(5, "0")}`;
  return store.createTyped(evType, {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${involvedObject.name}.${hex}`, namespace: ns },
    involvedObject,
    reason: e.reason,
    message: e.message,
    type: e.type,
    source: { component: e.component },
    reportingComponent: e.component,
    reportingInstance: "",
    count: 1,
    firstTimestamp: ts,
    lastTimestamp: ts,
    eventTime: null,
  });
}
