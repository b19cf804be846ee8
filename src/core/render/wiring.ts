/**
 * Mover wiring per generation: how the namespace's PVC `kopia` reaches the mover Jobs.
 * volsync-0.16: a MutatingAdmissionPolicy (+ Binding) in the API version the cluster serves;
 * volsync-0.17: `moverVolumes` lines; kopiur: a ClusterRepository on the PVC.
 */
import { type Conventions, kopiurClaimName, moverMountPath, moverVolumeName } from "../config.ts";
import { parseKubeVersion } from "../names.ts";
import { scalar, schemaLine } from "../yaml-text.ts";

export type MapApiVersion = "v1alpha1" | "v1beta1" | "v1";

/** The first minor that serves each MutatingAdmissionPolicy API (feature-gated before v1). */
export const MAP_BANDS: readonly { from: number; to: number | undefined; api: MapApiVersion; note: string }[] = [
  {
    from: 32,
    to: 33,
    api: "v1alpha1",
    note: "Kubernetes 1.32/1.33 serve v1alpha1 (feature gate MutatingAdmissionPolicy and\n# --runtime-config=admissionregistration.k8s.io/v1alpha1=true needed).",
  },
  {
    from: 34,
    to: 35,
    api: "v1beta1",
    note: "Kubernetes 1.34/1.35 serve v1beta1 (feature gate MutatingAdmissionPolicy and\n# --runtime-config=admissionregistration.k8s.io/v1beta1=true needed).",
  },
  { from: 36, to: undefined, api: "v1", note: "Kubernetes 1.36 and later serve v1, enabled by default." },
];

export const MAP_SUPPORTED = "Kubernetes 1.32 or later (v1alpha1 on 1.32-1.33, v1beta1 on 1.34-1.35, v1 from 1.36)";

/** An API version served from Kubernetes 1.`from` to 1.`to` (undefined: and later). */
export interface ApiBand {
  from: number;
  to: number | undefined;
  api: string;
}

/** The band of `bands` a Kubernetes version falls in, or undefined (outside all, or not a version). */
export function bandOf<B extends ApiBand>(bands: readonly B[], version: string): B | undefined {
  const minor = parseKubeVersion(version)?.minor;
  if (minor === undefined) return undefined;
  return bands.find((b) => minor >= b.from && (b.to === undefined || minor <= b.to));
}

/** The lowest Kubernetes version of the band an apiVersion belongs to (to read a band back from a file). */
export function versionOfApi(bands: readonly ApiBand[], apiVersion: string): string | undefined {
  const v = apiVersion.split("/")[1];
  const band = bands.find((b) => b.api === v);
  return band ? `1.${band.from}` : undefined;
}

/** The MutatingAdmissionPolicy API a Kubernetes version serves, or undefined (before 1.32, or not a version). */
export function mapBand(version: string): (typeof MAP_BANDS)[number] | undefined {
  return bandOf(MAP_BANDS, version);
}

export function versionOfMapApi(apiVersion: string): string | undefined {
  return versionOfApi(MAP_BANDS, apiVersion);
}

export const MAP_NAME = "volsync-mover-repository";

/**
 * The policy that adds volume `repository` (the namespace's PVC) at mountPath to Volsync mover Jobs and
 * Kopia maintenance Jobs. Guarded by "no volume named repository yet", so UPDATE and reinvocation are no-ops.
 */
