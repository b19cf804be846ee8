/**
 * The central pieces in the repository namespace (seed: volsync-system), all from one set of conventions:
 * the repository's PV/PVC Flux Kustomization (when init creates it), and the `kopia` folder with the
 * Kopia secret, the init Job, maintenance and the mover wiring of the chosen generation. Paths, UIDs and
 * claim names come from `Conventions` only, so they cannot disagree.
 */
import { type Conventions, ksName, type Mover, moverMountPath, moverRepositoryPath } from "../config.ts";
import type { SourceRef } from "../topology.ts";
import { SCHEMA, scalar, schemaLine } from "../yaml-text.ts";
import { componentFiles, renderComponent, renderExternalSecret } from "./component.ts";
import { renderFluxKs } from "./instance.ts";
import { maintenanceFile, renderMaintenance } from "./maintenance.ts";
import { CENTRAL_SECRET, renderClusterRepository, renderMutatingAdmissionPolicy } from "./wiring.ts";

export const KOPIA_IMAGE = "kopia/kopia:0.21.1";
/** Folder (next to the repository namespace's instance) that holds secret, init Job, maintenance and wiring. */
export const KOPIA_FOLDER = "kopia";
export const KOPIA_KS = "kopia";

export interface CentralSpec {
  conventions: Conventions;
  mover: Mover;
  /** "1.NN"; required for volsync-0.16 (picks the MutatingAdmissionPolicy API). */
  kubernetesVersion: string | undefined;
  source: SourceRef;
  /** Repo-relative namespace folder of the repository namespace, e.g. kubernetes/apps/system/volsync-system. */
  nsDir: string;
  /** Flux Kustomizations the kopia Kustomization waits for (the operator's, found in the repo). */
  operatorKs: string[];
  /** Kopiur: the namespaces allowed to use the ClusterRepository. */
  allowedNamespaces: string[];
}

export function kopiaPaths(nsDir: string) {
  const dir = `${nsDir}/${KOPIA_FOLDER}`;
  return {
    dir,
    ks: `${dir}/ks.yaml`,
    kustomization: `${dir}/app/kustomization.yaml`,
    externalSecret: `${dir}/app/externalsecret.yaml`,
    initJob: `${dir}/app/kopia-init-job.yaml`,
    map: `${dir}/app/mutatingadmissionpolicy.yaml`,
    clusterRepository: `${dir}/app/clusterrepository.yaml`,
    kopiaMaintenance: `${dir}/app/kopiamaintenance.yaml`,
    maintenance: `${dir}/app/maintenance.yaml`,
  };
}

/** Every file path any generation may write (migrate deletes those the target generation does not). */
export function allCentralPaths(nsDir: string, c: Conventions): string[] {
  const p = kopiaPaths(nsDir);
  const component = new Set([...componentFiles("volsync-0.16"), ...componentFiles("kopiur")]);
  return [
    p.ks,
    p.kustomization,
    p.externalSecret,
    p.initJob,
    p.map,
    p.clusterRepository,
    p.kopiaMaintenance,
    p.maintenance,
    ...[...component].map((f) => `${c.componentDir}/${f}`),
  ];
}

function appFiles(mover: Mover): string[] {
  const files = ["externalsecret.yaml", "kopia-init-job.yaml", maintenanceFile(mover)];
  if (mover === "volsync-0.16") files.push("mutatingadmissionpolicy.yaml");
  if (mover === "kopiur") files.push("clusterrepository.yaml");
  return files;
}

export function renderKopiaKustomization(mover: Mover): string {
  return [
    "---",
    schemaLine(SCHEMA.kustomization),
    "apiVersion: kustomize.config.k8s.io/v1beta1",
    "kind: Kustomization",
    "resources:",
    ...appFiles(mover).map((f) => `  - ./${f}`),
    "",
  ].join("\n");
}

/**
 * The init Job: connect if the repository exists; create it only when the directory is empty; otherwise
 * fail, so a second repository is never created next to existing data. Same mount and path as the movers
 * of the generation, same UID/GID, and no `$VAR` (safe under Flux postBuild substitution).
 */
