// startSim(): wires store, controllers and the HTTP(S) server together. See README.md.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Binder, type DeletedVolume } from "./binder.ts";
import type { ServerVersion } from "./discovery.ts";
import { Faults } from "./faults.ts";
import { defaultJobRunner, JobController, type JobRunner } from "./jobs.ts";
import { kubeconfigYaml } from "./kubeconfig.ts";
import { Lifecycle } from "./lifecycle.ts";
import { Denied } from "./rbac.ts";
import { type CrdSet, Registry } from "./registry.ts";
import { createHandler } from "./server.ts";
import { Store } from "./store.ts";
import { tlsMaterial } from "./tls.ts";
import type { RequestLogEntry, Verb } from "./types.ts";

export { ApiError, type Status } from "./errors.ts";
export type { FaultKind, FaultOptions } from "./faults.ts";
export type { JobResult, JobRunContext, JobRunner } from "./jobs.ts";
export { PATCH_TYPES } from "./patch.ts";
export type { DenyRule } from "./rbac.ts";
export type { CrdSet, TypeRef } from "./registry.ts";
export type { ListOptions, Store, WriteOptions } from "./store.ts";
export { opensslVersion } from "./tls.ts";
export { dig, type KubeObject, type RequestLogEntry, type Verb } from "./types.ts";
export { Denied, defaultJobRunner, Faults };

export interface SimOptions {
  tls?: boolean;
  version?: ServerVersion;
  crds?: CrdSet[];
  /** "plural.group" of CRD resources not served although their set is (an older operator release). */
  omit?: string[];
  /** Delay before the job runner is called, in ms (default 50). */
  jobDelayMs?: number;
  /** Milliseconds per second of activeDeadlineSeconds for hung jobs (default 1000). */
  deadlineMsPerSecond?: number;
  /** Watch history (compaction window) in events (default 1000). */
  watchHistory?: number;
  /** User named in Forbidden messages. */
  user?: string;
  /** Bearer token written to the kubeconfig (default "kube-sim-token"). */
  token?: string;
  /** Period of BOOKMARK events on watches with allowWatchBookmarks=true, ms (default 1000; 0: only sendBookmarks()). */
  bookmarkIntervalMs?: number;
}

/** Requests by kube verb; `writes` = create + update + patch + delete. */
export type RequestCounts = Record<Verb, number> & { writes: number; total: number };

export interface Sim {
  readonly url: string;
  readonly kubeconfigPath: string;
  readonly kubeconfigYaml: string;
  readonly caPem?: string;
  readonly store: Store;
  readonly requests: RequestLogEntry[];
  resetRequests(): void;
  readonly faults: Faults;
  readonly denied: Denied;
  jobRunner: JobRunner;
  requireToken: boolean;
  /** PVs the binder deleted because of reclaim policy Delete. */
  readonly deletedVolumes: readonly DeletedVolume[];
  /** Counts sim.requests by verb, optionally only those of one resource (plural) and/or namespace. */
  counts(filter?: { resource?: string; namespace?: string }): RequestCounts;
  /** Sends a BOOKMARK on every open watch that allowed them, now. */
  sendBookmarks(): void;
  /** Period of BOOKMARK events, ms (applies to watches opened afterwards). */
  bookmarkIntervalMs: number;
  close(): Promise<void>;
}

export async function startSim(options: SimOptions = {}): Promise<Sim> {
  const registry = new Registry(options.crds ?? [], options.omit ?? []);
  const store = new Store(registry, { watchHistory: options.watchHistory });
  const binder = new Binder(store);
  new Lifecycle(store);
  const faults = new Faults();
  const denied = new Denied(options.user ?? "system:serviceaccount:kopiashare:kopiashare");
  const token = options.token ?? "kube-sim-token";
  const requests: RequestLogEntry[] = [];
  const state = {
    runner: defaultJobRunner,
    requireToken: false,
    address: "127.0.0.1:0",
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000,
  };
  const bookmarks = new Set<() => void>();
  const jobs = new JobController(store, {
    delayMs: options.jobDelayMs ?? 50,
    deadlineMsPerSecond: options.deadlineMsPerSecond ?? 1000,
    runner: () => state.runner,
  });
  const handler = createHandler({
    store,
    faults,
    denied,
    jobs,
    version: options.version ?? { major: "1", minor: "32" },
    requests,
    token,
    requireToken: () => state.requireToken,
    serverAddress: () => state.address,
    bookmarks,
    bookmarkIntervalMs: () => state.bookmarkIntervalMs,
  });

  const tls = options.tls ? await tlsMaterial() : undefined;
  const server = tls ? https.createServer({ cert: tls.certPem, key: tls.keyPem }, handler) : http.createServer(handler);
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  state.address = `127.0.0.1:${port}`;
  const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  const yaml = kubeconfigYaml({ server: url, token, caPem: tls?.caPem });
  const dir = mkdtempSync(path.join(tmpdir(), "kube-sim-"));
  const kubeconfigPath = path.join(dir, "kubeconfig");
  writeFileSync(kubeconfigPath, yaml, { mode: 0o600 });

  let closed = false;
  return {
    url,
    kubeconfigPath,
    kubeconfigYaml: yaml,
    caPem: tls?.caPem,
    store,
    requests,
    resetRequests: () => {
      requests.length = 0;
    },
    faults,
    denied,
    get jobRunner() {
      return state.runner;
    },
    set jobRunner(r: JobRunner) {
      state.runner = r;
    },
    get requireToken() {
      return state.requireToken;
    },
    set requireToken(v: boolean) {
      state.requireToken = v;
    },
    deletedVolumes: binder.deletedVolumes,
    counts(filter = {}) {
      const c: RequestCounts = {
        get: 0,
        list: 0,
        watch: 0,
        create: 0,
        update: 0,
        patch: 0,
        delete: 0,
        writes: 0,
        total: 0,
      };
      for (const r of requests) {
        if (filter.resource !== undefined && r.resource !== filter.resource) continue;
        if (filter.namespace !== undefined && r.namespace !== filter.namespace) continue;
        c.total++;
        if (r.verb in c) c[r.verb as Verb]++;
        if (r.verb === "create" || r.verb === "update" || r.verb === "patch" || r.verb === "delete") c.writes++;
      }
      return c;
    },
    sendBookmarks: () => {
      for (const b of [...bookmarks]) b();
    },
    get bookmarkIntervalMs() {
      return state.bookmarkIntervalMs;
    },
    set bookmarkIntervalMs(v: number) {
      state.bookmarkIntervalMs = v;
    },
    async close() {
      if (closed) return;
      closed = true;
      jobs.close();
      faults.dropWatches();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
