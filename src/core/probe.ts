/**
 * The permission probe's judgement (`doctor --probe`), pure: which namespaces can be probed, what a
 * probe's log means and its fix, and the check report of a run. The Jobs themselves are created,
 * watched and deleted by src/kube/probe.ts.
 */
import { type Conventions, repositoryPath } from "./config.ts";
import { type CheckFinding, type CheckReport, PROBE_CHECK, worst } from "./doctor.ts";
import type { Observed } from "./live.ts";

export interface ProbeResult {
  namespace: string;
  job: string | undefined;
  status: "pass" | "fail" | "aborted";
  uid: number;
  gid: number;
  what: string;
  fix?: string;
  log?: string;
}

export interface ProbeRun {
  runId: string;
  results: ProbeResult[];
  /** "<ns>/<job>" of every Job deleted afterwards. */
  deleted: string[];
  /** Jobs that could not be deleted (with the reason); should be empty. */
  leftovers: string[];
  aborted: boolean;
}

/** A one-off root pod that mounts PVC `kopia` and runs `command` (a copy-pasteable kubectl run). */
export function rootPodCommand(ns: string, c: Conventions, image: string, name: string, command: string[]): string {
  const overrides = {
    spec: {
      securityContext: { runAsUser: 0 },
      containers: [
        {
          name,
          image,
          command,
          volumeMounts: [{ name: "repository", mountPath: c.mountPath }],
        },
      ],
      volumes: [{ name: "repository", persistentVolumeClaim: { claimName: c.claimName } }],
    },
  };
  return `kubectl -n ${ns} run ${name} --rm -i --restart=Never --image=${image} --overrides='${JSON.stringify(overrides)}'`;
}

export function chownCommand(ns: string, c: Conventions, uid: number, gid: number, image: string): string {
  return rootPodCommand(ns, c, image, "kopiashare-chown", ["chown", "-R", `${uid}:${gid}`, repositoryPath(c)]);
}

/** Reads the probe's log into a verdict with the fix. */
export function judge(ns: string, log: string, o: ProbeIdentity): { what: string; fix: string } {
  const c = o.conventions;
  const dir = repositoryPath(c);
  const owner = /owner of [^:]+: uid=(\d+)(?: gid=(\d+))?/.exec(log);
  const ownerText = owner ? ` (it is owned by uid ${owner[1]}${owner[2] ? `, gid ${owner[2]}` : ""})` : "";
  if (/^MISSING /m.test(log)) {
    return {
      what: `${dir} does not exist on the volume of PVC ${c.claimName}`,
      fix: `initialise the repository once (the kopia init Job: kopia repository create filesystem --path=${dir}); to only create the directory: ${rootPodCommand(ns, c, o.image, "kopiashare-mkdir", ["sh", "-c", `mkdir -p ${dir} && chown ${o.uid}:${o.gid} ${dir}`])}`,
    };
  }
  if (/permission denied|read-only file system|CANNOT-(CREATE|DELETE)/i.test(log)) {
    const alt =
      owner && owner[1] !== "0"
        ? `or run every mover as the owner: moverSecurityContext {runAsUser: ${owner[1]}, runAsGroup: ${owner[2] ?? owner[1]}, fsGroup: ${owner[2] ?? owner[1]}, fsGroupChangePolicy: OnRootMismatch} on each ReplicationSource/Destination and KopiaMaintenance`
        : `then keep every mover on UID ${o.uid}: moverSecurityContext {runAsUser: ${o.uid}, runAsGroup: ${o.gid}, fsGroup: ${o.gid}, fsGroupChangePolicy: OnRootMismatch}`;
    return {
      what: `UID ${o.uid} (GID ${o.gid}) cannot write ${dir}${ownerText}`,
      fix: `${chownCommand(ns, c, o.uid, o.gid, o.image)}\n${alt}`,
    };
  }
  if (/CANNOT-READ/.test(log)) {
    return {
      what: `UID ${o.uid} wrote a file in ${dir} but could not read it back`,
      fix: `check the CephFS mount options and the directory's ACLs: kubectl -n ${ns} describe pvc ${c.claimName}`,
    };
  }
  const last =
    log
      .trim()
      .split("\n")
      .filter((l) => l.trim())
      .pop() ?? "no log";
  return {
    what: `the probe failed: ${last}`,
    fix: `kubectl -n ${ns} describe pvc ${c.claimName}; kopiashare doctor -n ${ns}`,
  };
}

