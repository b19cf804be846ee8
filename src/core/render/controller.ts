/**
 * `init --controller`: the Flux manifests that run `kopiashare controller` in the repository namespace,
 * next to the central `kopia` folder. Pure functions from the conventions, the image and the Kubernetes
 * version; the same hand-written YAML style (schema comment, `---`, fixed key order) as the other renderers.
 *
 * What the controller does is fixed by its command line (src/commands/controller.ts): it reads namespaces,
 * PVs, PVCs and the Volsync/Kopiur consumers; it applies PVs `<pvPrefix><ns>` and PVCs `<claimName>`
 * with server-side apply (field manager and label app.kubernetes.io/managed-by=kopiashare-controller),
 * deletes them with uid preconditions, JSON-patches a PV's claimRef, creates Events, and holds a Lease.
 * The RBAC below grants exactly that, each verb with a comment saying why; the ValidatingAdmissionPolicy
 * narrows the PV/PVC verbs (which RBAC cannot restrict by name for create) to the objects it manages.
 */
import { type Conventions, ksName } from "../config.ts";
import { CONTROLLER, MANAGED_BY } from "../names.ts";
import type { SourceRef } from "../topology.ts";
import { scalar, schemaLine } from "../yaml-text.ts";
import { renderFluxKs, renderKustomization } from "./instance.ts";
import { bandOf, versionOfApi } from "./wiring.ts";

/** Folder next to the repository namespace's `kopia` folder. */
export const CONTROLLER_FOLDER = CONTROLLER;
/** Name of the Flux Kustomization, ServiceAccount, roles, Deployment, Service, PDB, ConfigMap and Lease. */
export const CONTROLLER_NAME = CONTROLLER;
export const CONTROLLER_IMAGE_REPOSITORY = "ghcr.io/kopiashare/kopiashare";
export const HEALTH_PORT = 8080;
/** Where the ConfigMap's kopiashare.yaml is mounted in the container. */
export const CONFIG_MOUNT = "/etc/kopiashare";

/** The image when kopiashare.yaml sets no controllerImage: this release of kopiashare. */
export function defaultControllerImage(version: string): string {
  return `${CONTROLLER_IMAGE_REPOSITORY}:${version}`;
}

export function controllerPaths(nsDir: string) {
  const dir = `${nsDir}/${CONTROLLER_FOLDER}`;
  const app = `${dir}/app`;
  return {
    dir,
    ks: `${dir}/ks.yaml`,
    kustomization: `${app}/kustomization.yaml`,
    serviceAccount: `${app}/serviceaccount.yaml`,
    clusterRole: `${app}/clusterrole.yaml`,
    role: `${app}/role.yaml`,
    configMap: `${app}/configmap.yaml`,
    deployment: `${app}/deployment.yaml`,
    service: `${app}/service.yaml`,
    pdb: `${app}/poddisruptionbudget.yaml`,
    vap: `${app}/validatingadmissionpolicy.yaml`,
  };
}

// ---------------------------------------------------------------------------------------------------
// ValidatingAdmissionPolicy API bands
// ---------------------------------------------------------------------------------------------------

export type VapApiVersion = "v1beta1" | "v1";

/**
 * The ValidatingAdmissionPolicy API per Kubernetes minor: alpha on 1.26–1.27 (not written: alpha APIs come
 * and go), beta on 1.28–1.29 (served only with the feature gate and runtime-config), GA and on by default
 * from 1.30.
 */
export const VAP_BANDS: readonly { from: number; to: number | undefined; api: VapApiVersion; note: string }[] = [
  {
    from: 28,
    to: 29,
    api: "v1beta1",
    note: "Kubernetes 1.28/1.29 serve v1beta1 (feature gate ValidatingAdmissionPolicy and\n# --runtime-config=admissionregistration.k8s.io/v1beta1=true needed).",
  },
  { from: 30, to: undefined, api: "v1", note: "Kubernetes 1.30 and later serve v1, enabled by default." },
];

export const VAP_SUPPORTED = "Kubernetes 1.28 or later (v1beta1 on 1.28-1.29, v1 from 1.30)";

