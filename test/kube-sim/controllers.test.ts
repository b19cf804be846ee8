// The simulated controllers (PV binder, Job runner) and the scenario builders, observed through
// client-node as src/kube will observe them.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  BatchV1Api,
  CoreV1Api,
  type CoreV1Event,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Job,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
} from "@kubernetes/client-node";
import { dig, type Sim, startSim } from "./index.ts";
import {
  mismatchedHandle,
  pendingPvc,
  permissionDeniedProbe,
  privilegedMovers,
  pvcObject,
  pvName,
  pvObject,
  releasedPv,
  replicationSource,
  SEED,
  sharedRepository,
  stolenPv,
} from "./scenarios.ts";

const jsonPatch = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);

function clients(sim: Sim) {
  const kc = new KubeConfig();
  kc.loadFromFile(sim.kubeconfigPath);
  return { core: kc.makeApiClient(CoreV1Api), batch: kc.makeApiClient(BatchV1Api) };
}

async function eventsFor(core: CoreV1Api, ns: string, name: string): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({
    namespace: ns,
    fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${name}`,
  });
  return list.items;
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 2000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("PV binder", () => {
  let sim: Sim;
  let core: CoreV1Api;

  before(async () => {
    sim = await startSim({ crds: ["volsync"] });
    sharedRepository(sim, { namespaces: ["media", "home", "games", "books", "tools", "web"], style: "shared-handle" });
    ({ core } = clients(sim));
  });
  after(() => sim.close());

  test("sharedRepository: every PV and PVC Bound, claimRef carries the PVC uid", async () => {
    const pvcs = await core.listPersistentVolumeClaimForAllNamespaces();
    assert.equal(pvcs.items.length, 7);
    for (const pvc of pvcs.items) {
      assert.equal(pvc.status?.phase, "Bound");
      assert.equal(pvc.status?.capacity?.storage, "200Gi");
      assert.deepEqual(pvc.status?.accessModes, ["ReadWriteMany"]);
      const pv = await core.readPersistentVolume({ name: pvc.spec?.volumeName ?? "" });
      assert.equal(pv.status?.phase, "Bound");
      assert.equal(pv.spec?.claimRef?.uid, pvc.metadata?.uid);
      assert.equal(pv.spec?.csi?.nodeStageSecretRef?.name, "csi-ceph-admin-secret");
      assert.equal(pv.spec?.csi?.volumeAttributes?.fsName, "backups");
    }
    const sc = sim.store.get("sc", SEED.storageClassName);
    assert.equal(sc?.provisioner, SEED.driver);
  });

  test("a PVC created through the API binds to its pre-bound PV", async () => {
    await core.createNamespace({ body: { metadata: { name: "new" } } });
    await core.createPersistentVolume({ body: pvObject("new") as V1PersistentVolume });
    const created = await core.createNamespacedPersistentVolumeClaim({
      namespace: "new",
      body: pvcObject("new") as V1PersistentVolumeClaim,
    });
    assert.equal(created.status?.phase, "Pending", "the create response precedes the binder");
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: "kopia", namespace: "new" });
    assert.equal(pvc.status?.phase, "Bound");
    assert.equal(pvc.metadata?.annotations?.["pv.kubernetes.io/bind-completed"], "yes");
  });

  test("released PV: stale claimRef.uid keeps the new PVC Pending until removed by json patch", async () => {
    const r = releasedPv(sim, "media");
    assert.equal(dig(r.pv, "status", "phase"), "Released");
    assert.equal(dig(r.pvc, "status", "phase"), "Pending");
    const pv = await core.readPersistentVolume({ name: pvName("media") });
    assert.notEqual(pv.spec?.claimRef?.uid, r.pvc?.metadata.uid);
    const events = await eventsFor(core, "media", "kopia");
    assert.equal(events.length, 1);
    assert.equal(events[0]?.reason, "FailedBinding");
    assert.equal(events[0]?.type, "Warning");
    assert.equal(events[0]?.message, 'volume "kopia-repository-pv-media" already bound to a different claim.');
    assert.equal(events[0]?.source?.component, "persistentvolume-controller");
    assert.equal(events[0]?.involvedObject.uid, r.pvc?.metadata.uid);

    await core.patchPersistentVolume(
      {
        name: pvName("media"),
        body: [
          { op: "remove", path: "/spec/claimRef/uid" },
          { op: "remove", path: "/spec/claimRef/resourceVersion" },
        ],
      },
      jsonPatch,
    );
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: "kopia", namespace: "media" });
    assert.equal(pvc.status?.phase, "Bound");
    const fixed = await core.readPersistentVolume({ name: pvName("media") });
    assert.equal(fixed.status?.phase, "Bound");
    assert.equal(fixed.spec?.claimRef?.uid, pvc.metadata?.uid);
  });

  test("pendingPvc: VolumeMismatch events worded like kube-controller-manager", async () => {
    const cases = [
      ["home", "class", "storageClassName does not match"],
      ["games", "size", "requested PV is too small"],
      ["books", "access-modes", "incompatible accessMode"],
    ] as const;
    for (const [ns, reason, why] of cases) {
      const r = pendingPvc(sim, ns, reason);
      assert.equal(dig(r.pvc, "status", "phase"), "Pending", reason);
      assert.equal(dig(r.pv, "status", "phase"), "Available", reason);
      const events = await eventsFor(core, ns, "kopia");
      assert.deepEqual(
        events.map((e) => [e.type, e.reason, e.message]),
        [["Warning", "VolumeMismatch", `Cannot bind to requested volume "kopia-repository-pv-${ns}": ${why}`]],
      );
    }
  });

  test("pendingPvc missing-pv: Pending without an event, binds once the PV appears", async () => {
    const r = pendingPvc(sim, "tools", "missing-pv");
    assert.equal(r.pv, undefined);
    assert.equal(dig(r.pvc, "status", "phase"), "Pending");
    assert.deepEqual(await eventsFor(core, "tools", "kopia"), []);
    await core.createPersistentVolume({ body: pvObject("tools") as V1PersistentVolume });
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: "kopia", namespace: "tools" });
    assert.equal(pvc.status?.phase, "Bound");
  });

  test("repeated mismatches aggregate into one event with a count", async () => {
    pendingPvc(sim, "web", "size");
    await core.patchPersistentVolume(
      { name: pvName("web"), body: [{ op: "add", path: "/metadata/labels", value: { a: "1" } }] },
      jsonPatch,
    );
    const events = await eventsFor(core, "web", "kopia");
    assert.equal(events.length, 1);
    assert.equal(events[0]?.count, 2);
  });

  test("stolenPv: a claim without volumeName in another namespace takes an unreserved PV", async () => {
    const r = stolenPv(sim, "games", { namespace: "intruder", name: "cache" });
    assert.equal(dig(r.thief, "status", "phase"), "Bound");
    assert.equal(dig(r.thief, "spec", "volumeName"), pvName("games"));
    assert.equal(dig(r.pv, "spec", "claimRef", "namespace"), "intruder");
    assert.equal(dig(r.pvc, "status", "phase"), "Pending");
    assert.ok(r.events.some((e) => e.reason === "FailedBinding"));
  });

  test("mismatchedHandle: the PVC is Bound to a PV that points at another subvolume", () => {
    const r = mismatchedHandle(sim, "books");
    assert.equal(dig(r.pvc, "status", "phase"), "Bound");
    const handle = dig(r.pv, "spec", "csi", "volumeHandle");
    assert.equal(typeof handle, "string");
    assert.notEqual(handle, SEED.handle);
  });

  test("a bound PVC deleted with reclaim policy Delete takes the PV (and the volume) with it", async () => {
    await core.createNamespace({ body: { metadata: { name: "danger" } } });
    await core.createPersistentVolume({ body: pvObject("danger", { reclaimPolicy: "Delete" }) as V1PersistentVolume });
    await core.createNamespacedPersistentVolumeClaim({
      namespace: "danger",
      body: pvcObject("danger") as V1PersistentVolumeClaim,
    });
    await core.deleteNamespacedPersistentVolumeClaim({ name: "kopia", namespace: "danger" });
    assert.equal(sim.store.get("pv", pvName("danger")), undefined);
    assert.deepEqual(sim.deletedVolumes.at(-1), {
      name: pvName("danger"),
      volumeHandle: SEED.handle,
      reason: "reclaim-policy-delete",
    });
  });

  test("privilegedMovers and replicationSource", async () => {
    privilegedMovers(sim, "home");
    const ns = await core.readNamespace({ name: "home" });
    assert.equal(ns.metadata?.annotations?.["volsync.backube/privileged-movers"], "true");
    const rs = replicationSource(sim, "home", "paperless", {
      schedule: "15 */6 * * *",
      lastSyncTime: "2026-01-01T00:00:00Z",
    });
    assert.equal(dig(rs, "spec", "trigger", "schedule"), "15 */6 * * *");
    assert.equal(dig(rs, "status", "lastSyncTime"), "2026-01-01T00:00:00Z");
  });
});

function probeJob(ns: string, name: string, extra: Partial<V1Job["spec"]> = {}): V1Job {
  return {
    metadata: { name, namespace: ns },
    spec: {
      backoffLimit: 0,
      ...extra,
      template: {
        spec: {
          restartPolicy: "Never",
          securityContext: { runAsUser: 1000, runAsGroup: 1000 },
          containers: [
            {
              name: "probe",
              image: "busybox",
              command: ["sh", "-c", "touch /repository/repository/.probe"],
              volumeMounts: [{ name: "repository", mountPath: "/repository" }],
            },
          ],
          volumes: [{ name: "repository", persistentVolumeClaim: { claimName: "kopia" } }],
        },
      },
    },
  };
}

describe("Job runner", () => {
  let sim: Sim;
  let core: CoreV1Api;
  let batch: BatchV1Api;

  before(async () => {
    // A job runs 500 ms after it is created: long enough that "active first" holds on a loaded machine
    // (20 ms let the first read land after completion under load).
    sim = await startSim({ jobDelayMs: 500, deadlineMsPerSecond: 10 });
    sharedRepository(sim, { namespaces: ["media", "home"], style: "static" });
    pendingPvc(sim, "home", "missing-pv");
    permissionDeniedProbe(sim, "volsync-system", 0);
    ({ core, batch } = clients(sim));
  });
  after(() => sim.close());

  const jobDone = (ns: string, name: string) =>
    until(
      () => batch.readNamespacedJob({ name, namespace: ns }),
      (j) => !!(j.status?.succeeded || j.status?.failed),
    );

  test("default runner: active first, then Complete, with a pod and its logs", async () => {
    const created = await batch.createNamespacedJob({ namespace: "media", body: probeJob("media", "probe-ok") });
    assert.equal(created.status, undefined);
    const running = await batch.readNamespacedJob({ name: "probe-ok", namespace: "media" });
    assert.equal(running.status?.active, 1);
    const job = await jobDone("media", "probe-ok");
    assert.equal(job.status?.succeeded, 1);
    assert.deepEqual(
      job.status?.conditions?.map((c) => [c.type, c.status]),
      [
        ["SuccessCriteriaMet", "True"],
        ["Complete", "True"],
      ],
    );
    const pods = await core.listNamespacedPod({ namespace: "media", labelSelector: "job-name=probe-ok" });
    assert.equal(pods.items.length, 1);
    const pod = pods.items[0];
    assert.equal(pod?.status?.phase, "Succeeded");
    const logs = await core.readNamespacedPodLog({ name: pod?.metadata?.name ?? "", namespace: "media" });
    assert.equal(logs, "ok\n");
  });

  test("permissionDeniedProbe: the job fails and its log says Permission denied", async () => {
    await batch.createNamespacedJob({ namespace: "volsync-system", body: probeJob("volsync-system", "probe-denied") });
    const job = await jobDone("volsync-system", "probe-denied");
    assert.equal(job.status?.failed, 1);
    assert.equal(job.status?.conditions?.find((c) => c.type === "Failed")?.reason, "BackoffLimitExceeded");
    const pods = await core.listNamespacedPod({ namespace: "volsync-system", labelSelector: "job-name=probe-denied" });
    const logs = await core.readNamespacedPodLog({
      name: pods.items[0]?.metadata?.name ?? "",
      namespace: "volsync-system",
    });
    assert.match(logs, /Permission denied/);
    assert.match(logs, /owner of \/repository\/repository: uid=0/);
    assert.match(logs, /probe ran as: uid=1000/);
  });

  test("an unbound PVC leaves the pod Pending; activeDeadlineSeconds fails the job", async () => {
    await batch.createNamespacedJob({
      namespace: "home",
      body: probeJob("home", "probe-stuck", { activeDeadlineSeconds: 5 }),
    });
    const pods = await until(
      () => core.listNamespacedPod({ namespace: "home", labelSelector: "job-name=probe-stuck" }),
      (p) => p.items[0]?.status?.conditions?.[0]?.reason === "Unschedulable",
    );
    const pod = pods.items[0];
    assert.equal(pod?.status?.phase, "Pending");
    await assert.rejects(
      core.readNamespacedPodLog({ name: pod?.metadata?.name ?? "", namespace: "home" }),
      (e: { code: number }) => {
        assert.equal(e.code, 400);
        return true;
      },
    );
    const job = await jobDone("home", "probe-stuck");
    assert.equal(job.status?.failed, 1);
    assert.equal(job.status?.conditions?.find((c) => c.type === "Failed")?.reason, "DeadlineExceeded");
  });

  test("deleting a job: Background removes its pods, no policy orphans them", async () => {
    await batch.createNamespacedJob({ namespace: "media", body: probeJob("media", "bg") });
    await batch.createNamespacedJob({ namespace: "media", body: probeJob("media", "orphan") });
    await batch.deleteNamespacedJob({ name: "bg", namespace: "media", propagationPolicy: "Background" });
    await batch.deleteNamespacedJob({ name: "orphan", namespace: "media" });
    const bg = await core.listNamespacedPod({ namespace: "media", labelSelector: "job-name=bg" });
    const orphan = await core.listNamespacedPod({ namespace: "media", labelSelector: "job-name=orphan" });
    assert.equal(bg.items.length, 0);
    assert.equal(orphan.items.length, 1);
  });
});
