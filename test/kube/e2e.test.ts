/**
 * Against a real cluster, only when KOPIASHARE_E2E_KUBECONFIG names a kubeconfig (see docs/testing.md,
 * "Live cluster tests": kind). Read-only except `doctor --probe`, which it runs only when
 * KOPIASHARE_E2E_PROBE=1 (it creates and deletes a Job in each namespace with a Bound PVC kopia).
 */
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { run } from "../helpers.ts";

const kubeconfig = process.env.KOPIASHARE_E2E_KUBECONFIG;
const skip = kubeconfig ? false : "KOPIASHARE_E2E_KUBECONFIG is not set: no real cluster to test against";

describe("real cluster (KOPIASHARE_E2E_KUBECONFIG)", { skip }, () => {
  const cli = (argv: string[]) => run([...argv, "--kubeconfig", kubeconfig as string], { cwd: tmpdir() });

  it("verify -A answers with JSON and exit 0 or 1 (not 3: the cluster could be checked)", async () => {
    const r = await cli(["verify", "-A", "-o", "json"]);
    assert.ok(r.code === 0 || r.code === 1, r.err);
    const json = JSON.parse(r.out);
    assert.equal(typeof json.healthy, "boolean");
    assert.ok(json.requests >= 3 && json.requests <= 4, `${json.requests} requests`); // 2 lists, /apis, Kopiur
  });

  it("doctor runs every check without a crash", async () => {
    const r = await cli(["doctor", "-o", "json"]);
    assert.ok(r.code === 0 || r.code === 1, r.err);
    const json = JSON.parse(r.out);
    assert.ok(json.checks.length >= 16);
    assert.doesNotMatch(r.err, /please report this as a bug/);
  });

  it("doctor --probe cleans up after itself", {
    skip: process.env.KOPIASHARE_E2E_PROBE === "1" ? false : "set KOPIASHARE_E2E_PROBE=1 to create probe Jobs",
  }, async () => {
    const r = await cli(["doctor", "--probe", "--timeout", "3m", "-o", "json"]);
    assert.ok(r.code === 0 || r.code === 1, r.err);
    const json = JSON.parse(r.out);
    assert.deepEqual(json.probe?.leftovers ?? [], []);
  });
});
