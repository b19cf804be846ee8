/**
 * Clusters as they are: Volsync without KopiaMaintenance, Kopiur only, no Flux, no External Secrets,
 * Kubernetes 1.29 .. 1.36 with what each serves of the MutatingAdmissionPolicy API, forbidden lists.
 * Property: on every shape doctor runs every check without an exception, and each check ends pass,
 * warn, fail or skip with a reason; a check that could not look never passes; verify never crashes.
 * kubectl, where it runs, reads the same discovery as a second client.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { CHECK_IDS } from "../../src/core/doctor.ts";
import { kubectlPath } from "../helpers.ts";
import type { SimOptions } from "../kube-sim/index.ts";
import {
  kopiaMaintenance,
  kopiurRepository,
  kubernetesRelease,
  releasedPv,
  replicationSource,
  sharedRepository,
  stolenPv,
} from "../kube-sim/scenarios.ts";
import { doctorJson, kube, type Sim, withSim } from "./util.ts";

interface Shape {
  name: string;
  options: SimOptions;
  seed(sim: Sim): void;
}

const MOVER_VOLUMES = {
  moverVolumes: [{ mountPath: "repository", volumeSource: { persistentVolumeClaim: { claimName: "kopia" } } }],
};
const recent = () => new Date(Date.now() - 60_000).toISOString();
const apps = ["media", "home"];
const repo = (sim: Sim): void => void sharedRepository(sim, { namespaces: apps, style: "shared-handle" });
const has = (sim: Sim, ref: string) => sim.store.registry.find(ref) !== undefined;

/** What a cluster with whatever it serves would hold: every object whose API exists. */
function populated(sim: Sim): void {
  repo(sim);
  if (has(sim, "replicationsources.volsync.backube")) {
    replicationSource(sim, "media", "app", { lastSyncTime: recent() });
    replicationSource(sim, "home", "db", { schedule: "*/5 * * * *", lastSyncTime: "2020-01-01T00:00:00Z" });
  }
  if (has(sim, "kopiamaintenances.volsync.backube")) kopiaMaintenance(sim);
  if (has(sim, "clusterrepositories.kopiur.home-operations.com")) kopiurRepository(sim, ["games"]);
}

const ALL_OPTIONAL: SimOptions["crds"] = [
  "volsync",
  "kopiur",
  "flux",
  "external-secrets",
  "volumesnapshot",
  "mutatingadmissionpolicy-v1",
];

const SHAPES: Shape[] = [
  { name: "everything served", options: { crds: ALL_OPTIONAL }, seed: populated },
  {
    name: "Volsync without KopiaMaintenance (RS/RD served)",
    options: { crds: ["volsync", "flux"], omit: ["kopiamaintenances.volsync.backube"] },
    seed: populated,
  },
  {
    name: "Volsync without ReplicationDestination",
    options: { crds: ["volsync"], omit: ["replicationdestinations.volsync.backube"] },
    seed: populated,
  },
  { name: "Kopiur only", options: { crds: ["kopiur", "flux"] }, seed: populated },
  {
    name: "Kopiur without Maintenance",
    options: { crds: ["kopiur"], omit: ["maintenances.kopiur.home-operations.com"] },
    seed: populated,
  },
  { name: "no Flux", options: { crds: ["volsync", "external-secrets"] }, seed: populated },
  { name: "no External Secrets", options: { crds: ["volsync", "flux", "volumesnapshot"] }, seed: populated },
  { name: "no optional API at all", options: { crds: [] }, seed: populated },
  { name: "an empty cluster", options: { crds: [] }, seed: () => undefined },
  {
    name: "Volsync served, nothing seeded",
    options: { crds: ["volsync"] },
    seed: () => undefined,
  },
  {
    name: "troubled namespaces",
    options: { crds: ["volsync", "kopiur"] },
    seed: (sim) => {
      populated(sim);
      releasedPv(sim, "media");
      stolenPv(sim, "home", { namespace: "thief", name: "grab" });
    },
  },
  {
    name: "lists forbidden",
    options: { crds: ["volsync", "kopiur"] },
    seed: (sim) => {
      populated(sim);
      sim.denied.add({ verb: "list", resource: "kopiamaintenances" });
      sim.denied.add({ verb: "list", resource: "namespaces" });
      sim.denied.add({ verb: "list", resource: "persistentvolumes" });
    },
  },
  {
    name: "discovery of Volsync's resources forbidden",
    options: { crds: ["volsync", "kopiur"] },
    seed: (sim) => {
      populated(sim);
      sim.denied.addPath("/apis/volsync.backube/v1alpha1");
    },
  },
  ...[29, 30, 31, 32, 33, 34, 35, 36].flatMap((minor) =>
    [false, true].map((gate) => {
      const release = kubernetesRelease(minor, { mutatingAdmissionPolicyGate: gate });
      return {
        name: `Kubernetes 1.${minor}${gate ? " with the MutatingAdmissionPolicy gate" : ""}`,
        options: { version: release.version, crds: [...release.crds, "volsync" as const] },
        seed: populated,
      };
    }),
  ),
];

