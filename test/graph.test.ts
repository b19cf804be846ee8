/**
 * `kopiashare graph`: golden outputs (test/fixtures/graph/<case>.<format>.golden) for examples/home-ops,
 * for one transport fixture of each transport (pvc, nfs, object) and for the lint origin fixture (whose
 * findings are marked). `UPDATE_GOLDEN=1 npm test -- graph` rewrites the goldens from the current output;
 * review the diff before committing it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { createTwoFilesPatch } from "diff";
import { version } from "../src/cli.ts";
import { FIXTURES, ROOT, run } from "./helpers.ts";
import { repoWith } from "./lint/helpers.ts";

const GOLDEN = path.join(FIXTURES, "graph");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

/** The repositories with goldens, as repo-relative --repo values (so that -o json's `repo` is stable). */
const CASES: { name: string; repo: string; formats: string[] }[] = [
  { name: "home-ops", repo: "examples/home-ops", formats: ["text", "mermaid", "dot", "json"] },
  { name: "pvc", repo: "test/fixtures/transports/volsync-016-map-pvc", formats: ["text", "mermaid", "dot", "json"] },
  {
    name: "nfs",
    repo: "test/fixtures/transports/volsync-017-movervolumes-nfs",
    formats: ["text", "mermaid", "dot", "json"],
  },
  { name: "object", repo: "test/fixtures/transports/kopiur-s3", formats: ["text", "mermaid", "dot", "json"] },
  { name: "origin", repo: "test/fixtures/lint/origin", formats: ["text", "mermaid"] },
];

const EXT: Record<string, string> = { text: "txt", mermaid: "md", dot: "dot", json: "json" };

/** The package version moves with every release: goldens hold a placeholder. */
const stable = (out: string) => out.replaceAll(`"version": "${version()}"`, '"version": "<version>"');

async function graph(repo: string, format: string, cwd = ROOT) {
  const r = await run(["graph", "--repo", repo, "-o", format], { cwd });
  return { ...r, out: stable(r.out) };
}

/** undefined when `actual` is the golden's text; else a unified diff (golden → actual). */
function goldenDiff(file: string, actual: string): string | undefined {
  const expected = existsSync(file) ? readFileSync(file, "utf8") : "";
  if (expected === actual) return undefined;
  return createTwoFilesPatch(file, "actual", expected, actual);
}

function checkGolden(file: string, actual: string): void {
  if (UPDATE) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  const diff = goldenDiff(file, actual);
  assert.equal(
    diff,
    undefined,
    `${path.relative(ROOT, file)} differs (UPDATE_GOLDEN=1 npm test -- graph rewrites it):\n${diff}`,
  );
}

describe("graph goldens", () => {
  for (const c of CASES) {
    for (const format of c.formats) {
      it(`${c.name} -o ${format}`, async () => {
        const r = await graph(c.repo, format);
        assert.equal(r.code, 0, r.err);
        checkGolden(path.join(GOLDEN, `${c.name}.${EXT[format]}.golden`), r.out);
      });
    }
  }

  it("docs/commands.md shows the home-ops goldens (text and mermaid) verbatim", () => {
    const docs = readFileSync(path.join(ROOT, "docs", "commands.md"), "utf8");
    for (const f of ["home-ops.txt.golden", "home-ops.md.golden"]) {
      assert.ok(docs.includes(readFileSync(path.join(GOLDEN, f), "utf8")), `docs/commands.md#graph does not show ${f}`);
    }
  });

  it("a changed fact changes the output, and the golden comparison fails on it", async () => {
    const dir = repoWith(
      [["kubernetes/components/kopia-backup/source.yaml", "runAsUser: 2000", "runAsUser: 2001"]],
      path.join(ROOT, "test/fixtures/transports/volsync-016-map-pvc"),
    );
    const changed = await run(["graph", "--repo", ".", "-o", "text"], { cwd: dir });
    const diff = goldenDiff(path.join(GOLDEN, "pvc.txt.golden"), changed.out);
    assert.ok(diff, "the graph of a changed repository matched the golden");
    assert.match(diff, /ReplicationSource jellyfin · runs as 2001:2000/);
  });
});

