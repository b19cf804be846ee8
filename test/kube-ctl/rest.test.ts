// src/kube/rest.ts against kube-sim over real HTTP(S): verbs, error mapping, watch, auth paths.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import {
  connectRest,
  type KubeObject,
  openRest,
  permOf,
  type RestClient,
  RestError,
  type WatchEvent,
} from "../../src/kube/rest.ts";
import { opensslVersion, type Sim, startSim } from "../kube-sim/index.ts";
import { ensureNamespace } from "../kube-sim/scenarios.ts";

const CM = "/api/v1/namespaces/app/configmaps";
const cm = (name: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "app" },
  data,
});

async function rejects(p: Promise<unknown>): Promise<RestError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RestError, `not a RestError: ${String(e)}`);
    return e;
  }
  assert.fail("expected a rejection");
}

describe("rest client", () => {
  let sim: Sim;
  let rest: RestClient;
  before(async () => {
    sim = await startSim({ watchHistory: 5, bookmarkIntervalMs: 0 });
    ensureNamespace(sim, "app");
    rest = connectRest({ kubeconfig: sim.kubeconfigPath, env: {}, timeoutMs: 5_000 });
  });
  after(() => sim.close());

  test("create, get, list (items get kind/apiVersion), update, merge and json patch, delete", async () => {
    const created = await rest.create(CM, cm("a", { x: "1" }));
    assert.equal(created.metadata.name, "a");
    assert.ok(created.metadata.uid);
    const got = await rest.get(`${CM}/a`);
    assert.deepEqual(got.data, { x: "1" });
    await rest.create(CM, cm("b"));
    const list = await rest.list(CM);
    assert.deepEqual(
      list.items.map((o) => [o.kind, o.apiVersion, o.metadata.name]),
      [
        ["ConfigMap", "v1", "a"],
        ["ConfigMap", "v1", "b"],
      ],
    );
    assert.equal(list.metadata.resourceVersion, String(sim.store.resourceVersion));
    const updated = await rest.update(`${CM}/a`, { ...got, data: { x: "2" } });
    assert.deepEqual(updated.data, { x: "2" });
    const merged = await rest.patch(`${CM}/a`, { data: { y: "3" } }, "merge");
    assert.deepEqual(merged.data, { x: "2", y: "3" });
    const jsoned = await rest.patch(`${CM}/a`, [{ op: "remove", path: "/data/x" }], "json");
    assert.deepEqual(jsoned.data, { y: "3" });
    const gone = await rest.remove(`${CM}/b`, { propagationPolicy: "Background" });
    assert.equal(gone.metadata.name, "b");
    assert.equal(sim.store.get("configmaps", "b", "app"), undefined);
  });

  test("list follows continue tokens when a limit is given", async () => {
    for (const n of ["p1", "p2", "p3", "p4", "p5"]) await rest.create(CM, cm(n));
    sim.resetRequests();
    const all = await rest.list(CM, { limit: 2, labelSelector: "" });
    assert.ok(all.items.length >= 5);
    assert.equal(sim.counts().list, Math.ceil(all.items.length / 2));
  });

  test("server-side apply sends apply-patch+yaml with fieldManager and force", async () => {
    sim.resetRequests();
    const obj = cm("applied", { k: "v" });
    const out = await rest.apply(`${CM}/applied`, obj, { fieldManager: "kopiashare", force: true });
    assert.deepEqual(out.data, { k: "v" });
    const r = sim.requests.at(-1);
    assert.equal(r?.method, "PATCH");
    assert.equal(r?.query.fieldManager, "kopiashare");
    assert.equal(r?.query.force, "true");
  });

  test("stats count requests and writes", async () => {
    const before = { ...rest.stats };
    await rest.get(`${CM}/a`);
    await rest.patch(`${CM}/a`, { data: { z: "1" } }, "merge");
    assert.equal(rest.stats.requests - before.requests, 2);
    assert.equal(rest.stats.writes - before.writes, 1);
  });

  test("errors carry code, reason, Status message and kubeErrorOf's text", async () => {
    const nf = await rejects(rest.get(`${CM}/missing`));
    assert.equal(nf.code, 404);
    assert.equal(nf.kind, "notfound");
    assert.equal(nf.reason, "NotFound");
    assert.equal(nf.status?.message, 'configmaps "missing" not found');
    assert.equal(nf.message, 'get configmaps in app: configmaps "missing" not found (NotFound)');

    const exists = await rejects(rest.create(CM, cm("a")));
    assert.equal(exists.code, 409);
    assert.equal(exists.reason, "AlreadyExists");

    const cur = await rest.get(`${CM}/a`);
    await rest.patch(`${CM}/a`, { data: { w: "1" } }, "merge");
    const stale = await rejects(rest.update(`${CM}/a`, cur));
    assert.equal(stale.code, 409);
    assert.equal(stale.reason, "Conflict");
    assert.equal(stale.kind, "conflict");

    sim.denied.add({ verb: "list", resource: "secrets" });
    const denied = await rejects(rest.list("/api/v1/secrets"));
    sim.denied.clear();
    assert.equal(denied.kind, "forbidden");
    assert.equal(denied.message, "missing permission: list secrets cluster-wide");
  });

  test("429 with Retry-After: retryAfterMs parsed and capped; 503 too; no retry here", async () => {
    sim.faults.failNext(1, 429, { retryAfterSeconds: 3 });
    const before = rest.stats.requests;
    const e = await rejects(rest.get(`${CM}/a`));
    assert.equal(rest.stats.requests - before, 1);
    assert.equal(e.code, 429);
    assert.equal(e.reason, "TooManyRequests");
    assert.equal(e.retryAfterMs, 3000);
    const capped = connectRest({ kubeconfig: sim.kubeconfigPath, env: {}, retryAfterMaxMs: 1000 });
    sim.faults.failNext(1, 503, { retryAfterSeconds: 3600 });
    const e2 = await rejects(capped.get(`${CM}/a`));
    assert.equal(e2.code, 503);
    assert.equal(e2.retryAfterMs, 1000);
    sim.faults.failNext(1, 500);
    const e3 = await rejects(rest.get(`${CM}/a`));
    assert.equal(e3.retryAfterMs, undefined);
    assert.equal(e3.reason, "InternalError");
  });

  test("a connection reset is 'unreachable'", async () => {
    sim.faults.failNext(1, "ECONNRESET");
    const e = await rejects(rest.get(`${CM}/a`));
    assert.equal(e.kind, "unreachable");
    assert.match(e.message, /connection reset/);
  });

  test("delete preconditions: a stale uid or resourceVersion is 409", async () => {
    const obj = await rest.create(CM, cm("pre"));
    const e = await rejects(rest.remove(`${CM}/pre`, { preconditions: { uid: "other" } }));
    assert.equal(e.code, 409);
    assert.match(e.message, /Precondition failed: UID in precondition: other/);
    const e2 = await rejects(rest.remove(`${CM}/pre`, { preconditions: { resourceVersion: "1" } }));
    assert.match(e2.message, /ResourceVersion in precondition: 1/);
    await rest.remove(`${CM}/pre`, {
      preconditions: { uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
    });
    assert.equal(sim.store.get("configmaps", "pre", "app"), undefined);
  });

  test("watch: events from a resourceVersion, bookmarks, abort ends the stream", async () => {
    const list = await rest.list(CM);
    const ac = new AbortController();
    const seen: WatchEvent[] = [];
    const done = (async () => {
      for await (const ev of rest.watch(CM, {
        resourceVersion: list.metadata.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: 30,
        signal: ac.signal,
      })) {
        seen.push(ev);
        if (ev.type === "BOOKMARK") ac.abort();
      }
    })();
    await rest.create(CM, cm("w1"));
    await rest.remove(`${CM}/w1`);
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 5));
    sim.sendBookmarks();
    await done;
    assert.deepEqual(
      seen.map((e) => [e.type, e.object.metadata.name]),
      [
        ["ADDED", "w1"],
        ["DELETED", "w1"],
        ["BOOKMARK", undefined],
      ],
    );
    const bm = seen[2]?.object;
    assert.deepEqual(bm, {
      kind: "ConfigMap",
      apiVersion: "v1",
      metadata: { resourceVersion: String(sim.store.resourceVersion) },
    });
  });

  test("watch from a compacted resourceVersion yields an ERROR event with 410 Expired", async () => {
    for (let i = 0; i < 8; i++) await rest.patch(`${CM}/a`, { data: { n: String(i) } }, "merge");
    const events: WatchEvent[] = [];
    for await (const ev of rest.watch(CM, { resourceVersion: "2" })) events.push(ev);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, "ERROR");
    assert.equal(events[0]?.object.code, 410);
    assert.equal(events[0]?.object.reason, "Expired");
  });

  test("watch: an HTTP error is thrown; a dropped stream ends the iteration", async () => {
    sim.denied.add({ verb: "watch", resource: "configmaps" });
    const it = rest.watch(CM, { resourceVersion: "0" })[Symbol.asyncIterator]();
    await assert.rejects(it.next(), (e: unknown) => e instanceof RestError && e.code === 403);
    sim.denied.clear();
    const list = await rest.list(CM);
    const done = (async () => {
      let n = 0;
      for await (const _ of rest.watch(CM, { resourceVersion: list.metadata.resourceVersion })) n++;
      return n;
    })();
    while (sim.counts({ resource: "configmaps" }).watch === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    sim.faults.dropWatches();
    assert.equal(await done, 0);
  });

  test("a request that gets no answer times out; the client's signal aborts", async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as AddressInfo).port;
    const kc = new KubeConfig();
    kc.loadFromString(sim.kubeconfigYaml.replace(sim.url, `http://127.0.0.1:${port}`));
    try {
      const slow = connectRest({ kubeConfig: kc, env: {}, timeoutMs: 100 });
      const e = await rejects(slow.get("/api/v1/namespaces/x"));
      assert.equal(e.kind, "timeout");
      assert.match(e.message, /did not answer within 0.1s \(get namespaces\/x|did not answer within 0.1s/);
      const ac = new AbortController();
      const stopped = connectRest({ kubeConfig: kc, env: {}, timeoutMs: 0, signal: ac.signal });
      const p = rejects(stopped.get("/api/v1/namespaces/x"));
      setTimeout(() => ac.abort(), 20);
      assert.equal((await p).kind, "aborted");
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  test("permOf names verb, resource.group and namespace", () => {
    assert.deepEqual(permOf("PUT", "/apis/coordination.k8s.io/v1/namespaces/k/leases/x"), {
      verb: "update",
      resource: "leases.coordination.k8s.io",
      namespace: "k",
    });
    assert.deepEqual(permOf("GET", "/api/v1/persistentvolumes", true), {
      verb: "watch",
      resource: "persistentvolumes",
    });
    assert.deepEqual(permOf("GET", "/api/v1/namespaces/x"), { verb: "get", resource: "namespaces" });
  });
});

describe("rest client authentication through client-node", () => {
  let sim: Sim;
  let dir: string;
  before(async () => {
    sim = await startSim({ token: "rotating-1" });
    sim.requireToken = true;
    dir = path.dirname(sim.kubeconfigPath);
  });
  after(() => sim.close());

  const withUser = (user: string) => sim.kubeconfigYaml.replace(/ {2}user:\n {4}token: .*\n/, `  user:\n${user}`);

  test("a token file (in-cluster style auth provider) is read per client-node's FileAuth", async () => {
    const tokenFile = path.join(dir, "token");
    writeFileSync(tokenFile, "rotating-1");
    const kc = new KubeConfig();
    kc.loadFromString(
      withUser(`    auth-provider:\n      name: tokenFile\n      config:\n        tokenFile: ${tokenFile}\n`),
    );
    const rest = connectRest({ kubeConfig: kc, env: {} });
    const ns = await rest.list("/api/v1/namespaces");
    assert.ok(Array.isArray(ns.items));
  });

  test("an exec credential plugin supplies the token", async () => {
    const script = path.join(dir, "cred.mjs");
    writeFileSync(
      script,
      `process.stdout.write(JSON.stringify({apiVersion:"client.authentication.k8s.io/v1beta1",kind:"ExecCredential",status:{token:"rotating-1"}}));\n`,
    );
    const kc = new KubeConfig();
    kc.loadFromString(
      withUser(
        `    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ${process.execPath}\n      args: ["${script}"]\n`,
      ),
    );
    const rest = connectRest({ kubeConfig: kc, env: {} });
    await rest.list("/api/v1/namespaces");
    const wrong = new KubeConfig();
    wrong.loadFromString(withUser("    token: stale\n"));
    const bad = connectRest({ kubeConfig: wrong, env: {} });
    const e = await rejects(bad.list("/api/v1/namespaces"));
    assert.equal(e.kind, "unauthorized");
  });

  test("https with the sim's CA from the kubeconfig", async (t) => {
    if (!(await opensslVersion())) return t.skip("openssl not installed: no TLS sim");
    const tls = await startSim({ tls: true });
    try {
      const rest = connectRest({ kubeconfig: tls.kubeconfigPath, env: {} });
      await rest.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "t" } });
      assert.equal((await rest.get("/api/v1/namespaces/t")).metadata.name, "t");
    } finally {
      await tls.close();
    }
  });
});

