/**
 * The observed topology from a fixed number of LIST calls, whatever the number of namespaces:
 * PVs; PVCs named `kopia` (one field-selected list across namespaces); namespaces; the events of
 * those PVCs (one field-selected list); storage classes; /version; /apis; then, for the groups that
 * exist, Volsync and Kopiur objects, Flux Kustomizations and the MutatingAdmissionPolicy API, and the
 * PVCs of each other claim a Kopiur filesystem backend names (`kopia-kopiur`: one list per name).
 * A 403 on one list becomes a Denial (the checks that need it turn into warnings); anything else
 * (unreachable server, 401) fails the whole snapshot with one line.
 */
import type {
  CoreV1Event,
  V1APIGroupList,
  V1Namespace,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1StorageClass,
} from "@kubernetes/client-node";
import type { Conventions } from "../core/config.ts";
import {
  type ConsumerKind,
  type Denial,
  emptyObserved,
  FLUX_KS_GROUP,
  KOPIUR_GROUP,
  type LiveCondition,
  type LiveConsumer,
  type LiveEvent,
  type LiveKopiurRepository,
  type LiveKustomization,
  type LiveNamespace,
  type LivePolicy,
  type LivePv,
  type LivePvc,
  type LiveStorageClass,
  type Observed,
  type Source,
  served,
  VOLSYNC_GROUP,
} from "../core/live.ts";
import { claimsNeeded } from "../core/live-model.ts";
import type { Kube } from "./client.ts";
import { KubeError, type Perm } from "./errors.ts";
import type { KubeReader } from "./http.ts";

export interface SnapshotOptions {
  conventions: Conventions;
  /** Limit namespaced lists to one namespace (-n). */
  namespace?: string;
  /** "storage": PVs and `kopia` PVCs only (what verify and drift need). "full": everything doctor needs. */
  depth: "storage" | "full";
  /** "storage" without a namespace: also read Kopiur's ClusterRepositories (verify's default scope). */
  kopiurScope?: boolean;
}

const ADMISSION_GROUP = "admissionregistration.k8s.io";
const ADMISSION_VERSIONS = ["v1", "v1beta1", "v1alpha1"];

const VOLSYNC_KINDS: [string, ConsumerKind][] = [
  ["replicationsources", "ReplicationSource"],
  ["replicationdestinations", "ReplicationDestination"],
  ["kopiamaintenances", "KopiaMaintenance"],
];
const KOPIUR_KINDS: [string, ConsumerKind][] = [
  ["repositories", "Repository"],
  ["snapshotpolicies", "SnapshotPolicy"],
  ["snapshotschedules", "SnapshotSchedule"],
  ["restores", "Restore"],
  ["maintenances", "Maintenance"],
];

const iso = (d: Date | string | undefined): string | undefined =>
  d === undefined ? undefined : d instanceof Date ? (Number.isNaN(d.getTime()) ? undefined : d.toISOString()) : d;

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) out[k] = String(x);
  return out;
}

export function mapPv(pv: V1PersistentVolume): LivePv {
  const ref = pv.spec?.claimRef;
  return {
    name: pv.metadata?.name ?? "",
    phase: pv.status?.phase ?? "",
    reclaimPolicy: pv.spec?.persistentVolumeReclaimPolicy ?? "",
    storageClassName: pv.spec?.storageClassName ?? "",
    capacity: pv.spec?.capacity?.storage,
    accessModes: pv.spec?.accessModes ?? [],
    volumeMode: pv.spec?.volumeMode,
    driver: pv.spec?.csi?.driver,
    volumeHandle: pv.spec?.csi?.volumeHandle,
    volumeAttributes: strMap(pv.spec?.csi?.volumeAttributes),
    claimRef: ref
      ? {
          namespace: ref.namespace ?? "",
          name: ref.name ?? "",
          uid: ref.uid || undefined,
          resourceVersion: ref.resourceVersion || undefined,
        }
      : undefined,
  };
}

export function mapPvc(p: V1PersistentVolumeClaim): LivePvc {
  return {
    namespace: p.metadata?.namespace ?? "",
    name: p.metadata?.name ?? "",
    uid: p.metadata?.uid ?? "",
    phase: p.status?.phase ?? "",
    volumeName: p.spec?.volumeName || undefined,
    storageClassName: p.spec?.storageClassName ?? undefined,
    request: p.spec?.resources?.requests?.storage,
    accessModes: p.spec?.accessModes ?? [],
    volumeMode: p.spec?.volumeMode,
  };
}

