/**
 * doctor --probe: the Job it creates, the verdicts, and that everything it created is deleted after
 * success, after a failed Job, after a timeout and after an abort (AbortController and SIGINT).
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import type { V1Container, V1Job, V1JobSpec, V1PodSpec } from "@kubernetes/client-node";
import { main } from "../../src/cli.ts";
import { DEFAULTS } from "../../src/core/config.ts";
import { connect } from "../../src/kube/client.ts";
import { runProbe } from "../../src/kube/probe.ts";
import type { KubeObject } from "../kube-sim/index.ts";
import { pendingPvc, permissionDeniedProbe, sharedRepository } from "../kube-sim/scenarios.ts";
import { doctorJson, kube, run, type Sim, until, withSim } from "./util.ts";

const seed = (sim: Sim) => void sharedRepository(sim, { namespaces: ["media", "home"], style: "shared-handle" });

/** Records every Job the runner sees. */
function spy(sim: Sim): KubeObject[] {
  const seen: KubeObject[] = [];
  const prev = sim.jobRunner;
  sim.jobRunner = (job, ctx) => {
    seen.push(job);
    return prev(job, ctx);
  };
  return seen;
}

function hang(sim: Sim): void {
  sim.jobRunner = () => ({ succeeded: false, hang: true });
}

function assertCleanedUp(sim: Sim): void {
  assert.deepEqual(
    sim.store.list("jobs").map((j) => `${j.metadata.namespace}/${j.metadata.name}`),
    [],
    "no Job left",
  );
  assert.deepEqual(
    sim.store.list("pods").map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
    [],
    "no Pod left",
  );
  const deletes = sim.requests.filter((r) => r.method === "DELETE" && r.resource === "jobs");
  assert.ok(deletes.length > 0, "Jobs were deleted through the API");
  for (const d of deletes) assert.equal(d.query.propagationPolicy, "Background");
}

const probeCheck = (json: Awaited<ReturnType<typeof doctorJson>>["json"]) => {
  const c = json.checks.find((x) => x.id === "permissions/probe");
  assert.ok(c, "permissions/probe check");
  return c;
};

