/**
 * The per-namespace instance: the seed's pvc.yaml (PV + PVC), app/kustomization.yaml and ks.yaml,
 * byte for byte, with two documented additions: PV claimRef (unless disabled) and the discovered sourceRef.
 */
import { type Conventions, kopiurClaimName, ksName, pvName } from "../config.ts";
import { labelValue } from "../names.ts";
import type { RepositoryVolume, SourceRef } from "../topology.ts";
import { SCHEMA, scalar, schemaLine } from "../yaml-text.ts";

export interface InstanceSpec {
  namespace: string;
  /** Repo-relative folder of the instance, e.g. kubernetes/apps/main/media/volsync-repository-pvc. */
  dir: string;
  volume: RepositoryVolume;
  source: SourceRef;
  conventions: Conventions;
  /** Kopiur: the static volume whose root is the repository directory (kopiur-pvc.yaml); none otherwise. */
  kopiurVolume?: RepositoryVolume | undefined;
}

export interface InstanceFiles {
  /** Repo-relative path -> content. */
  [path: string]: string;
}

export function instancePaths(dir: string) {
  return {
    pvc: `${dir}/app/pvc.yaml`,
    kopiur: `${dir}/app/${KOPIUR_PVC_FILE}`,
    kustomization: `${dir}/app/kustomization.yaml`,
    ks: `${dir}/ks.yaml`,
  };
}

/** The instance file with Kopiur's PV and PVC, and its entry in app/kustomization.yaml. */
export const KOPIUR_PVC_FILE = "kopiur-pvc.yaml";
export const KOPIUR_PVC_ENTRY = `./${KOPIUR_PVC_FILE}`;

/**
 * Kopiur's PV + PVC of a namespace (config.ts kopiurClaimName): the seed's pair rendered with Kopiur's names
 * on `volume`, a static volume whose rootPath is the subvolume's path plus /repositoryDir.
 */
export function renderKopiurPvc(namespace: string, volume: RepositoryVolume, c: Conventions): string {
  const claim = kopiurClaimName(c);
  const pair = renderPvc({
    namespace,
    dir: "",
    volume,
    source: { kind: "GitRepository", name: "", namespace: "" },
    conventions: { ...c, claimName: claim, pvPrefix: `${claim}-` },
  });
  return [
    "---",
    "# Kopiur keeps the repository at the root of the PVC it mounts: this PV's root is the repository",
    `# directory itself (rootPath = the subvolume's path + /${c.repositoryDir}), the directory the PVC \`${c.claimName}\` sees as ${c.repositoryDir}/.`,
    pair.replace(/^---\n/, ""),
  ].join("\n");
}

