// src/kube/informer.ts against kube-sim: sync, events, bookmarks, reconnects, 410 re-list, stop.

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { Informer, type InformerOptions, keyOf } from "../../src/kube/informer.ts";
import { connectRest, type KubeObject, type RestClient } from "../../src/kube/rest.ts";
import { type Sim, startSim } from "../kube-sim/index.ts";
import { ensureNamespace } from "../kube-sim/scenarios.ts";

const cm = (ns: string, name: string, data: Record<string, string> = {}, labels?: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
  data,
});

async function until(what: string, f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An informer whose handlers log "add a/b", "update a/b", "delete a/b". */
function recording(rest: RestClient, path: string, opts: InformerOptions<KubeObject> = {}) {
  const log: string[] = [];
  const errors: unknown[] = [];
  const ac = new AbortController();
  const inf = new Informer(rest, path, {
    backoff: { baseMs: 10, maxMs: 50 },
    signal: ac.signal,
    onAdd: (o) => log.push(`add ${keyOf(o)}`),
    onUpdate: (a, b) => log.push(`update ${keyOf(b)} ${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
    onDelete: (o) => log.push(`delete ${keyOf(o)}`),
    onError: (e) => errors.push(e),
    ...opts,
  });
  return { inf, log, errors, ac };
}

describe("informer", () => {
  let sim: Sim;
  let rest: RestClient;
  const stops: (() => Promise<void>)[] = [];
  beforeEach(async () => {
    sim = await startSim({ watchHistory: 4, bookmarkIntervalMs: 0 });
    for (const ns of ["a", "b"]) ensureNamespace(sim, ns);
    sim.store.create(cm("a", "one"));
    sim.store.create(cm("a", "two", {}, { app: "x" }));
    sim.store.create(cm("b", "three", {}, { app: "x" }));
    rest = connectRest({ kubeconfig: sim.kubeconfigPath, env: {}, timeoutMs: 5000 });
  });
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
    await sim.close();
  });
  const start = (path = "/api/v1/configmaps", opts: InformerOptions<KubeObject> = {}) => {
    const r = recording(rest, path, opts);
    stops.push(() => r.inf.stop());
    return r;
  };

  test("initial list fills the cache, calls onAdd per object, then watches from its resourceVersion", async () => {
    const { inf, log } = start();
    await inf.synced;
    assert.equal(inf.hasSynced, true);
    assert.deepEqual(log, ["add a/one", "add a/two", "add b/three"]);
    assert.deepEqual(
      inf.byNamespace("a").map((o) => o.metadata.name),
      ["one", "two"],
    );
    assert.equal(inf.get("b/three")?.kind, "ConfigMap");
    assert.equal(inf.list().length, 3);
    assert.equal(inf.resourceVersion, String(sim.store.resourceVersion));
    await until("the watch", () => sim.counts({ resource: "configmaps" }).watch === 1);
    const w = sim.requests.find((r) => r.verb === "watch");
    assert.equal(w?.query.resourceVersion, inf.resourceVersion);
    assert.equal(w?.query.allowWatchBookmarks, "true");
    assert.equal(inf.stats.lists, 1);
  });

  test("add, update and delete arrive once each, in order", async () => {
    const { inf, log } = start();
    await inf.synced;
    log.length = 0;
    sim.store.create(cm("b", "four"));
    const rv1 = sim.store.get("configmaps", "one", "a")?.metadata.resourceVersion;
    const upd = sim.store.patch("configmaps", "one", "a", "application/merge-patch+json", { data: { k: "v" } });
    sim.store.delete("configmaps", "two", "a");
    await until("three events", () => log.length === 3);
    assert.deepEqual(log, ["add b/four", `update a/one ${rv1}->${upd.metadata.resourceVersion}`, "delete a/two"]);
    assert.deepEqual(inf.get("a/one")?.data, { k: "v" });
    assert.equal(inf.get("a/two"), undefined);
    assert.equal(inf.stats.events, 3);
  });

  test("a BOOKMARK advances the resourceVersion and nothing else", async () => {
    const { inf, log } = start();
    await inf.synced;
    await until("the watch", () => sim.counts({ resource: "configmaps" }).watch === 1);
    sim.store.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "a" } });
    const before = inf.resourceVersion;
    sim.sendBookmarks();
    await until("the bookmark", () => inf.stats.bookmarks === 1);
    assert.notEqual(inf.resourceVersion, before);
    assert.equal(inf.resourceVersion, String(sim.store.resourceVersion));
    assert.equal(inf.stats.events, 0);
    assert.equal(log.length, 3);
  });

  test("a dropped watch is reopened from the last resourceVersion: changes in between arrive, no list", async () => {
    const { inf, log } = start();
    await inf.synced;
    await until("the watch", () => sim.counts({ resource: "configmaps" }).watch === 1);
    log.length = 0;
    sim.faults.dropWatches();
    sim.store.create(cm("a", "during"));
    await until("the event", () => log.length === 1);
    sim.faults.dropWatches();
    sim.store.delete("configmaps", "during", "a");
    await until("the event", () => log.length === 2);
    assert.deepEqual(log, ["add a/during", "delete a/during"]);
    assert.equal(inf.stats.lists, 1);
    assert.equal(sim.counts({ resource: "configmaps" }).list, 1);
    assert.ok(inf.stats.watches >= 3);
  });

  test("410 Expired re-lists and reconciles: vanished deleted, changed updated, new added, each once", async () => {
    const { inf, log } = start();
    await inf.synced;
    await until("the watch", () => sim.counts({ resource: "configmaps" }).watch === 1);
    log.length = 0;
    // Keep the informer away while more than the watch history (4 events) happens.
    sim.denied.add({ verb: "watch", resource: "configmaps" });
    sim.faults.dropWatches();
    sim.store.delete("configmaps", "one", "a");
    sim.store.patch("configmaps", "two", "a", "application/merge-patch+json", { data: { v: "2" } });
    sim.store.create(cm("b", "new"));
    for (let i = 0; i < 5; i++) sim.store.create(cm("b", `filler-${i}`));
    for (let i = 0; i < 5; i++) sim.store.delete("configmaps", `filler-${i}`, "b");
    await until("a denied watch", () => inf.stats.errors > 0);
    sim.denied.clear();
    await until("the re-list", () => inf.stats.relists === 1 && inf.hasSynced && log.length >= 3);
    await until("the next watch", () => sim.requests.filter((r) => r.verb === "watch" && r.status === 200).length >= 3);
    assert.deepEqual(log.sort(), ["add b/new", "delete a/one", expectUpdate(log)].sort());
    assert.equal(inf.stats.lists, 2);
    assert.equal(sim.counts({ resource: "configmaps" }).list, 2);
    assert.deepEqual(
      inf
        .list()
        .map((o) => keyOf(o))
        .sort(),
      ["a/two", "b/new", "b/three"],
    );
    // The informer is live again after the re-list.
    sim.store.delete("configmaps", "new", "b");
    await until("the delete", () => log.includes("delete b/new"));
    assert.equal(log.filter((l) => l === "delete b/new").length, 1);
  });

  test("label selector: only matching objects, and an object that stops matching is deleted", async () => {
    const { inf, log } = start("/api/v1/configmaps", { labelSelector: "app=x" });
    await inf.synced;
    assert.deepEqual(log, ["add a/two", "add b/three"]);
    sim.store.patch("configmaps", "two", "a", "application/merge-patch+json", { metadata: { labels: { app: "y" } } });
    await until("the delete", () => log.length === 3);
    assert.equal(log[2], "delete a/two");
  });

  test("a namespaced path and the stop signal: done resolves, no request after it", async () => {
    const { inf, ac } = start("/api/v1/namespaces/b/configmaps");
    await inf.synced;
    assert.deepEqual(
      inf.list().map((o) => keyOf(o)),
      ["b/three"],
    );
    await until("the watch", () => sim.counts({ resource: "configmaps" }).watch === 1);
    ac.abort();
    await inf.done;
    const n = sim.requests.length;
    sim.store.create(cm("b", "after"));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(sim.requests.length, n);
    assert.equal(inf.get("b/after"), undefined);
  });

  test("list failures back off and retry; synced rejects when stopped before the first list", async () => {
    sim.faults.failNext(2, 500, { match: (r) => r.path === "/api/v1/configmaps" });
    const { inf, errors } = start();
    await inf.synced;
    assert.equal(errors.length, 2);
    assert.equal(inf.stats.errors, 2);

    sim.denied.add({ verb: "list", resource: "secrets" });
    const { inf: never, ac } = start("/api/v1/secrets");
    await until("a failure", () => never.stats.errors > 0);
    ac.abort();
    await assert.rejects(never.synced, /stopped before its first list/);
  });

  test("a throwing handler is reported and does not stop the informer", async () => {
    const { inf, errors } = start("/api/v1/configmaps", {
      onAdd: (o) => {
        if (o.metadata.name === "boom") throw new Error("handler failed");
      },
    });
    await inf.synced;
    sim.store.create(cm("a", "boom"));
    sim.store.create(cm("a", "fine"));
    await until("fine", () => inf.get("a/fine") !== undefined);
    assert.equal((errors[0] as Error).message, "handler failed");
  });

  test("leases and events.k8s.io events are informable too", async () => {
    sim.store.create({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "l", namespace: "a" },
      spec: { holderIdentity: "x", leaseDurationSeconds: 15 },
    });
    const leases = start("/apis/coordination.k8s.io/v1/leases");
    const events = start("/apis/events.k8s.io/v1/events");
    await Promise.all([leases.inf.synced, events.inf.synced]);
    assert.deepEqual(leases.log, ["add a/l"]);
    assert.equal(leases.inf.get("a/l")?.kind, "Lease");
    sim.store.create({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: "e1", namespace: "a" },
      regarding: { kind: "ConfigMap", namespace: "a", name: "one" },
      reason: "Synced",
      note: "ok",
      type: "Normal",
      eventTime: "2026-12-04T17:00:00.000000Z",
      reportingController: "kopiashare.io/controller",
      reportingInstance: "kopiashare-0",
      action: "Apply",
    });
    await until("the event", () => events.log.length === 1);
    assert.equal(events.inf.get("a/e1")?.note, "ok");
  });
});

/** The one "update a/two x->y" line of the log (its resourceVersions are the sim's). */
function expectUpdate(log: string[]): string {
  const u = log.find((l) => l.startsWith("update a/two "));
  assert.ok(u, `no update of a/two in ${JSON.stringify(log)}`);
  return u;
}
