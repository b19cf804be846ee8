/**
 * `kopiashare graph --live` against the simulator: a cluster running exactly what a transport fixture
 * applies (its delivered objects, with the Secrets its ExternalSecrets would make) draws the same graph as
 * the fixture itself, without locations and without findings. A Secret that cannot be read leaves its
 * consumers' repository unknown and says so; a list that is forbidden fails with exit 1.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { isKopiur, isVolsync, str } from "../../src/core/model.ts";
import { lintScan } from "../../src/gitops/lint.ts";
import { loadConventions } from "../../src/gitops/repo.ts";
import { scanRepo } from "../../src/gitops/scan.ts";
import { FIXTURES, run } from "../helpers.ts";
import type { CrdSet } from "../kube-sim/registry.ts";
import { kube, type Sim, withSim } from "./util.ts";

const TRANSPORTS = path.join(FIXTURES, "transports");
const CRDS: CrdSet[] = ["volsync", "kopiur", "mutatingadmissionpolicy-v1beta1"];

/** The kinds the fixtures deliver that the cluster would hold; the rest (Flux, ExternalSecret) stays out. */
const KEEP = new Set(["PersistentVolume", "PersistentVolumeClaim", "Namespace"]);

/** Seeds the simulator with what the fixture delivers; ExternalSecrets become their Secrets. */
function seedFrom(name: string) {
  return (sim: Sim) => {
    const dir = path.join(TRANSPORTS, name);
    const { model } = lintScan(scanRepo(dir), loadConventions(dir), undefined);
    for (const o of model.objects) {
      const body = structuredClone(o.body) as Record<string, unknown> & { metadata: Record<string, unknown> };
      if (o.namespace !== undefined) body.metadata.namespace = o.namespace;
      if (o.kind === "ExternalSecret") {
        const url = str(o.body, "spec", "target", "template", "data", "KOPIA_REPOSITORY");
        sim.store.create({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: str(o.body, "spec", "target", "name") ?? o.name, namespace: o.namespace },
          data: {
            ...(url === undefined ? {} : { KOPIA_REPOSITORY: Buffer.from(url).toString("base64") }),
            KOPIA_PASSWORD: Buffer.from("not-for-your-eyes").toString("base64"),
          },
        } as never);
        continue;
      }
      if (!KEEP.has(o.kind) && !isVolsync(o) && !isKopiur(o) && !o.kind.startsWith("MutatingAdmissionPolicy")) continue;
      try {
        sim.store.create(body as never);
      } catch {
        // A kind the simulator does not serve (Kopiur Maintenance): the cluster has no such object.
      }
    }
  };
}

interface Node {
  [k: string]: unknown;
}

/** The graph without what only a repository has: locations and findings. */
function shape(json: { repositories: Node[] }, served: (kind: string) => boolean): unknown {
  return json.repositories.map((r) => ({
    key: r.key,
    transport: r.transport,
    transports: (r.transports as Node[]).map((t) => ({
      transport: t.transport,
      via: t.via,
      volume: t.volume,
      mountPath: t.mountPath,
      namespaces: (t.namespaces as Node[])
        .map((n) => ({
          name: n.name,
          claim: n.claim ? { pvc: (n.claim as Node).pvc, pv: (n.claim as Node).pv } : undefined,
          consumers: (n.consumers as Node[])
            .filter((c) => served(c.kind as string))
            .map((c) => ({ kind: c.kind, name: c.name, path: c.path, runsAs: c.runsAs })),
        }))
        .filter((n) => n.consumers.length > 0),
    })),
  }));
}

const servedBySim = (kind: string) => kind !== "Maintenance";

describe("graph --live", () => {
  for (const name of [
    "volsync-016-map-pvc",
    "volsync-017-movervolumes-nfs",
    "volsync-s3",
    "kopiur-pvc",
    "kopiur-nfs",
    "kopiur-s3",
  ]) {
    it(`${name}: the cluster that runs the fixture draws the fixture's graph`, async () => {
      const repo = await run(["graph", "--repo", path.join(TRANSPORTS, name), "-o", "json"], { cwd: TRANSPORTS });
      assert.equal(repo.code, 0, repo.err);
      await withSim({ crds: CRDS }, seedFrom(name), async (sim) => {
        const live = await kube(sim, ["graph", "--live", "--repo", path.join(TRANSPORTS, name), "-o", "json"]);
        assert.equal(live.code, 0, live.err);
        const json = JSON.parse(live.out);
        assert.equal(json.live.server, sim.url);
        assert.deepEqual(json.live.unreadSecrets, []);
        const drawn = shape(json, servedBySim);
        assert.match(JSON.stringify(drawn), /"consumers":\[\{"kind"/, "nothing drawn");
        assert.deepEqual(drawn, shape(JSON.parse(repo.out), servedBySim));
        assert.doesNotMatch(live.out + live.err, /not-for-your-eyes|KOPIA_PASSWORD/);
        const text = await kube(sim, ["graph", "--live", "--repo", path.join(TRANSPORTS, name)]);
        assert.equal(text.code, 0, text.err);
        assert.doesNotMatch(text.out, /\.yaml:\d+/, "live objects have no file");
        assert.match(text.out, new RegExp(`from the cluster ${sim.url} \\(not linted\\)\\n$`));
      });
    });
  }

  it("a Secret it may not read: that consumer's repository is unknown, with a note; a forbidden list fails", async () => {
    const dir = path.join(TRANSPORTS, "volsync-s3");
    await withSim({ crds: CRDS }, seedFrom("volsync-s3"), async (sim) => {
      sim.denied.add({ verb: "get", resource: "secrets", namespace: "media" });
      const r = await kube(sim, ["graph", "--live", "--repo", dir, "-o", "json"]);
      assert.equal(r.code, 0, r.err);
      const json = JSON.parse(r.out);
      assert.deepEqual(json.live.unreadSecrets, ["media/jellyfin-kopia: get secrets is forbidden"]);
      assert.match(r.err, /note: Secret media\/jellyfin-kopia: get secrets is forbidden/);
      assert.deepEqual(
        json.repositories.map((x: Node) => `${x.key} ${x.transport}`),
        ["s3://cluster-backups/kopia object", "secret media/jellyfin-kopia unknown"],
      );
      const text = await kube(sim, ["graph", "--live", "--repo", dir]);
      assert.match(
        text.out,
        /^repository secret media\/jellyfin-kopia \(not resolved\)\n└── unknown · via secret jellyfin-kopia/m,
      );
      sim.denied.add({ verb: "list", resource: "replicationsources", group: "volsync.backube" });
      const denied = await kube(sim, ["graph", "--live", "--repo", dir]);
      assert.equal(denied.code, 3, "could not check");
      assert.equal(denied.out, "");
      assert.match(denied.err, /list replicationsources\.volsync\.backube/);
    });
  });

  it("--kubernetes-version with --live, and --kubeconfig without it, are usage errors", async () => {
    const dir = path.join(TRANSPORTS, "volsync-s3");
    const v = await run(["graph", "--live", "--repo", dir, "--kubernetes-version", "1.34"], { cwd: dir });
    assert.equal(v.code, 2);
    assert.match(v.err, /with --live nothing is linted/);
    const k = await run(["graph", "--repo", dir, "--kubeconfig", "/nonexistent"], { cwd: dir });
    assert.equal(k.code, 2);
    assert.match(k.err, /--kubeconfig is for --live/);
  });
});
