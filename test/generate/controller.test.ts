/**
 * `init --controller`: the kopiashare-controller folder on the example repo (golden), what each file
 * promises (two replicas, downward API, probes, hardening, RBAC verbs each with a reason, the policy),
 * the policy's API band per Kubernetes version, re-runs, write safety, lint, and kubectl's view of it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { ConfigError, DEFAULTS, parseConventions } from "../../src/core/config.ts";
import { clusterRules, leaseRules, vapExpressions } from "../../src/core/render/controller.ts";
import { EXAMPLE, kubectlPath, read, run, tempRepo, treeOf } from "../helpers.ts";
import { startSim } from "../kube-sim/index.ts";
import { FRESH_FLAGS, freshRepo, golden, init, lint } from "./util.ts";

const NS_DIR = "kubernetes/apps/system/volsync-system";
const DIR = `${NS_DIR}/kopiashare-controller`;
const APP = `${DIR}/app`;
const FILES = [
  `${DIR}/ks.yaml`,
  `${APP}/kustomization.yaml`,
  `${APP}/serviceaccount.yaml`,
  `${APP}/clusterrole.yaml`,
  `${APP}/role.yaml`,
  `${APP}/configmap.yaml`,
  `${APP}/deployment.yaml`,
  `${APP}/service.yaml`,
  `${APP}/poddisruptionbudget.yaml`,
  `${APP}/validatingadmissionpolicy.yaml`,
];

type Obj = Record<string, unknown> & { kind: string; apiVersion: string; metadata: { name: string } };

/** Every document of a file, asserting it parses without errors or warnings. */
function docs(text: string, file: string): Obj[] {
  const out: Obj[] = [];
  for (const d of parseAllDocuments(text)) {
    assert.deepEqual(d.errors, [], `${file}: ${d.errors.join("; ")}`);
    assert.deepEqual(d.warnings, [], `${file}: ${d.warnings.join("; ")}`);
    const v = d.toJS() as Obj | null;
    if (v) out.push(v);
  }
  return out;
}

function byKind(files: Map<string, string>): Map<string, Obj> {
  const out = new Map<string, Obj>();
  for (const [f, text] of files) for (const o of docs(text, f)) out.set(o.kind, o);
  return out;
}

// biome-ignore lint/suspicious/noExplicitAny: walking parsed YAML in assertions
const at = (o: unknown, ...keys: (string | number)[]): any =>
  keys.reduce<unknown>((cur, k) => (cur as Record<string | number, unknown> | undefined)?.[k], o);

