// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is Flux postBuild substitution text, not a template
/**
 * Plans `migrate --to <generation>`: re-renders the kopia folder and the component of an initialised
 * repository for another mover generation (policy removed or added, moverVolumes added or removed,
 * KOPIA_REPOSITORY moved with the mount, Kopiur objects generated) and deletes the files the target does
 * not use. Snapshot identities stay: every generation names the source `${APP}` in the app's namespace,
 * restores find it by that name, and Kopiur's identity defaults reproduce <APP>@<namespace>.
 * Every file is expected as kopiashare renders it for the current generation (null: it writes no such
 * file): runPlan refuses to overwrite or delete one that differs (a hand edit) unless --force.
 */
import type { Conventions, Mover } from "../core/config.ts";
import { allCentralPaths, type CentralSpec, kopiaPaths, renderCentral } from "../core/render/central.ts";
import { usageError } from "../errors.ts";
import { discoverSource, findInstances, findRepositoryPv, volumeOf } from "./discover.ts";
import {
  checkKubernetesVersion,
  configChange,
  currentAllowedNamespaces,
  detectState,
  enabledNamespaces,
  operatorKs,
  parseMover,
} from "./init.ts";
import { kopiurInstanceChanges, kopiurVolume } from "./kopiur.ts";
import { type FileChange, type Plan, readMaybe } from "./plan.ts";
import type { RepoScan } from "./scan.ts";

export interface MigrateOptions {
  to: string;
  kubernetesVersion?: string;
  source?: string;
  /** --to kopiur on a shared-handle volume: the subvolume's path (gitops/kopiur.ts). */
  subvolumePath?: string;
}

export interface MigratePlan {
  plan: Plan;
  from: Mover;
  to: Mover;
  manifests: Record<string, string>;
  notes: string[];
  /** Printed after a successful write. */
  next: string[];
}

const TRANSITION_NOTES: Record<string, string[]> = {
  "volsync-0.16>volsync-0.17": [
    "upgrade the Volsync HelmRelease to a 0.17 chart in the same commit: 0.16 ignores moverVolumes, and without the MutatingAdmissionPolicy its movers would not see the repository",
  ],
  "volsync-0.17>volsync-0.16": [
    "downgrade the Volsync HelmRelease to a 0.16 chart in the same commit, and make sure the cluster serves the MutatingAdmissionPolicy API",
  ],
  "volsync-0.16>kopiur": [
    "install Kopiur (cluster scope) before this lands; remove the Volsync HelmRelease once the first Kopiur snapshots succeed",
  ],
  "volsync-0.17>kopiur": [
    "install Kopiur (cluster scope) before this lands; remove the Volsync HelmRelease once the first Kopiur snapshots succeed",
  ],
  "kopiur>volsync-0.16": ["install Volsync 0.16 (and serve the MutatingAdmissionPolicy API) before this lands"],
  "kopiur>volsync-0.17": ["install Volsync 0.17 before this lands"],
};

export function planMigrate(scan: RepoScan, c: Conventions, o: MigrateOptions): MigratePlan {
  const to = parseMover(o.to, "--to") as Mover;
  const state = detectState(scan, c);
  if (!state.mover || !state.nsDir || !state.kopia) {
    throw usageError(
      "this repository is not initialised (no kopia folder next to the repository's PVC)",
      `run \`kopiashare init --mover ${to}\` instead`,
    );
  }
  const from = state.mover;
  const kubernetesVersion = checkKubernetesVersion(
    to,
    o.kubernetesVersion ?? c.kubernetesVersion ?? state.kubernetesVersion,
  );
  const source = discoverSource(scan, c, o.source);
  const base = {
    source,
    nsDir: state.nsDir,
    allowedNamespaces: enabledNamespaces(scan, c),
  };
  const fromSpec: CentralSpec = {
    ...base,
    // Kopiur's allowedNamespaces as the file lists them: a list out of step is re-rendered, not a hand edit.
    allowedNamespaces:
      currentAllowedNamespaces(scan, kopiaPaths(state.nsDir).clusterRepository) ?? base.allowedNamespaces,
    conventions: { ...c, mover: from },
    mover: from,
    kubernetesVersion: from === "volsync-0.16" ? (state.kubernetesVersion ?? c.kubernetesVersion) : undefined,
    operatorKs: operatorKs(scan, from),
  };
  const toSpec: CentralSpec = {
    ...base,
    conventions: { ...c, mover: to, kubernetesVersion },
    mover: to,
    kubernetesVersion,
    operatorKs: operatorKs(scan, to),
  };
  const notes: string[] = [];
  // 0.16 detected from the conventions alone has no policy file to compare: any band renders the others.
  if (from === "volsync-0.16" && !fromSpec.kubernetesVersion) fromSpec.kubernetesVersion = "1.34";
  const expected = renderCentral(fromSpec);
  const target = renderCentral(toSpec);
  const changes: FileChange[] = [];
  const manifests: Record<string, string> = {};
  if (from !== to) {
    const paths = [...new Set([...allCentralPaths(state.nsDir, c), ...Object.keys(target)])];
    for (const path of paths) {
      const before = readMaybe(scan.root, path);
      const after = target[path] ?? null;
      if (before === null && after === null) continue;
      changes.push({ path, before, after, expected: expected[path] ?? null });
      if (after !== null) manifests[path] = after;
    }
    // Kopiur's movers get a PV whose root is the repository directory, next to the PVC every namespace has:
    // new names, so no bound PV changes (spec.csi is immutable). Leaving Kopiur removes them again.
    const instances = findInstances(scan, c);
    if (to === "kopiur") {
      const pv = findRepositoryPv(scan, c);
      if (pv) {
        const volume = kopiurVolume(scan, c, volumeOf(pv), o.subvolumePath);
        changes.push(...kopiurInstanceChanges(scan, c, instances, volume, true));
      }
    } else if (from === "kopiur") {
      changes.push(...kopiurInstanceChanges(scan, c, instances, undefined, false));
    }
    const config = configChange(scan.root, c, to, kubernetesVersion, undefined);
    if (config) changes.push(config);
    notes.push(...(TRANSITION_NOTES[`${from}>${to}`] ?? []));
    notes.push(
      "snapshot identities are unchanged: every app's source is still named ${APP} in its own namespace, and restores look it up by that name",
    );
    if (to === "kopiur") {
      notes.push(
        "Kopia keys history by user@host:path; Kopiur's SnapshotPolicy writes <APP>@<namespace>:/data (sourcePathOverride) as Volsync did, so its snapshots continue each app's history and restores find the older ones",
      );
    }
  }
  return {
    plan: { root: scan.root, changes },
    from,
    to,
    manifests,
    notes,
    next:
      from === to ? [] : ["next: review with `git diff`, then run `kopiashare lint`; commit and push in one change"],
  };
}