const STATUSES = new Set(["pass", "warn", "fail", "skip"]);

describe("doctor and verify on every cluster shape", () => {
  for (const shape of SHAPES) {
    it(shape.name, async () => {
      await withSim(shape.options, shape.seed, async (sim) => {
        const { r, json } = await doctorJson(sim);
        assert.ok([0, 1].includes(r.code), `exit ${r.code}: ${r.err}`);
        assert.doesNotMatch(r.err, /at .*\.(ts|js):\d+|TypeError|NotFound\)/, "no crash, no raw 404");
        assert.deepEqual(
          json.checks.map((c) => c.id),
          [...CHECK_IDS],
        );
        for (const c of json.checks) {
          assert.ok(STATUSES.has(c.status), `${c.id}: status ${c.status}`);
          assert.ok(c.results.length > 0, `${c.id}: no result`);
          for (const x of c.results) {
            assert.ok(x.what && x.what.trim().length > 0, `${c.id}: a result without what`);
            assert.doesNotMatch(x.what, /undefined|\bNaN\b|\[object/, `${c.id}: ${x.what}`);
            if (x.status === "skip") assert.match(x.what, /^not checked: \S/, `${c.id}: a skip gives its reason`);
          }
          if (c.results.some((x) => x.what.startsWith("not checked:"))) {
            assert.notEqual(c.status, "pass", `${c.id} could not look and passed`);
          }
          if (c.status === "pass") {
            assert.doesNotMatch(c.results[0]?.what ?? "", /^0 |\b0 of \d+/, `${c.id} passes on nothing`);
          }
        }
        // Only what discovery names is listed: no request for an API the server does not serve.
        const lists = sim.requests.filter((x) => x.verb === "list");
        for (const x of lists) assert.notEqual(x.status, 404, `LIST ${x.path} answered 404`);
        const v = await kube(sim, ["verify", "-o", "json"]);
        assert.ok([0, 1, 3].includes(v.code), `verify exit ${v.code}: ${v.err}`);
        assert.doesNotMatch(v.err, /at .*\.(ts|js):\d+/);
      });
    });
  }
});

