/**
 * A list+watch informer over src/kube/rest.ts for one resource collection (cluster-wide or one
 * namespace's path, optionally narrowed by label and field selectors), as client-go's reflector and
 * store do it: list once into a cache keyed "ns/name" (or "name"), then watch from the list's
 * resourceVersion with bookmarks. A watch that ends (its timeoutSeconds, a proxy, an apiserver
 * restart) is reopened from the last resourceVersion seen, so no event is lost and no list is sent.
 * A 410 Gone/Expired (the resourceVersion was compacted away) re-lists and diffs the cache against
 * the fresh list: vanished objects are reported deleted, changed ones updated, new ones added, each
 * exactly once. Other failures back off (jittered exponential, capped) and retry until the signal
 * aborts. Handlers run synchronously in event order; an exception in one is reported to onError and
 * does not stop the informer.
 */
import { sleep } from "./http.ts";
import { type KubeObject, type RestClient, RestError, type WatchEvent } from "./rest.ts";

export interface InformerHandlers<T extends KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(old: T, obj: T): void;
  /** The object's last state (from the DELETED event, or the cache when a re-list found it gone). */
  onDelete?(obj: T): void;
}

export interface InformerOptions<T extends KubeObject> extends InformerHandlers<T> {
  labelSelector?: string;
  fieldSelector?: string;
  /** Stops the informer (its watch is closed, no request is retried). */
  signal?: AbortSignal;
  /** Server-side watch timeout; each watch gets this plus up to 100% jitter (default 300 s, as client-go). */
  watchTimeoutSeconds?: number;
  /** Backoff after a failure: base doubles per consecutive failure up to max, with ±50% jitter. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Page size of the list requests (0: one request; default 500). */
  pageSize?: number;
  /** A failed request or a throwing handler; the informer keeps going. */
  onError?(e: unknown): void;
}

export interface InformerStats {
  /** List requests that completed (the initial one, re-lists, lists after a failure). */
  lists: number;
  /** Watch requests opened. */
  watches: number;
  /** Re-lists caused by 410 Gone/Expired. */
  relists: number;
  /** ADDED/MODIFIED/DELETED events received (bookmarks excluded). */
  events: number;
  bookmarks: number;
  /** Failures that led to a backoff. */
  errors: number;
}

/** The cache key client-go uses: "namespace/name", or "name" for cluster-scoped objects. */
export function keyOf(obj: KubeObject): string {
  const { namespace, name } = obj.metadata;
  return namespace ? `${namespace}/${name ?? ""}` : (name ?? "");
}

/** A watch that ends sooner than this without an event counts as a failure (no hot reconnect loop). */
const SHORT_WATCH_MS = 1000;

export class Informer<T extends KubeObject = KubeObject> {
  readonly stats: InformerStats = { lists: 0, watches: 0, relists: 0, events: 0, bookmarks: 0, errors: 0 };
  /** Resolves once the first list is in the cache (its onAdd calls made); rejects if stopped before. */
  readonly synced: Promise<void>;
  /** Resolves when the informer has stopped. */
  readonly done: Promise<void>;
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly stopper = new AbortController();
  private rv = "";
  private isSynced = false;
  private markSynced!: () => void;
  private failSync!: (e: unknown) => void;

  constructor(
    private readonly rest: RestClient,
    readonly path: string,
    private readonly opts: InformerOptions<T> = {},
  ) {
    this.synced = new Promise<void>((resolve, reject) => {
      this.markSynced = resolve;
      this.failSync = reject;
    });
    this.synced.catch(() => undefined); // a caller that never awaits it must not see an unhandled rejection
    this.handlers.push(opts);
    if (opts.signal) {
      if (opts.signal.aborted) this.stopper.abort();
      else opts.signal.addEventListener("abort", () => this.stopper.abort(), { once: true });
    }
    this.done = this.run();
  }

  /** Adds handlers; objects already cached are not replayed (register before awaiting synced). */
  on(h: InformerHandlers<T>): this {
    this.handlers.push(h);
    return this;
  }

  get hasSynced(): boolean {
    return this.isSynced;
  }

