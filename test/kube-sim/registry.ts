// The resource types the simulator serves: built-in ones plus the enabled CRD sets.

export type CrdSet =
  | "volsync"
  | "kopiur"
  | "flux"
  | "external-secrets"
  | "volumesnapshot"
  | "mutatingadmissionpolicy-v1alpha1"
  | "mutatingadmissionpolicy-v1beta1"
  | "mutatingadmissionpolicy-v1"
  | "controller-deploy";

export interface ResourceType {
  group: string; // "" for core
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** Has a /status subresource: status is ignored on main-resource writes through the API. */
  statusSubresource: boolean;
  /** Field selector labels beyond metadata.name / metadata.namespace. */
  fieldLabels: string[];
  categories: string[];
}

/** A type reference: Kind, plural, plural.group or short name. */
export type TypeRef = string;

const RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
export const VERBS = RW;

interface Def {
  plural: string;
  kind: string;
  namespaced?: boolean;
  shortNames?: string[];
  status?: boolean;
  fieldLabels?: string[];
  categories?: string[];
}

function define(group: string, version: string, defs: Def[]): ResourceType[] {
  return defs.map((d) => ({
    group,
    version,
    plural: d.plural,
    singular: d.kind.toLowerCase(),
    kind: d.kind,
    namespaced: d.namespaced ?? true,
    shortNames: d.shortNames ?? [],
    statusSubresource: d.status ?? false,
    fieldLabels: d.fieldLabels ?? [],
    categories: d.categories ?? [],
  }));
}

const EVENT_FIELDS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type",
];

/** Field selectors of events.k8s.io/v1 (the core ones under their new names). */
const EVENTS_K8S_FIELDS = [
  "regarding.kind",
  "regarding.namespace",
  "regarding.name",
  "regarding.uid",
  "regarding.apiVersion",
  "regarding.resourceVersion",
  "regarding.fieldPath",
  "reason",
  "reportingController",
  "type",
];

/** Built-in API groups: their list items carry no apiVersion/kind on the wire. */
export const BUILTIN_GROUPS = new Set(["", "storage.k8s.io", "batch", "coordination.k8s.io", "events.k8s.io"]);