describe("graph", () => {
  it("marks a finding on the consumer whose document holds it, and lists it in -o json", async () => {
    const dir = repoWith(
      [["kubernetes/components/kopia-backup/destination.yaml", "sourceName: ${APP}", "sourceName: ${APP}-app"]],
      path.join(ROOT, "test/fixtures/transports/volsync-s3"),
    );
    const r = await run(["graph", "--repo", ".", "-o", "json"], { cwd: dir });
    assert.equal(r.code, 0, "graph draws; lint is the gate");
    const g = JSON.parse(r.out);
    assert.deepEqual(g.summary, { repositories: 1, namespaces: 2, consumers: 3, errors: 1, warnings: 0 });
    const media = g.repositories[0].transports[0].namespaces.find((n: { name: string }) => n.name === "media");
    const marked = media.consumers
      .filter((c: { problems: unknown[] }) => c.problems.length > 0)
      .map(
        (c: { kind: string; name: string; problems: { rule: string }[] }) =>
          `${c.kind} ${c.name} ${c.problems.map((p) => p.rule)}`,
      );
    assert.deepEqual(marked, ["ReplicationDestination jellyfin-restore identity/no-source"]);
    assert.deepEqual(g.other, []);
    const text = await run(["graph", "--repo", "."], { cwd: dir });
    assert.match(text.out, /ReplicationDestination jellyfin-restore · runs as 1000:1000 ✗/);
    assert.match(text.out, /✗ error identity\/no-source looks for snapshots of jellyfin-app@media/);
  });

  it("a PV's finding goes to its namespace, in the copy of a shared component only where the subject says", async () => {
    const dir = repoWith(
      [["kubernetes/apps/media/repository-claim/app/claim.yaml", "csi-vol-2b7c9d14-", "csi-vol-00000000-"]],
      path.join(ROOT, "test/fixtures/transports/volsync-016-map-pvc"),
    );
    const g = JSON.parse((await run(["graph", "--repo", ".", "-o", "json"], { cwd: dir })).out);
    const namespaces = g.repositories[0].transports[0].namespaces;
    const rules = Object.fromEntries(
      namespaces.map((n: { name: string; problems: { rule: string }[] }) => [n.name, n.problems.map((p) => p.rule)]),
    );
    assert.deepEqual(rules, { backup: [], media: ["volume/static-layout"] });
  });

  it("every transport fixture draws one repository with its transport, every consumer under it", async () => {
    const expect: Record<string, [string, string]> = {
      "volsync-016-map-pvc": [
        "pvc://kopia/store",
        "pvc · PVC kopia at /kopia · via admission policy kopia-claim-for-movers",
      ],
      "volsync-016-map-nfs": [
        "nfs://nas.home.arpa/mnt/tank/kopia/repository",
        "nfs · NFS nas.home.arpa:/mnt/tank/kopia at /nas · via admission policy kopia-nfs-for-movers",
      ],
      "volsync-017-movervolumes-pvc": ["pvc://kopia/kopia", "pvc · PVC kopia at /mnt/repository · via moverVolumes"],
      "volsync-017-movervolumes-nfs": [
        "nfs://192.168.10.20/volume1/kopia/repo",
        "nfs · NFS 192.168.10.20:/volume1/kopia at /mnt/nas · via moverVolumes",
      ],
      "volsync-s3": ["s3://cluster-backups/kopia", "object · via KOPIA_REPOSITORY of the movers' secrets"],
      "kopiur-pvc": ["pvc://kopia", "pvc · PVC kopia at /repository · via ClusterRepository shared"],
      "kopiur-nfs": [
        "nfs://truenas.lan/mnt/pool/kopiur",
        "nfs · NFS truenas.lan:/mnt/pool/kopiur at /repository · via ClusterRepository nas",
      ],
      "kopiur-s3": ["ClusterRepository/offsite", "object · via ClusterRepository offsite"],
    };
    for (const [name, [key, transport]] of Object.entries(expect)) {
      const r = await graph(`test/fixtures/transports/${name}`, "text");
      assert.equal(r.code, 0, r.err);
      const lines = r.out.split("\n");
      assert.equal(lines[0], `repository ${key}`, name);
      assert.match(lines[1] ?? "", new RegExp(`^└── ${transport.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`), name);
      assert.equal(lines.filter((l) => l.startsWith("repository ")).length, 1, name);
      assert.match(r.out, /lint: 0 errors, 0 warnings\n$/, name);
    }
  });

  it("mermaid: fenced, every node defined once, every edge between defined nodes", async () => {
    for (const c of CASES) {
      const out = (await graph(c.repo, "mermaid")).out.split("\n");
      assert.equal(out[0], "```mermaid");
      assert.equal(out[1], "flowchart LR");
      assert.equal(out.at(-2), "```");
      const defined = out.map((l) => /^ {2}(\w+)[[({]/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
      assert.equal(new Set(defined).size, defined.length, c.name);
      for (const l of out) {
        const e = /^ {2}(\w+) --> (\w+)$/.exec(l);
        if (e) assert.ok(defined.includes(e[1] as string) && defined.includes(e[2] as string), l);
        // A raw quote inside a label would end it early.
        const label = /^ {2}\w+[[({]+"(.*)"[\])}]+$/.exec(l)?.[1];
        if (label !== undefined) assert.ok(!label.includes('"'), l);
      }
    }
  });

  it("dot: Graphviz renders every case (skipped without Graphviz)", async (t) => {
    if (spawnSync("dot", ["-V"]).status !== 0) {
      t.skip("Graphviz `dot` is not installed");
      return;
    }
    for (const c of CASES) {
      const out = (await graph(c.repo, "dot")).out;
      const r = spawnSync("dot", ["-Tsvg"], { input: out, encoding: "utf8" });
      assert.equal(r.status, 0, `${c.name}: ${r.stderr}`);
      assert.match(r.stdout, /<svg/);
    }
  });

  it("exit 2 on a usage error: unknown format, bad --kubernetes-version, missing --repo", async () => {
    const bad = await run(["graph", "--repo", "examples/home-ops", "-o", "png"], { cwd: ROOT });
    assert.equal(bad.code, 2);
    assert.match(bad.err, /png/);
    const version = await run(["graph", "--repo", "examples/home-ops", "--kubernetes-version", "latest"], {
      cwd: ROOT,
    });
    assert.equal(version.code, 2);
    assert.match(version.err, /--kubernetes-version latest: expected a Kubernetes minor version/);
    const missing = await run(["graph", "--repo", "no/such/dir"], { cwd: ROOT });
    assert.equal(missing.code, 2);
    assert.equal(missing.out, "");
  });

  it("a repository without consumers: says so and exits 0", async () => {
    const dir = repoWith([], path.join(ROOT, "test/fixtures/seed"));
    const r = await run(["graph", "--repo", "."], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^no consumer of a Kopia repository/);
  });
});
