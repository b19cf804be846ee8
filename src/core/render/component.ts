// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is Flux postBuild substitution text, not a template
/**
 * The kustomize Component apps include (`kubernetes/components/volsync`): the app's PVC restored from its
 * backup, the backup schedule and the restore, for one mover generation. Every postBuild variable except
 * APP has a default (Flux 2.9 substitutes strictly); the restore identity is the source's own
 * (<APP>@<namespace>): sourceNamespace is left to default to the destination's namespace, where the
 * source runs. One mover UID/GID for every namespace, from the conventions.
 */
import { type Conventions, type Mover, moverMountPath, moverRepositoryPath } from "../config.ts";
import { SCHEMA, scalar, schemaLine } from "../yaml-text.ts";
import { CLUSTER_REPOSITORY_NAME, KOPIUR_API, moverVolumesLines } from "./wiring.ts";

/** Substitution variables the component reads, with their defaults (what `app` compares against). */
export function componentDefaults(c: Conventions): Record<string, string> {
  return {
    VOLSYNC_CAPACITY: "5Gi",
    VOLSYNC_ACCESSMODES: "ReadWriteOnce",
    VOLSYNC_STORAGECLASS: "ceph-block",
    VOLSYNC_SNAPSHOTCLASS: "csi-ceph-blockpool",
    VOLSYNC_CACHE_CAPACITY: "5Gi",
    VOLSYNC_PUID: String(c.uid),
    VOLSYNC_PGID: String(c.gid),
  };
}

const v = (c: Conventions, name: string) => `\${${name}:=${componentDefaults(c)[name]}}`;

export function componentFiles(mover: Mover): string[] {
  return mover === "kopiur"
    ? ["kustomization.yaml", "pvc.yaml", "restore.yaml", "snapshotpolicy.yaml", "snapshotschedule.yaml"]
    : [
        "kustomization.yaml",
        "externalsecret.yaml",
        "pvc.yaml",
        "replicationdestination.yaml",
        "replicationsource.yaml",
      ];
}

function kustomization(mover: Mover): string {
  return [
    "---",
    schemaLine(SCHEMA.kustomization),
    "apiVersion: kustomize.config.k8s.io/v1alpha1",
    "kind: Component",
    "resources:",
    ...componentFiles(mover)
      .filter((f) => f !== "kustomization.yaml")
      .map((f) => `  - ./${f}`),
    "",
  ].join("\n");
}

/** The per-app ExternalSecret: the app's own copy of the repository password and path. */
export function renderExternalSecret(c: Conventions, mover: Mover, name: string, target: string): string {
  return [
    "---",
    schemaLine("https://kubernetes-schemas.pages.dev/external-secrets.io/externalsecret_v1.json"),
    "apiVersion: external-secrets.io/v1",
    "kind: ExternalSecret",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    "  secretStoreRef:",
    "    kind: ClusterSecretStore",
    `    name: ${scalar(c.secretStore)}`,
    "  target:",
    `    name: ${target}`,
    "    template:",
    "      data:",
    '        KOPIA_PASSWORD: "{{ .KOPIA_PASSWORD }}"',
    `        KOPIA_REPOSITORY: ${scalar(`filesystem://${moverRepositoryPath(c, mover)}`)}`,
    "  dataFrom:",
    "    - extract:",
    "        key: kopia",
    "",
  ].join("\n");
}