/** The ValidatingAdmissionPolicy API a Kubernetes version serves, or undefined (before 1.28, or not a version). */
export function vapBand(version: string): (typeof VAP_BANDS)[number] | undefined {
  return bandOf(VAP_BANDS, version);
}

export function versionOfVapApi(apiVersion: string): string | undefined {
  return versionOfApi(VAP_BANDS, apiVersion);
}

// ---------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------

export interface ControllerSpec {
  conventions: Conventions;
  source: SourceRef;
  /** Repo-relative folder of the repository namespace. */
  nsDir: string;
  /** The container image (controllerImage of kopiashare.yaml, else defaultControllerImage). */
  image: string;
  /** "1.NN" or undefined: picks the ValidatingAdmissionPolicy API; none is written when undefined or < 1.28. */
  kubernetesVersion: string | undefined;
}

const LABELS = (indent: string) => [`${indent}app.kubernetes.io/name: ${CONTROLLER_NAME}`];

/**
 * A document's start: `---`, comment lines, the schema line, apiVersion, kind and metadata (name
 * kopiashare-controller and its app label). The schema URL is kubernetes-schemas.pages.dev's for `schema`
 * (e.g. "v1/service").
 */
function head(schema: string, apiVersion: string, kind: string, comments: string[] = []): string[] {
  return [
    "---",
    ...comments.map((c) => `# ${c}`),
    schemaLine(`https://kubernetes-schemas.pages.dev/${schema}.json`),
    `apiVersion: ${apiVersion}`,
    `kind: ${kind}`,
    "metadata:",
    `  name: ${CONTROLLER_NAME}`,
    "  labels:",
    ...LABELS("    "),
  ];
}

const RBAC = "rbac.authorization.k8s.io";

/** The controller's Flux Kustomization: after the repository's own PV/PVC, healthy once the Deployment is. */
export function renderControllerKs(c: Conventions, source: SourceRef, nsDir: string): string {
  return renderFluxKs(c, source, {
    name: CONTROLLER_NAME,
    targetNamespace: c.repositoryNamespace,
    path: `${controllerPaths(nsDir).dir}/app`,
    dependsOn: [ksName(c, c.repositoryNamespace)],
    wait: true,
  });
}

function appFiles(withPolicy: boolean): string[] {
  const files = [
    "serviceaccount.yaml",
    "clusterrole.yaml",
    "role.yaml",
    "configmap.yaml",
    "deployment.yaml",
    "service.yaml",
    "poddisruptionbudget.yaml",
  ];
  if (withPolicy) files.push("validatingadmissionpolicy.yaml");
  return files;
}

export function renderControllerKustomization(withPolicy: boolean): string {
  return renderKustomization(appFiles(withPolicy).map((f) => `./${f}`));
}

export function renderServiceAccount(): string {
  return [...head("v1/serviceaccount", "v1", "ServiceAccount"), ""].join("\n");
}

/** One RBAC verb and why the controller needs it: the rows of the ClusterRole and of docs/commands.md. */
export interface RbacRule {
  apiGroup: string;
  resources: string[];
  verbs: { verb: string; why: string }[];
}

const READ = (what: string) => [
  { verb: "get", why: `read one ${what}` },
  { verb: "list", why: `fill the informer's cache of ${what}s` },
  { verb: "watch", why: `react to ${what} changes without polling` },
];

