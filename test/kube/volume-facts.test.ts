/**
 * src/core/volume-facts.ts: one definition of a PV's style, its reclaim verdict, the repository PV and the
 * PVC/PV mismatch, giving the same answer for a manifest (what lint reads) and for the live object read
 * through the real client from test/kube-sim (what verify and doctor read).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { DEFAULTS } from "../../src/core/config.ts";
import {
  claimMismatches,
  crossStyleVolume,
  identityKey,
  identityOf,
  type PvFacts,
  parseCephHandle,
  pickRepositoryPv,
  pvcFactsOf,
  pvFactsOf,
  reclaimVerdict,
  retainFirst,
  styleOfPv,
} from "../../src/core/volume-facts.ts";
import { mapPv, mapPvc } from "../../src/kube/snapshot.ts";
import type { KubeObject } from "../kube-sim/index.ts";
import { ensureNamespace, pendingPvc, pvcObject, pvObject } from "../kube-sim/scenarios.ts";
import { type Sim, withSim } from "./util.ts";

const c = DEFAULTS;

async function live(sim: Sim) {
  const kc = new KubeConfig();
  kc.loadFromFile(sim.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const pvs = (await core.listPersistentVolume()).items.map(mapPv);
  const pvcs = (await core.listPersistentVolumeClaimForAllNamespaces()).items.map(mapPvc);
  return { pvs, pvcs };
}

const manifest = (o: KubeObject) => ({ name: o.metadata.name as string, body: o });

describe("volume facts: the same verdict for a manifest and the live object", () => {
  it("style and reclaim verdict: shared handle + Delete is an error, static + Delete a warning, Retain nothing", async () => {
    const objects = [
      pvObject("a", { style: "shared-handle", reclaimPolicy: "Delete" }),
      pvObject("b", { style: "static", reclaimPolicy: "Delete" }),
      pvObject("c", { style: "shared-handle", reclaimPolicy: "Recycle" }),
      pvObject("d", { style: "static" }),
    ];
    await withSim(
      {},
      (sim) => {
        for (const o of objects) sim.store.create(o);
      },
      async (sim) => {
        const { pvs } = await live(sim);
        const verdicts = (facts: PvFacts[]) =>
          facts
            .sort((x, y) => x.name.localeCompare(y.name))
            .map((pv) => [pv.name, styleOfPv(pv), reclaimVerdict(pv)?.severity ?? "ok"]);
        const fromFiles = verdicts(objects.map((o) => pvFactsOf(manifest(o))));
        assert.deepEqual(fromFiles, [
          ["kopia-repository-pv-a", "shared-handle", "error"],
          ["kopia-repository-pv-b", "static", "warning"],
          ["kopia-repository-pv-c", "shared-handle", "error"],
          ["kopia-repository-pv-d", "static", "ok"],
        ]);
        assert.deepEqual(verdicts(pvs), fromFiles);
        assert.match(reclaimVerdict(pvs[0] as PvFacts)?.why ?? "", /delete the whole shared subvolume/);
        assert.match(reclaimVerdict(pvs[1] as PvFacts)?.why ?? "", /not asked to delete/);
        assert.deepEqual(
          pvs.map((pv) => identityKey(identityOf(pv))),
          objects.map((o) => identityKey(identityOf(pvFactsOf(manifest(o))))),
        );
        assert.equal(retainFirst(pvs[3]), "");
        assert.equal(
          retainFirst(pvs[0]),
          `kubectl patch pv kopia-repository-pv-a -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}' && `,
        );
      },
    );
  });

  it("a manifest's staticVolume written as a YAML boolean is static, as lint reads it", () => {
    const o = pvObject("a", { style: "static" });
    const body = JSON.parse(JSON.stringify(o));
    body.spec.csi.volumeAttributes.staticVolume = true;
    assert.equal(styleOfPv(pvFactsOf({ name: "x", body })), "static");
  });

  it("PVC/PV mismatch: class, size and access modes, as the binder refuses them", async () => {
    for (const reason of ["class", "size", "access-modes"] as const) {
      await withSim(
        {},
        (sim) => void pendingPvc(sim, "games", reason),
        async (sim) => {
          const { pvs, pvcs } = await live(sim);
          const got = claimMismatches(pvcs[0] as (typeof pvcs)[number], pvs[0] as PvFacts).map((m) => m.field);
          const wrong =
            reason === "class"
              ? { storageClassName: "csi-cephfs-sc" }
              : reason === "size"
                ? { capacity: "1Gi" }
                : { accessModes: ["ReadWriteOnce"] };
          const files = claimMismatches(
            pvcFactsOf({ name: "kopia", namespace: "games", body: pvcObject("games") }),
            pvFactsOf(manifest(pvObject("games", { claimRef: false, ...wrong }))),
          ).map((m) => m.field);
          const want = { class: "storageClassName", size: "size", "access-modes": "accessModes" }[reason];
          assert.deepEqual(got, [want], reason);
          assert.deepEqual(files, got, reason);
        },
      );
    }
    const unset = claimMismatches({ name: "kopia" }, { name: "pv", storageClassName: "sc" });
    assert.equal(unset[0]?.unset, true);
    assert.deepEqual(claimMismatches({ name: "kopia" }, { name: "pv", storageClassName: "" }), []);
  });
});

describe("pickRepositoryPv", () => {
  const pv = (name: string, o: Partial<PvFacts> = {}): PvFacts => ({
    name,
    volumeHandle: "h1",
    volumeAttributes: { clusterID: "c", fsName: "fs" },
    ...o,
  });

  it("by claimRef <repositoryNamespace>/<claimName>, else by name, else the volume most PVs reach", () => {
    const named = pv("kopia-repository-pv-volsync-system", { volumeHandle: "h2" });
    const claimed = pv("pvc-0a1b", { claimRef: { namespace: "volsync-system", name: "kopia" } });
    const other = pv("kopia-repository-pv-media");
    // The claim binds the repository PV; a name is only a convention.
    assert.deepEqual(pickRepositoryPv([other, named, claimed], c), { pv: claimed, by: "claim", votes: 2 });
    assert.deepEqual(pickRepositoryPv([other, named], c), { pv: named, by: "name", votes: 1 });
    // A claimRef in the repository namespace for another claim is not the repository's.
    const stranger = pv("x", { claimRef: { namespace: "volsync-system", name: "data" }, volumeHandle: "h9" });
    const a = pv("kopia-repository-pv-a");
    const b = pv("kopia-repository-pv-b");
    assert.deepEqual(pickRepositoryPv([stranger, a, b], c), { pv: a, by: "majority", votes: 2 });
    // Ties: the earlier one.
    assert.equal(pickRepositoryPv([stranger, a], c)?.pv, stranger);
    assert.equal(pickRepositoryPv([], c), undefined);
  });

  it("picks among manifests through pvFactsOf, and among live PVs, alike", async () => {
    const objects = [
      pvObject("media", { handle: "other-handle" }),
      pvObject("volsync-system"),
      pvObject("home", { handle: "other-handle" }),
    ];
    await withSim(
      {},
      (sim) => {
        for (const ns of ["media", "volsync-system", "home"]) ensureNamespace(sim, ns);
        for (const o of objects) sim.store.create(o);
      },
      async (sim) => {
        const fromFiles = pickRepositoryPv(objects, c, (o) => pvFactsOf(manifest(o)));
        assert.equal(fromFiles?.pv, objects[1]);
        assert.equal(fromFiles?.by, "claim");
        const { pvs } = await live(sim);
        assert.equal(pickRepositoryPv(pvs, c)?.pv.name, "kopia-repository-pv-volsync-system");
        const withoutIt = objects.filter((o) => o !== objects[1]);
        assert.equal(pickRepositoryPv(withoutIt, c, (o) => pvFactsOf(manifest(o)))?.by, "majority");
      },
    );
  });
});

describe("subvolume identity across styles", () => {
  const HANDLE = "0001-0024-407036f5-1f73-44ff-ba81-1f219b7a8a64-000000000000000b-841e604c-1dd5-4a09-8763-84e672d78c4e";
  it("reads the clusterID and subvolume UUID of a ceph-csi handle, and nothing from other handles", () => {
    assert.deepEqual(parseCephHandle(HANDLE), {
      clusterID: "407036f5-1f73-44ff-ba81-1f219b7a8a64",
      uuid: "841e604c-1dd5-4a09-8763-84e672d78c4e",
    });
    // The length field must match the clusterID (0x0023 is one short).
    assert.equal(parseCephHandle(HANDLE.replace("0001-0024", "0001-0023")), undefined);
    assert.equal(parseCephHandle("kopia-repository-pv-media"), undefined);
    assert.equal(parseCephHandle(undefined), undefined);
  });
  it("a shared handle and a static rootPath on the same subvolume are the same volume; another UUID or cluster is not", () => {
    const shared = identityOf({ name: "a", volumeHandle: HANDLE, volumeAttributes: { fsName: "backups" } });
    const stat = (rootPath: string, clusterID = "407036f5-1f73-44ff-ba81-1f219b7a8a64") =>
      identityOf({
        name: "b",
        volumeHandle: "b",
        volumeAttributes: { staticVolume: "true", rootPath, clusterID, fsName: "backups" },
      });
    const path = "/volumes/csi/csi-vol-841e604c-1dd5-4a09-8763-84e672d78c4e/6f1c9e55-0d3b-4c3e-9a39-2f6a7d0c1b11";
    assert.equal(shared.clusterID, "407036f5-1f73-44ff-ba81-1f219b7a8a64");
    assert.equal(crossStyleVolume(shared, stat(path)), "same");
    assert.equal(crossStyleVolume(shared, stat(path.replace("841e604c", "00000000"))), "other");
    assert.equal(crossStyleVolume(shared, stat(path, "another-cluster")), "other");
    assert.equal(crossStyleVolume(shared, stat("/volumes/csi/backups/repo")), "unknown");
  });
});
