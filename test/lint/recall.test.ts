/**
 * Recall: change one fact of a working setup at a time and lint must notice, at the file that changed.
 * The facts are the ones the shared repository rests on (issue "lint and doctor know how each consumer
 * reaches the repository"): the subvolume a PV reaches (handle or rootPath), fsName, reclaim policy,
 * access mode, volumeName, claimRef, the KOPIA_REPOSITORY path and a mover's UID.
 *
 * Repositories: the base fixture (shared handles), the same with static PVs, and the reproduction of the
 * seed's origin. With KOPIASHARE_CORPUS=<dir of corpus checkouts> (npm run corpus), the seed's real
 * origin repository (sulibot/home-ops) too; without it that case is skipped with the reason.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { FIXTURES, tempRepo } from "../helpers.ts";
import { BASE, C, type Edit, lint, M, PV_MEDIA, repoWith } from "./helpers.ts";

interface Mutation {
  fact: string;
  /** Which file of the repository it changes (a key of Target). */
  in: keyof Target;
  /** Search from the first match of this in the file (e.g. the PVC's document), else from the start. */
  after?: RegExp;
  find: RegExp;
  to: string;
}

/** The files holding each fact in one repository (a PV that is not the repository PV, its claim, ...). */
interface Target {
  pv: string;
  pvc: string;
  secret: string;
  mover: string;
}