export function clusterRules(c: Conventions): RbacRule[] {
  const claim = c.claimName;
  const pv = `${c.pvPrefix}<ns>`;
  return [
    {
      apiGroup: "",
      resources: ["namespaces"],
      verbs: READ("namespace").map((v) =>
        v.verb === "watch" ? { ...v, why: "see namespaces opt in (label kopiashare.io/repository), and go" } : v,
      ),
    },
    {
      apiGroup: "",
      resources: ["persistentvolumes"],
      verbs: [
        ...READ("PV"),
        { verb: "create", why: `server-side apply of a missing PV ${pv} creates it` },
        {
          verb: "patch",
          why: "server-side apply of PV (field manager kopiashare-controller); JSON patch of a Released PV's stale claimRef",
        },
        { verb: "delete", why: `remove ${pv} once its namespace stops consuming (uid precondition, Retain only)` },
      ],
    },
    {
      apiGroup: "",
      resources: ["persistentvolumeclaims"],
      verbs: [
        ...READ("PVC"),
        { verb: "create", why: `server-side apply of a missing PVC ${claim} creates it` },
        { verb: "patch", why: `server-side apply of PVC ${claim} (field manager kopiashare-controller)` },
        { verb: "delete", why: `remove PVC ${claim} first when its namespace stops consuming (uid precondition)` },
      ],
    },
    {
      apiGroup: "",
      resources: ["events"],
      verbs: [{ verb: "create", why: "an Event on the namespace for every change it makes" }],
    },
    {
      apiGroup: "volsync.backube",
      resources: ["replicationsources", "replicationdestinations", "kopiamaintenances"],
      verbs: READ("Volsync consumer"),
    },
    {
      apiGroup: "kopiur.home-operations.com",
      resources: [
        "clusterrepositories",
        "repositories",
        "snapshotpolicies",
        "snapshotschedules",
        "restores",
        "maintenances",
      ],
      verbs: READ("Kopiur consumer"),
    },
  ];
}

/** The Lease rules of the Role in the controller's own namespace. */
export function leaseRules(): RbacRule[] {
  return [
    {
      apiGroup: "coordination.k8s.io",
      resources: ["leases"],
      verbs: [
        { verb: "create", why: "the first replica creates the Lease (create cannot be limited by name)" },
        { verb: "get", why: `read the Lease ${CONTROLLER_NAME} to see who leads` },
        { verb: "update", why: `renew or take over the Lease ${CONTROLLER_NAME}` },
      ],
    },
  ];
}

function ruleLines(rules: RbacRule[], resourceNames?: (verb: string) => string[] | undefined): string[] {
  const out: string[] = [];
  for (const r of rules) {
    // verbs that are limited by name get their own rule
    const byNames = new Map<string, { verb: string; why: string }[]>();
    for (const v of r.verbs) {
      const key = (resourceNames?.(v.verb) ?? []).join(",");
      byNames.set(key, [...(byNames.get(key) ?? []), v]);
    }
    for (const [names, verbs] of byNames) {
      out.push(`  - apiGroups: [${JSON.stringify(r.apiGroup)}]`, `    resources: [${r.resources.join(", ")}]`);
      if (names !== "") out.push(`    resourceNames: [${names.split(",").join(", ")}]`);
      out.push("    verbs:", ...verbs.map((v) => `      - ${v.verb} # ${v.why}`));
    }
  }
  return out;
}

export function renderClusterRole(c: Conventions): string {
  return [
    ...head("rbac.authorization.k8s.io/clusterrole_v1", `${RBAC}/v1`, "ClusterRole", [
      "What `kopiashare controller` reads and writes cluster-wide; each verb says why. RBAC cannot limit",
      "create or list by name: validatingadmissionpolicy.yaml narrows the PV/PVC writes to the objects it manages.",
    ]),
    "rules:",
    ...ruleLines(clusterRules(c)),
    ...head("rbac.authorization.k8s.io/clusterrolebinding_v1", `${RBAC}/v1`, "ClusterRoleBinding"),
    "roleRef:",
    "  apiGroup: rbac.authorization.k8s.io",
    "  kind: ClusterRole",
    `  name: ${CONTROLLER_NAME}`,
    "subjects:",
    "  - kind: ServiceAccount",
    `    name: ${CONTROLLER_NAME}`,
    `    namespace: ${scalar(c.repositoryNamespace)}`,
    "",
  ].join("\n");
}