describe("doctor --probe", () => {
  it("passes, with the Job as specified, and deletes it", async () => {
    await withSim({ crds: ["volsync"] }, seed, async (sim) => {
      const seen = spy(sim);
      const { r, json } = await doctorJson(sim, ["--probe", "-n", "media"]);
      assert.equal(r.code, 0, r.out);
      const c = probeCheck(json);
      assert.equal(c.status, "pass");
      assert.match(
        c.results[0]?.what ?? "",
        /media: UID 1000 \(GID 1000\) can create, read and delete files in \/repository\/repository/,
      );
      assert.equal(seen.length, 1);
      const job = seen[0] as KubeObject;
      const spec = (job as unknown as V1Job).spec as V1JobSpec;
      assert.equal(job.metadata.labels?.["app.kubernetes.io/managed-by"], "kopiashare");
      assert.match(job.metadata.name ?? "", /^kopiashare-probe-[0-9a-f]{6}$/);
      assert.equal(spec.ttlSecondsAfterFinished, 300);
      assert.equal(spec.activeDeadlineSeconds, 120);
      assert.equal(spec.backoffLimit, 0);
      const pod = spec.template.spec as V1PodSpec;
      const container = pod.containers[0] as V1Container;
      assert.deepEqual(pod.securityContext, { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true });
      assert.deepEqual(pod.volumes, [{ name: "repository", persistentVolumeClaim: { claimName: "kopia" } }]);
      assert.deepEqual(container.volumeMounts, [{ name: "repository", mountPath: "/repository" }]);
      assert.equal(container.image, "busybox:1.36");
      const script = (container.command ?? []).join(" ");
      assert.match(script, /d='\/repository\/repository'/);
      assert.match(script, /echo kopiashare > "\$f"/);
      assert.match(script, /rm "\$f"/);
      assert.match(r.err, /probe: deleted 1 Job\(s\) \(media\/kopiashare-probe-/);
      assertCleanedUp(sim);
    });
  });

  it("a permission-denied Job fails with the UID, the owner and the chown fix, and is deleted", async () => {
    await withSim({ crds: ["volsync"] }, seed, async (sim) => {
      permissionDeniedProbe(sim, "home", 0);
      const { r, json } = await doctorJson(sim, ["--probe"]);
      assert.equal(r.code, 1);
      const c = probeCheck(json);
      assert.equal(c.status, "fail");
      const home = c.results.find((x) => x.subject === "home");
      assert.equal(home?.status, "fail");
      assert.equal(home?.what, "home: UID 1000 (GID 1000) cannot write /repository/repository (it is owned by uid 0)");
      assert.match(
        home?.fix ?? "",
        /^kubectl -n home run kopiashare-chown --rm -i --restart=Never --image=busybox:1\.36 --overrides='/,
      );
      assert.match(home?.fix ?? "", /"command":\["chown","-R","1000:1000","\/repository\/repository"\]/);
      assert.equal(c.results.find((x) => x.subject === "media")?.status, "pass");
      assert.equal(c.results.find((x) => x.subject === "volsync-system")?.status, "pass");
      // three namespaces: one labelled cluster-wide list per poll, no per-namespace reads
      const polls = sim.requests.filter((x) => x.resource === "jobs" && x.method === "GET");
      assert.ok(polls.length > 0);
      for (const p of polls) {
        assert.equal(p.path, "/apis/batch/v1/jobs");
        assert.match(p.query.labelSelector ?? "", /^kopiashare\.io\/probe-run=[0-9a-f]{6}$/);
      }
      assertCleanedUp(sim);
    });
  });

  it("falls back to per-namespace reads when listing Jobs cluster-wide is forbidden", async () => {
    await withSim({ crds: ["volsync"] }, seed, async (sim) => {
      sim.denied.add({ verb: "list", resource: "jobs" });
      const { r, json } = await doctorJson(sim, ["--probe"]);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(
        probeCheck(json).results.map((x) => `${x.subject}:${x.status}`),
        ["home:pass", "media:pass", "volsync-system:pass"],
      );
      assert.ok(
        sim.requests.some((x) => x.method === "GET" && /^\/apis\/batch\/v1\/namespaces\/media\/jobs\//.test(x.path)),
      );
      assertCleanedUp(sim);
    });
  });

  it("UID/GID come from kopiashare.yaml, and flags override them", async () => {
    await withSim({ crds: ["volsync"] }, seed, async (sim) => {
      const repo = mkdtempSync(path.join(tmpdir(), "kopiashare-conf-"));
      writeFileSync(path.join(repo, "kopiashare.yaml"), "uid: 568\ngid: 569\n");
      const seen = spy(sim);
      const a = await kube(sim, ["doctor", "--probe", "-n", "media", "-o", "json"], { cwd: repo });
      assert.equal(a.code, 0, a.out);
      const b = await kube(sim, ["doctor", "--probe", "-n", "media", "--uid", "2000", "--gid", "2001", "-o", "json"], {
        cwd: repo,
      });
      assert.equal(b.code, 0);
      const users = seen.map((j) => (j as unknown as V1Job).spec?.template.spec?.securityContext);
      assert.deepEqual(users, [
        { runAsUser: 568, runAsGroup: 569, runAsNonRoot: true },
        { runAsUser: 2000, runAsGroup: 2001, runAsNonRoot: true },
      ]);
      const bad = await kube(sim, ["doctor", "--probe", "--uid", "me"]);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /--uid me: expected a numeric ID/);
      assertCleanedUp(sim);
    });
  });

  it("honours --timeout: a Job that never finishes fails and is deleted", async () => {
    await withSim({ crds: ["volsync"], deadlineMsPerSecond: 1_000_000 }, seed, async (sim) => {
      hang(sim);
      const t0 = Date.now();
      const { r, json } = await doctorJson(sim, ["--probe", "-n", "media", "--timeout", "1s"]);
      assert.ok(Date.now() - t0 < 4000, "returned soon after the timeout");
      assert.equal(r.code, 1);
      const res = probeCheck(json).results[0];
      assert.equal(res?.status, "fail");
      assert.match(
        res?.what ?? "",
        /^media: the probe did not finish within 1s: pod kopiashare-probe-\w+-\w+ is Running/,
      );
      assert.match(res?.fix ?? "", /kopiashare verify -n media/);
      assertCleanedUp(sim);
    });
  });

  it("a Job the cluster ends (activeDeadlineSeconds) fails and is deleted", async () => {
    await withSim({ crds: ["volsync"], deadlineMsPerSecond: 20 }, seed, async (sim) => {
      hang(sim);
      const { r, json } = await doctorJson(sim, ["--probe", "-n", "media", "--timeout", "3s"]);
      assert.equal(r.code, 1);
      const res = probeCheck(json).results[0];
      assert.equal(res?.status, "fail");
      assert.match(res?.what ?? "", /did not finish within 3s/);
      assertCleanedUp(sim);
    });
  });

  it("does not probe a namespace whose PVC is not Bound (warns instead)", async () => {
    await withSim(
      { crds: ["volsync"] },
      (sim) => {
        seed(sim);
        pendingPvc(sim, "games", "size");
      },
      async (sim) => {
        const { json } = await doctorJson(sim, ["--probe", "-n", "games"]);
        const c = probeCheck(json);
        assert.equal(c.status, "warn");
        assert.equal(c.results[0]?.what, "not probed: PVC games/kopia is Pending");
        assert.equal(sim.requests.filter((x) => x.method === "POST").length, 0, "no Job created");
      },
    );
  });

  it("progress: plain lines when stderr is not a terminal, a spinner when it is", async () => {
    await withSim({ crds: ["volsync"], jobDelayMs: 300 }, seed, async (sim) => {
      const plain = await kube(sim, ["doctor", "--probe", "-n", "media"]);
      assert.match(plain.err, /^probing 1 namespace\(s\) as 1000:1000…$/m);
      assert.match(plain.err, /^probe media: pass \(1\/1\)$/m);
      assert.doesNotMatch(plain.err, /\r/);
      let err = "";
      const io = {
        stdout: { write: (_s: string) => true, isTTY: false },
        stderr: {
          write: (s: string) => {
            err += s;
            return true;
          },
          isTTY: true,
        },
        env: { NO_COLOR: "1" },
        cwd: tmpdir(),
      };
      const code = await main(["doctor", "--probe", "-n", "media", "--kubeconfig", sim.kubeconfigPath], io);
      assert.equal(code, 0);
      const frames = err.split("\r\u001b[2K");
      assert.ok(frames.length > 2, "the line is redrawn");
      assert.ok(
        frames.some((f) => /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] probing 1 namespace\(s\) as 1000:1000/.test(f)),
        JSON.stringify(err),
      );
      assert.doesNotMatch(err, /^probe media: pass/m);
    });
  });
});