function mapEvent(e: CoreV1Event): LiveEvent {
  return {
    namespace: e.involvedObject?.namespace ?? e.metadata?.namespace ?? "",
    object: e.involvedObject?.name ?? "",
    type: e.type ?? "",
    reason: e.reason ?? "",
    message: e.message ?? "",
    count: e.count ?? 1,
    last: iso(e.lastTimestamp) ?? iso(e.eventTime as unknown as Date | undefined) ?? iso(e.firstTimestamp),
  };
}

function mapNamespace(n: V1Namespace): LiveNamespace {
  return { name: n.metadata?.name ?? "", annotations: strMap(n.metadata?.annotations) };
}

function mapStorageClass(s: V1StorageClass): LiveStorageClass {
  return { name: s.metadata?.name ?? "", provisioner: s.provisioner };
}

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (v && typeof v === "object" && !Array.isArray(v) ? (v as Raw) : {});
const s = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function claimNames(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((m) => s(obj(obj(obj(m).volumeSource).persistentVolumeClaim).claimName)).filter((x): x is string => !!x);
}

export function mapConsumer(raw: unknown, kind: ConsumerKind, c: Conventions): LiveConsumer {
  const o = obj(raw);
  const meta = obj(o.metadata);
  const spec = obj(o.spec);
  const status = obj(o.status);
  const volsync = kind === "ReplicationSource" || kind === "ReplicationDestination";
  const kopia = obj(spec.kopia);
  const mv = [...claimNames(kopia.moverVolumes), ...claimNames(spec.moverVolumes)];
  const claims = [...mv];
  const repoPvc = s(kopia.repositoryPVC);
  if (repoPvc) claims.push(repoPvc);
  const kopiurPvc = s(obj(obj(spec.volume).pvc).name) ?? s(obj(spec.volume).pvc);
  if (kopiurPvc) claims.push(kopiurPvc);
  return {
    kind,
    namespace: s(meta.namespace) ?? "",
    name: s(meta.name) ?? "",
    kopia: volsync ? spec.kopia !== undefined : true,
    claims,
    // What the snapshot resolves from every object it read (takeSnapshot); alone, the per-namespace claim.
    claim: c.claimName,
    moverVolumes: mv.includes(c.claimName),
    schedule:
      kind === "ReplicationSource"
        ? s(obj(spec.trigger).schedule)
        : kind === "SnapshotSchedule" && obj(spec.schedule).suspend !== true
          ? s(obj(spec.schedule).cron)
          : undefined,
    lastSyncTime: kind === "SnapshotSchedule" ? s(obj(status.lastSuccessfulSchedule).at) : s(status.lastSyncTime),
    created: s(meta.creationTimestamp),
  };
}

/** Every string under a value, depth first (the CEL expressions of a policy's mutations). */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === "object") for (const x of Object.values(v)) strings(x, out);
  return out;
}

export function mapPolicy(raw: unknown): LivePolicy {
  const o = obj(raw);
  return { name: s(obj(o.metadata).name) ?? "", mutations: strings(obj(o.spec).mutations).join("\n") };
}

function mapConditions(v: unknown): LiveCondition[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => {
    const c = obj(x);
    return { type: s(c.type) ?? "", status: s(c.status) ?? "", reason: s(c.reason) ?? "", message: s(c.message) ?? "" };
  });
}

export function mapKopiurRepository(raw: unknown, kind: LiveKopiurRepository["kind"]): LiveKopiurRepository {
  const o = obj(raw);
  const meta = obj(o.metadata);
  const spec = obj(o.spec);
  const allowed = obj(spec.allowedNamespaces).list;
  const uid = obj(obj(spec.moverDefaults).securityContext).runAsUser;
  return {
    kind,
    namespace: s(meta.namespace) ?? "",
    name: s(meta.name) ?? "",
    claim: s(obj(obj(obj(obj(spec.backend).filesystem).volume).pvc).name),
    allowedNamespaces: Array.isArray(allowed) ? allowed.filter((x): x is string => typeof x === "string") : [],
    moverUid: typeof uid === "number" ? uid : undefined,
    conditions: mapConditions(obj(o.status).conditions),
  };
}

function mapKustomization(raw: unknown): LiveKustomization {
  const o = obj(raw);
  const meta = obj(o.metadata);
  const spec = obj(o.spec);
  return {
    namespace: s(meta.namespace) ?? "",
    name: s(meta.name) ?? "",
    targetNamespace: s(spec.targetNamespace),
    path: s(spec.path),
  };
}

const itemsOf = (list: unknown): unknown[] => {
  const items = obj(list).items;
  return Array.isArray(items) ? items : [];
};

