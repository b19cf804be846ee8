/** The Kopia repository as secrets and movers name it, and which objects consume it. Pure. */
import {
  isClusterScoped,
  isKopiur,
  isVolsync,
  type ModelObject,
  objectsOf,
  perModel,
  push,
  type RepoModel,
  str,
} from "./model.ts";

export interface RepositoryRef {
  /** The KOPIA_REPOSITORY value (after substitution), e.g. "filesystem:///repository/repository". */
  url: string;
  /** The object that holds it and the key path of the value. */
  holder: ModelObject;
  /** Shared between refs: do not mutate. */
  path: (string | number)[];
}

// Key paths shared by every RepositoryRef (read-only).
const ES_REPOSITORY = ["spec", "target", "template", "data", "KOPIA_REPOSITORY"];
const STRINGDATA_REPOSITORY = ["stringData", "KOPIA_REPOSITORY"];
const DATA_REPOSITORY = ["data", "KOPIA_REPOSITORY"];

const secretIndex = perModel((model) => {
  const ix = new Map<string, RepositoryRef[]>();
  const add = (ns: string | undefined, name: string, ref: RepositoryRef) => {
    if (ns !== undefined) push(ix, `${ns}/${name}`, ref);
  };
  for (const es of objectsOf(model, "ExternalSecret")) {
    const url = str(es.body, "spec", "target", "template", "data", "KOPIA_REPOSITORY");
    if (url === undefined) continue;
    const target = str(es.body, "spec", "target", "name") ?? es.name;
    add(es.namespace, target, { url, holder: es, path: ES_REPOSITORY });
  }
  for (const s of objectsOf(model, "Secret")) {
    const plain = str(s.body, "stringData", "KOPIA_REPOSITORY");
    if (plain !== undefined) add(s.namespace, s.name, { url: plain, holder: s, path: STRINGDATA_REPOSITORY });
    const b64 = str(s.body, "data", "KOPIA_REPOSITORY");
    if (b64 !== undefined && /^[A-Za-z0-9+/=\s]+$/.test(b64)) {
      const url = Buffer.from(b64, "base64").toString("utf8");
      add(s.namespace, s.name, { url, holder: s, path: DATA_REPOSITORY });
    }
  }
  return ix;
});

/** KOPIA_REPOSITORY values that a Secret named `name` in `namespace` will hold (ExternalSecret templates and Secrets). */
export function repositoryOfSecret(model: RepoModel, namespace: string | undefined, name: string): RepositoryRef[] {
  if (namespace === undefined) return [];
  return secretIndex(model).get(`${namespace}/${name}`) ?? [];
}

const moverRefs = perModel(() => new Map<ModelObject, RepositoryRef[]>());

/**
 * repositoryOfSecret of the Secret a Volsync mover names (moverSecretName), looked up once per mover:
 * several rules ask it for every mover.
 */
export function repositoryOfMover(model: RepoModel, o: ModelObject): RepositoryRef[] {
  const cache = moverRefs(model);
  let refs = cache.get(o);
  if (refs === undefined) {
    const secret = moverSecretName(o);
    refs = secret ? repositoryOfSecret(model, o.namespace, secret.name) : [];
    cache.set(o, refs);
  }
  return refs;
}

/** "filesystem:///a/b" -> "/a/b"; undefined for other backends. */
const fsPaths = new Map<string, string | undefined>();

export function filesystemPath(url: string): string | undefined {
  if (fsPaths.has(url)) return fsPaths.get(url);
  const m = /^filesystem:\/\/(\/.*)$/.exec(url.trim());
  const p = m ? (m[1] as string) : undefined;
  if (fsPaths.size < 10_000) fsPaths.set(url, p);
  return p;
}

// Key paths shared by every result (read-only).
const MAINTENANCE_SECRET = ["spec", "repository", "repository"];
const MAINTENANCE_SECRET_SHORT = ["spec", "repository"];
const MOVER_SECRET = ["spec", "kopia", "repository"];