function pvc(c: Conventions, mover: Mover): string {
  const lines = [
    "---",
    schemaLine(SCHEMA.pvc),
    "apiVersion: v1",
    "kind: PersistentVolumeClaim",
    "metadata:",
    "  name: ${APP}",
  ];
  if (mover === "kopiur") {
    lines.push(
      "  annotations:",
      "    # created once from its Restore, never patched: dataSourceRef is immutable, so a PVC made by an",
      "    # earlier mover generation stays as it is",
      "    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent",
    );
  }
  lines.push("spec:", "  accessModes:", `    - ${v(c, "VOLSYNC_ACCESSMODES")}`, "  dataSourceRef:");
  if (mover === "kopiur") {
    lines.push("    kind: Restore", "    apiGroup: kopiur.home-operations.com", "    name: ${APP}-dst");
  } else {
    lines.push("    kind: ReplicationDestination", "    apiGroup: volsync.backube", "    name: ${APP}-dst");
  }
  lines.push(
    "  resources:",
    "    requests:",
    `      storage: ${v(c, "VOLSYNC_CAPACITY")}`,
    `  storageClassName: ${v(c, "VOLSYNC_STORAGECLASS")}`,
    "",
  );
  return lines.join("\n");
}

function moverSecurityContext(c: Conventions): string[] {
  return [
    "    moverSecurityContext:",
    `      runAsUser: ${v(c, "VOLSYNC_PUID")}`,
    `      runAsGroup: ${v(c, "VOLSYNC_PGID")}`,
    `      fsGroup: ${v(c, "VOLSYNC_PGID")}`,
    "      fsGroupChangePolicy: OnRootMismatch",
  ];
}

function wiringComment(c: Conventions, mover: Mover): string {
  return mover === "volsync-0.16"
    ? `    # the mover Job gets the PVC \`${c.claimName}\` at ${moverMountPath(c, mover)} from the MutatingAdmissionPolicy`
    : `    # moverVolumes mounts the namespace's PVC \`${c.claimName}\` at ${moverMountPath(c, mover)}`;
}

function replicationSource(c: Conventions, mover: Mover): string {
  const lines = [
    "---",
    schemaLine("https://kubernetes-schemas.pages.dev/volsync.backube/replicationsource_v1alpha1.json"),
    "apiVersion: volsync.backube/v1alpha1",
    "kind: ReplicationSource",
    "metadata:",
    "  name: ${APP}",
    "spec:",
    "  sourcePVC: ${APP}",
    "  trigger:",
    '    schedule: "0 * * * *"',
    "  kopia:",
    wiringComment(c, mover),
    "    repository: ${APP}-volsync-secret",
    "    copyMethod: Snapshot",
    `    volumeSnapshotClassName: ${v(c, "VOLSYNC_SNAPSHOTCLASS")}`,
    `    storageClassName: ${v(c, "VOLSYNC_STORAGECLASS")}`,
    "    accessModes:",
    `      - ${v(c, "VOLSYNC_ACCESSMODES")}`,
    `    cacheCapacity: ${v(c, "VOLSYNC_CACHE_CAPACITY")}`,
    "    compression: zstd-fastest",
    "    retain:",
    "      hourly: 24",
    "      daily: 7",
    ...moverSecurityContext(c),
  ];
  if (mover === "volsync-0.17") lines.push(...moverVolumesLines(c, "    "));
  lines.push("");
  return lines.join("\n");
}

function replicationDestination(c: Conventions, mover: Mover): string {
  const lines = [
    "---",
    schemaLine("https://kubernetes-schemas.pages.dev/volsync.backube/replicationdestination_v1alpha1.json"),
    "apiVersion: volsync.backube/v1alpha1",
    "kind: ReplicationDestination",
    "metadata:",
    "  name: ${APP}-dst",
    "spec:",
    "  trigger:",
    "    manual: restore-once",
    "  kopia:",
    wiringComment(c, mover),
    "    repository: ${APP}-volsync-secret",
    "    copyMethod: Snapshot",
    `    volumeSnapshotClassName: ${v(c, "VOLSYNC_SNAPSHOTCLASS")}`,
    `    storageClassName: ${v(c, "VOLSYNC_STORAGECLASS")}`,
    "    accessModes:",
    `      - ${v(c, "VOLSYNC_ACCESSMODES")}`,
    `    capacity: ${v(c, "VOLSYNC_CAPACITY")}`,
    `    cacheCapacity: ${v(c, "VOLSYNC_CACHE_CAPACITY")}`,
    "    # sourceNamespace is left out on purpose: it defaults to this destination's own namespace,",
    "    # which is where the ReplicationSource of the same app runs",
    "    sourceIdentity:",
    "      sourceName: ${APP}",
    ...moverSecurityContext(c),
  ];
  if (mover === "volsync-0.17") lines.push(...moverVolumesLines(c, "    "));
  lines.push("");
  return lines.join("\n");
}

