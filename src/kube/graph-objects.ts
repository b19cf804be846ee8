/**
 * What `kopiashare graph --live` reads from a cluster: the objects core/transport.ts resolves, as the API
 * serves them. Volsync ReplicationSources, ReplicationDestinations and KopiaMaintenances; every Kopiur kind
 * the cluster serves; MutatingAdmissionPolicies and their bindings (first served version); PVs and the
 * PVCs named like the per-namespace claim; and, for each Volsync object, the `KOPIA_REPOSITORY` of the
 * Secret it names. Of a Secret nothing else is kept (never the password or keys). A fixed number of
 * LIST calls plus one GET per distinct Secret.
 *
 * A 403 on a list fails the read (a graph without some kind would be wrong, not partial); a 403 or 404 on a
 * Secret leaves that consumer's repository unknown and is reported in `unreadSecrets`.
 */
import type { Conventions } from "../core/config.ts";
import type { Kube } from "./client.ts";
import { KubeError, type Perm } from "./errors.ts";

const VOLSYNC_GROUP = "volsync.backube";
const KOPIUR_GROUP = "kopiur.home-operations.com";
const ADMISSION_GROUP = "admissionregistration.k8s.io";
const ADMISSION_VERSIONS = ["v1", "v1beta1", "v1alpha1"];
const VOLSYNC_PLURALS = ["replicationsources", "replicationdestinations", "kopiamaintenances"];
const KOPIUR_PLURALS = [
  "clusterrepositories",
  "repositories",
  "snapshotpolicies",
  "snapshotschedules",
  "snapshots",
  "restores",
  "maintenances",
  "repositoryreplications",
];

export type ApiObject = Record<string, unknown>;

export interface GraphObjects {
  server: string;
  objects: ApiObject[];
  /** Secrets a Volsync object names that could not be read: "<namespace>/<name>: <why>". */
  unreadSecrets: string[];
  requests: number;
}

const rec = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function itemsOf(list: unknown, apiVersion: string, kind: string): ApiObject[] {
  const items = rec(list).items;
  // Lists of custom objects carry apiVersion and kind per item; core lists (typed client) may not.
  return (Array.isArray(items) ? items : []).map((i) => ({ apiVersion, kind, ...rec(i) }));
}

/** The Secret a Volsync object reads its repository from. */
function secretOf(o: ApiObject): string | undefined {
  const spec = rec(o.spec);
  if (o.kind === "KopiaMaintenance") return str(rec(spec.repository).repository) ?? str(spec.repository);
  return str(rec(spec.kopia).repository);
}

export async function readGraphObjects(kube: Kube, c: Conventions): Promise<GraphObjects> {
  const before = kube.stats.requests;
  const call = <T>(perm: Perm, fn: () => Promise<T>) => kube.call(perm, fn);
  const [apis, pvs, pvcs] = await Promise.all([
    call({ verb: "get", resource: "/apis" }, () => kube.apis.getAPIVersions()),
    call({ verb: "list", resource: "persistentvolumes" }, () => kube.core.listPersistentVolume()),
    call({ verb: "list", resource: "persistentvolumeclaims" }, () =>
      kube.core.listPersistentVolumeClaimForAllNamespaces({ fieldSelector: `metadata.name=${c.claimName}` }),
    ),
  ]);
  const objects: ApiObject[] = [
    ...itemsOf(JSON.parse(JSON.stringify(pvs)), "v1", "PersistentVolume"),
    ...itemsOf(JSON.parse(JSON.stringify(pvcs)), "v1", "PersistentVolumeClaim"),
  ];
  const groups = new Map<string, string[]>();
  for (const g of apis.groups ?? [])
    groups.set(
      g.name,
      g.versions.map((v) => v.version),
    );
  const preferred = (group: string) =>
    (apis.groups ?? []).find((g) => g.name === group)?.preferredVersion?.version ?? groups.get(group)?.[0];

  /** The plurals of `wanted` a group version serves, with their kinds and scope. */
  const served = async (group: string, version: string, wanted: string[]) => {
    const r = await call({ verb: "get", resource: `/apis/${group}/${version}` }, () =>
      kube.custom.getAPIResources({ group, version }),
    );
    return r.resources.filter((x) => wanted.includes(x.name) && !x.name.includes("/"));
  };
  const listAll = async (group: string, version: string, wanted: string[]) => {
    const resources = await served(group, version, wanted);
    const lists = await Promise.all(
      resources.map((res) =>
        call({ verb: "list", resource: `${res.name}.${group}` }, () =>
          kube.custom.listClusterCustomObject({ group, version, plural: res.name }),
        ).then((l) => itemsOf(l, `${group}/${version}`, res.kind)),
      ),
    );
    return lists.flat();
  };

  const parts: Promise<ApiObject[]>[] = [];
  for (const [group, plurals] of [
    [VOLSYNC_GROUP, VOLSYNC_PLURALS],
    [KOPIUR_GROUP, KOPIUR_PLURALS],
  ] as const) {
    const version = preferred(group);
    if (version) parts.push(listAll(group, version, [...plurals]));
  }
  const admission = ADMISSION_VERSIONS.filter((v) => groups.get(ADMISSION_GROUP)?.includes(v));
  if (admission.length > 0) {
    parts.push(
      (async () => {
        for (const version of admission) {
          const found = await listAll(ADMISSION_GROUP, version, [
            "mutatingadmissionpolicies",
            "mutatingadmissionpolicybindings",
          ]);
          if (found.length > 0) return found;
        }
        return [];
      })(),
    );
  }
  for (const list of await Promise.all(parts)) objects.push(...list);

  // KOPIA_REPOSITORY of each Secret a Volsync object names, once per Secret.
  const wanted = new Map<string, { namespace: string; name: string }>();
  for (const o of objects) {
    if (!str(o.apiVersion)?.startsWith(`${VOLSYNC_GROUP}/`)) continue;
    const namespace = str(rec(o.metadata).namespace);
    const name = secretOf(o);
    if (namespace !== undefined && name !== undefined) wanted.set(`${namespace}/${name}`, { namespace, name });
  }
  const unreadSecrets: string[] = [];
  const secrets = await Promise.all(
    [...wanted.values()].map(async ({ namespace, name }) => {
      try {
        const s = await call({ verb: "get", resource: "secrets", namespace }, () =>
          kube.core.readNamespacedSecret({ namespace, name }),
        );
        const b64 = s.data?.KOPIA_REPOSITORY;
        if (b64 === undefined) {
          unreadSecrets.push(`${namespace}/${name}: it has no KOPIA_REPOSITORY`);
          return undefined;
        }
        const secret: ApiObject = {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name, namespace },
          stringData: { KOPIA_REPOSITORY: Buffer.from(b64, "base64").toString("utf8") },
        };
        return secret;
      } catch (e) {
        if (e instanceof KubeError && (e.kind === "forbidden" || e.kind === "notfound")) {
          unreadSecrets.push(
            `${namespace}/${name}: ${e.kind === "forbidden" ? "get secrets is forbidden" : "not found"}`,
          );
          return undefined;
        }
        throw e;
      }
    }),
  );
  for (const s of secrets) if (s) objects.push(s);
  unreadSecrets.sort();
  return { server: kube.server, objects, unreadSecrets, requests: kube.stats.requests - before };
}