export function renderRole(): string {
  return [
    ...head("rbac.authorization.k8s.io/role_v1", `${RBAC}/v1`, "Role", [
      `Leader election: the two replicas share the Lease ${CONTROLLER_NAME} in this namespace (POD_NAMESPACE).`,
    ]),
    "rules:",
    ...ruleLines(leaseRules(), (verb) => (verb === "create" ? undefined : [CONTROLLER_NAME])),
    ...head("rbac.authorization.k8s.io/rolebinding_v1", `${RBAC}/v1`, "RoleBinding"),
    "roleRef:",
    "  apiGroup: rbac.authorization.k8s.io",
    "  kind: Role",
    `  name: ${CONTROLLER_NAME}`,
    "subjects:",
    "  - kind: ServiceAccount",
    `    name: ${CONTROLLER_NAME}`,
    "",
  ].join("\n");
}

/**
 * The conventions the controller needs to render the same PV/PVC as `enable`, as a kopiashare.yaml (the
 * controller's --config). Only what concerns objects in the cluster; the repo layout keys do not.
 */
export function controllerConfig(c: Conventions): [string, string][] {
  const out: [string, string][] = [
    ["repositoryNamespace", scalar(c.repositoryNamespace)],
    ["claimName", scalar(c.claimName)],
    ["pvPrefix", scalar(c.pvPrefix)],
    ["claimRef", String(c.claimRef)],
    ["mover", scalar(c.mover)],
    ["mountPath", scalar(c.mountPath)],
    ["repositoryDir", scalar(c.repositoryDir)],
    ["uid", String(c.uid)],
    ["gid", String(c.gid)],
  ];
  if (c.capacity !== undefined) out.push(["capacity", scalar(c.capacity)]);
  if (c.storageClassName !== undefined) out.push(["storageClassName", scalar(c.storageClassName)]);
  return out;
}

export function renderConfigMap(c: Conventions): string {
  return [
    ...head("v1/configmap", "v1", "ConfigMap", [
      "The controller's --config: the conventions of this repository's kopiashare.yaml that shape the PVs and",
      "PVCs it applies (re-run `kopiashare init --controller` after changing them). Read at start only.",
    ]),
    "data:",
    "  kopiashare.yaml: |",
    ...controllerConfig(c).map(([k, v]) => `    ${k}: ${v}`),
    "",
  ].join("\n");
}

/** The container's arguments: the controller's fixed command line, defaults spelled out. */
export function controllerArgs(): string[] {
  return [
    "controller",
    `--config=${CONFIG_MOUNT}/kopiashare.yaml`,
    "--repository=kopia",
    "--workers=16",
    `--lease-name=${CONTROLLER_NAME}`,
    "--lease-duration=15s",
    "--renew-deadline=10s",
    "--retry-period=2s",
    `--health-port=${HEALTH_PORT}`,
    "--log-level=info",
  ];
}