/** The path the Volsync fork's kopia mover records for every source (it mounts the data at /data). */
export const VOLSYNC_SOURCE_PATH = "/data";

function snapshotPolicy(c: Conventions): string {
  return [
    "---",
    "# The app's backup recipe. Its identity is <APP>@<namespace>:/data (the ClusterRepository's identityDefaults",
    "# and sourcePathOverride), the user@host:path the Volsync ReplicationSource of the same name wrote: one history.",
    schemaLine("https://kubernetes-schemas.pages.dev/kopiur.home-operations.com/snapshotpolicy_v1alpha1.json"),
    `apiVersion: ${KOPIUR_API}`,
    "kind: SnapshotPolicy",
    "metadata:",
    "  name: ${APP}",
    "spec:",
    "  repository:",
    "    kind: ClusterRepository",
    `    name: ${CLUSTER_REPOSITORY_NAME}`,
    "  sources:",
    "    - pvc:",
    "        name: ${APP}",
    `      sourcePathOverride: ${VOLSYNC_SOURCE_PATH}`,
    "  retention:",
    "    keepHourly: 24",
    "    keepDaily: 7",
    "  compression:",
    "    compressor: zstd-fastest",
    "  credentialProjection:",
    "    enabled: true",
    "  mover:",
    "    securityContext:",
    `      runAsUser: ${v(c, "VOLSYNC_PUID")}`,
    `      runAsGroup: ${v(c, "VOLSYNC_PGID")}`,
    "",
  ].join("\n");
}

function snapshotSchedule(): string {
  return [
    "---",
    schemaLine("https://kubernetes-schemas.pages.dev/kopiur.home-operations.com/snapshotschedule_v1alpha1.json"),
    `apiVersion: ${KOPIUR_API}`,
    "kind: SnapshotSchedule",
    "metadata:",
    "  name: ${APP}",
    "spec:",
    "  policyRef:",
    "    name: ${APP}",
    "  schedule:",
    '    cron: "0 * * * *"',
    "    runOnCreate: false",
    "",
  ].join("\n");
}

function restore(): string {
  return [
    "---",
    "# Passive populator: the PVC ${APP} is filled from the latest snapshot of the policy ${APP} when",
    "# one exists, and comes up empty otherwise.",
    schemaLine("https://kubernetes-schemas.pages.dev/kopiur.home-operations.com/restore_v1alpha1.json"),
    `apiVersion: ${KOPIUR_API}`,
    "kind: Restore",
    "metadata:",
    "  name: ${APP}-dst",
    "spec:",
    "  source:",
    "    fromPolicy:",
    "      name: ${APP}",
    "  target:",
    "    populator: {}",
    "  policy:",
    "    onMissingSnapshot: Continue",
    "",
  ].join("\n");
}

/** The component's files, name -> content (relative to the component folder). */
export function renderComponent(c: Conventions, mover: Mover): Record<string, string> {
  if (mover === "kopiur") {
    return {
      "kustomization.yaml": kustomization(mover),
      "pvc.yaml": pvc(c, mover),
      "restore.yaml": restore(),
      "snapshotpolicy.yaml": snapshotPolicy(c),
      "snapshotschedule.yaml": snapshotSchedule(),
    };
  }
  return {
    "kustomization.yaml": kustomization(mover),
    "externalsecret.yaml": renderExternalSecret(c, mover, "${APP}-volsync", "${APP}-volsync-secret"),
    "pvc.yaml": pvc(c, mover),
    "replicationdestination.yaml": replicationDestination(c, mover),
    "replicationsource.yaml": replicationSource(c, mover),
  };
}