/** With depth "storage" any KubeReader (the lean client too); "full" needs the typed client. */
export async function takeSnapshot(kube: KubeReader | Kube, opts: SnapshotOptions): Promise<Observed> {
  const c = opts.conventions;
  const ns = opts.namespace;
  const o = emptyObserved(kube.server);
  o.namespace = ns;
  const before = kube.stats.requests;

  /**
   * One read; a 403 records a Denial and yields undefined. A 404 (a resource discovery did not
   * promise, or one removed since) yields undefined too: `onNotFound` decides what it means, by
   * default a Denial of reason "notfound" (the checks that need it are skipped, nothing throws).
   */
  const read = async <T>(
    source: Source,
    perm: Perm,
    fn: () => Promise<T>,
    onNotFound?: () => void,
  ): Promise<T | undefined> => {
    try {
      return await kube.call(perm, fn);
    } catch (e) {
      if (e instanceof KubeError && (e.kind === "forbidden" || e.kind === "notfound")) {
        if (e.kind === "notfound" && onNotFound) onNotFound();
        else {
          const d: Denial = {
            source,
            verb: perm.verb,
            resource: perm.resource,
            namespace: perm.namespace,
            ...(e.kind === "notfound" ? { reason: "notfound" as const } : {}),
          };
          // Two reads of one resource (the PVCs `kopia` and Kopiur's claims) refused alike: one denial.
          const same = (x: Denial) =>
            x.source === d.source &&
            x.verb === d.verb &&
            x.resource === d.resource &&
            x.namespace === d.namespace &&
            x.reason === d.reason;
          if (!o.denied.some(same)) o.denied.push(d);
        }
        return undefined;
      }
      throw e;
    }
  };
  const claimSelector = `metadata.name=${c.claimName}`;
  /** PVCs of one name (a field selector), across namespaces or in -n's. */
  const pvcList = (fieldSelector: string) =>
    read("persistentvolumeclaims", { verb: "list", resource: "persistentvolumeclaims", namespace: ns }, () =>
      kube.getJson(
        ns ? `/api/v1/namespaces/${encodeURIComponent(ns)}/persistentvolumeclaims` : "/api/v1/persistentvolumeclaims",
        { fieldSelector },
      ),
    ) as Promise<{ items?: V1PersistentVolumeClaim[] } | undefined>;
  const eventSelector = `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${c.claimName}`;

  // The two lists as plain JSON (getJson): the typed client's deserialisation of every PV and PVC
  // took longer than the requests themselves on large clusters, and map* reads only strings.
  const storage = Promise.all([
    read("persistentvolumes", { verb: "list", resource: "persistentvolumes" }, () =>
      kube.getJson("/api/v1/persistentvolumes"),
    ) as Promise<{ items?: V1PersistentVolume[] } | undefined>,
    pvcList(claimSelector),
  ]);
  if (opts.depth === "storage") {
    // Without -n, the namespaces that consume the repository through Kopiur are in scope too: /apis
    // (in parallel with the two lists), then, when Kopiur is served, its ClusterRepositories.
    const kopiur =
      ns || !opts.kopiurScope
        ? undefined
        : (async () => {
            const apis = (await read("discovery", { verb: "get", resource: "/apis" }, () => kube.getJson("/apis"))) as
              | V1APIGroupList
              | undefined;
            const g = apis?.groups?.find((x) => x.name === KOPIUR_GROUP);
            const version = g?.preferredVersion?.version ?? g?.versions?.[0]?.version;
            if (!version) return;
            const l = await read(
              "kopiur",
              { verb: "list", resource: `clusterrepositories.${KOPIUR_GROUP}` },
              () => kube.getJson(`/apis/${KOPIUR_GROUP}/${encodeURIComponent(version)}/clusterrepositories`),
              () => undefined,
            );
            o.kopiurRepositories = itemsOf(l).map((x) => mapKopiurRepository(x, "ClusterRepository"));
          })();
    const [[pvs, pvcs]] = await Promise.all([storage, kopiur]);
    o.pvs = (pvs?.items ?? []).map(mapPv);
    o.pvcs = (pvcs?.items ?? []).map(mapPvc).filter((p) => p.name === c.claimName);
    o.requests = kube.stats.requests - before;
    return o;
  }

  if (!("core" in kube)) throw new Error("a full snapshot needs the typed client (src/kube/client.ts)");
  const [[pvs, pvcs], version, groups, namespaces, events, classes] = await Promise.all([
    storage,
    read("version", { verb: "get", resource: "/version" }, () => kube.version.getCode()),
    read("discovery", { verb: "get", resource: "/apis" }, () => kube.apis.getAPIVersions()),
    read("namespaces", { verb: "list", resource: "namespaces" }, () =>
      kube.core.listNamespace(ns ? { fieldSelector: `metadata.name=${ns}` } : {}),
    ),
    read("events", { verb: "list", resource: "events", namespace: ns }, () =>
      ns
        ? kube.core.listNamespacedEvent({ namespace: ns, fieldSelector: eventSelector })
        : kube.core.listEventForAllNamespaces({ fieldSelector: eventSelector }),
    ),
    read("storageclasses", { verb: "list", resource: "storageclasses.storage.k8s.io" }, () =>
      kube.storage.listStorageClass(),
    ),
  ]);
  o.pvs = (pvs?.items ?? []).map(mapPv);
  o.pvcs = (pvcs?.items ?? []).map(mapPvc).filter((p) => p.name === c.claimName);
  o.namespaces = (namespaces?.items ?? []).map(mapNamespace);
  o.events = (events?.items ?? []).map(mapEvent).filter((e) => e.object === c.claimName);
  o.storageClasses = (classes?.items ?? []).map(mapStorageClass);
  if (version) {
    const major = Number.parseInt(version.major, 10);
    const minor = Number.parseInt(version.minor, 10);
    o.version = {
      major: Number.isNaN(major) ? 0 : major,
      minor: Number.isNaN(minor) ? 0 : minor,
      gitVersion: version.gitVersion,
    };
  }
  const versions = new Map<string, string[]>();
  for (const g of groups?.groups ?? []) {
    const preferred = g.preferredVersion?.version ?? g.versions[0]?.version;
    if (preferred) o.groups[g.name] = preferred;
    versions.set(
      g.name,
      g.versions.map((v) => v.version),
    );
  }

  // Discovery decides what is read: one resource list per optional group served, then a LIST only of
  // the resources it names (an older Volsync without KopiaMaintenance, Kopiur without Maintenance).
  const clusterScoped = new Set<string>();
  await Promise.all(
    (
      [
        [VOLSYNC_GROUP, "volsync"],
        [KOPIUR_GROUP, "kopiur"],
        [FLUX_KS_GROUP, "kustomizations"],
      ] as const
    ).map(async ([group, source]) => {
      const version = o.groups[group];
      if (!version) return;
      // A refused resource list is a denial of what it would have let us list (those checks warn).
      const r = await read(
        source,
        { verb: "get", resource: `/apis/${group}/${version}` },
        () => kube.custom.getAPIResources({ group, version }),
        () => {
          delete o.groups[group];
        },
      );
      if (!r) return;
      const plurals = r.resources.filter((x) => !x.name.includes("/")).map((x) => x.name);
      for (const x of r.resources) if (!x.namespaced) clusterScoped.add(`${x.name}.${group}`);
      o.resources[group] = plurals;
    }),
  );
  const list = (source: Source, group: string, plural: string) => {
    const version = o.groups[group] as string;
    const cluster = clusterScoped.has(`${plural}.${group}`);
    return read(
      source,
      { verb: "list", resource: `${plural}.${group}`, namespace: cluster ? undefined : ns },
      () =>
        ns && !cluster
          ? kube.custom.listNamespacedCustomObject({ group, version, namespace: ns, plural })
          : kube.custom.listClusterCustomObject({ group, version, plural }),
      () => {
        // Discovery named it, the LIST says it is gone (a CRD removed meanwhile): not served.
        o.resources[group] = (o.resources[group] ?? []).filter((p) => p !== plural);
      },
    );
  };
  const consumerLists: Promise<void>[] = [];
  const kopiurLists = new Map<string, Promise<unknown>>();
  // The objects core/transport.ts reads, as served, and which LiveConsumer each consumer object became.
  const raw: Raw[] = [];
  const asServed = (item: unknown, apiVersion: string, kind: string): Raw => {
    const r = { apiVersion, kind, ...obj(item) };
    raw.push(r);
    return r;
  };
  const consumerOf = new Map<Raw, LiveConsumer>();
  for (const [group, source, kinds] of [
    [VOLSYNC_GROUP, "volsync", VOLSYNC_KINDS],
    [KOPIUR_GROUP, "kopiur", KOPIUR_KINDS],
  ] as const) {
    for (const [plural, kind] of kinds) {
      if (!served(o, group, plural)) continue;
      const l = list(source, group, plural);
      if (group === KOPIUR_GROUP) kopiurLists.set(plural, l);
      consumerLists.push(
        l.then((l) => {
          for (const item of itemsOf(l)) {
            const x = mapConsumer(item, kind, c);
            o.consumers.push(x);
            consumerOf.set(asServed(item, `${group}/${o.groups[group]}`, kind), x);
          }
        }),
      );
    }
  }
  const repositoryLists: Promise<void>[] = [];
  for (const [plural, kind] of [
    ["clusterrepositories", "ClusterRepository"],
    ["repositories", "Repository"],
  ] as const) {
    if (!served(o, KOPIUR_GROUP, plural)) continue;
    // Repositories are listed for consumers too; one LIST serves both (the promise is shared).
    const l = kopiurLists.get(plural) ?? list("kopiur", KOPIUR_GROUP, plural);
    kopiurLists.set(plural, l);
    repositoryLists.push(
      l.then((x) => {
        for (const item of itemsOf(x)) {
          o.kopiurRepositories.push(mapKopiurRepository(item, kind));
          if (kind === "ClusterRepository") asServed(item, `${KOPIUR_GROUP}/${o.groups[KOPIUR_GROUP]}`, kind);
        }
      }),
    );
  }
  // The claims Kopiur's filesystem backends mount other than `kopia` (kopiashare's own: `kopia-kopiur`):
  // one field-selected list per claim name, only when a repository names one, so a cluster without such a
  // repository costs no request more. Their PVs are in the PV list already.
  const backendClaims: V1PersistentVolumeClaim[] = [];
  consumerLists.push(
    Promise.all(repositoryLists).then(async () => {
      const names = [...new Set(o.kopiurRepositories.map((r) => r.claim))]
        .filter((x): x is string => !!x && x !== c.claimName)
        .sort();
      const lists = await Promise.all(names.map((name) => pvcList(`metadata.name=${name}`)));
      for (const l of lists) backendClaims.push(...(l?.items ?? []));
      o.pvcs.push(...backendClaims.map(mapPvc));
    }),
  );
  if (served(o, FLUX_KS_GROUP, "kustomizations")) {
    consumerLists.push(
      list("kustomizations", FLUX_KS_GROUP, "kustomizations").then((l) => {
        o.kustomizations = itemsOf(l).map(mapKustomization);
      }),
    );
  }
  const admission = (async () => {
    const offered = ADMISSION_VERSIONS.filter((v) => versions.get(ADMISSION_GROUP)?.includes(v));
    const found = await Promise.all(
      offered.map((version) =>
        read(
          "discovery",
          { verb: "get", resource: `/apis/${ADMISSION_GROUP}/${version}` },
          () => kube.custom.getAPIResources({ group: ADMISSION_GROUP, version }),
          () => undefined,
        ).then((r) => (r?.resources.some((x) => x.name === "mutatingadmissionpolicies") ? version : undefined)),
      ),
    );
    o.admission.served = found.filter((v): v is string => !!v);
    const version = o.admission.served[0];
    if (!version) return;
    const [policies, bindings] = await Promise.all(
      ["mutatingadmissionpolicies", "mutatingadmissionpolicybindings"].map((plural) =>
        read("admissionpolicies", { verb: "list", resource: `${plural}.${ADMISSION_GROUP}` }, () =>
          kube.custom.listClusterCustomObject({ group: ADMISSION_GROUP, version, plural }),
        ),
      ),
    );
    if (policies !== undefined) {
      o.admission.policies = itemsOf(policies).map(mapPolicy);
      for (const p of itemsOf(policies)) asServed(p, `${ADMISSION_GROUP}/${version}`, "MutatingAdmissionPolicy");
    }
    if (bindings !== undefined) {
      o.admission.bindings = itemsOf(bindings).map((b) => s(obj(obj(b).spec).policyName) ?? "");
      for (const b of itemsOf(bindings)) asServed(b, `${ADMISSION_GROUP}/${version}`, "MutatingAdmissionPolicyBinding");
    }
  })();
  await Promise.all([...consumerLists, admission]);
  // Which PVC each consumer needs: lint's resolution (core/transport.ts) on what was read. Secrets are not
  // read, so a Volsync mover's repository URL is unknown and the volumes its Job is given decide.
  if (consumerOf.size > 0) {
    for (const p of pvs?.items ?? []) asServed(p, "v1", "PersistentVolume");
    for (const p of [...(pvcs?.items ?? []), ...backendClaims]) asServed(p, "v1", "PersistentVolumeClaim");
    for (const [body, claim] of claimsNeeded(raw, new Set(consumerOf.keys()), c)) {
      const x = consumerOf.get(body);
      if (x) x.claim = claim;
    }
  }
  o.consumers.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  o.requests = kube.stats.requests - before;
  return o;
}
