// Objects, resourceVersions, the watch log and the write path every controller shares.

import { applyCreateDefaults } from "./defaults.ts";
import { ApiError, alreadyExists, badRequest, conflict, notFound, status } from "./errors.ts";
import { applyOwnership, entriesOf, updateOwnership } from "./managed.ts";
import { applyPatch, type PatchContentType, parsePatchBody } from "./patch.ts";
import { apiVersionOf, type Registry, type ResourceType, type TypeRef, typeKey } from "./registry.ts";
import { type Matcher, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { clone, deepEqual, isObject, type JsonValue, type KubeObject, type ObjectMeta } from "./types.ts";
import { validateCreate, validateUpdate } from "./validate.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoredEvent {
  rv: number;
  type: WatchEventType;
  resource: ResourceType;
  object: KubeObject;
  /** The previous state for MODIFIED events. */
  old?: KubeObject;
}

export interface WriteOptions {
  dryRun?: boolean;
  /** Writes from the HTTP API: status is ignored on main-resource writes of types with a status subresource. */
  fromApi?: boolean;
  subresource?: "status";
  propagationPolicy?: string;
  /** The write's field manager (?fieldManager=): API writes record their fields in metadata.managedFields. */
  fieldManager?: string;
  /** The manager the apiserver derives from the User-Agent when ?fieldManager= is absent. */
  defaultManager?: string;
  /** ?force=true on an apply: take over conflicting fields instead of 409. */
  force?: boolean;
  /** @internal managedFields were computed by an apply. */
  applied?: boolean;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface WatchOptions extends ListOptions {
  resourceVersion?: string;
}

export type Controller = (ev: StoredEvent) => void;

interface Watcher {
  resource: ResourceType;
  matches: Matcher;
  namespace?: string;
  send: (type: WatchEventType, obj: KubeObject) => void;
}

const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

const hasFinalizers = (o: KubeObject): boolean =>
  Array.isArray(o.metadata.finalizers) && o.metadata.finalizers.length > 0;

const now = () => `${new Date().toISOString().slice(0, 19)}Z`;

export class Store {
  readonly registry: Registry;
  private rv = 0;
  private uidCounter = 0;
  private suffixCounter = 0;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoredEvent[] = [];
  private compactedRv = 0;
  private readonly historyLimit: number;
  private readonly watchers = new Set<Watcher>();
  private readonly controllers: Controller[] = [];
  private readonly pending: StoredEvent[] = [];
  private draining = false;

