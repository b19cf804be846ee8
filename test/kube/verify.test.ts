/**
 * verify: the table and JSON per namespace, exit codes, a constant number of API requests (3 and 300
 * namespaces, verify and doctor), and the same answers as the seed's Step 1 and Step 6 kubectl commands.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import type { VerifyReport } from "../../src/core/live.ts";
import { kubectlPath, ROOT } from "../helpers.ts";
import type { SimOptions } from "../kube-sim/index.ts";
import {
  kopiurRepository,
  kopiurRoot,
  mismatchedHandle,
  pendingPvc,
  privilegedMovers,
  releasedPv,
  replicationSource,
  sharedRepository,
  stolenPv,
} from "../kube-sim/scenarios.ts";
import { kube, type Sim, withSim } from "./util.ts";

const verifyJson = async (sim: Sim, extra: string[] = []) => {
  const r = await kube(sim, ["verify", "-o", "json", ...extra]);
  return { r, json: JSON.parse(r.out) as VerifyReport & { requests: number } };
};

/** Every way a namespace goes wrong, next to healthy ones. */
function troubled(sim: Sim): void {
  sharedRepository(sim, { namespaces: ["media", "home", "db", "games", "web", "docs"], style: "shared-handle" });
  releasedPv(sim, "media");
  stolenPv(sim, "home", { namespace: "thief", name: "grab" });
  mismatchedHandle(sim, "db");
  pendingPvc(sim, "games", "size");
}