/** What the probe needs to judge a log: the identity it ran as, the image of its fix pods, the layout. */
export interface ProbeIdentity {
  uid: number;
  gid: number;
  image: string;
  conventions: Conventions;
}

/** A failed Job's verdict: the deadline passed before it wrote a log, or what its log says. */
export function probeFailure(
  ns: string,
  log: string,
  deadlineHit: boolean,
  o: ProbeIdentity & { timeoutMs: number },
): { what: string; fix: string } {
  if (deadlineHit && !log) {
    return {
      what: `the probe did not finish within ${o.timeoutMs / 1000}s`,
      fix: `kubectl -n ${ns} describe pvc ${o.conventions.claimName}`,
    };
  }
  return judge(ns, log, o);
}

export interface ProbeTargets {
  /** Namespaces whose PVC is Bound: a Job runs there. */
  probe: string[];
  /** Namespaces not probed, with the reason. */
  skipped: { namespace: string; reason: string }[];
}

/** The namespaces in scope (default: every one with a PVC `claim`) whose PVC is Bound, and why the others are not probed. */
export function probeTargets(o: Observed, claim: string, scope: string[] | undefined): ProbeTargets {
  const namespaces = scope ?? [...new Set(o.pvcs.filter((p) => p.name === claim).map((p) => p.namespace))].sort();
  const probe: string[] = [];
  const skipped: { namespace: string; reason: string }[] = [];
  for (const ns of namespaces) {
    const pvc = o.pvcs.find((p) => p.namespace === ns && p.name === claim);
    if (!pvc) skipped.push({ namespace: ns, reason: `no PVC ${claim} in ${ns}` });
    else if (pvc.phase !== "Bound")
      skipped.push({ namespace: ns, reason: `PVC ${ns}/${claim} is ${pvc.phase || "not bound"}` });
    else probe.push(ns);
  }
  return { probe, skipped };
}

function probeFinding(dir: string, r: ProbeResult): CheckFinding {
  return {
    status: r.status === "pass" ? "pass" : r.status === "aborted" ? "warn" : "fail",
    subject: r.namespace,
    what: `${r.namespace}: ${r.what}`,
    ...(r.status === "fail"
      ? {
          why: `movers run as UID ${r.uid} and must create, read and delete files in ${dir}; otherwise backups fail with "permission denied"`,
        }
      : {}),
    ...(r.fix ? { fix: r.fix } : {}),
  };
}

/**
 * The probe's check report: one result per probed namespace, a warning per namespace not probed, and a
 * warning when there was nothing to probe. The one place its results get the check's id.
 */
export function probeReport(
  results: readonly ProbeResult[],
  skipped: ProbeTargets["skipped"],
  o: { uid: number; gid: number; conventions: Conventions },
): CheckReport {
  const dir = repositoryPath(o.conventions);
  const findings: CheckFinding[] = [
    ...results.map((r) => probeFinding(dir, r)),
    ...skipped.map(
      (s): CheckFinding => ({
        status: "warn",
        subject: s.namespace,
        what: `not probed: ${s.reason}`,
        fix: `kopiashare doctor -n ${s.namespace}`,
      }),
    ),
  ];
  if (findings.length === 0) {
    findings.push({
      status: "warn",
      subject: "cluster",
      what: `not probed: no namespace has a PVC ${o.conventions.claimName}`,
    });
  }
  return {
    id: PROBE_CHECK.meta.id,
    title: `UID ${o.uid} / GID ${o.gid} can write ${dir}`,
    status: worst(findings.map((f) => f.status)),
    results: findings.map((f) => ({ check: PROBE_CHECK.meta.id, ...f })),
  };
}