export function renderPvc(spec: InstanceSpec): string {
  const { namespace: ns, volume: v, conventions: c } = spec;
  const name = pvName(c, ns);
  const handle = v.style === "static" ? name : v.volumeHandle;
  const lines = [
    "---",
    schemaLine(SCHEMA.pv),
    "apiVersion: v1",
    "kind: PersistentVolume",
    "metadata:",
    `  name: ${scalar(name)}`,
    "spec:",
    "  capacity:",
    `    storage: ${scalar(c.capacity ?? v.capacity)}`,
    "  accessModes:",
    "    - ReadWriteMany",
    "  persistentVolumeReclaimPolicy: Retain",
    `  storageClassName: ${scalar(c.storageClassName ?? v.storageClassName)}`,
  ];
  if (c.claimRef) {
    lines.push(
      "  claimRef:",
      "    apiVersion: v1",
      "    kind: PersistentVolumeClaim",
      `    namespace: ${scalar(ns)}`,
      `    name: ${scalar(c.claimName)}`,
    );
  }
  lines.push("  csi:", `    driver: ${scalar(v.driver)}`);
  if (v.nodeStageSecretRef) {
    lines.push(
      "    nodeStageSecretRef:",
      `      name: ${scalar(v.nodeStageSecretRef.name)}`,
      `      namespace: ${scalar(v.nodeStageSecretRef.namespace)}`,
    );
  }
  if (v.volumeAttributes.length > 0) {
    lines.push("    volumeAttributes:");
    for (const [k, val] of v.volumeAttributes) lines.push(`      ${scalar(k)}: ${scalar(val)}`);
  }
  lines.push(
    `    volumeHandle: ${scalar(handle)}`,
    "---",
    schemaLine(SCHEMA.pvc),
    "apiVersion: v1",
    "kind: PersistentVolumeClaim",
    "metadata:",
    `  name: ${scalar(c.claimName)}`,
    `  namespace: ${scalar(ns)}`,
    "spec:",
    "  accessModes:",
    "    - ReadWriteMany",
    `  storageClassName: ${scalar(c.storageClassName ?? v.storageClassName)}`,
    `  volumeName: ${scalar(name)}`,
    "  resources:",
    "    requests:",
    `      storage: ${scalar(c.capacity ?? v.capacity)}`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * The PV and PVC of renderPvc as API objects, for what applies them to a cluster (the controller): the
 * same fields and values as the text enable writes (test/generate/instance-objects.test.ts parses the one
 * and compares it with the other), so enable and the controller cannot make different volumes.
 */
export function instanceObjects(spec: Pick<InstanceSpec, "namespace" | "volume" | "conventions">): {
  pv: Record<string, unknown>;
  pvc: Record<string, unknown>;
} {
  const { namespace: ns, volume: v, conventions: c } = spec;
  const name = pvName(c, ns);
  const storage = c.capacity ?? v.capacity;
  const storageClassName = c.storageClassName ?? v.storageClassName;
  const csi: Record<string, unknown> = { driver: v.driver };
  if (v.nodeStageSecretRef)
    csi.nodeStageSecretRef = { name: v.nodeStageSecretRef.name, namespace: v.nodeStageSecretRef.namespace };
  if (v.volumeAttributes.length > 0) csi.volumeAttributes = Object.fromEntries(v.volumeAttributes);
  csi.volumeHandle = v.style === "static" ? name : v.volumeHandle;
  const pvSpec: Record<string, unknown> = {
    capacity: { storage },
    accessModes: ["ReadWriteMany"],
    persistentVolumeReclaimPolicy: "Retain",
    storageClassName,
  };
  if (c.claimRef)
    pvSpec.claimRef = { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: ns, name: c.claimName };
  pvSpec.csi = csi;
  return {
    pv: { apiVersion: "v1", kind: "PersistentVolume", metadata: { name }, spec: pvSpec },
    pvc: {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: c.claimName, namespace: ns },
      spec: {
        accessModes: ["ReadWriteMany"],
        storageClassName,
        volumeName: name,
        resources: { requests: { storage } },
      },
    },
  };
}

/** A kustomize kustomization.yaml listing `resources` (and setting `namespace` when given). */
export function renderKustomization(resources: string[], namespace?: string): string {
  return [
    "---",
    schemaLine(SCHEMA.kustomization),
    "apiVersion: kustomize.config.k8s.io/v1beta1",
    "kind: Kustomization",
    ...(namespace === undefined ? [] : [`namespace: ${scalar(namespace)}`]),
    "resources:",
    ...resources.map((r) => `  - ${r}`),
    "",
  ].join("\n");
}

export function renderAppKustomization(spec: InstanceSpec): string {
  return renderKustomization(["./pvc.yaml", ...(spec.kopiurVolume ? [KOPIUR_PVC_ENTRY] : [])], spec.namespace);
}

/** A Flux Kustomization as kopiashare writes every one of them (per-namespace instances and the central ones). */
export interface FluxKsSpec {
  name: string;
  targetNamespace: string;
  /** Repo-relative folder Flux builds, without the leading "./". */
  path: string;
  dependsOn?: string[];
  wait: boolean;
  /** Lines of the healthChecks list, already indented. */
  healthChecks?: string[];
}

export function renderFluxKs(c: Conventions, source: SourceRef, o: FluxKsSpec): string {
  const lines = [
    "---",
    schemaLine(SCHEMA.fluxKustomization),
    "apiVersion: kustomize.toolkit.fluxcd.io/v1",
    "kind: Kustomization",
    "metadata:",
    // the seed's `&app` / `*app`, unless the name is too long for a label value (see labelValue)
    o.name.length <= 63 ? `  name: &app ${scalar(o.name)}` : `  name: ${scalar(o.name)}`,
    `  namespace: ${scalar(c.fluxNamespace)}`,
    "spec:",
    `  targetNamespace: ${scalar(o.targetNamespace)}`,
    "  commonMetadata:",
    "    labels:",
    `      app.kubernetes.io/name: ${o.name.length <= 63 ? "*app" : scalar(labelValue(o.name))}`,
  ];
  const dependsOn = o.dependsOn ?? [];
  if (dependsOn.length > 0) lines.push("  dependsOn:", ...dependsOn.map((d) => `    - name: ${scalar(d)}`));
  lines.push(
    `  path: ${scalar(`./${o.path}`)}`,
    "  prune: true",
    "  sourceRef:",
    `    kind: ${source.kind}`,
    `    name: ${scalar(source.name)}`,
  );
  if (source.namespace !== c.fluxNamespace) lines.push(`    namespace: ${scalar(source.namespace)}`);
  lines.push(`  wait: ${o.wait}`);
  if (o.healthChecks && o.healthChecks.length > 0) lines.push("  healthChecks:", ...o.healthChecks);
  lines.push(
    `  interval: ${scalar(c.interval)}`,
    `  retryInterval: ${scalar(c.retryInterval)}`,
    `  timeout: ${scalar(c.timeout)}`,
    "",
  );
  return lines.join("\n");
}

/** The instance's Flux Kustomization: delivers app/ into the namespace. */
export function renderKs(spec: InstanceSpec): string {
  const { namespace: ns, conventions: c } = spec;
  return renderFluxKs(c, spec.source, {
    name: ksName(c, ns),
    targetNamespace: ns,
    path: `${spec.dir}/app`,
    wait: false,
  });
}

/**
 * The Namespace enable writes when it creates the namespace's folder. Flux never prunes it (a Namespace
 * that leaves Git would take every object in it along, those made outside Git too), so `disable` can
 * remove the file again without deleting the namespace.
 */
export function renderNamespace(ns: string): string {
  return [
    "---",
    schemaLine(SCHEMA.namespace),
    "apiVersion: v1",
    "kind: Namespace",
    "metadata:",
    `  name: ${scalar(ns)}`,
    "  annotations:",
    "    # removing this file later must not delete the namespace and everything in it",
    "    kustomize.toolkit.fluxcd.io/prune: disabled",
    "",
  ].join("\n");
}

export function renderInstance(spec: InstanceSpec): InstanceFiles {
  const p = instancePaths(spec.dir);
  return {
    [p.pvc]: renderPvc(spec),
    ...(spec.kopiurVolume ? { [p.kopiur]: renderKopiurPvc(spec.namespace, spec.kopiurVolume, spec.conventions) } : {}),
    [p.kustomization]: renderAppKustomization(spec),
    [p.ks]: renderKs(spec),
  };
}