describe("absent APIs are facts, not crashes", () => {
  it("Volsync without KopiaMaintenance: no LIST of kopiamaintenances, the absence is the finding", async () => {
    await withSim(
      { crds: ["volsync"], omit: ["kopiamaintenances.volsync.backube"] },
      (sim) => {
        repo(sim);
        replicationSource(sim, "media", "app", { lastSyncTime: recent(), kopia: MOVER_VOLUMES });
      },
      async (sim) => {
        sim.resetRequests();
        const { r, check } = await doctorJson(sim);
        assert.equal(r.code, 0, r.err);
        assert.ok(!sim.requests.some((x) => x.path.endsWith("/kopiamaintenances")), "kopiamaintenances not listed");
        assert.ok(sim.requests.some((x) => x.path === "/apis/volsync.backube/v1alpha1" && x.verb === "discovery"));
        const m = check("repository/maintenance");
        assert.equal(m.status, "warn");
        assert.match(m.results[0]?.what ?? "", /KopiaMaintenance is not installed/);
        assert.equal(check("backups/stale").status, "pass");
        assert.match(
          check("delivery/consumers-without-pvc").results[0]?.what ?? "",
          /read: ReplicationSource, ReplicationDestination\)/,
        );
      },
    );
  });

  it("no Volsync: backups/stale reads Kopiur's SnapshotSchedules instead; with neither, it is skipped with both reasons", async () => {
    await withSim({ crds: ["kopiur"] }, populated, async (sim) => {
      const { check } = await doctorJson(sim);
      const s = check("backups/stale");
      assert.equal(s.status, "pass", JSON.stringify(s.results));
      assert.match(
        s.results[0]?.what ?? "",
        /^\d+ Kopiur SnapshotSchedule\(s\), each succeeded within twice its schedule$/,
      );
    });
    await withSim({ crds: [] }, populated, async (sim) => {
      const { check } = await doctorJson(sim);
      const s = check("backups/stale");
      assert.equal(s.status, "skip");
      assert.match(
        s.results[0]?.what ?? "",
        /the API server serves no volsync\.backube.*; .*kopiur\.home-operations\.com/,
      );
    });
  });

  it("a refused discovery document is a missing permission, not an absent API", async () => {
    await withSim(
      { crds: ["volsync"] },
      (sim) => {
        populated(sim);
        sim.denied.addPath("/apis/volsync.backube/v1alpha1");
      },
      async (sim) => {
        const { check } = await doctorJson(sim);
        const s = check("backups/stale");
        assert.equal(s.status, "warn", JSON.stringify(s.results));
        assert.equal(
          s.results[0]?.what,
          "not checked: missing permission: get /apis/volsync.backube/v1alpha1 cluster-wide",
        );
        assert.match(s.results[0]?.fix ?? "", /--non-resource-url=\/apis\/volsync\.backube\/v1alpha1/);
      },
    );
  });

  it("kubectl, as a second client, sees the same absence", async (t) => {
    if (!kubectlPath()) {
      t.skip("kubectl cannot run here ('kubectl version --client' failed)");
      return;
    }
    await withSim({ crds: ["volsync"], omit: ["kopiamaintenances.volsync.backube"] }, repo, async (sim) => {
      const cache = mkdtempSync(path.join(tmpdir(), "kopiashare-kubectl-"));
      let out: string;
      try {
        out = (
          await promisify(execFile)(
            "kubectl",
            [
              "--kubeconfig",
              sim.kubeconfigPath,
              "--cache-dir",
              cache,
              "api-resources",
              "--api-group=volsync.backube",
              "-o",
              "name",
            ],
            { env: { ...process.env, KUBECONFIG: "" }, timeout: 15_000 },
          )
        ).stdout;
      } catch (e) {
        t.skip(`kubectl could not run against the simulator: ${(e as Error).message.split("\n")[0]}`);
        return;
      }
      const names = out.trim().split("\n").sort();
      assert.deepEqual(names, ["replicationdestinations.volsync.backube", "replicationsources.volsync.backube"]);
      const { check } = await doctorJson(sim);
      assert.match(check("repository/maintenance").results[0]?.what ?? "", /serves no kopiamaintenances/);
    });
  });
});

describe("MutatingAdmissionPolicy in whichever version each release serves", () => {
  for (const minor of [29, 30, 31, 32, 33, 34, 35, 36]) {
    for (const gate of [false, true]) {
      const release = kubernetesRelease(minor, { mutatingAdmissionPolicyGate: gate });
      const version = release.crds[0]?.replace("mutatingadmissionpolicy-", "");
      it(`1.${minor}${gate ? " with the gate" : ""}: ${version ?? "not served"}`, async () => {
        await withSim(
          { version: release.version, crds: [...release.crds, "volsync"] },
          (sim) => {
            populated(sim);
            if (!version) return;
            const apiVersion = `admissionregistration.k8s.io/${version}`;
            const name = "volsync-mover-repository";
            sim.store.create({
              apiVersion,
              kind: "MutatingAdmissionPolicy",
              metadata: { name },
              spec: { mutations: [{ patchType: "JSONPatch", jsonPatch: { expression: "[]" } }] },
            });
            sim.store.create({
              apiVersion,
              kind: "MutatingAdmissionPolicyBinding",
              metadata: { name },
              spec: { policyName: name },
            });
          },
          async (sim) => {
            const { check } = await doctorJson(sim);
            const a = check("admission/policy");
            // populated()'s ReplicationSources mount no moverVolumes: the movers rely on the policy.
            if (version) {
              assert.equal(a.status, "pass", JSON.stringify(a.results));
              assert.match(
                a.results[0]?.what ?? "",
                new RegExp(`^served \\(admissionregistration\\.k8s\\.io/${version}\\)`),
              );
            } else {
              assert.equal(a.status, "fail", JSON.stringify(a.results));
              assert.match(a.results[0]?.what ?? "", /the API server serves no mutatingadmissionpolicies/);
            }
          },
        );
      });
    }
  }
});
