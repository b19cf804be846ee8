/** core/probe.ts: the probe's judgement without a cluster (which namespaces, what a log means, the report). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULTS } from "../../src/core/config.ts";
import { PROBE_CHECK } from "../../src/core/doctor.ts";
import type { Observed } from "../../src/core/live.ts";
import { judge, type ProbeResult, probeFailure, probeReport, probeTargets } from "../../src/core/probe.ts";

const who = { uid: 1000, gid: 1000, image: "busybox:1.36", conventions: DEFAULTS };
const pvcs = (...xs: [string, string][]) =>
  ({ pvcs: xs.map(([namespace, phase]) => ({ namespace, name: "kopia", phase })) }) as unknown as Observed;
const result = (namespace: string, status: ProbeResult["status"]): ProbeResult => ({
  namespace,
  job: "kopiashare-probe-abc123",
  status,
  uid: 1000,
  gid: 1000,
  what: status,
  ...(status === "fail" ? { fix: "chown" } : {}),
});

describe("probe judgement (core)", () => {
  it("reads a log: missing directory, permission denied with the owner, unreadable file, anything else", () => {
    assert.match(judge("media", "MISSING /repository/repository", who).what, /does not exist on the volume/);
    const denied = judge(
      "media",
      "owner of /repository/repository: uid=568 gid=568 mode=755\nsh: can't create: Permission denied\nCANNOT-CREATE x",
      who,
    );
    assert.equal(
      denied.what,
      "UID 1000 (GID 1000) cannot write /repository/repository (it is owned by uid 568, gid 568)",
    );
    assert.match(denied.fix, /chown","-R","1000:1000","\/repository\/repository"/);
    assert.match(denied.fix, /runAsUser: 568/);
    assert.match(judge("media", "CANNOT-READ f", who).what, /could not read it back/);
    assert.equal(judge("media", "one\nboom\n", who).what, "the probe failed: boom");
  });

  it("a Job that hit its deadline without a log timed out; with a log, the log decides", () => {
    assert.equal(
      probeFailure("media", "", true, { ...who, timeoutMs: 120000 }).what,
      "the probe did not finish within 120s",
    );
    assert.match(probeFailure("media", "MISSING d", true, { ...who, timeoutMs: 120000 }).what, /does not exist/);
  });

  it("probes Bound claims only, and says why the others are not probed", () => {
    const o = pvcs(["media", "Bound"], ["home", "Pending"]);
    assert.deepEqual(probeTargets(o, "kopia", undefined), {
      probe: ["media"],
      skipped: [{ namespace: "home", reason: "PVC home/kopia is Pending" }],
    });
    assert.deepEqual(probeTargets(o, "kopia", ["web"]).skipped, [{ namespace: "web", reason: "no PVC kopia in web" }]);
  });

  it("the report: one result per namespace stamped with the check's id, the worst status, a warning when nothing was probed", () => {
    const r = probeReport([result("media", "pass"), result("home", "fail")], [{ namespace: "web", reason: "x" }], who);
    assert.equal(r.id, PROBE_CHECK.meta.id);
    assert.equal(r.title, "UID 1000 / GID 1000 can write /repository/repository");
    assert.equal(r.status, "fail");
    assert.deepEqual(
      r.results.map((x) => [x.check, x.subject, x.status]),
      [
        [PROBE_CHECK.meta.id, "media", "pass"],
        [PROBE_CHECK.meta.id, "home", "fail"],
        [PROBE_CHECK.meta.id, "web", "warn"],
      ],
    );
    assert.match(r.results[1]?.why ?? "", /movers run as UID 1000/);
    assert.equal(probeReport([result("media", "aborted")], [], who).status, "warn");
    const none = probeReport([], [], who);
    assert.equal(none.status, "warn");
    assert.equal(none.results[0]?.what, "not probed: no namespace has a PVC kopia");
  });
});