describe("openRest: which loader", () => {
  test("in a pod (no kubeconfig): the service account's token and CA, over https, without client-node", async () => {
    const tls = await startSim({ tls: true, token: "sa-token" });
    const sa = mkdtempSync(path.join(tmpdir(), "kopiashare-sa-"));
    try {
      writeFileSync(path.join(sa, "token"), "sa-token\n");
      writeFileSync(path.join(sa, "ca.crt"), tls.caPem ?? "");
      tls.requireToken = true;
      const port = new URL(tls.url).port;
      const env = {
        HOME: sa, // no ~/.kube/config there
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: port,
        KOPIASHARE_SERVICEACCOUNT_DIR: sa,
      };
      const rest = await openRest({ env });
      assert.equal(rest.server, `https://127.0.0.1:${port}`);
      assert.equal(rest.context, "in-cluster");
      const list = await rest.list("/api/v1/namespaces");
      assert.ok(Array.isArray(list.items));
      writeFileSync(path.join(sa, "token"), "wrong\n");
      await rest.list("/api/v1/namespaces"); // read once a minute, as client-go: still the token it read
    } finally {
      rmSync(sa, { recursive: true, force: true });
      await tls.close();
    }
  });

  test("a kubeconfig only client-node understands (an exec plugin) goes through its loader; connectRest says so", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kopiashare-exec-"));
    const s = await startSim({ token: "from-exec" });
    try {
      const plugin = path.join(dir, "plugin.mjs");
      writeFileSync(
        plugin,
        `process.stdout.write(JSON.stringify({apiVersion:"client.authentication.k8s.io/v1beta1",kind:"ExecCredential",status:{token:"from-exec"}}));\n`,
      );
      const file = path.join(dir, "config");
      writeFileSync(
        file,
        s.kubeconfigYaml.replace(
          / {2}user:\n {4}token: .*\n/,
          `  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ${process.execPath}\n      args: [${plugin}]\n      interactiveMode: Never\n`,
        ),
      );
      s.requireToken = true;
      assert.throws(() => connectRest({ kubeconfig: file, env: {} }), /needs client-node's loader/);
      const rest = await openRest({ kubeconfig: file, env: {} });
      assert.ok(Array.isArray((await rest.list("/api/v1/namespaces")).items));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await s.close();
    }
  });
});