/** The name of the Secret a Volsync kopia object reads its repository from; `path` is shared, do not mutate. */
export function moverSecretName(o: ModelObject): { name: string; path: (string | number)[] } | undefined {
  if (o.kind === "KopiaMaintenance") {
    const a = str(o.body, "spec", "repository", "repository");
    if (a) return { name: a, path: MAINTENANCE_SECRET };
    const b = str(o.body, "spec", "repository");
    if (b) return { name: b, path: MAINTENANCE_SECRET_SHORT };
    return undefined;
  }
  const n = str(o.body, "spec", "kopia", "repository");
  return n ? { name: n, path: MOVER_SECRET } : undefined;
}

/** The kopia section of a Volsync mover object (spec.kopia for sources/destinations, spec for maintenance). */
export function moverSpec(o: ModelObject): Record<string, unknown> | undefined {
  // rec(o.body, "spec", "kopia"), or rec(o.body, "spec") for maintenance, read directly: rules ask it for every mover.
  const spec = o.body.spec;
  const v =
    o.kind === "KopiaMaintenance"
      ? spec
      : spec !== null && typeof spec === "object"
        ? (spec as Record<string, unknown>).kopia
        : undefined;
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const SPEC: readonly string[] = ["spec"];
const SPEC_KOPIA: readonly string[] = ["spec", "kopia"];

/** Key path of moverSpec (shared: do not mutate). */
export function moverSpecPath(o: ModelObject): readonly string[] {
  return o.kind === "KopiaMaintenance" ? SPEC : SPEC_KOPIA;
}

/**
 * Is this object a consumer of the shared repository? ReplicationSource / ReplicationDestination with
 * a kopia mover, KopiaMaintenance, and namespaced Kopiur objects. A Volsync object whose secret points
 * at a non-filesystem backend (s3://, b2://, ...) does not use the shared volume.
 */
export function isConsumer(model: RepoModel, o: ModelObject): boolean {
  if (!isVolsync(o) && !isKopiur(o)) return false;
  return consumerSet(model).has(o);
}

function consumerOf(model: RepoModel, o: ModelObject): boolean {
  if (isKopiur(o)) return !isClusterScoped(o.kind) && o.namespace !== undefined;
  if (!isVolsync(o)) return false;
  if (o.kind === "ReplicationSource" || o.kind === "ReplicationDestination") {
    if (moverSpec(o) === undefined) return false;
  } else if (o.kind !== "KopiaMaintenance") return false;
  const secret = moverSecretName(o);
  if (!secret) return true;
  const refs = repositoryOfMover(model, o);
  if (refs.length === 0) return true;
  return refs.some((r) => r.url.includes("${") || filesystemPath(r.url) !== undefined);
}

const CONSUMER_KINDS = ["ReplicationSource", "ReplicationDestination", "KopiaMaintenance"];

/** Consumers (ReplicationSource/Destination, KopiaMaintenance, Kopiur objects) delivered into `namespace`. */
export function consumersIn(model: RepoModel, namespace: string): ModelObject[] {
  return [...(consumersByNamespace(model).get(namespace) ?? [])];
}

const consumerMap = perModel((model) => {
  const out = new Map<string, ModelObject[]>();
  const add = (o: ModelObject) => {
    if (o.namespace === undefined || !consumerOf(model, o)) return;
    push(out, o.namespace, o);
  };
  for (const kind of CONSUMER_KINDS) for (const o of objectsOf(model, kind)) add(o);
  for (const o of model.objects) if (isKopiur(o)) add(o);
  return out;
});

const consumerSet = perModel((model) => {
  const set = new Set<ModelObject>();
  for (const list of consumerMap(model).values()) for (const o of list) set.add(o);
  return set;
});

/** Every consumer, grouped by namespace (a fresh map; the lists are shared, do not mutate them). */
export function consumersByNamespace(model: RepoModel): Map<string, ModelObject[]> {
  return new Map(consumerMap(model));
}
