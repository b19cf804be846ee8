/**
 * The transport fixtures (test/fixtures/transports/<name>/): one small Flux repository per way of
 * reaching the shared repository and per mover generation. Each is linted through `lintScan`, the function
 * the lint command runs, and must give no error and no warning; every consumer must resolve to the
 * transport and repository key the fixture was written for. Then, per fixture, a copy with one fact
 * changed must fire exactly the rule that fact belongs to (and nothing else at error or warning).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isKopiur, isVolsync } from "../../src/core/model.ts";
import { reachesOf, type Transport } from "../../src/core/transport.ts";
import { lintScan } from "../../src/gitops/lint.ts";
import { loadConventions } from "../../src/gitops/repo.ts";
import { scanRepo } from "../../src/gitops/scan.ts";
import { FIXTURES } from "../helpers.ts";
import { type Edit, repoWith } from "./helpers.ts";

export const TRANSPORTS = `${FIXTURES}/transports`;

function lintDir(dir: string) {
  return lintScan(scanRepo(dir), loadConventions(dir), undefined);
}

const loud = (r: ReturnType<typeof lintDir>) =>
  r.findings.filter((f) => f.severity !== "info").map((f) => `${f.severity} ${f.rule} ${f.file}:${f.line} ${f.what}`);

interface Case {
  name: string;
  transport: Transport;
  /** The repository key (core/transport.ts Reach.repository) every consumer resolves to. */
  repository: string;
  /** How the consumers get it (Reach.via), for the app's movers. */
  via: string;
  /** Consumers "Kind namespace/name" the fixture must have (all of them, sorted). */
  consumers: string[];
  /** One fact changed, and the one rule (with its severity) that must fire. */
  broken: { fact: string; edits: Edit[]; rule: string; severity: "error" | "warning" };
}

const VOLSYNC_CONSUMERS = [
  "KopiaMaintenance backup/shared",
  "ReplicationDestination media/jellyfin-restore",
  "ReplicationSource media/jellyfin",
];
const kopiurConsumers = (repo: string) => [
  `ClusterRepository ${repo}`,
  `Maintenance backup/${repo}`,
  "Restore media/jellyfin-restore",
  "SnapshotPolicy media/jellyfin",
  "SnapshotSchedule media/jellyfin",
];

const COMPONENT = "kubernetes/components/kopia-backup";
const KOPIUR_COMPONENT = "kubernetes/components/kopiur-backup";
const MEDIA_CLAIM = "kubernetes/apps/media/repository-claim/app/claim.yaml";