/** Parentheses, brackets and quotes balance, outside and inside string literals respectively. */
function celBalanced(expr: string): string | undefined {
  const stack: string[] = [];
  let quote: string | undefined;
  for (const ch of expr) {
    if (quote) {
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if ("([{".includes(ch)) stack.push(ch);
    else if (")]}".includes(ch)) {
      const open = stack.pop();
      if (open !== { ")": "(", "]": "[", "}": "{" }[ch]) return `unbalanced ${ch}`;
    }
  }
  if (quote) return "unterminated string";
  if (stack.length > 0) return `unclosed ${stack.join("")}`;
  return undefined;
}

describe("init --controller on the example", () => {
  it("writes the kopiashare-controller folder next to kopia and registers it (golden)", async () => {
    const dir = tempRepo(EXAMPLE);
    const wrote = await init(dir, ["--controller"]);
    assert.deepEqual([...wrote.keys()].sort(), [...FILES, `${NS_DIR}/kustomization.yaml`].sort());
    assert.match(
      read(dir, `${NS_DIR}/kustomization.yaml`),
      /- \.\/kopia\/ks\.yaml\n {2}- \.\/kopiashare-controller\/ks\.yaml\n/,
    );
    golden("controller", wrote);
  });

  it("every file parses and has what the Deployment, RBAC, PDB, Service and policy promise", async () => {
    const dir = tempRepo(EXAMPLE);
    const wrote = await init(dir, ["--controller"]);
    const k = byKind(new Map(FILES.map((f) => [f, wrote.get(f) as string])));

    const ks = k.get("Kustomization") as Obj;
    assert.equal(ks.apiVersion, "kustomize.config.k8s.io/v1beta1"); // last one parsed is app/kustomization.yaml
    const flux = docs(wrote.get(`${DIR}/ks.yaml`) as string, "ks.yaml")[0];
    assert.deepEqual(at(flux, "spec", "dependsOn"), [{ name: "volsync-repository-pvc-volsync-system" }]);
    assert.equal(at(flux, "spec", "path"), `./${APP}`);
    assert.equal(at(flux, "spec", "targetNamespace"), "volsync-system");

    const d = k.get("Deployment") as Obj;
    assert.equal(at(d, "spec", "replicas"), 2);
    const pod = at(d, "spec", "template", "spec");
    assert.equal(pod.serviceAccountName, "kopiashare-controller");
    assert.ok(pod.terminationGracePeriodSeconds > 0);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    assert.equal(pod.topologySpreadConstraints[0].topologyKey, "kubernetes.io/hostname");
    const c = pod.containers[0];
    assert.match(c.image, /^ghcr\.io\/kopiashare\/kopiashare:\d+\.\d+\.\d+/);
    assert.equal(c.args[0], "controller");
    assert.ok(c.args.includes("--health-port=8080"));
    assert.ok(c.args.includes("--config=/etc/kopiashare/kopiashare.yaml"));
    for (const [name, field] of [
      ["POD_NAME", "metadata.name"],
      ["POD_NAMESPACE", "metadata.namespace"],
    ]) {
      const env = c.env.find((e: { name: string }) => e.name === name);
      assert.equal(env?.valueFrom?.fieldRef?.fieldPath, field, name);
    }
    assert.deepEqual(c.ports, [{ name: "metrics", containerPort: 8080, protocol: "TCP" }]);
    assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "metrics" });
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "metrics" });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
    assert.ok(pod.volumes.some((v: { configMap?: { name: string } }) => v.configMap?.name === "kopiashare-controller"));

    const cm = k.get("ConfigMap") as Obj;
    const conv = parseConventions((await import("js-yaml")).load(at(cm, "data", "kopiashare.yaml")));
    assert.equal(conv.repositoryNamespace, "volsync-system");
    assert.equal(conv.claimName, "kopia");

    assert.equal(at(k.get("PodDisruptionBudget"), "spec", "minAvailable"), 1);
    assert.deepEqual(at(k.get("Service"), "spec", "ports", 0, "targetPort"), "metrics");

    // RBAC: every verb the controller uses, each on its own line with a reason
    const role = k.get("ClusterRole") as Obj;
    const verbsOf = (o: Obj, group: string, resource: string) =>
      ((o as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules ?? [])
        .filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
        .flatMap((r) => r.verbs)
        .sort();
    assert.deepEqual(verbsOf(role, "", "namespaces"), ["get", "list", "watch"]);
    for (const r of ["persistentvolumes", "persistentvolumeclaims"]) {
      assert.deepEqual(verbsOf(role, "", r), ["create", "delete", "get", "list", "patch", "watch"], r);
    }
    assert.deepEqual(verbsOf(role, "", "events"), ["create"]);
    for (const r of ["replicationsources", "replicationdestinations", "kopiamaintenances"]) {
      assert.deepEqual(verbsOf(role, "volsync.backube", r), ["get", "list", "watch"], r);
    }
    for (const r of ["clusterrepositories", "repositories", "snapshotpolicies", "snapshotschedules", "restores"]) {
      assert.deepEqual(verbsOf(role, "kopiur.home-operations.com", r), ["get", "list", "watch"], r);
    }
    assert.deepEqual(verbsOf(k.get("Role") as Obj, "coordination.k8s.io", "leases"), ["create", "get", "update"]);
    for (const f of [`${APP}/clusterrole.yaml`, `${APP}/role.yaml`]) {
      const verbLines = (wrote.get(f) as string).split("\n").filter((l) => /^ {6}- /.test(l));
      assert.ok(verbLines.length > 0, f);
      for (const l of verbLines) assert.match(l, /^ {6}- [a-z]+ # \S.*$/, `${f}: a verb without its reason: ${l}`);
    }
    const binding = k.get("ClusterRoleBinding") as Obj;
    assert.deepEqual(at(binding, "subjects", 0), {
      kind: "ServiceAccount",
      name: "kopiashare-controller",
      namespace: "volsync-system",
    });

    // The policy: only the controller's ServiceAccount, Deny
    const vap = k.get("ValidatingAdmissionPolicy") as Obj;
    assert.equal(vap.apiVersion, "admissionregistration.k8s.io/v1"); // the example states Kubernetes 1.34
    assert.match(
      at(vap, "spec", "matchConditions", 0, "expression"),
      /^request\.userInfo\.username == 'system:serviceaccount:volsync-system:kopiashare-controller'$/,
    );
    assert.deepEqual(at(vap, "spec", "matchConstraints", "resourceRules", 0, "resources"), [
      "persistentvolumes",
      "persistentvolumeclaims",
    ]);
    const validations = at(vap, "spec", "validations") as { expression: string; message: string }[];
    assert.equal(validations.length, 4);
    const all = validations.map((v) => v.expression).join("\n");
    assert.match(all, /request\.name != 'kopia-repository-pv-volsync-system'/);
    assert.match(all, /request\.namespace != 'volsync-system'/);
    assert.match(all, /oldObject\.metadata\.labels\['app\.kubernetes\.io\/managed-by'\] == 'kopiashare-controller'/);
    assert.match(all, /persistentVolumeReclaimPolicy == 'Retain'/);
    const vb = k.get("ValidatingAdmissionPolicyBinding") as Obj;
    assert.deepEqual(at(vb, "spec", "validationActions"), ["Deny"]);
    assert.equal(at(vb, "spec", "policyName"), "kopiashare-controller");
  });

  it("the policy's CEL is syntactically sane: balanced, and every label lookup is guarded", () => {
    const { matchCondition, validations } = vapExpressions({ ...DEFAULTS, pvPrefix: "kopia-pv-", claimName: "kopia" });
    for (const expr of [matchCondition, ...validations.map(([, e]) => e)]) {
      assert.equal(celBalanced(expr), undefined, expr);
      // a map lookup is preceded by has() of the map and an `in` test of the key
      for (const m of expr.matchAll(/(\w+)\.metadata\.labels\['([^']+)'\]/g)) {
        const before = expr.slice(0, m.index);
        assert.ok(before.includes(`has(${m[1]}.metadata.labels)`), `${m[0]} without has(): ${expr}`);
        assert.ok(before.includes(`'${m[2]}' in ${m[1]}.metadata.labels`), `${m[0]} without in: ${expr}`);
      }
      for (const m of expr.matchAll(/(\w+)\.spec\.persistentVolumeReclaimPolicy ==/g)) {
        assert.ok(expr.slice(0, m.index).includes(`has(${m[1]}.spec.persistentVolumeReclaimPolicy)`), expr);
      }
    }
    assert.equal(celBalanced("f(a"), "unclosed (");
    assert.equal(celBalanced("a == 'b"), "unterminated string");
    assert.equal(celBalanced("a == ')'"), undefined);
  });

  it("running it again reports up to date and writes nothing", async () => {
    const dir = tempRepo(EXAMPLE);
    await init(dir, ["--controller"]);
    const before = treeOf(dir);
    const r = await run(["init", "--repo", dir, "--controller"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /the repository and its controller are already initialised for volsync-0\.16, Kubernetes 1\.34; nothing to change/,
    );
    assert.deepEqual(treeOf(dir), before);
    // plain init, migrate and disable leave the controller's files alone
    const plain = await run(["init", "--repo", dir], { cwd: dir });
    assert.equal(plain.code, 0, plain.err);
    assert.deepEqual(treeOf(dir), before);
    const m = await run(["migrate", "--repo", dir, "--to", "volsync-0.17"], { cwd: dir });
    assert.equal(m.code, 0, m.err);
    for (const f of FILES) assert.equal(read(dir, f), before.get(f), `migrate changed ${f}`);
    assert.match(read(dir, `${NS_DIR}/kustomization.yaml`), /kopiashare-controller\/ks\.yaml/);
    // after migrate the ConfigMap's mover is stale: re-rendered, not taken for a hand edit; the policy stays
    const again = await run(["init", "--repo", dir, "--controller"], { cwd: dir });
    assert.equal(again.code, 0, again.err);
    assert.match(read(dir, `${APP}/configmap.yaml`), /mover: volsync-0\.17/);
    assert.equal(
      read(dir, `${APP}/validatingadmissionpolicy.yaml`),
      before.get(`${APP}/validatingadmissionpolicy.yaml`),
    );
  });

  it("lint stays clean on the result", async () => {
    const dir = tempRepo(EXAMPLE);
    const was = await lint(dir);
    await init(dir, ["--controller"]);
    const now = await lint(dir);
    assert.equal(now.errors, was.errors, now.text);
    assert.equal(now.warnings, was.warnings, now.text);
    assert.deepEqual(now.findings, was.findings);
  });

  it("a hand-edited Deployment is refused without --force; a new controllerImage is re-rendered", async () => {
    const dir = tempRepo(EXAMPLE);
    await init(dir, ["--controller"]);
    const f = path.join(dir, `${APP}/deployment.yaml`);
    const edited = read(dir, `${APP}/deployment.yaml`).replace("replicas: 2", "replicas: 3");
    writeFileSync(f, edited);
    writeFileSync(
      path.join(dir, "kopiashare.yaml"),
      `${read(dir, "kopiashare.yaml")}controllerImage: registry.example/kopiashare:1.2.3\n`,
    );
    const r = await run(["init", "--repo", dir, "--controller"], { cwd: dir });
    assert.notEqual(r.code, 0);
    assert.match(`${r.out}${r.err}`, /deployment\.yaml/);
    assert.equal(read(dir, `${APP}/deployment.yaml`), edited);
    writeFileSync(f, edited.replace("replicas: 3", "replicas: 2"));
    const ok = await run(["init", "--repo", dir, "--controller"], { cwd: dir });
    assert.equal(ok.code, 0, ok.err);
    assert.match(read(dir, `${APP}/deployment.yaml`), /image: registry\.example\/kopiashare:1\.2\.3\n/);
  });

  it("kubectl apply --dry-run=client accepts every file (against the API simulator)", async (t) => {
    if (!kubectlPath()) {
      t.skip("kubectl not installed");
      return;
    }
    const dir = tempRepo(EXAMPLE);
    await init(dir, ["--controller"]);
    t.diagnostic("kubectl runs against test/kube-sim with --validate=false: the simulator serves no OpenAPI schema");
    const sim = await startSim({ crds: ["flux", "controller-deploy"] });
    try {
      const home = mkdtempSync(path.join(tmpdir(), "kopiashare-kubectl-"));
      const files = FILES.filter((f) => !f.endsWith("/kustomization.yaml"));
      const k = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(
          "kubectl",
          ["apply", "--dry-run=client", "--validate=false", ...files.flatMap((f) => ["-f", path.join(dir, f)])],
          { env: { ...process.env, KUBECONFIG: sim.kubeconfigPath, HOME: home } },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("close", (code) => resolve({ code, out, err }));
      });
      assert.equal(k.code, 0, k.err);
      for (const line of [
        "deployment.apps/kopiashare-controller created (dry run)",
        "clusterrole.rbac.authorization.k8s.io/kopiashare-controller created (dry run)",
        "role.rbac.authorization.k8s.io/kopiashare-controller created (dry run)",
        "poddisruptionbudget.policy/kopiashare-controller created (dry run)",
        "validatingadmissionpolicy.admissionregistration.k8s.io/kopiashare-controller created (dry run)",
        "validatingadmissionpolicybinding.admissionregistration.k8s.io/kopiashare-controller created (dry run)",
      ])
        assert.ok(k.out.includes(line), `${line}\n${k.out}`);
    } finally {
      await sim.close();
    }
  });
});