describe("probe abort", () => {
  it("AbortController: stops waiting, deletes the Jobs, reports aborted", async () => {
    await withSim({ crds: ["volsync"], deadlineMsPerSecond: 1_000_000 }, seed, async (sim) => {
      hang(sim);
      const k = connect({ kubeconfig: sim.kubeconfigPath, env: {} });
      const ac = new AbortController();
      const running = runProbe(k, {
        namespaces: ["media", "home"],
        uid: 1000,
        gid: 1000,
        timeoutMs: 60_000,
        image: "busybox:1.36",
        conventions: DEFAULTS,
        signal: ac.signal,
      });
      await until(() => sim.store.list("jobs").length === 2, 5000, "two probe Jobs");
      ac.abort(new Error("test abort"));
      const res = await running;
      assert.equal(res.aborted, true);
      assert.deepEqual(
        res.results.map((x) => x.status),
        ["aborted", "aborted"],
      );
      assert.deepEqual(res.deleted, [`home/kopiashare-probe-${res.runId}`, `media/kopiashare-probe-${res.runId}`]);
      assert.deepEqual(res.leftovers, []);
      assertCleanedUp(sim);
    });
  });

  it("SIGINT during doctor --probe: cleans up and exits 130", async () => {
    await withSim({ crds: ["volsync"], deadlineMsPerSecond: 1_000_000 }, seed, async (sim) => {
      hang(sim);
      const listeners = process.listenerCount("SIGINT");
      const running = run(["doctor", "--probe", "-n", "media", "--kubeconfig", sim.kubeconfigPath], { cwd: tmpdir() });
      await until(() => sim.store.list("jobs").length === 1, 5000, "the probe Job");
      assert.equal(process.listenerCount("SIGINT"), listeners + 1, "doctor listens for SIGINT while probing");
      process.emit("SIGINT");
      const r = await running;
      assert.equal(r.code, 130);
      assert.match(r.out, /^WARN {2}permissions\/probe/m);
      assert.match(r.out, /media: aborted before the probe finished/);
      assert.match(r.err, /probe: deleted 1 Job\(s\) \(media\/kopiashare-probe-\w+\); aborted/);
      assert.equal(process.listenerCount("SIGINT"), listeners, "listener removed");
      assertCleanedUp(sim);
    });
  });
});
