/**
 * The exit code matrix of the live verbs: 0 healthy, 1 a problem was found, 2 usage, 3 could not check
 * (unreachable, unauthorised, forbidden everywhere that matters, timed out). A script must be able to
 * tell "broken" from "could not look".
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { EXIT_OK, EXIT_PROBLEM, EXIT_UNCHECKED, EXIT_USAGE } from "../../src/errors.ts";
import { EXAMPLE } from "../helpers.ts";
import { kopiaMaintenance, releasedPv, sharedRepository } from "../kube-sim/scenarios.ts";
import { closedPort, kubeconfigFor, run, type Sim, startSimFor } from "./util.ts";

const dir = mkdtempSync(path.join(tmpdir(), "kopiashare-exit-"));

/** A server that accepts connections and never answers. */
let silent: net.Server;
const sockets: net.Socket[] = [];
before(async () => {
  silent = net.createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
});
after(() => {
  for (const s of sockets) s.destroy();
  silent.close();
});

interface Row {
  name: string;
  want: number;
  /** The kubeconfig (and the simulator, if any) for this row. */
  setup(): Promise<{ kubeconfig: string; sim?: Sim; extra?: string[] }>;
  err?: RegExp;
}

const healthy = (sim: Sim) => {
  sharedRepository(sim, { namespaces: ["media", "home"], style: "shared-handle" });
  kopiaMaintenance(sim);
};

const ROWS: Row[] = [
  {
    name: "healthy",
    want: EXIT_OK,
    setup: async () => {
      const sim = await startSimFor(healthy);
      return { kubeconfig: sim.kubeconfigPath, sim };
    },
  },
  {
    name: "unhealthy",
    want: EXIT_PROBLEM,
    setup: async () => {
      const sim = await startSimFor((s) => {
        healthy(s);
        releasedPv(s, "media");
      });
      return { kubeconfig: sim.kubeconfigPath, sim };
    },
  },
  {
    name: "unreachable",
    want: EXIT_UNCHECKED,
    err: /^error: could not check: cannot reach the Kubernetes API server/,
    setup: async () => ({ kubeconfig: kubeconfigFor(`http://127.0.0.1:${await closedPort()}`, dir) }),
  },
  {
    name: "unauthorised",
    want: EXIT_UNCHECKED,
    err: /^error: could not check: .*401 Unauthorized/,
    setup: async () => {
      const sim = await startSimFor(healthy);
      sim.requireToken = true;
      return { kubeconfig: kubeconfigFor(sim.url, dir, { token: "wrong" }), sim };
    },
  },
  {
    name: "forbidden",
    want: EXIT_UNCHECKED,
    err: /could not check: .*(missing permission: list persistentvolumes|forbidden)/,
    setup: async () => {
      const sim = await startSimFor(healthy);
      sim.denied.add({ verb: "list", resource: "persistentvolumes" });
      sim.denied.add({ verb: "list", resource: "persistentvolumeclaims" });
      return { kubeconfig: sim.kubeconfigPath, sim };
    },
  },
  {
    name: "timeout",
    want: EXIT_UNCHECKED,
    err: /^error: could not check: the Kubernetes API server at .* did not answer within 0\.2s/,
    setup: async () => ({
      kubeconfig: kubeconfigFor(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, dir),
      extra: ["--request-timeout", "200ms"],
    }),
  },
  {
    name: "usage",
    want: EXIT_USAGE,
    setup: async () => {
      const sim = await startSimFor(healthy);
      return { kubeconfig: sim.kubeconfigPath, sim, extra: ["-n", "media", "-A"] };
    },
  },
];

describe("exit codes of verify and doctor", () => {
  it("0, 1, 2 and 3 are distinct", () => {
    assert.equal(new Set([EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_UNCHECKED]).size, 4);
  });
  for (const row of ROWS) {
    for (const verb of ["verify", "doctor"]) {
      it(`${row.name}: ${verb} exits ${row.want}`, async () => {
        const { kubeconfig, sim, extra = [] } = await row.setup();
        try {
          const r = await run([verb, "--kubeconfig", kubeconfig, ...extra], {
            cwd: dir,
            env: { KOPIASHARE_RETRY_BASE_MS: "1" },
          });
          assert.equal(r.code, row.want, `${verb} ${row.name}: exit ${r.code}\n${r.out}\n${r.err}`);
          if (row.err) assert.match(r.err, row.err);
          assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
        } finally {
          await sim?.close();
        }
      });
    }
  }
});

describe("exit codes of drift (the rows that do not depend on the repo's contents)", () => {
  for (const row of ROWS.filter((r) => r.want === EXIT_UNCHECKED || r.want === EXIT_USAGE)) {
    it(`${row.name}: drift exits ${row.want}`, async () => {
      const { kubeconfig, sim, extra = [] } = await row.setup();
      try {
        const r = await run(["drift", "--repo", EXAMPLE, "--kubeconfig", kubeconfig, ...extra], {
          cwd: dir,
          env: { KOPIASHARE_RETRY_BASE_MS: "1" },
        });
        assert.equal(r.code, row.want, `drift ${row.name}: exit ${r.code}\n${r.out}\n${r.err}`);
        if (row.err) assert.match(r.err, row.err);
      } finally {
        await sim?.close();
      }
    });
  }
});