  constructor(registry: Registry, opts: { watchHistory?: number } = {}) {
    this.registry = registry;
    this.historyLimit = opts.watchHistory ?? 1000;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** Registers a controller; it runs synchronously after each committed write (and its cascades). */
  addController(c: Controller): void {
    this.controllers.push(c);
  }

  newUid(): string {
    this.uidCounter++;
    const hex = this.uidCounter.toString(16).padStart(12, "0");
    return `5e3f0000-0000-4000-8000-${hex}`;
  }

  /** Deterministic 5-character suffix in the alphabet of apimachinery's rand.String. */
  randomSuffix(): string {
    let n = ++this.suffixCounter * 7919;
    let s = "";
    for (let i = 0; i < 5; i++) {
      s += SUFFIX_ALPHABET[n % SUFFIX_ALPHABET.length];
      n = Math.floor(n / SUFFIX_ALPHABET.length) + i * 13;
    }
    return s;
  }

  // ---- reads -------------------------------------------------------------------------------

  get(ref: TypeRef, name: string, namespace?: string): KubeObject | undefined {
    const t = this.registry.resolve(ref);
    const o = this.raw(t, name, namespace);
    return o ? clone(o) : undefined;
  }

  list(ref: TypeRef, opts: ListOptions = {}): KubeObject[] {
    return this.listTyped(this.registry.resolve(ref), opts).map(clone);
  }

  /** Internal read without copying: callers must not mutate the result. */
  raw(t: ResourceType, name: string, namespace?: string): KubeObject | undefined {
    return this.bucket(t).get(this.key(t, name, namespace));
  }

  /** Internal unordered iteration without copying: callers must not mutate the objects. */
  scan(t: ResourceType): KubeObject[] {
    return [...this.bucket(t).values()];
  }

  listTyped(t: ResourceType, opts: ListOptions = {}): KubeObject[] {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, t);
    const ns = t.namespaced ? opts.namespace : undefined;
    const out: KubeObject[] = [];
    for (const o of this.bucket(t).values()) {
      if (ns && o.metadata.namespace !== ns) continue;
      if (labels(o) && fields(o)) out.push(o);
    }
    return out.sort((a, b) => {
      const ka = `${a.metadata.namespace ?? ""}/${a.metadata.name ?? ""}`;
      const kb = `${b.metadata.namespace ?? ""}/${b.metadata.name ?? ""}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  }

  // ---- writes ------------------------------------------------------------------------------

  /** Creates an object; returns its state after the controllers ran (seeding helper). */
  create(obj: KubeObject, opts: WriteOptions = {}): KubeObject {
    const t = this.typeOf(obj);
    const created = this.createTyped(t, obj, opts);
    if (opts.dryRun) return clone(created);
    return this.get(typeKey(t), created.metadata.name ?? "", created.metadata.namespace) ?? clone(created);
  }

  update(obj: KubeObject, opts: WriteOptions = {}): KubeObject {
    return clone(this.updateTyped(this.typeOf(obj), obj, opts));
  }

  patch(
    ref: TypeRef,
    name: string,
    namespace: string | undefined,
    contentType: PatchContentType,
    body: string | JsonValue,
    opts: WriteOptions & { fieldManager?: string } = {},
  ): KubeObject {
    return clone(this.patchTyped(this.registry.resolve(ref), name, namespace, contentType, body, opts));
  }

  delete(ref: TypeRef, name: string, namespace?: string, opts: WriteOptions = {}): KubeObject | undefined {
    const t = this.registry.resolve(ref);
    if (!this.raw(t, name, namespace)) return undefined;
    return clone(this.deleteTyped(t, name, namespace, opts));
  }

  typeOf(obj: KubeObject): ResourceType {
    if (!isObject(obj) || typeof obj.kind !== "string" || typeof obj.apiVersion !== "string") {
      throw badRequest("Object 'Kind' is missing in request body");
    }
    const t = this.registry.byApiVersionKind(obj.apiVersion, obj.kind);
    if (!t) throw badRequest(`no kind "${obj.kind}" is registered for version "${obj.apiVersion}"`);
    return t;
  }

  // The *Typed methods are the internal write path (HTTP layer, controllers). They never keep a
  // reference to their input and return the stored object itself: callers must not mutate it.

  createTyped(t: ResourceType, input: KubeObject, opts: WriteOptions = {}): KubeObject {
    const obj = JSON.parse(JSON.stringify(input)) as KubeObject;
    obj.apiVersion = apiVersionOf(t);
    obj.kind = t.kind;
    obj.metadata = isObject(obj.metadata) ? obj.metadata : {};
    const meta = obj.metadata;
    if (!t.namespaced) meta.namespace = undefined;
    else meta.namespace ||= "default";
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${this.randomSuffix()}`;
    validateCreate(t, obj);
    const name = meta.name ?? "";
    if (this.raw(t, name, meta.namespace)) throw alreadyExists(t.plural, t.group, name);
    if (meta.resourceVersion) {
      throw new ApiError(status(500, "InternalError", "resourceVersion should not be set on objects to be created"));
    }
    meta.uid = this.newUid();
    meta.creationTimestamp = now();
    meta.deletionTimestamp = undefined; // only a DELETE sets it
    meta.deletionGracePeriodSeconds = undefined;
    if (t.group) meta.generation = 1;
    if (opts.fromApi && t.statusSubresource) obj.status = undefined;
    applyCreateDefaults(t, obj);
    if (!opts.applied && opts.fromApi) {
      const manager = opts.fieldManager ?? opts.defaultManager;
      const entries = manager ? updateOwnership(t, undefined, obj, manager) : [];
      meta.managedFields = entries.length ? entries : undefined;
    }
    const stored = JSON.parse(JSON.stringify(obj)) as KubeObject; // drop undefined keys
    if (opts.dryRun) return stored;
    stored.metadata.resourceVersion = String(++this.rv);
    this.bucket(t).set(this.key(t, name, stored.metadata.namespace), stored);
    this.emit({ rv: this.rv, type: "ADDED", resource: t, object: stored });
    return stored;
  }

  updateTyped(t: ResourceType, input: KubeObject, opts: WriteOptions = {}): KubeObject {
    const name = input.metadata?.name ?? "";
    const namespace = t.namespaced ? input.metadata?.namespace || "default" : undefined;
    const existing = this.raw(t, name, namespace);
    if (!existing) throw notFound(t.plural, t.group, name);
    const wantRv = input.metadata.resourceVersion;
    if (wantRv && wantRv !== existing.metadata.resourceVersion) throw conflict(t.plural, t.group, name);
    let draft: KubeObject;
    if (opts.subresource === "status") {
      draft = { ...existing, status: input.status };
    } else {
      const metadata: ObjectMeta = {
        ...input.metadata,
        name,
        namespace,
        uid: existing.metadata.uid,
        creationTimestamp: existing.metadata.creationTimestamp,
        // Only a DELETE sets these; no update sets or clears them.
        deletionTimestamp: existing.metadata.deletionTimestamp,
        deletionGracePeriodSeconds: existing.metadata.deletionGracePeriodSeconds,
      };
      if (existing.metadata.generation !== undefined) metadata.generation = existing.metadata.generation;
      draft = { ...input, apiVersion: apiVersionOf(t), kind: t.kind, metadata };
      if (opts.fromApi && t.statusSubresource) draft.status = existing.status;
    }
    const next = JSON.parse(JSON.stringify(draft)) as KubeObject; // deep copy without undefined keys
    if (opts.subresource !== "status") {
      validateUpdate(t, existing, next);
      if (t.group && !deepEqual(existing.spec, next.spec)) {
        next.metadata.generation = Number(existing.metadata.generation ?? 0) + 1;
      }
    }
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    if (!opts.applied && opts.subresource !== "status") {
      const manager = opts.fromApi ? (opts.fieldManager ?? opts.defaultManager) : undefined;
      const entries = manager ? updateOwnership(t, existing, next, manager) : entriesOf(next);
      if (entries.length) next.metadata.managedFields = entries;
      else delete next.metadata.managedFields;
    }
    if (deepEqual(next, existing)) return existing;
    if (opts.dryRun) return next;
    // The update that empties the finalizers of an object being deleted completes the delete.
    if (next.metadata.deletionTimestamp && !hasFinalizers(next) && t.kind !== "Namespace") {
      return this.remove(t, next, undefined);
    }
    next.metadata.resourceVersion = String(++this.rv);
    this.bucket(t).set(this.key(t, name, namespace), next);
    this.emit({ rv: this.rv, type: "MODIFIED", resource: t, object: next, old: existing });
    return next;
  }

  patchTyped(
    t: ResourceType,
    name: string,
    namespace: string | undefined,
    contentType: PatchContentType,
    body: string | JsonValue,
    opts: WriteOptions = {},
  ): KubeObject {
    const parsed = parsePatchBody(contentType, body);
    const ns = t.namespaced ? namespace || "default" : undefined;
    const existing = this.raw(t, name, ns);
    if (!existing) {
      if (contentType === "application/apply-patch+yaml" && isObject(parsed)) {
        let obj = clone(parsed) as KubeObject;
        obj.metadata = { ...(isObject(obj.metadata) ? obj.metadata : {}), name, namespace: ns };
        const manager = opts.fieldManager;
        if (manager) obj = applyOwnership(t, undefined, obj, obj, manager, opts.force === true);
        return this.createTyped(t, obj, { ...opts, applied: !!manager, fromApi: opts.fromApi && !opts.subresource });
      }
      throw notFound(t.plural, t.group, name);
    }
    const patched = applyPatch(existing, contentType, parsed); // never mutates `existing`
    if (!isObject(patched) || !isObject(patched.metadata)) throw badRequest("patch produced an invalid object");
    const next = patched as KubeObject;
    if (next.metadata.name !== undefined && next.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    next.metadata = { ...next.metadata, name, namespace: ns }; // may be shared with `existing`
    // A resourceVersion in the patch is a precondition; apply patches never carry one through.
    if (contentType === "application/apply-patch+yaml") {
      next.metadata.resourceVersion = undefined;
      const manager = opts.fieldManager;
      if (manager && isObject(parsed) && !opts.subresource) {
        const owned = applyOwnership(t, existing, parsed as KubeObject, next, manager, opts.force === true);
        return this.updateTyped(t, owned, { ...opts, applied: true });
      }
    }
    return this.updateTyped(t, next, opts);
  }

  /**
   * DELETE: an object with finalizers (and every Namespace, whose content goes first) only gets
   * metadata.deletionTimestamp (a Namespace also status.phase Terminating) and stays until its finalizers
   * are removed (lifecycle.ts); others go at once. Deleting an object already being deleted changes nothing.
   */
  deleteTyped(t: ResourceType, name: string, namespace: string | undefined, opts: WriteOptions = {}): KubeObject {
    const ns = t.namespaced ? namespace || "default" : undefined;
    const existing = this.raw(t, name, ns);
    if (!existing) throw notFound(t.plural, t.group, name);
    if (existing.metadata.deletionTimestamp) return existing;
    if (hasFinalizers(existing) || t.kind === "Namespace") {
      const marked: KubeObject = {
        ...existing,
        metadata: { ...existing.metadata, deletionTimestamp: now(), deletionGracePeriodSeconds: 0 },
      };
      if (t.kind === "Namespace")
        marked.status = { ...(isObject(existing.status) ? existing.status : {}), phase: "Terminating" };
      if (opts.dryRun) return marked;
      marked.metadata.resourceVersion = String(++this.rv);
      this.bucket(t).set(this.key(t, name, ns), marked);
      this.emit({ rv: this.rv, type: "MODIFIED", resource: t, object: marked, old: existing });
      return marked;
    }
    if (opts.dryRun) return existing;
    return this.remove(t, existing, opts.propagationPolicy);
  }

  /** Removes an object for good (no finalizers left): DELETED to watchers, then garbage collection. */
  remove(t: ResourceType, existing: KubeObject, policy: string | undefined): KubeObject {
    const { name, namespace } = existing.metadata;
    this.bucket(t).delete(this.key(t, name ?? "", namespace));
    const gone: KubeObject = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(++this.rv) } };
    this.emit({ rv: this.rv, type: "DELETED", resource: t, object: gone });
    this.cascade(t, gone, policy);
    return gone;
  }

  private cascade(t: ResourceType, gone: KubeObject, policy: string | undefined): void {
    if (t.kind === "Namespace") return; // its content went first (lifecycle.ts)
    // batch/v1 Jobs orphan their pods unless a propagation policy says otherwise.
    const effective = policy ?? (t.kind === "Job" ? "Orphan" : "Background");
    if (effective === "Orphan") return;
    const uid = gone.metadata.uid;
    for (const rt of this.registry.types) {
      for (const o of this.bucket(rt).values()) {
        const owners = o.metadata.ownerReferences;
        if (Array.isArray(owners) && owners.some((r) => isObject(r) && r.uid === uid)) {
          this.deleteTyped(rt, o.metadata.name ?? "", o.metadata.namespace, { propagationPolicy: "Background" });
        }
      }
    }
  }

  // ---- watch -------------------------------------------------------------------------------

  /**
   * Starts a watch; `send` receives stored objects (serialize them, do not mutate them).
   * Without a resourceVersion (or "0") the current objects arrive first as ADDED.
   * Throws a 410 Expired ApiError when the resourceVersion is older than the watch history.
   */
  watch(t: ResourceType, opts: WatchOptions, send: Watcher["send"]): { close: () => void } {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, t);
    const w: Watcher = {
      resource: t,
      matches: (o) => labels(o) && fields(o),
      namespace: t.namespaced ? opts.namespace : undefined,
      send,
    };
    const from = opts.resourceVersion && opts.resourceVersion !== "0" ? Number(opts.resourceVersion) : undefined;
    if (from !== undefined && (!Number.isFinite(from) || from < this.compactedRv)) {
      throw new ApiError(
        status(410, "Expired", `too old resource version: ${opts.resourceVersion} (${this.compactedRv + 1})`),
      );
    }
    if (from === undefined) {
      for (const o of this.listTyped(t, opts)) send("ADDED", o);
    } else {
      for (const ev of this.history) if (ev.rv > from) this.deliver(w, ev);
    }
    this.watchers.add(w);
    return { close: () => this.watchers.delete(w) };
  }