const CASES: Case[] = [
  {
    name: "volsync-016-map-pvc",
    transport: "pvc",
    repository: "pvc://kopia/store",
    via: "admission policy kopia-claim-for-movers",
    consumers: VOLSYNC_CONSUMERS,
    broken: {
      fact: "media's static PV on another subvolume (rootPath)",
      edits: [[MEDIA_CLAIM, "csi-vol-2b7c9d14-", "csi-vol-00000000-"]],
      rule: "volume/static-layout",
      severity: "error",
    },
  },
  {
    name: "volsync-016-map-nfs",
    transport: "nfs",
    repository: "nfs://nas.home.arpa/mnt/tank/kopia/repository",
    via: "admission policy kopia-nfs-for-movers",
    consumers: VOLSYNC_CONSUMERS,
    broken: {
      fact: "the apps' KOPIA_REPOSITORY names another directory of the export",
      edits: [[`${COMPONENT}/secret.yaml`, "filesystem:///nas/repository", "filesystem:///nas/repo"]],
      rule: "path/mismatch",
      severity: "error",
    },
  },
  {
    name: "volsync-017-movervolumes-pvc",
    transport: "pvc",
    repository: "pvc://kopia/kopia",
    via: "moverVolumes",
    consumers: VOLSYNC_CONSUMERS,
    broken: {
      fact: "media's shared-handle PV is Delete",
      edits: [[MEDIA_CLAIM, "persistentVolumeReclaimPolicy: Retain", "persistentVolumeReclaimPolicy: Delete"]],
      rule: "volume/reclaim-policy",
      severity: "error",
    },
  },
  {
    name: "volsync-017-movervolumes-nfs",
    transport: "nfs",
    repository: "nfs://192.168.10.20/volume1/kopia/repo",
    via: "moverVolumes",
    consumers: VOLSYNC_CONSUMERS,
    broken: {
      fact: "the app's movers run as another UID than maintenance",
      edits: [
        [`${COMPONENT}/source.yaml`, "runAsUser: 1026", "runAsUser: 1027"],
        [`${COMPONENT}/destination.yaml`, "runAsUser: 1026", "runAsUser: 1027"],
      ],
      rule: "permissions/uid-mismatch",
      severity: "warning",
    },
  },
  {
    name: "volsync-s3",
    transport: "object",
    repository: "s3://cluster-backups/kopia",
    via: "secret jellyfin-kopia",
    consumers: VOLSYNC_CONSUMERS,
    broken: {
      fact: "the restore looks for a source name no ReplicationSource has",
      edits: [[`${COMPONENT}/destination.yaml`, "sourceName: ${APP}", "sourceName: ${APP}-app"]],
      rule: "identity/no-source",
      severity: "error",
    },
  },
  {
    name: "kopiur-pvc",
    transport: "pvc",
    repository: "pvc://kopia",
    via: "ClusterRepository shared",
    consumers: kopiurConsumers("shared"),
    broken: {
      fact: "media's claim does not name its PV",
      edits: [[MEDIA_CLAIM, "  volumeName: kopia-media\n", ""]],
      rule: "binding/no-volume-name",
      severity: "error",
    },
  },
  {
    name: "kopiur-nfs",
    transport: "nfs",
    repository: "nfs://truenas.lan/mnt/pool/kopiur",
    via: "ClusterRepository nas",
    consumers: kopiurConsumers("nas"),
    broken: {
      fact: "the app's Kustomization loses its postBuild (${APP} applied literally)",
      edits: [["kubernetes/apps/media/jellyfin/ks.yaml", "  postBuild:\n    substitute:\n      APP: jellyfin\n", ""]],
      rule: "flux/no-post-build",
      severity: "error",
    },
  },
  {
    name: "kopiur-s3",
    transport: "object",
    repository: "ClusterRepository/offsite",
    via: "ClusterRepository offsite",
    consumers: kopiurConsumers("offsite"),
    broken: {
      fact: "the policy's source claim is a variable the app's Kustomization does not set",
      edits: [
        [`${KOPIUR_COMPONENT}/snapshotpolicy.yaml`, "pvc:\n        name: ${APP}", "pvc:\n        name: ${APP_CLAIM}"],
      ],
      rule: "flux/undefined-variable",
      severity: "error",
    },
  },
];

describe("transport fixtures", () => {
  for (const c of CASES) {
    describe(c.name, () => {
      it(`lints with no error and no warning; every consumer reaches ${c.repository} over ${c.transport}`, () => {
        const dir = `${TRANSPORTS}/${c.name}`;
        const r = lintDir(dir);
        assert.deepEqual(loud(r), []);
        const seen: string[] = [];
        for (const o of r.model.objects) {
          if (!isVolsync(o) && !isKopiur(o)) continue;
          seen.push(`${o.kind} ${o.namespace === undefined ? "" : `${o.namespace}/`}${o.name}`);
          for (const reach of reachesOf(r.model, o)) {
            const who = `${o.kind} ${o.name}`;
            assert.equal(reach.transport, c.transport, who);
            assert.equal(reach.repository, c.repository, who);
            assert.equal(reach.resolved, true, who);
            if (o.namespace === "media") assert.equal(reach.via, c.via, who);
            if (reach.allowed !== undefined) assert.equal(reach.allowed, true, who);
          }
        }
        assert.deepEqual(seen.sort(), c.consumers);
      });

      it(`broken (${c.broken.fact}): ${c.broken.rule} fires, nothing else`, () => {
        const dir = repoWith(c.broken.edits, `${TRANSPORTS}/${c.name}`);
        const found = lintDir(dir).findings.filter((f) => f.severity !== "info");
        assert.deepEqual(
          [...new Set(found.map((f) => `${f.severity} ${f.rule}`))],
          [`${c.broken.severity} ${c.broken.rule}`],
          found.map((f) => `${f.rule} ${f.file}:${f.line} ${f.what}`).join("\n"),
        );
      });
    });
  }
});