const BUILTIN: ResourceType[] = [
  ...define("", "v1", [
    {
      plural: "namespaces",
      kind: "Namespace",
      namespaced: false,
      shortNames: ["ns"],
      status: true,
      fieldLabels: ["status.phase"],
    },
    { plural: "persistentvolumes", kind: "PersistentVolume", namespaced: false, shortNames: ["pv"], status: true },
    { plural: "persistentvolumeclaims", kind: "PersistentVolumeClaim", shortNames: ["pvc"], status: true },
    { plural: "events", kind: "Event", shortNames: ["ev"], fieldLabels: EVENT_FIELDS },
    {
      plural: "pods",
      kind: "Pod",
      shortNames: ["po"],
      status: true,
      categories: ["all"],
      fieldLabels: ["spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "status.phase", "status.podIP"],
    },
    { plural: "secrets", kind: "Secret", fieldLabels: ["type"] },
    { plural: "configmaps", kind: "ConfigMap", shortNames: ["cm"] },
    { plural: "serviceaccounts", kind: "ServiceAccount", shortNames: ["sa"] },
  ]),
  ...define("storage.k8s.io", "v1", [
    { plural: "storageclasses", kind: "StorageClass", namespaced: false, shortNames: ["sc"] },
  ]),
  ...define("batch", "v1", [
    { plural: "jobs", kind: "Job", status: true, categories: ["all"], fieldLabels: ["status.successful"] },
  ]),
  // Leader election (client-go's LeaseLock, the controller's elector).
  ...define("coordination.k8s.io", "v1", [{ plural: "leases", kind: "Lease" }]),
  // The newer Event API. Stored apart from core/v1 events here (the real apiserver converts between them).
  ...define("events.k8s.io", "v1", [
    { plural: "events", kind: "Event", shortNames: ["ev"], fieldLabels: EVENTS_K8S_FIELDS },
  ]),
];

const map = (version: string) =>
  define("admissionregistration.k8s.io", version, [
    {
      plural: "mutatingadmissionpolicies",
      kind: "MutatingAdmissionPolicy",
      namespaced: false,
      categories: ["api-extensions"],
    },
    {
      plural: "mutatingadmissionpolicybindings",
      kind: "MutatingAdmissionPolicyBinding",
      namespaced: false,
      categories: ["api-extensions"],
    },
  ]);

export const CRD_SETS: Record<CrdSet, ResourceType[]> = {
  volsync: define("volsync.backube", "v1alpha1", [
    { plural: "replicationsources", kind: "ReplicationSource", status: true },
    { plural: "replicationdestinations", kind: "ReplicationDestination", status: true },
    { plural: "kopiamaintenances", kind: "KopiaMaintenance", status: true },
  ]),
  kopiur: define("kopiur.home-operations.com", "v1alpha1", [
    { plural: "clusterrepositories", kind: "ClusterRepository", namespaced: false, status: true },
    { plural: "repositories", kind: "Repository", status: true },
    { plural: "snapshotpolicies", kind: "SnapshotPolicy", status: true },
    { plural: "snapshotschedules", kind: "SnapshotSchedule", status: true },
    { plural: "restores", kind: "Restore", status: true },
    { plural: "maintenances", kind: "Maintenance", status: true },
  ]),
  flux: [
    ...define("kustomize.toolkit.fluxcd.io", "v1", [
      { plural: "kustomizations", kind: "Kustomization", shortNames: ["ks"], status: true },
    ]),
    ...define("source.toolkit.fluxcd.io", "v1", [
      { plural: "gitrepositories", kind: "GitRepository", shortNames: ["gitrepo"], status: true },
    ]),
  ],
  "external-secrets": define("external-secrets.io", "v1", [
    { plural: "externalsecrets", kind: "ExternalSecret", shortNames: ["es"], status: true },
  ]),
  volumesnapshot: define("snapshot.storage.k8s.io", "v1", [
    { plural: "volumesnapshots", kind: "VolumeSnapshot", shortNames: ["vs"], status: true },
    { plural: "volumesnapshotclasses", kind: "VolumeSnapshotClass", namespaced: false, shortNames: ["vsclass"] },
  ]),
  "mutatingadmissionpolicy-v1alpha1": map("v1alpha1"),
  "mutatingadmissionpolicy-v1beta1": map("v1beta1"),
  "mutatingadmissionpolicy-v1": map("v1"),
  // What `init --controller` writes (kubectl maps its kinds to resources; nothing acts on them here).
  "controller-deploy": [
    ...define("", "v1", [{ plural: "services", kind: "Service", shortNames: ["svc"], status: true }]),
    ...define("apps", "v1", [{ plural: "deployments", kind: "Deployment", shortNames: ["deploy"], status: true }]),
    ...define("policy", "v1", [
      { plural: "poddisruptionbudgets", kind: "PodDisruptionBudget", shortNames: ["pdb"], status: true },
    ]),
    ...define("rbac.authorization.k8s.io", "v1", [
      { plural: "clusterroles", kind: "ClusterRole", namespaced: false },
      { plural: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false },
      { plural: "roles", kind: "Role" },
      { plural: "rolebindings", kind: "RoleBinding" },
    ]),
    ...["v1", "v1beta1"].flatMap((v) =>
      define("admissionregistration.k8s.io", v, [
        { plural: "validatingadmissionpolicies", kind: "ValidatingAdmissionPolicy", namespaced: false, status: true },
        { plural: "validatingadmissionpolicybindings", kind: "ValidatingAdmissionPolicyBinding", namespaced: false },
      ]),
    ),
  ],
};

export const apiVersionOf = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);
export const typeKey = (t: ResourceType) => (t.group ? `${t.plural}.${t.group}` : t.plural);

export class Registry {
  readonly types: ResourceType[];

  /**
   * `omit`: "plural.group" of CRD resources not to serve although their set is enabled (an older
   * operator release: Volsync without KopiaMaintenance is `omit: ["kopiamaintenances.volsync.backube"]`).
   */
  constructor(crds: readonly CrdSet[] = [], omit: readonly string[] = []) {
    const types = [...BUILTIN];
    for (const set of new Set(crds)) types.push(...CRD_SETS[set].filter((t) => !omit.includes(typeKey(t))));
    this.types = types;
  }

  /** Resolves Kind, plural, plural.group or short name; throws when unknown. */
  resolve(ref: TypeRef): ResourceType {
    const t = this.find(ref);
    if (!t) throw new Error(`kube-sim: unknown resource type ${JSON.stringify(ref)}`);
    return t;
  }

  find(ref: TypeRef): ResourceType | undefined {
    const lower = ref.toLowerCase();
    return (
      this.types.find((t) => t.kind === ref) ??
      this.types.find((t) => typeKey(t) === lower) ??
      this.types.find((t) => t.plural === lower || t.singular === lower) ??
      this.types.find((t) => t.shortNames.includes(lower))
    );
  }

  byPath(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.version === version && t.plural === plural);
  }

  byApiVersionKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.types.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
  }

  /** Groups in discovery order (core first, then first appearance). */
  groups(): { group: string; versions: string[] }[] {
    const out: { group: string; versions: string[] }[] = [];
    for (const t of this.types) {
      let g = out.find((x) => x.group === t.group);
      if (!g) {
        g = { group: t.group, versions: [] };
        out.push(g);
      }
      if (!g.versions.includes(t.version)) g.versions.push(t.version);
    }
    return out;
  }
}
