/** drift: the example repo's declared PV/PVC pairs against a simulated cluster. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DriftReport } from "../../src/core/drift.ts";
import { EXAMPLE, tempRepo, treeOf } from "../helpers.ts";
import { mismatchedHandle, pvcObject, pvObject, sharedRepository } from "../kube-sim/scenarios.ts";
import { kube, type Sim, withSim } from "./util.ts";

/** The cluster exactly as examples/home-ops declares it. */
const asDeclared = (sim: Sim) =>
  void sharedRepository(sim, { namespaces: ["default", "observability"], style: "shared-handle" });

async function drift(sim: Sim, repo: string, extra: string[] = []) {
  const r = await kube(sim, ["drift", "--repo", repo, "-o", "json", ...extra]);
  return { r, json: JSON.parse(r.out) as DriftReport };
}

describe("drift", () => {
  it("no drift when the cluster has what the repo declares (exit 0), and the repo is untouched", async () => {
    const repo = tempRepo(EXAMPLE);
    const before = treeOf(repo);
    await withSim({}, asDeclared, async (sim) => {
      const { r, json } = await drift(sim, repo);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(json.items, []);
      assert.deepEqual(json.repoNamespaces, ["default", "observability", "volsync-system"]);
      assert.deepEqual(json.clusterNamespaces, json.repoNamespaces);
      const text = await kube(sim, ["drift", "--repo", repo]);
      assert.equal(text.code, 0);
      assert.match(text.out, /^no drift/);
    });
    assert.deepEqual(treeOf(repo), before);
  });

  it("reports objects only in the cluster, only in the repo, and differing handles and claimRefs", async () => {
    const repo = tempRepo(EXAMPLE);
    await withSim(
      {},
      (sim) => {
        sharedRepository(sim, { namespaces: ["default", "media"], style: "shared-handle" });
        mismatchedHandle(sim, "default");
      },
      async (sim) => {
        const { r, json } = await drift(sim, repo);
        assert.equal(r.code, 1);
        const brief = json.items.map((i) => `${i.change} ${i.kind} ${i.name}${i.field ? ` ${i.field}` : ""}`);
        assert.deepEqual(brief, [
          "differs PersistentVolume kopia-repository-pv-default spec.csi.volumeHandle",
          "not-in-repo PersistentVolume kopia-repository-pv-media",
          "not-in-repo PersistentVolumeClaim media/kopia",
          "missing-in-cluster PersistentVolume kopia-repository-pv-observability",
          "missing-in-cluster PersistentVolumeClaim observability/kopia",
        ]);
        const handle = json.items[0];
        assert.match(handle?.repo ?? "", /841e604c-1dd5-4a09-8763-84e672d78c4e$/);
        assert.match(handle?.cluster ?? "", /0badc0de/);
        assert.match(
          handle?.where ?? "",
          /^kubernetes\/apps\/home\/default\/volsync-repository-pvc\/app\/pvc\.yaml:\d+$/,
        );
        assert.match(
          handle?.fix ?? "",
          /spec\.csi is immutable: kubectl delete pvc -n default kopia && kubectl delete pv kopia-repository-pv-default/,
        );
        assert.match(
          json.items[3]?.fix ?? "",
          /^flux reconcile kustomization volsync-repository-pvc-observability --with-source/,
        );
        assert.match(json.items[1]?.fix ?? "", /^kopiashare enable media/);

        const text = await kube(sim, ["drift", "--repo", repo]);
        assert.equal(text.code, 1);
        assert.match(text.out, /^NAMESPACE\s+OBJECT\s+DRIFT\s+DETAIL$/m);
        assert.match(text.out, /spec\.csi\.volumeHandle: repo 0001-.* ≠ cluster 0001-.*0badc0de/);
        assert.match(text.out, /^fixes:$/m);
      },
    );
  });

  it("a PV held by another claim than the one the repo reserves it for; -n limits the comparison", async () => {
    const repo = tempRepo(EXAMPLE);
    await withSim(
      {},
      (sim) => {
        asDeclared(sim);
        sim.store.delete("persistentvolumeclaims", "kopia", "observability");
        sim.store.delete("persistentvolumes", "kopia-repository-pv-observability");
        sim.store.create(pvObject("observability", { claimRef: false }));
        sim.store.create({
          ...pvcObject("intruder", { name: "data", volumeName: "kopia-repository-pv-observability" }),
        });
        sim.store.create(pvcObject("observability", { volumeName: null, storageClassName: "other" }));
      },
      async (sim) => {
        const { json } = await drift(sim, repo, ["-n", "observability"]);
        const claim = json.items.find((i) => i.field === "spec.claimRef");
        assert.equal(claim?.repo, "observability/kopia");
        assert.equal(claim?.cluster, "intruder/data");
        assert.match(claim?.fix ?? "", /pv-bound-elsewhere/);
        assert.ok(json.items.every((i) => i.namespace === "observability"));
      },
    );
  });

  it("--repo is required to exist", async () => {
    await withSim({}, asDeclared, async (sim) => {
      const r = await kube(sim, ["drift", "--repo", "/no/such/dir"]);
      assert.equal(r.code, 2);
      assert.match(r.err, /--repo \/no\/such\/dir: no such directory/);
    });
  });
});