const UUID_HEAD = /(volumeHandle:\s*"?0001-[0-9a-f]{4}-\S+-[0-9a-f]{16}-)[0-9a-f]{8}/;

const MUTATIONS: Mutation[] = [
  { fact: "volumeHandle on another subvolume", in: "pv", find: UUID_HEAD, to: "$100000000" },
  {
    fact: "rootPath on another subvolume",
    in: "pv",
    find: /(rootPath:\s*"?\/volumes\/[^/\s]+\/[^/\s]*?)[0-9a-f]{8}(-[0-9a-f]{4})/,
    to: "$100000000$2",
  },
  { fact: "fsName", in: "pv", find: /fsName:\s*"?[\w.-]+"?/, to: "fsName: another-fs" },
  {
    fact: "reclaim policy",
    in: "pv",
    find: /persistentVolumeReclaimPolicy:\s*Retain/,
    to: "persistentVolumeReclaimPolicy: Delete",
  },
  {
    fact: "access mode of the claim",
    in: "pvc",
    after: /kind:\s*PersistentVolumeClaim/,
    find: /ReadWriteMany/,
    to: "ReadWriteOnce",
  },
  {
    fact: "volumeName of the claim",
    in: "pvc",
    after: /kind:\s*PersistentVolumeClaim/,
    find: /volumeName:\s*\S+/,
    to: "volumeName: kopia-repository-pv-elsewhere",
  },
  { fact: "claimRef of the PV", in: "pv", after: /claimRef:/, find: /namespace:\s*\S+/, to: "namespace: elsewhere" },
  {
    fact: "KOPIA_REPOSITORY path",
    in: "secret",
    find: /KOPIA_REPOSITORY:\s*"?filesystem:\/\/\/?[^\s"]*"?/,
    to: "KOPIA_REPOSITORY: filesystem:///elsewhere",
  },
  { fact: "mover UID", in: "mover", find: /runAsUser:\s*"?[^\s"]+"?/, to: "runAsUser: 4321" },
];

/** Applies one mutation to a copy of `dir`; undefined when the repository does not state that fact. */
function mutate(dir: string, target: Target, m: Mutation): string | undefined {
  const file = target[m.in];
  const text = readFileSync(path.join(dir, file), "utf8");
  const from = m.after ? (m.after.exec(text)?.index ?? -1) : 0;
  if (from < 0) return undefined;
  const match = m.find.exec(text.slice(from));
  if (!match) return undefined;
  const at = from + match.index;
  const copy = tempRepo(dir);
  writeFileSync(
    path.join(copy, file),
    text.slice(0, at) + match[0].replace(m.find, m.to) + text.slice(at + match[0].length),
  );
  return copy;
}

interface Seen {
  rule: string;
  file: string;
  severity: string;
  what: string;
}

/**
 * A finding as recall compares it: rule, file and what it says. A repository that already has a finding
 * of that rule at that file (the origin's paths already disagree) still shows the change as a new text.
 */
const keys = (findings: Seen[]) =>
  new Map(findings.filter((f) => f.severity !== "info").map((f) => [`${f.rule} ${f.file} ${f.what}`, f]));

/** Lints `dir` once as it is and once per mutation; returns the facts lint missed and the facts not stated. */
async function recall(dir: string, target: Target, args: string[]) {
  const before = keys((await lint(dir, args)).findings);
  const missed: string[] = [];
  const caught: string[] = [];
  const unstated: string[] = [];
  for (const m of MUTATIONS) {
    const copy = mutate(dir, target, m);
    if (!copy) {
      unstated.push(m.fact);
      continue;
    }
    const after = (await lint(copy, args)).findings;
    const fresh = [...keys(after)].filter(([k, f]) => !before.has(k) && f.file === target[m.in]).map(([, f]) => f.rule);
    (fresh.length > 0 ? caught : missed).push(`${m.fact}${fresh.length > 0 ? `: ${fresh.join(", ")}` : ""}`);
  }
  return { caught, missed, unstated };
}

const VS = "kubernetes/apps/system/volsync-system";
const FIXTURE_TARGET: Target = {
  pv: PV_MEDIA,
  pvc: PV_MEDIA,
  secret: `${C}/externalsecret.yaml`,
  mover: `${C}/replicationsource.yaml`,
};
const STATIC: Edit[] = [
  [
    `${VS}/volsync-repository-pvc/app/pvc.yaml`,
    "volumeHandle: 0001-",
    "volumeHandle: kopia-repository-pv-volsync-system\n#",
  ],
  [PV_MEDIA, "volumeHandle: 0001-", "volumeHandle: kopia-repository-pv-media\n#"],
  ...[`${VS}/volsync-repository-pvc/app/pvc.yaml`, PV_MEDIA].map(
    (f): Edit => [
      f,
      "      fsName: backups\n",
      '      fsName: backups\n      staticVolume: "true"\n      rootPath: /volumes/csi/csi-vol-841e604c-1dd5-4a09-8763-84e672d78c4e/6f1c9e55-0d3b-4c3e-9a39-2f6a7d0c1b11\n',
    ],
  ),
];

describe("recall: one fact changed, one new finding at that file", () => {
  it("the base fixture (shared handles): every fact it states", async () => {
    const { caught, missed, unstated } = await recall(BASE, FIXTURE_TARGET, ["--kubernetes-version", "1.34"]);
    assert.deepEqual(missed, [], caught.join("\n"));
    assert.deepEqual(unstated, ["rootPath on another subvolume"]); // it uses shared handles
  });

  it("the base fixture with static PVs: the rootPath too", async () => {
    const dir = repoWith(STATIC);
    const { caught, missed, unstated } = await recall(dir, FIXTURE_TARGET, ["--kubernetes-version", "1.34"]);
    assert.deepEqual(missed, [], caught.join("\n"));
    assert.deepEqual(unstated, ["volumeHandle on another subvolume"]); // a static handle names no subvolume
  });

  it("the reproduction of the seed's origin: each fact on top of its known defects", async () => {
    const { caught, missed, unstated } = await recall(
      path.join(FIXTURES, "lint", "origin"),
      {
        ...FIXTURE_TARGET,
        pv: `${M}/volsync-repository-pvc/app/pvc.yaml`,
        pvc: `${M}/volsync-repository-pvc/app/pvc.yaml`,
      },
      ["--kubernetes-version", "1.34"],
    );
    assert.deepEqual(missed, [], caught.join("\n"));
    // Its PVs use shared handles, leave the reclaim policy to the default (Retain for a static PV) and
    // have no claimRef (one of its known defects).
    assert.deepEqual(unstated, ["rootPath on another subvolume", "reclaim policy", "claimRef of the PV"]);
  });

  const corpus = process.env.KOPIASHARE_CORPUS;
  const origin = corpus ? path.join(corpus, "sulibot+home-ops") : undefined;
  const skip = !origin
    ? "set KOPIASHARE_CORPUS to the directory of corpus checkouts (docs/testing.md) to run it on sulibot/home-ops"
    : !existsSync(origin)
      ? `${origin} does not exist`
      : false;
  it("the seed's real origin repository (sulibot/home-ops)", { skip }, async () => {
    const { caught, missed, unstated } = await recall(
      origin as string,
      {
        pv: "kubernetes/apps/7-applications/volsync-repository-pvc/app/pvc.yaml",
        pvc: "kubernetes/apps/7-applications/volsync-repository-pvc/app/pvc.yaml",
        secret: "kubernetes/components/volsync/externalsecret.yaml",
        mover: "kubernetes/components/volsync/replicationsource.yaml",
      },
      [],
    );
    assert.deepEqual(missed, [], caught.join("\n"));
    // Shared handles, and no claimRef (a known defect).
    assert.deepEqual(unstated, ["rootPath on another subvolume", "claimRef of the PV"]);
  });
});