  /** The last resourceVersion seen (list, event or bookmark). */
  get resourceVersion(): string {
    return this.rv;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  byNamespace(namespace: string): T[] {
    return this.list().filter((o) => o.metadata.namespace === namespace);
  }

  stop(): Promise<void> {
    this.stopper.abort();
    return this.done;
  }

  private get signal(): AbortSignal {
    return this.stopper.signal;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let listed = false;
    let expired = false;
    while (!this.signal.aborted) {
      try {
        if (!listed || expired) {
          if (expired) this.stats.relists++;
          await this.relist();
          listed = true;
          expired = false;
        }
        const started = Date.now();
        const outcome = await this.watchOnce();
        if (outcome.expired) {
          expired = true;
          failures = 0;
          continue;
        }
        if (outcome.events > 0 || Date.now() - started >= SHORT_WATCH_MS) {
          failures = 0;
          continue;
        }
        failures++;
        await this.pause(failures);
      } catch (e) {
        if (this.signal.aborted) break;
        if (e instanceof RestError && e.code === 410) {
          expired = true;
          continue;
        }
        this.stats.errors++;
        this.report(e);
        failures++;
        await this.pause(failures);
      }
    }
    if (!this.isSynced) this.failSync(new Error(`informer for ${this.path} stopped before its first list`));
  }

  private pause(failures: number): Promise<void> {
    const base = this.opts.backoff?.baseMs ?? 200;
    const max = this.opts.backoff?.maxMs ?? 30_000;
    const ms = Math.min(max, base * 2 ** Math.min(failures - 1, 30)) * (0.5 + Math.random());
    return sleep(ms, this.signal).catch(() => undefined);
  }

  private report(e: unknown): void {
    try {
      this.opts.onError?.(e);
    } catch {}
  }

  private emit(f: (h: InformerHandlers<T>) => void): void {
    for (const h of this.handlers) {
      try {
        f(h);
      } catch (e) {
        this.report(e);
      }
    }
  }

  /** Lists and reconciles the cache with the result: deletes, then adds and updates, each once. */
  private async relist(): Promise<void> {
    const pageSize = this.opts.pageSize ?? 500;
    const list = await this.rest.list<T>(
      this.path,
      {
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        limit: pageSize > 0 ? pageSize : undefined,
      },
      { signal: this.signal },
    );
    this.stats.lists++;
    const fresh = new Map<string, T>();
    for (const o of list.items) fresh.set(keyOf(o), o);
    for (const [k, old] of [...this.cache]) {
      if (!fresh.has(k)) {
        this.cache.delete(k);
        this.emit((h) => h.onDelete?.(old));
      }
    }
    for (const [k, obj] of fresh) this.upsert(k, obj);
    this.rv = list.metadata.resourceVersion;
    if (!this.isSynced) {
      this.isSynced = true;
      this.markSynced();
    }
  }

  /** Stores `obj`; emits add, update (changed resourceVersion) or delete+add (another uid under the key). */
  private upsert(k: string, obj: T): void {
    const old = this.cache.get(k);
    this.cache.set(k, obj);
    if (!old) this.emit((h) => h.onAdd?.(obj));
    else if (old.metadata.uid && obj.metadata.uid && old.metadata.uid !== obj.metadata.uid) {
      this.emit((h) => h.onDelete?.(old));
      this.emit((h) => h.onAdd?.(obj));
    } else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) {
      this.emit((h) => h.onUpdate?.(old, obj));
    }
  }

  private async watchOnce(): Promise<{ expired: boolean; events: number }> {
    const base = this.opts.watchTimeoutSeconds ?? 300;
    this.stats.watches++;
    let events = 0;
    const stream = this.rest.watch<T>(this.path, {
      resourceVersion: this.rv,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.max(1, Math.round(base * (1 + Math.random()))),
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      signal: this.signal,
    });
    for await (const ev of stream) {
      if (ev.type === "ERROR") {
        const st = ev.object as unknown as { code?: number; reason?: string; message?: string };
        if (st.code === 410 || st.reason === "Expired" || st.reason === "Gone") return { expired: true, events };
        throw new Error(`watch ${this.path}: ${st.message ?? "error event"} (${st.reason ?? st.code ?? "ERROR"})`);
      }
      events++;
      this.apply(ev);
    }
    return { expired: false, events };
  }

  private apply(ev: WatchEvent<T>): void {
    const rv = ev.object.metadata?.resourceVersion;
    if (ev.type === "BOOKMARK") {
      this.stats.bookmarks++;
      if (rv) this.rv = rv;
      return;
    }
    this.stats.events++;
    const k = keyOf(ev.object);
    if (ev.type === "DELETED") {
      const old = this.cache.get(k);
      if (old) {
        this.cache.delete(k);
        this.emit((h) => h.onDelete?.(ev.object));
      }
    } else this.upsert(k, ev.object);
    if (rv) this.rv = rv;
  }
}