export function renderInitJob(c: Conventions, mover: Mover): string {
  const mount = moverMountPath(c, mover);
  const repo = moverRepositoryPath(c, mover);
  return [
    "---",
    "# Connects to the repository if it exists; creates it only in an empty directory; otherwise fails,",
    "# so a second repository is never created next to existing data.",
    schemaLine("https://kubernetes-schemas.pages.dev/batch/v1/job.json"),
    "apiVersion: batch/v1",
    "kind: Job",
    "metadata:",
    "  name: kopia-init",
    "  annotations:",
    "    # the pod template is immutable: let Flux recreate the Job when it changes (it only connects again)",
    "    kustomize.toolkit.fluxcd.io/force: enabled",
    "spec:",
    "  backoffLimit: 3",
    "  template:",
    "    spec:",
    "      restartPolicy: OnFailure",
    "      securityContext:",
    `        runAsUser: ${c.uid}`,
    `        runAsGroup: ${c.gid}`,
    `        fsGroup: ${c.gid}`,
    "        fsGroupChangePolicy: OnRootMismatch",
    "      containers:",
    "        - name: kopia",
    `          image: ${KOPIA_IMAGE}`,
    "          envFrom:",
    "            - secretRef:",
    `                name: ${CENTRAL_SECRET}`,
    "          env:",
    "            - name: KOPIA_CONFIG_PATH",
    "              value: /tmp/kopia/repository.config",
    "            - name: KOPIA_CACHE_DIRECTORY",
    "              value: /tmp/kopia/cache",
    "            - name: KOPIA_LOG_DIR",
    "              value: /tmp/kopia/logs",
    '          command: ["/bin/sh", "-c"]',
    "          args:",
    "            - |",
    "              set -eu",
    `              mkdir -p ${repo}`,
    `              if kopia repository connect filesystem --path=${repo}; then`,
    `                echo "connected to the existing repository at ${repo}"`,
    `              elif [ -z "$(ls -A ${repo})" ]; then`,
    `                kopia repository create filesystem --path=${repo}`,
    "              else",
    `                echo "${repo} holds data but no Kopia repository I can open: refusing to create a second one" >&2`,
    "                exit 1",
    "              fi",
    "          volumeMounts:",
    "            - name: repository",
    `              mountPath: ${scalar(mount)}`,
    "            - name: tmp",
    "              mountPath: /tmp",
    "      volumes:",
    "        - name: repository",
    "          persistentVolumeClaim:",
    `            claimName: ${scalar(c.claimName)}`,
    "        - name: tmp",
    "          emptyDir: {}",
    "",
  ].join("\n");
}

/** The kopia folder's Flux Kustomization: after the operator and the repository's own PVC. */
export function renderKopiaKs(spec: CentralSpec): string {
  const c = spec.conventions;
  return renderFluxKs(c, spec.source, {
    name: KOPIA_KS,
    targetNamespace: c.repositoryNamespace,
    path: `${kopiaPaths(spec.nsDir).dir}/app`,
    dependsOn: [...spec.operatorKs, ksName(c, c.repositoryNamespace)],
    wait: false,
  });
}

/**
 * The Flux Kustomization of the repository's own PV/PVC when init creates it: after storage and the
 * operator, and healthy only once the PVC is Bound (wait + a healthCheck on the claim).
 */
export function renderRepositoryKs(c: Conventions, source: SourceRef, dir: string, dependsOn: string[]): string {
  return renderFluxKs(c, source, {
    name: ksName(c, c.repositoryNamespace),
    targetNamespace: c.repositoryNamespace,
    path: `${dir}/app`,
    dependsOn,
    wait: true,
    healthChecks: [
      "    - apiVersion: v1",
      "      kind: PersistentVolumeClaim",
      `      name: ${scalar(c.claimName)}`,
      `      namespace: ${scalar(c.repositoryNamespace)}`,
    ],
  });
}

/** Everything in the kopia folder and the component, path -> content, for one generation. */
export function renderCentral(spec: CentralSpec): Record<string, string> {
  const c = spec.conventions;
  const p = kopiaPaths(spec.nsDir);
  const out: Record<string, string> = {
    [p.ks]: renderKopiaKs(spec),
    [p.kustomization]: renderKopiaKustomization(spec.mover),
    [p.externalSecret]: renderExternalSecret(c, spec.mover, "kopia", CENTRAL_SECRET),
    [p.initJob]: renderInitJob(c, spec.mover),
    [spec.mover === "kopiur" ? p.maintenance : p.kopiaMaintenance]: renderMaintenance(c, spec.mover),
  };
  if (spec.mover === "volsync-0.16") {
    if (!spec.kubernetesVersion) throw new Error("volsync-0.16 needs a Kubernetes version");
    out[p.map] = renderMutatingAdmissionPolicy(c, spec.kubernetesVersion);
  }
  if (spec.mover === "kopiur") out[p.clusterRepository] = renderClusterRepository(c, spec.allowedNamespaces);
  for (const [file, content] of Object.entries(renderComponent(c, spec.mover))) {
    out[`${c.componentDir}/${file}`] = content;
  }
  return out;
}