describe("init --controller: the policy's API follows the Kubernetes version", () => {
  const fresh017 = ["--mover", "volsync-0.17", ...FRESH_FLAGS, "--controller"];
  const vap = `${APP}/validatingadmissionpolicy.yaml`;

  it("1.29: v1beta1, with a note on the feature gate", async () => {
    const dir = freshRepo();
    const r = await run(["init", "--repo", dir, ...fresh017, "--kubernetes-version", "1.29"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.match(read(dir, vap), /^apiVersion: admissionregistration\.k8s\.io\/v1beta1$/m);
    assert.match(`${r.out}${r.err}`, /v1beta1 only with the feature gate ValidatingAdmissionPolicy/);
  });

  it("1.27: no policy, and init says so", async () => {
    const dir = freshRepo();
    const r = await run(["init", "--repo", dir, ...fresh017, "--kubernetes-version", "1.27"], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.equal(treeOf(dir).has(vap), false);
    assert.doesNotMatch(read(dir, `${APP}/kustomization.yaml`), /validatingadmissionpolicy/);
    assert.match(`${r.out}${r.err}`, /Kubernetes 1\.27 serves no ValidatingAdmissionPolicy API/);
  });

  it("unknown version: no policy and how to add it; adding it later, then re-running without the flag keeps it", async () => {
    const dir = freshRepo();
    const r = await run(["init", "--repo", dir, ...fresh017], { cwd: dir });
    assert.equal(r.code, 0, r.err);
    assert.equal(treeOf(dir).has(vap), false);
    assert.match(
      `${r.out}${r.err}`,
      /the Kubernetes version is unknown; to add it, run `kopiashare init --controller --kubernetes-version 1\.NN`/,
    );
    const add = await run(["init", "--repo", dir, ...fresh017, "--kubernetes-version", "1.31"], { cwd: dir });
    assert.equal(add.code, 0, add.err);
    assert.match(read(dir, vap), /^apiVersion: admissionregistration\.k8s\.io\/v1$/m);
    assert.match(read(dir, `${APP}/kustomization.yaml`), /- \.\/validatingadmissionpolicy\.yaml/);
    const before = treeOf(dir);
    const again = await run(["init", "--repo", dir, ...fresh017], { cwd: dir });
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /nothing to change/);
    assert.deepEqual(treeOf(dir), before);
  });
});

describe("controllerImage in kopiashare.yaml", () => {
  it("accepts references with a tag or digest and rejects others, naming the key", () => {
    for (const ok of [
      "ghcr.io/kopiashare/kopiashare:0.1.0",
      "localhost:5000/kopiashare:dev",
      "kopiashare:1",
      `registry.example/team/kopiashare@sha256:${"a".repeat(64)}`,
    ]) {
      assert.equal(parseConventions({ controllerImage: ok }).controllerImage, ok);
    }
    for (const bad of ["ghcr.io/kopiashare/kopiashare", "GHCR.io/Kopiashare:1", "a b:1", "", 1]) {
      assert.throws(
        () => parseConventions({ controllerImage: bad }),
        (e: unknown) => e instanceof ConfigError && /key "controllerImage"/.test(e.message),
        String(bad),
      );
    }
  });
});

describe("docs/commands.md lists the controller's RBAC", () => {
  it("every verb of the ClusterRole and the Role has a row with its reason", () => {
    const docs = readFileSync(path.join(import.meta.dirname, "..", "..", "docs", "commands.md"), "utf8");
    const rows = docs
      .split("\n")
      .filter((l) => /^\| (core|[a-z0-9.-]+\.[a-z]+|coordination\.k8s\.io \(Role\)) \|/.test(l))
      .map((l) => l.split("|").map((c) => c.trim()));
    for (const rule of [...clusterRules(DEFAULTS), ...leaseRules()]) {
      const group = rule.apiGroup === "" ? "core" : rule.apiGroup;
      for (const resource of rule.resources) {
        for (const { verb } of rule.verbs) {
          const row = rows.find(
            (r) =>
              r[1]?.startsWith(group) &&
              r[2]?.split(/[ ,]+/).includes(resource) &&
              r[3]?.split(/[ ,]+/).includes(verb) &&
              (r[4] ?? "") !== "",
          );
          assert.ok(row, `docs/commands.md: no RBAC row for ${group} ${resource} ${verb}`);
        }
      }
    }
  });
});