  private deliver(w: Watcher, ev: StoredEvent): void {
    if (ev.resource !== w.resource) return;
    if (w.namespace && ev.object.metadata.namespace !== w.namespace) return;
    const now = w.matches(ev.object);
    if (ev.type === "MODIFIED" && ev.old) {
      const before = w.matches(ev.old);
      if (before && !now) w.send("DELETED", ev.object);
      else if (!before && now) w.send("ADDED", ev.object);
      else if (now) w.send("MODIFIED", ev.object);
      return;
    }
    if (now) w.send(ev.type, ev.object);
  }

  // ---- internals ---------------------------------------------------------------------------

  private emit(ev: StoredEvent): void {
    this.history.push(ev);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedRv = dropped.rv;
    }
    for (const w of this.watchers) this.deliver(w, ev);
    this.pending.push(ev);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let ev2 = this.pending.shift(); ev2; ev2 = this.pending.shift()) {
        for (const c of this.controllers) c(ev2);
      }
    } finally {
      this.draining = false;
      this.pending.length = 0;
    }
  }

  private bucket(t: ResourceType): Map<string, KubeObject> {
    const k = typeKey(t);
    let b = this.data.get(k);
    if (!b) {
      b = new Map();
      this.data.set(k, b);
    }
    return b;
  }

  private key(t: ResourceType, name: string, namespace?: string): string {
    return t.namespaced ? `${namespace || "default"}/${name}` : name;
  }
}