describe("verify", () => {
  it("all healthy: table with every column, exit 0", async () => {
    await withSim(
      {},
      (sim) => void sharedRepository(sim, { namespaces: ["media", "home"], style: "shared-handle" }),
      async (sim) => {
        const r = await kube(sim, ["verify"]);
        assert.equal(r.code, 0, r.err);
        const lines = r.out.trimEnd().split("\n");
        assert.match(lines[0] ?? "", /^NAMESPACE\s+PVC\s+PV\s+PV PHASE\s+VOLUME\s+RECLAIM\s+RESERVED$/);
        assert.equal(lines.length, 4);
        assert.match(r.out, /^media\s+kopia \(Bound\)\s+kopia-repository-pv-media\s+Bound\s+✓\s+Retain\s+✓$/m);
        assert.match(r.err, /repository: PV kopia-repository-pv-volsync-system, handle 0001-0024-/);
        assert.match(r.err, /3 namespace\(s\) healthy/);
      },
    );
  });

  it("unhealthy namespaces: ✗ where it differs, problems on stderr, exit 1", async () => {
    await withSim({}, troubled, async (sim) => {
      const r = await kube(sim, ["verify"]);
      assert.equal(r.code, 1);
      assert.match(r.out, /^db\s+kopia \(Bound\)\s+kopia-repository-pv-db\s+Bound\s+✗\s+Retain\s+✓$/m);
      assert.match(r.out, /^media\s+kopia \(Pending\)\s+kopia-repository-pv-media\s+Released\s+✓/m);
      assert.match(
        r.out,
        /^home\s+kopia \(Pending\)\s+kopia-repository-pv-home\s+Bound\s+✓\s+Retain\s+✗ thief\/grab$/m,
      );
      assert.match(r.out, /^games\s+kopia \(Pending\)\s+kopia-repository-pv-games\s+Available\s+✓\s+Retain\s+✗$/m);
      assert.match(r.err, /✗ media: PVC kopia is Pending; PV kopia-repository-pv-media is Released; .*deleted claim/);
      assert.match(r.err, /4 of 7 namespace\(s\) unhealthy/);
      const { json } = await verifyJson(sim);
      const by = new Map(json.namespaces.map((n) => [n.namespace, n]));
      assert.equal(json.healthy, false);
      assert.equal(by.get("web")?.healthy, true);
      assert.equal(by.get("db")?.volumeMatches, false);
      assert.equal(by.get("home")?.reserved, false);
      assert.equal(by.get("home")?.reservedFor, "thief/grab");
    });
  });

  it("-n: one namespace; a namespace without the PVC is unhealthy", async () => {
    await withSim({}, troubled, async (sim) => {
      const web = await verifyJson(sim, ["-n", "web"]);
      assert.equal(web.r.code, 0);
      assert.deepEqual(
        web.json.namespaces.map((n) => n.namespace),
        ["web"],
      );
      const none = await verifyJson(sim, ["-n", "nothing-here"]);
      assert.equal(none.r.code, 1);
      assert.deepEqual(none.json.namespaces[0]?.problems, [
        "no PVC kopia in namespace nothing-here",
        "PV kopia-repository-pv-nothing-here does not exist",
      ]);
      const both = await kube(sim, ["verify", "-n", "web", "-A"]);
      assert.equal(both.code, 2);
      assert.match(both.err, /cannot be used together/);
    });
  });

  it("static PVs: VOLUME compares rootPath; a PV with Delete is unhealthy", async () => {
    await withSim(
      {},
      (sim) => {
        sharedRepository(sim, { namespaces: ["media", "home"], style: "static" });
        sim.store.patch("persistentvolumes", "kopia-repository-pv-home", undefined, "application/merge-patch+json", {
          spec: { persistentVolumeReclaimPolicy: "Delete" },
        });
      },
      async (sim) => {
        const { r, json } = await verifyJson(sim);
        assert.equal(r.code, 1);
        assert.equal(json.repository.style, "static");
        assert.match(json.repository.rootPath ?? "", /^\/volumes\/csi\/backups\//);
        const home = json.namespaces.find((n) => n.namespace === "home");
        assert.equal(home?.volumeMatches, true);
        assert.deepEqual(home?.problems, ["PV kopia-repository-pv-home has reclaim policy Delete, not Retain"]);
      },
    );
  });

  const kopiurSetups: [string, (sim: Sim) => void][] = [
    [
      "PVC kopia",
      (sim) => {
        sharedRepository(sim, { namespaces: ["media"], style: "shared-handle" });
        kopiurRepository(sim, ["media", "games"]);
      },
    ],
    [
      "kopiashare's own PVC kopia-kopiur",
      (sim) => {
        sharedRepository(sim, { namespaces: ["media"], style: "static" });
        kopiurRoot(sim, ["media", "games"]);
      },
    ],
  ];
  for (const [claim, seed] of kopiurSetups) {
    it(`namespaces consuming the repository through Kopiur (a ClusterRepository on ${claim}) are in the default scope`, async () => {
      await withSim({ crds: ["kopiur"] }, seed, async (sim) => {
        sim.resetRequests();
        const { r, json } = await verifyJson(sim);
        assert.equal(r.code, 1, r.err);
        assert.deepEqual(
          json.namespaces.map((n) => n.namespace),
          ["games", "media", "volsync-system"],
        );
        assert.deepEqual(json.namespaces.find((n) => n.namespace === "games")?.problems, [
          "no PVC kopia in namespace games",
          "PV kopia-repository-pv-games does not exist",
        ]);
        // PVs, PVCs kopia, /apis, ClusterRepositories: verify reads no Kopiur claim's PVCs.
        assert.equal(sim.requests.length, 4);
        // -n does not need Kopiur: still the two lists only.
        sim.resetRequests();
        const one = await verifyJson(sim, ["-n", "media"]);
        assert.equal(one.r.code, 0);
        assert.equal(sim.requests.length, 2);
      });
    });
  }

  it("an empty cluster: nothing to verify, exit 1", async () => {
    await withSim(
      {},
      () => undefined,
      async (sim) => {
        const r = await kube(sim, ["verify"]);
        assert.equal(r.code, 1);
        assert.match(r.err, /nothing to verify/);
      },
    );
  });
});

describe("API requests do not grow with the number of namespaces", () => {
  const options: SimOptions = { crds: ["volsync", "kopiur", "flux", "mutatingadmissionpolicy-v1"] };
  const world = (n: number) => (sim: Sim) => {
    const { namespaces } = sharedRepository(sim, { namespaces: n, style: "shared-handle" });
    for (const ns of namespaces) replicationSource(sim, ns, "app", { lastSyncTime: new Date().toISOString() });
    releasedPv(sim, namespaces[0] as string);
    privilegedMovers(sim, namespaces[1] as string);
  };
  const measure = async (n: number) =>
    withSim(options, world(n), async (sim) => {
      const out: Record<string, { count: number; paths: string[] }> = {};
      for (const verb of ["verify", "doctor"]) {
        sim.resetRequests();
        const r = await kube(sim, [verb, "-o", "json"]);
        assert.equal(r.code, 1, r.err);
        assert.equal(JSON.parse(r.out).requests, sim.requests.length);
        out[verb] = {
          count: sim.requests.length,
          paths: sim.requests.map((x) => `${x.method} ${x.path}`).sort(),
        };
      }
      return out;
    });

  it("the same LIST calls at 3 and at 300 namespaces", async () => {
    const small = await measure(3);
    const large = await measure(300);
    // PVs, PVCs, /apis and (Kopiur is served) its ClusterRepositories.
    assert.equal(small.verify?.count, 4);
    assert.deepEqual(large.verify, small.verify);
    assert.deepEqual(large.doctor, small.doctor);
    assert.ok((large.doctor?.count ?? 99) <= 25, `${large.doctor?.count} requests`);
    assert.ok(large.doctor?.paths.includes("GET /api/v1/events"));
    assert.ok(large.doctor?.paths.includes("GET /apis/volsync.backube/v1alpha1/replicationsources"));
  });
});

describe("Kopiur's claims cost doctor one LIST per claim name, whatever the number of namespaces", () => {
  const count = async (n: number, kopiur: boolean) =>
    withSim(
      { crds: ["kopiur"] },
      (sim) => {
        const { namespaces } = sharedRepository(sim, { namespaces: n, style: "static" });
        if (kopiur) kopiurRoot(sim, namespaces);
        else kopiurRepository(sim, namespaces);
      },
      async (sim) => {
        sim.resetRequests();
        const r = await kube(sim, ["doctor", "-o", "json"]);
        assert.equal(JSON.parse(r.out).requests, sim.requests.length);
        const claims = sim.requests
          .filter((x) => x.path === "/api/v1/persistentvolumeclaims")
          .map((x) => x.query.fieldSelector)
          .sort();
        return { count: sim.requests.length, claims };
      },
    );

  it("the seed's claim alone: one PVC list; Kopiur's claim too: one more, field-selected", async () => {
    const seed = await count(3, false);
    const small = await count(3, true);
    const large = await count(60, true);
    assert.deepEqual(seed.claims, ["metadata.name=kopia"]);
    assert.deepEqual(small.claims, ["metadata.name=kopia", "metadata.name=kopia-kopiur"]);
    assert.equal(small.count, seed.count + 1);
    assert.deepEqual(large, small);
  });
});

describe("same answers as the seed's kubectl commands", () => {
  const kubectl = kubectlPath();
  it("Step 1 and Step 6 for every namespace", async (t) => {
    if (!kubectl) {
      t.skip("kubectl not installed: the seed's Step 1 / Step 6 commands cannot run");
      return;
    }
    await withSim({}, troubled, async (sim) => {
      const home = mkdtempSync(path.join(tmpdir(), "kopiashare-kubectl-"));
      const env = { ...process.env, KUBECONFIG: sim.kubeconfigPath, HOME: home };
      // Asynchronous: the simulator runs in this process and must keep answering.
      const sh = async (cmd: string) => (await promisify(execFile)("sh", ["-c", cmd], { env, cwd: ROOT })).stdout;
      const { json } = await verifyJson(sim);
      // Step 1
      const handle = await sh(
        "kubectl get pv kopia-repository-pv-volsync-system -o jsonpath='{.spec.csi.volumeHandle}'",
      );
      assert.equal(handle, json.repository.volumeHandle);
      assert.ok(json.namespaces.length >= 7);
      for (const n of json.namespaces) {
        // Step 6, first command: the PVC's STATUS and VOLUME columns
        const table = (await sh(`kubectl get pvc -n ${n.namespace} kopia`)).trim().split("\n");
        const header = (table[0] ?? "").split(/\s{2,}/);
        const cols = (table[1] ?? "").split(/\s+/);
        assert.equal(cols[0], "kopia");
        assert.equal(cols[header.indexOf("STATUS")], n.pvc?.phase, `${n.namespace} STATUS`);
        assert.equal(cols[header.indexOf("VOLUME")], n.pvc?.volumeName, `${n.namespace} VOLUME`);
        // Step 6, the pipeline: the handle of the PV the PVC names
        const h = await sh(
          `kubectl get pvc -n ${n.namespace} kopia -o jsonpath='{.spec.volumeName}' | xargs kubectl get pv -o jsonpath='{.spec.csi.volumeHandle}'`,
        );
        assert.equal(h, n.pv?.volumeHandle, `${n.namespace} handle`);
        assert.equal(h === handle, n.volumeMatches, `${n.namespace} VOLUME ✓/✗`);
      }
    });
  });
});
