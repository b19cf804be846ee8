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
          /^kubectl delete pvc -n default kopia && kubectl delete pv kopia-repository-pv-default && flux reconcile kustomization \S+ --with-source {2}# spec\.csi is immutable; Retain: the data stays$/,
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
        assert.match(claim?.fix ?? "", /pv\/bound-elsewhere/);
        assert.ok(json.items.every((i) => i.namespace === "observability"));
      },
    );
  });

  it("a PV that is not Retain: every delete fix makes it Retain first and never promises the data stays", async () => {
    const repo = tempRepo(EXAMPLE);
    const retain = (pv: string) =>
      `kubectl patch pv ${pv} -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}' && `;
    await withSim(
      {},
      (sim) => {
        sharedRepository(sim, { namespaces: ["default", "media", "games"], style: "shared-handle" });
        mismatchedHandle(sim, "default");
        for (const ns of ["default", "media"]) {
          sim.store.patch("persistentvolumes", `kopia-repository-pv-${ns}`, undefined, "application/merge-patch+json", {
            spec: { persistentVolumeReclaimPolicy: "Delete" },
          });
        }
      },
      async (sim) => {
        const { r, json } = await drift(sim, repo);
        assert.equal(r.code, 1);
        const item = (change: string, name: string, field?: string) => {
          const i = json.items.find((x) => x.change === change && x.name === name && x.field === field);
          assert.ok(i, `no ${change} ${name} ${field ?? ""}: ${JSON.stringify(json.items, null, 2)}`);
          return i;
        };
        const handle = item("differs", "kopia-repository-pv-default", "spec.csi.volumeHandle");
        assert.ok(
          handle.fix.startsWith(
            `${retain("kopia-repository-pv-default")}kubectl delete pvc -n default kopia && kubectl delete pv kopia-repository-pv-default && `,
          ),
          handle.fix,
        );
        assert.match(handle.fix, /kopia-repository-pv-default is Delete: made Retain first/);
        const pv = item("not-in-repo", "kopia-repository-pv-media");
        assert.ok(
          pv.fix.includes(`${retain("kopia-repository-pv-media")}kubectl delete pv kopia-repository-pv-media`),
          pv.fix,
        );
        const pvc = item("not-in-repo", "media/kopia");
        assert.ok(pvc.fix.includes(`${retain("kopia-repository-pv-media")}kubectl delete pvc -n media kopia`), pvc.fix);
        for (const i of [handle, pv, pvc]) assert.doesNotMatch(i.fix, /Retain keeps the data|the data stays/, i.fix);
        // A Retain PV is deleted without the patch, and the fix may say the data stays.
        const kept = item("not-in-repo", "kopia-repository-pv-games");
        assert.doesNotMatch(kept.fix, /kubectl patch pv/);
        assert.match(kept.fix, /kubectl delete pv kopia-repository-pv-games \(Retain: the data stays\)/);
      },
    );
  });

  it("-A is the default scope; -n and -A together are a usage error (exit 2)", async () => {
    const repo = tempRepo(EXAMPLE);
    await withSim({}, asDeclared, async (sim) => {
      const all = await drift(sim, repo, ["-A"]);
      assert.equal(all.r.code, 0, all.r.err);
      assert.deepEqual(all.json.repoNamespaces, ["default", "observability", "volsync-system"]);
      const both = await kube(sim, ["drift", "--repo", repo, "-n", "default", "-A"]);
      assert.equal(both.code, 2);
      assert.match(both.err, /-n\/--namespace and -A\/--all-namespaces cannot be used together/);
    });
  });

  it("--repo is required to exist", async () => {
    await withSim({}, asDeclared, async (sim) => {
      const r = await kube(sim, ["drift", "--repo", "/no/such/dir"]);
      assert.equal(r.code, 2);
      assert.match(r.err, /--repo \/no\/such\/dir: no such directory/);
    });
  });
});
