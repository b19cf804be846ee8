/**
 * kopiashare lint against a baseline that only reads and parses every YAML file of the same tree.
 *
 *   node --import tsx bench/lint.ts [--namespaces 2000] [--runs 5] [--keep] [--out DIR]
 *
 * --out DIR only generates the repository into DIR (for profiling) and exits.
 *
 * Generates a Flux repository with N namespaces (each: its kustomization, a Namespace, a ks.yaml with
 * the repository-PVC Kustomization and two app Kustomizations that use the Volsync component, the
 * PV/PVC, two HelmReleases: 5 YAML files), builds the CLI if dist/ is older than src/, then runs
 * `node bin/kopiashare.js lint --repo <dir>` and `node bench/lint-baseline.mjs <dir>` alternately,
 * each as a whole process, and prints medians and their ratio. Target: lint <= 1.5x baseline.
 * Also times the example repository.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { ensureBuilt } from "./build.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const args = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : def;
};
const N = flag("--namespaces", 2000);
const RUNS = flag("--runs", 5);
const KEEP = args.includes("--keep");

const HANDLE = "0001-0024-407036f5-1f73-44ff-ba81-1f219b7a8a64-000000000000000b-841e604c-1dd5-4a09-8763-84e672d78c4e";

function write(root: string, rel: string, text: string): void {
  const abs = path.join(root, rel);
  mkdirSync(path.dirname(abs), { recursive: true });
  writeFileSync(abs, text);
}

function ks(name: string, ns: string, p: string, extra = ""): string {
  return `---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ${name}
  namespace: flux-system
spec:
  targetNamespace: ${ns}
  path: ./${p}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  interval: 30m
${extra}`;
}

function pvc(ns: string): string {
  return `---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: kopia-repository-pv-${ns}
spec:
  capacity:
    storage: 200Gi
  accessModes:
    - ReadWriteMany
  persistentVolumeReclaimPolicy: Retain
  storageClassName: csi-cephfs-backups-sc
  claimRef:
    apiVersion: v1
    kind: PersistentVolumeClaim
    namespace: ${ns}
    name: kopia
  csi:
    driver: cephfs.csi.ceph.com
    nodeStageSecretRef:
      name: csi-ceph-admin-secret
      namespace: ceph-csi
    volumeAttributes:
      clusterID: 407036f5-1f73-44ff-ba81-1f219b7a8a64
      fsName: backups
    volumeHandle: ${HANDLE}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: kopia
  namespace: ${ns}
spec:
  accessModes:
    - ReadWriteMany
  storageClassName: csi-cephfs-backups-sc
  volumeName: kopia-repository-pv-${ns}
  resources:
    requests:
      storage: 200Gi
`;
}

function helmRelease(app: string): string {
  return `---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: ${app}
spec:
  interval: 30m
  chartRef:
    kind: OCIRepository
    name: app-template
  values:
    controllers:
      ${app}:
        containers:
          app:
            image:
              repository: ghcr.io/example/${app}
              tag: 1.0.0
    persistence:
      config:
        existingClaim: ${app}
`;
}

export function generate(root: string, n: number): number {
  let files = 0;
  const put = (rel: string, text: string) => {
    write(root, rel, text);
    files++;
  };
  put(
    "clusters/main/flux-system/gotk-sync.yaml",
    `---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m
  ref:
    branch: main
  url: ssh://git@github.com/example/cluster
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/main
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
  );
  put(
    "clusters/main/flux-system/kustomization.yaml",
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-sync.yaml\n",
  );
  put(
    "clusters/main/apps.yaml",
    `---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-apps
  namespace: flux-system
spec:
  interval: 30m
  path: ./kubernetes/apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
  );
  const comp = "kubernetes/components/volsync";
  put(
    `${comp}/kustomization.yaml`,
    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./externalsecret.yaml\n  - ./pvc.yaml\n  - ./replicationsource.yaml\n  - ./replicationdestination.yaml\n",
  );
  put(
    `${comp}/externalsecret.yaml`,
    `---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: \${APP}-volsync
spec:
  secretStoreRef:
    kind: ClusterSecretStore
    name: onepassword
  target:
    name: \${APP}-volsync-secret
    template:
      data:
        KOPIA_PASSWORD: "{{ .KOPIA_PASSWORD }}"
        KOPIA_REPOSITORY: filesystem:///repository/repository
`,
  );
  put(
    `${comp}/pvc.yaml`,
    `---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: \${APP}
spec:
  accessModes:
    - \${VOLSYNC_ACCESSMODES:=ReadWriteOnce}
  dataSourceRef:
    kind: ReplicationDestination
    apiGroup: volsync.backube
    name: \${APP}-dst
  resources:
    requests:
      storage: \${VOLSYNC_CAPACITY:=5Gi}
  storageClassName: \${VOLSYNC_STORAGECLASS:=ceph-block}
`,
  );
  const mover = `    moverSecurityContext:
      runAsUser: \${VOLSYNC_PUID:=1000}
      runAsGroup: \${VOLSYNC_PGID:=1000}
      fsGroup: \${VOLSYNC_PGID:=1000}
      fsGroupChangePolicy: OnRootMismatch
`;
  put(
    `${comp}/replicationsource.yaml`,
    `---
apiVersion: volsync.backube/v1alpha1
kind: ReplicationSource
metadata:
  name: \${APP}
spec:
  sourcePVC: \${APP}
  trigger:
    schedule: "0 * * * *"
  kopia:
    repository: \${APP}-volsync-secret
    copyMethod: Snapshot
${mover}`,
  );
  put(
    `${comp}/replicationdestination.yaml`,
    `---
apiVersion: volsync.backube/v1alpha1
kind: ReplicationDestination
metadata:
  name: \${APP}-dst
spec:
  trigger:
    manual: restore-once
  kopia:
    repository: \${APP}-volsync-secret
    copyMethod: Snapshot
    sourceIdentity:
      sourceName: \${APP}
${mover}`,
  );
  // The repository namespace: the admission policy that mounts PVC kopia into mover Jobs.
  const sys = "kubernetes/apps/system/volsync-system";
  put(`${sys}/kustomization.yaml`, "resources:\n  - ./namespace.yaml\n  - ./ks.yaml\n");
  put(`${sys}/namespace.yaml`, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: volsync-system\n");
  put(
    `${sys}/ks.yaml`,
    ks("volsync-repository-pvc-volsync-system", "volsync-system", `${sys}/volsync-repository-pvc`) +
      ks("volsync", "volsync-system", `${sys}/volsync`),
  );
  put(`${sys}/volsync-repository-pvc/pvc.yaml`, pvc("volsync-system"));
  put(
    `${sys}/volsync/mutatingadmissionpolicy.yaml`,
    `---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: volsync-mover-repository
spec:
  failurePolicy: Fail
  reinvocationPolicy: IfNeeded
  matchConditions:
    - name: is-mover-job
      expression: object.metadata.name.startsWith('volsync-src-') || object.metadata.name.startsWith('volsync-dst-')
    - name: no-repository-volume-yet
      expression: "!object.spec.template.spec.?volumes.orValue([]).exists(v, v.name == 'repository')"
  mutations:
    - patchType: JSONPatch
      jsonPatch:
        expression: >-
          [JSONPatch{op: 'add', path: '/spec/template/spec/volumes/-', value: Object.spec.template.spec.volumes{
            name: 'repository', persistentVolumeClaim: Object.spec.template.spec.volumes.persistentVolumeClaim{claimName: 'kopia'}}},
           JSONPatch{op: 'add', path: '/spec/template/spec/containers/0/volumeMounts/-', value: Object.spec.template.spec.containers.volumeMounts{
            name: 'repository', mountPath: '/repository'}}]
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: volsync-mover-repository
spec:
  policyName: volsync-mover-repository
`,
  );
  const tiers = new Map<string, string[]>();
  for (let i = 0; i < n; i++) {
    const tier = `tier-${String(Math.floor(i / 100)).padStart(2, "0")}`;
    const ns = `ns-${String(i).padStart(4, "0")}`;
    let list = tiers.get(tier);
    if (!list) {
      list = [];
      tiers.set(tier, list);
    }
    list.push(ns);
    const dir = `kubernetes/apps/${tier}/${ns}`;
    put(`${dir}/kustomization.yaml`, "resources:\n  - ./namespace.yaml\n  - ./ks.yaml\n");
    put(`${dir}/namespace.yaml`, `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`);
    const app = (a: string) =>
      ks(
        a,
        ns,
        `${dir}/${a}`,
        `  components:
    - ../../../../components/volsync
  dependsOn:
    - name: volsync-repository-pvc-${ns}
  postBuild:
    substitute:
      APP: ${a}
      VOLSYNC_CAPACITY: 10Gi
`,
      );
    put(
      `${dir}/ks.yaml`,
      ks(`volsync-repository-pvc-${ns}`, ns, `${dir}/volsync-repository-pvc`) + app(`${ns}-a`) + app(`${ns}-b`),
    );
    put(`${dir}/volsync-repository-pvc/pvc.yaml`, pvc(ns));
    for (const a of [`${ns}-a`, `${ns}-b`]) put(`${dir}/${a}/helmrelease.yaml`, helmRelease(a));
  }
  put(
    "kubernetes/apps/kustomization.yaml",
    `resources:\n  - ./system/volsync-system\n${[...tiers.keys()].map((t) => `  - ./${t}\n`).join("")}`,
  );
  for (const [tier, list] of tiers) {
    put(`kubernetes/apps/${tier}/kustomization.yaml`, `resources:\n${list.map((x) => `  - ./${x}\n`).join("")}`);
  }
  return files;
}

function time(cmd: string[], expect: number[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, cmd, { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  const ms = performance.now() - t0;
  if (!expect.includes(r.status ?? -1)) {
    throw new Error(`${cmd.join(" ")} exited ${r.status}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  }
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

function compare(label: string, dir: string, runs: number): { lint: number; base: number } {
  const lintCmd = [path.join(ROOT, "bin/kopiashare.js"), "lint", "--repo", dir, "-o", "json"];
  const baseCmd = [path.join(ROOT, "bench/lint-baseline.mjs"), dir];
  // one warm-up of each (file cache), then alternating runs
  time(lintCmd, [0]);
  time(baseCmd, [0]);
  const lint: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < runs; i++) {
    base.push(time(baseCmd, [0]));
    lint.push(time(lintCmd, [0]));
  }
  const l = median(lint);
  const b = median(base);
  process.stdout.write(
    `${label.padEnd(28)} lint ${l.toFixed(0).padStart(6)} ms   baseline ${b.toFixed(0).padStart(6)} ms   ratio ${(l / b).toFixed(2)}x   (median of ${runs})\n`,
  );
  return { lint: l, base: b };
}

const outAt = args.indexOf("--out");
if (outAt >= 0 && args[outAt + 1]) {
  const files = generate(path.resolve(args[outAt + 1] as string), N);
  process.stdout.write(`generated ${N} namespaces, ${files} YAML files in ${args[outAt + 1]}\n`);
  process.exit(0);
}
ensureBuilt();
const dir = mkdtempSync(path.join(tmpdir(), "kopiashare-bench-lint-"));
try {
  const t0 = performance.now();
  const files = generate(dir, N);
  process.stdout.write(
    `machine: ${cpus().length} cpus (${cpus()[0]?.model ?? "?"}), node ${process.version}\n` +
      `generated ${N} namespaces, ${files} YAML files in ${(performance.now() - t0).toFixed(0)} ms (${dir})\n`,
  );
  const big = compare(`${N} namespaces`, dir, RUNS);
  compare("examples/home-ops", path.join(ROOT, "examples/home-ops"), RUNS);
  const ratio = big.lint / big.base;
  process.stdout.write(`target lint <= 1.5x baseline: ${ratio <= 1.5 ? "met" : "NOT met"} (${ratio.toFixed(2)}x)\n`);
} finally {
  if (!KEEP) rmSync(dir, { recursive: true, force: true });
}