export function renderDeployment(image: string): string {
  return [
    ...head("apps/deployment_v1", "apps/v1", "Deployment", [
      "Two replicas, one leads (Lease), the other takes over within the lease duration. Not root, read-only",
      "root filesystem, no capabilities. --dry-run in args makes it log what it would do and write nothing.",
    ]),
    "spec:",
    "  replicas: 2",
    "  revisionHistoryLimit: 3",
    "  selector:",
    "    matchLabels:",
    ...LABELS("      "),
    "  strategy:",
    "    type: RollingUpdate",
    "    rollingUpdate:",
    "      maxSurge: 1",
    "      maxUnavailable: 0",
    "  template:",
    "    metadata:",
    "      labels:",
    ...LABELS("        "),
    "    spec:",
    `      serviceAccountName: ${CONTROLLER_NAME}`,
    "      # SIGTERM: stop the workers, release the Lease so the other replica takes over at once",
    "      terminationGracePeriodSeconds: 30",
    "      securityContext:",
    "        runAsNonRoot: true",
    "        runAsUser: 65532",
    "        runAsGroup: 65532",
    "        seccompProfile:",
    "          type: RuntimeDefault",
    "      topologySpreadConstraints:",
    "        # one replica per node where it can, so a node's loss leaves the other one",
    "        - maxSkew: 1",
    "          topologyKey: kubernetes.io/hostname",
    "          whenUnsatisfiable: ScheduleAnyway",
    "          labelSelector:",
    "            matchLabels:",
    ...LABELS("              "),
    "      containers:",
    "        - name: controller",
    `          image: ${scalar(image)}`,
    "          args:",
    ...controllerArgs().map((a) => `            - ${scalar(a)}`),
    "          env:",
    "            # its identity in the Lease",
    "            - name: POD_NAME",
    "              valueFrom:",
    "                fieldRef:",
    "                  fieldPath: metadata.name",
    "            # the Lease's namespace",
    "            - name: POD_NAMESPACE",
    "              valueFrom:",
    "                fieldRef:",
    "                  fieldPath: metadata.namespace",
    "          ports:",
    "            - name: metrics",
    `              containerPort: ${HEALTH_PORT}`,
    "              protocol: TCP",
    "          livenessProbe:",
    "            httpGet:",
    "              path: /healthz",
    "              port: metrics",
    "            periodSeconds: 10",
    "            failureThreshold: 3",
    "          readinessProbe:",
    "            httpGet:",
    "              path: /readyz",
    "              port: metrics",
    "            periodSeconds: 5",
    "          resources:",
    "            requests:",
    "              cpu: 50m",
    "              memory: 128Mi",
    "            limits:",
    "              cpu: 500m",
    "              memory: 512Mi",
    "          securityContext:",
    "            allowPrivilegeEscalation: false",
    "            readOnlyRootFilesystem: true",
    "            capabilities:",
    "              drop:",
    "                - ALL",
    "          volumeMounts:",
    "            - name: config",
    `              mountPath: ${CONFIG_MOUNT}`,
    "              readOnly: true",
    "            - name: tmp",
    "              mountPath: /tmp",
    "      volumes:",
    "        - name: config",
    "          configMap:",
    `            name: ${CONTROLLER_NAME}`,
    "        - name: tmp",
    "          emptyDir: {}",
    "",
  ].join("\n");
}

export function renderService(): string {
  return [
    ...head("v1/service", "v1", "Service", [
      "Prometheus /metrics (reconciles, errors, managed namespaces, queue depth, last success).",
    ]),
    "spec:",
    "  selector:",
    ...LABELS("    "),
    "  ports:",
    "    - name: metrics",
    `      port: ${HEALTH_PORT}`,
    "      targetPort: metrics",
    "      protocol: TCP",
    "",
  ].join("\n");
}

export function renderPdb(): string {
  return [
    ...head("policy/poddisruptionbudget_v1", "policy/v1", "PodDisruptionBudget", [
      "A node drain keeps one replica, so leadership moves instead of stopping.",
    ]),
    "spec:",
    "  minAvailable: 1",
    "  selector:",
    "    matchLabels:",
    ...LABELS("      "),
    "",
  ].join("\n");
}

/** The policy's CEL expressions, name -> expression (tests check their syntax). */
export function vapExpressions(c: Conventions): { matchCondition: string; validations: [string, string][] } {
  const sa = `system:serviceaccount:${c.repositoryNamespace}:${CONTROLLER_NAME}`;
  const repoPv = `${c.pvPrefix}${c.repositoryNamespace}`;
  const labelled = (o: string) =>
    `has(${o}.metadata.labels) && '${MANAGED_BY}' in ${o}.metadata.labels && ${o}.metadata.labels['${MANAGED_BY}'] == '${CONTROLLER}'`;
  const retain = (o: string) =>
    `has(${o}.spec.persistentVolumeReclaimPolicy) && ${o}.spec.persistentVolumeReclaimPolicy == 'Retain'`;
  return {
    matchCondition: `request.userInfo.username == '${sa}'`,
    validations: [
      [
        `only PVs named ${c.pvPrefix}<namespace>, never the repository PV ${repoPv}`,
        `request.resource.resource != 'persistentvolumes' || (request.name.startsWith('${c.pvPrefix}') && request.name != '${repoPv}')`,
      ],
      [
        `only PVCs named ${c.claimName}, never in ${c.repositoryNamespace}`,
        `request.resource.resource != 'persistentvolumeclaims' || (request.name == '${c.claimName}' && request.namespace != '${c.repositoryNamespace}')`,
      ],
      [
        `only objects labelled ${MANAGED_BY}=${CONTROLLER}`,
        `request.operation == 'DELETE' ? (${labelled("oldObject")}) : (${labelled("object")})`,
      ],
      [
        "only PVs with persistentVolumeReclaimPolicy Retain (deleting the PV never deletes the volume)",
        `request.resource.resource != 'persistentvolumes' || (request.operation == 'DELETE' ? (${retain("oldObject")}) : (${retain("object")}))`,
      ],
    ],
  };
}