export function renderMutatingAdmissionPolicy(c: Conventions, kubernetesVersion: string): string {
  const band = mapBand(kubernetesVersion);
  if (!band) throw new Error(`no MutatingAdmissionPolicy API on Kubernetes ${kubernetesVersion}`);
  const api = `admissionregistration.k8s.io/${band.api}`;
  const mount = moverMountPath(c, "volsync-0.16");
  const claim = c.claimName;
  return [
    "---",
    `# Mounts the namespace's PVC \`${claim}\` at ${mount} in every Volsync mover Job (volsync-src-*,`,
    "# volsync-dst-*) and Kopia maintenance Job (kopia-maint-*).",
    `# ${band.note}`,
    "# failurePolicy Fail: a mover Job without the repository would create a second, empty repository.",
    schemaLine(
      `https://kubernetes-schemas.pages.dev/admissionregistration.k8s.io/mutatingadmissionpolicy_${band.api}.json`,
    ),
    `apiVersion: ${api}`,
    "kind: MutatingAdmissionPolicy",
    "metadata:",
    `  name: ${MAP_NAME}`,
    "spec:",
    "  failurePolicy: Fail",
    "  reinvocationPolicy: IfNeeded",
    "  matchConstraints:",
    "    resourceRules:",
    '      - apiGroups: ["batch"]',
    '        apiVersions: ["v1"]',
    '        operations: ["CREATE"]',
    '        resources: ["jobs"]',
    "  matchConditions:",
    "    - name: is-mover-job",
    "      expression: >-",
    "        (object.metadata.?labels[?'app.kubernetes.io/created-by'].orValue('') == 'volsync' &&",
    "        (object.metadata.name.startsWith('volsync-src-') || object.metadata.name.startsWith('volsync-dst-'))) ||",
    "        object.metadata.name.startsWith('kopia-maint-')",
    "    - name: no-repository-volume-yet",
    "      expression: >-",
    "        !object.spec.template.spec.?volumes.orValue([]).exists(v, v.name == 'repository')",
    "  mutations:",
    "    - patchType: JSONPatch",
    "      jsonPatch:",
    "        expression: >-",
    "          [",
    "            JSONPatch{op: 'add', path: '/spec/template/spec/volumes/-', value: Object.spec.template.spec.volumes{",
    "              name: 'repository',",
    `              persistentVolumeClaim: Object.spec.template.spec.volumes.persistentVolumeClaim{claimName: '${claim}'}`,
    "            }},",
    "            JSONPatch{op: 'add', path: '/spec/template/spec/containers/0/volumeMounts/-', value: Object.spec.template.spec.containers.volumeMounts{",
    "              name: 'repository',",
    `              mountPath: '${mount}'`,
    "            }}",
    "          ]",
    "---",
    schemaLine(
      `https://kubernetes-schemas.pages.dev/admissionregistration.k8s.io/mutatingadmissionpolicybinding_${band.api}.json`,
    ),
    `apiVersion: ${api}`,
    "kind: MutatingAdmissionPolicyBinding",
    "metadata:",
    `  name: ${MAP_NAME}`,
    "spec:",
    `  policyName: ${MAP_NAME}`,
    "",
  ].join("\n");
}

/** `moverVolumes` lines for Volsync >= 0.17 at `indent` (the key's indentation). */
export function moverVolumesLines(c: Conventions, indent: string): string[] {
  return [
    `${indent}moverVolumes:`,
    `${indent}  - mountPath: ${scalar(moverVolumeName(c))}`,
    `${indent}    volumeSource:`,
    `${indent}      persistentVolumeClaim:`,
    `${indent}        claimName: ${scalar(c.claimName)}`,
  ];
}

export const KOPIUR_API = "kopiur.home-operations.com/v1alpha1";
export const CLUSTER_REPOSITORY_NAME = "kopia";
export const CENTRAL_SECRET = "kopia-secret";

/**
 * Kopiur: one ClusterRepository with a filesystem backend on the namespace's PVC (movers run in the app
 * namespace, so each namespace's own `kopia` PVC is what gets mounted), gated to the enabled namespaces.
 * The default identity is made Volsync's (<policy name>@<namespace>) so history stays under the same
 * user@host; `create: false` so a missing repository fails loudly instead of being created a second time.
 */
export function renderClusterRepository(c: Conventions, allowedNamespaces: string[]): string {
  const list = [...new Set(allowedNamespaces)].sort();
  return [
    "---",
    "# The shared Kopia repository for Kopiur. Movers run in each app's namespace and mount that",
    `# namespace's PVC \`${kopiurClaimName(c)}\` at ${moverMountPath(c, "kopiur")}: its PV's root is the repository directory`,
    `# (${c.repositoryDir}/ of the subvolume), where Kopiur looks for it. allowedNamespaces lists the enabled namespaces.`,
    "# create: false, the init Job created the repository; Kopiur must never create a second one.",
    schemaLine("https://kubernetes-schemas.pages.dev/kopiur.home-operations.com/clusterrepository_v1alpha1.json"),
    `apiVersion: ${KOPIUR_API}`,
    "kind: ClusterRepository",
    "metadata:",
    `  name: ${CLUSTER_REPOSITORY_NAME}`,
    "spec:",
    "  backend:",
    "    filesystem:",
    `      path: ${scalar(moverMountPath(c, "kopiur"))}`,
    "      volume:",
    "        pvc:",
    `          name: ${scalar(kopiurClaimName(c))}`,
    "  encryption:",
    "    passwordSecretRef:",
    `      name: ${CENTRAL_SECRET}`,
    `      namespace: ${scalar(c.repositoryNamespace)}`,
    "      key: KOPIA_PASSWORD",
    "  create:",
    "    enabled: false",
    "  allowedNamespaces:",
    "    list:",
    ...list.map((ns) => `      - ${scalar(ns)}`),
    "  identityDefaults:",
    "    usernameExpr: policyName",
    "    hostnameExpr: namespace",
    "  moverDefaults:",
    "    securityContext:",
    `      runAsUser: ${c.uid}`,
    `      runAsGroup: ${c.gid}`,
    "    podSecurityContext:",
    `      fsGroup: ${c.gid}`,
    "      fsGroupChangePolicy: OnRootMismatch",
    "",
  ].join("\n");
}