/**
 * Lets the controller's ServiceAccount write only the PVs and PVCs it manages. Undefined when the version
 * is unknown or serves no ValidatingAdmissionPolicy API.
 */
export function renderValidatingAdmissionPolicy(
  c: Conventions,
  kubernetesVersion: string | undefined,
): string | undefined {
  const band = kubernetesVersion === undefined ? undefined : vapBand(kubernetesVersion);
  if (!band) return undefined;
  const api = `admissionregistration.k8s.io/${band.api}`;
  const { matchCondition, validations } = vapExpressions(c);
  return [
    "---",
    `# The controller's ServiceAccount may create, change and delete only the PVs ${c.pvPrefix}<namespace> (not the`,
    `# repository PV ${c.pvPrefix}${c.repositoryNamespace}, only Retain ones) and the PVCs ${c.claimName} outside ${c.repositoryNamespace},`,
    `# and only those labelled ${MANAGED_BY}=${CONTROLLER}: RBAC alone cannot limit create by name.`,
    `# ${band.note}`,
    schemaLine(
      `https://kubernetes-schemas.pages.dev/admissionregistration.k8s.io/validatingadmissionpolicy_${band.api}.json`,
    ),
    `apiVersion: ${api}`,
    "kind: ValidatingAdmissionPolicy",
    "metadata:",
    `  name: ${CONTROLLER_NAME}`,
    "spec:",
    "  failurePolicy: Fail",
    "  matchConstraints:",
    "    resourceRules:",
    '      - apiGroups: [""]',
    '        apiVersions: ["v1"]',
    '        operations: ["CREATE", "UPDATE", "DELETE"]',
    '        resources: ["persistentvolumes", "persistentvolumeclaims"]',
    "  matchConditions:",
    "    - name: is-kopiashare-controller",
    `      expression: ${JSON.stringify(matchCondition)}`,
    "  validations:",
    ...validations.flatMap(([message, expression]) => [
      "    - expression: >-",
      `        ${expression}`,
      `      message: ${JSON.stringify(message)}`,
    ]),
    "---",
    schemaLine(
      `https://kubernetes-schemas.pages.dev/admissionregistration.k8s.io/validatingadmissionpolicybinding_${band.api}.json`,
    ),
    `apiVersion: ${api}`,
    "kind: ValidatingAdmissionPolicyBinding",
    "metadata:",
    `  name: ${CONTROLLER_NAME}`,
    "spec:",
    `  policyName: ${CONTROLLER_NAME}`,
    "  validationActions: [Deny]",
    "",
  ].join("\n");
}

/** Every file of the controller folder, path -> content. */
export function renderController(spec: ControllerSpec): Record<string, string> {
  const c = spec.conventions;
  const p = controllerPaths(spec.nsDir);
  const vap = renderValidatingAdmissionPolicy(c, spec.kubernetesVersion);
  const out: Record<string, string> = {
    [p.ks]: renderControllerKs(c, spec.source, spec.nsDir),
    [p.kustomization]: renderControllerKustomization(vap !== undefined),
    [p.serviceAccount]: renderServiceAccount(),
    [p.clusterRole]: renderClusterRole(c),
    [p.role]: renderRole(),
    [p.configMap]: renderConfigMap(c),
    [p.deployment]: renderDeployment(spec.image),
    [p.service]: renderService(),
    [p.pdb]: renderPdb(),
  };
  if (vap) out[p.vap] = vap;
  return out;
}
