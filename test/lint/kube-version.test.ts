/**
 * Where lint reads the cluster's Kubernetes version: the flag, kopiashare.yaml, Talos files (talconfig with
 * talenv variables, talenv alone, machine configs), upgrade controllers' objects; and that no version rule
 * raises an error when the version is not known (nothing states it, or the statements disagree).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseStatedVersion } from "../../src/gitops/kube-version.ts";
import { run } from "../helpers.ts";
import { type Edit, lineOf, lint, MAP, ofRule, PV_SYS, repoWith, V } from "./helpers.ts";

const VERSION_RULES = ["admission/api-version", "volume/old-kubernetes"];

const talconfig = (version: string) => `# yaml-language-server: $schema=https://example.invalid/talconfig.json
---
clusterName: home
# renovate: datasource=docker depName=ghcr.io/siderolabs/installer
talosVersion: v1.11.2
# renovate: datasource=docker depName=ghcr.io/siderolabs/kubelet
kubernetesVersion: ${version}
endpoint: https://10.0.0.10:6443
nodes:
  - hostname: cp-1
    ipAddress: 10.0.0.11
    controlPlane: true
`;

const APP = `${V}/volsync/app`;

/** An upgrade controller's object in APP/file, delivered with the volsync app (its kustomization lists it). */
const delivered = (file: string, content: string): Edit[] => [
  [
    `${APP}/kustomization.yaml`,
    "  - ./mutatingadmissionpolicy.yaml\n",
    `  - ./mutatingadmissionpolicy.yaml\n  - ./${file}\n`,
  ],
  [`${APP}/${file}`, `---\n${content}`],
];

const kubernetesUpgrade = (version: string) => `apiVersion: tuppr.home-operations.com/v1alpha1
kind: KubernetesUpgrade
metadata:
  name: kubernetes
spec:
  kubernetes:
    # renovate: datasource=docker depName=ghcr.io/siderolabs/kubelet
    version: ${version}
`;

async function textErr(dir: string, args: string[] = []): Promise<string> {
  const r = await run(["lint", "--repo", dir, ...args], { cwd: dir });
  return r.err;
}

describe("lint: the cluster's Kubernetes version", () => {
  describe("sources", () => {
    it("--kubernetes-version: source flag", async () => {
      const dir = repoWith();
      const r = await lint(dir, ["--kubernetes-version", "v1.34.2"]);
      assert.equal(r.json.kubernetesVersion, "1.34");
      assert.equal(r.json.kubernetesVersionSource, "flag");
      assert.match(
        await textErr(dir, ["--kubernetes-version", "1.34"]),
        /^kubernetes version 1\.34 \(from --kubernetes-version\)$/m,
      );
    });

    it("kubernetesVersion in kopiashare.yaml: source kopiashare.yaml", async () => {
      const dir = repoWith([["kopiashare.yaml", 'kubernetesVersion: "1.35"\n']]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, "1.35");
      assert.equal(r.json.kubernetesVersionSource, "kopiashare.yaml");
      assert.match(await textErr(dir), /^kubernetes version 1\.35 \(from kopiashare\.yaml\)$/m);
    });

    it("Talos talconfig.yaml anywhere in the repo: source file:line", async () => {
      const file = "kubernetes/bootstrap/talos/talconfig.yaml";
      const dir = repoWith([[file, talconfig("v1.34.1")]]);
      const r = await lint(dir);
      const at = `${file}:${lineOf(dir, file, "kubernetesVersion:")}`;
      assert.equal(r.json.kubernetesVersion, "1.34");
      assert.equal(r.json.kubernetesVersionSource, at);
      assert.equal(await textErr(dir), `kubernetes version 1.34 (from ${at})\n`);
    });

    it("a ${VAR} in talconfig.yaml resolves from a sibling talenv file; the source is where the value is", async () => {
      for (const env of ["talenv.yaml", "talenv.yml", "talenv.sops.yaml"]) {
        const dir = repoWith([
          ["talos/talconfig.yaml", talconfig("${kubernetesVersion}")],
          [
            `talos/${env}`,
            "talosVersion: v1.11.2\n# renovate: datasource=docker depName=ghcr.io/siderolabs/kubelet\nkubernetesVersion: v1.33.4\n",
          ],
        ]);
        const r = await lint(dir);
        assert.equal(r.json.kubernetesVersion, "1.33", env);
        assert.equal(
          r.json.kubernetesVersionSource,
          `talos/${env}:${lineOf(dir, `talos/${env}`, "kubernetesVersion:")}`,
        );
      }
    });

    it("a ${VAR:-default} without a talenv value uses the default; an unresolvable ${VAR} states nothing", async () => {
      const dflt = repoWith([["talos/talconfig.yaml", talconfig("${K8S_VERSION:-v1.35.0}")]]);
      const r = await lint(dflt);
      assert.equal(r.json.kubernetesVersion, "1.35");
      assert.equal(
        r.json.kubernetesVersionSource,
        `talos/talconfig.yaml:${lineOf(dflt, "talos/talconfig.yaml", "kubernetesVersion:")}`,
      );
      const other = repoWith([
        ["talos/talconfig.yaml", talconfig("${K8S_VERSION}")],
        ["talos/talenv.yaml", "talosVersion: v1.11.2\n"],
      ]);
      assert.equal((await lint(other)).json.kubernetesVersion, null);
      // A SOPS-encrypted value is no version either.
      const sops = repoWith([
        ["talos/talconfig.yaml", talconfig("${kubernetesVersion}")],
        ["talos/talenv.sops.yaml", "kubernetesVersion: ENC[AES256_GCM,data:abc=,type:str]\nsops:\n  version: 3.9.0\n"],
      ]);
      assert.equal((await lint(sops)).json.kubernetesVersion, null);
    });

    it("talenv.yaml alone (no talconfig in its folder), an unquoted 1.30 read as written", async () => {
      const file = "clusters/main/talos/talenv.yaml";
      const dir = repoWith([[file, "clusterName: main\nkubernetesVersion: 1.30\n"]]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, "1.30");
      assert.equal(r.json.kubernetesVersionSource, `${file}:2`);
    });

    it("a Talos machine config: the kube-apiserver image tag", async () => {
      const file = "talos/generated/controlplane.yaml";
      const dir = repoWith([
        [
          file,
          "version: v1alpha1\nmachine:\n  type: controlplane\n  kubelet:\n    image: ghcr.io/siderolabs/kubelet:v1.35.6\ncluster:\n  apiServer:\n    image: registry.k8s.io/kube-apiserver:v1.35.6\n",
        ],
      ]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, "1.35");
      assert.equal(r.json.kubernetesVersionSource, `${file}:8`);
    });

    it("a delivered tuppr KubernetesUpgrade", async () => {
      const dir = repoWith(delivered("kubernetesupgrade.yaml", kubernetesUpgrade("v1.36.4")));
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, "1.36");
      const file = `${APP}/kubernetesupgrade.yaml`;
      assert.equal(r.json.kubernetesVersionSource, `${file}:${lineOf(dir, file, "version: v1.36.4")}`);
    });

    it("a system-upgrade-controller Plan for Kubernetes, its ${KUBERNETES_VERSION} set by the ks.yaml", async () => {
      const plan = `apiVersion: upgrade.cattle.io/v1
kind: Plan
metadata:
  name: kubernetes
  namespace: system-upgrade
spec:
  version: \${KUBERNETES_VERSION}
  serviceAccountName: system-upgrade
  upgrade:
    image: ghcr.io/siderolabs/talosctl:v1.11.2
    args: ["--nodes=$(SYSTEM_UPGRADE_NODE_NAME)", "upgrade-k8s", "--to=$(SYSTEM_UPGRADE_PLAN_LATEST_VERSION)"]
`;
      const talosPlan = plan
        .replace("name: kubernetes", "name: talos")
        .replace("${KUBERNETES_VERSION}", "v1.11.2")
        .replace('"upgrade-k8s", "--to', '"upgrade", "--image');
      const ks = `${V}/volsync/ks.yaml`;
      const dir = repoWith([
        ...delivered("plan.yaml", `${talosPlan}---\n${plan}`),
        [
          ks,
          "  interval: 30m\n",
          "  interval: 30m\n  postBuild:\n    substitute:\n      # renovate: datasource=docker depName=ghcr.io/siderolabs/kubelet\n      KUBERNETES_VERSION: v1.34.1\n",
        ],
      ]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, "1.34");
      const file = `${APP}/plan.yaml`;
      assert.equal(r.json.kubernetesVersionSource, `${file}:${lineOf(dir, file, "version: ${KUBERNETES_VERSION}")}`);
    });

    it("a kubectl pin (.mise.toml, .tool-versions) is not the cluster's version", async () => {
      const dir = repoWith([
        [".mise.toml", '[tools]\n"aqua:kubernetes/kubectl" = "1.30.0"\n'],
        [".tool-versions", "kubectl 1.30.0\n"],
      ]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, null);
      assert.equal(r.json.kubernetesVersionSource, null);
    });

    it("Talos files below a hidden folder (.archive/) state nothing", async () => {
      const dir = repoWith([[".archive/talos/talconfig.yaml", talconfig("v1.30.0")]]);
      assert.equal((await lint(dir)).json.kubernetesVersion, null);
    });

    it("k3s, rke2 and pre-release spellings", () => {
      assert.deepEqual(parseStatedVersion("v1.30.2+k3s1"), { major: 1, minor: 30 });
      assert.deepEqual(parseStatedVersion("v1.30.2+rke2r1"), { major: 1, minor: 30 });
      assert.deepEqual(parseStatedVersion("v1.35.0-alpha.3"), { major: 1, minor: 35 });
      assert.equal(parseStatedVersion("${KUBERNETES_VERSION}"), undefined);
      assert.equal(parseStatedVersion("latest"), undefined);
    });
  });

  describe("precedence", () => {
    it("flag > kopiashare.yaml > talconfig.yaml", async () => {
      const dir = repoWith([
        ["talos/talconfig.yaml", talconfig("v1.33.0")],
        ["kopiashare.yaml", 'kubernetesVersion: "1.35"\n'],
      ]);
      const config = await lint(dir);
      assert.equal(config.json.kubernetesVersion, "1.35");
      assert.equal(config.json.kubernetesVersionSource, "kopiashare.yaml");
      const flag = await lint(dir, ["--kubernetes-version", "1.34"]);
      assert.equal(flag.json.kubernetesVersion, "1.34");
      assert.equal(flag.json.kubernetesVersionSource, "flag");
    });

    it("a literal version in talconfig.yaml wins over its folder's talenv.yaml", async () => {
      const dir = repoWith([
        ["talos/talconfig.yaml", talconfig("v1.34.1")],
        ["talos/talenv.yaml", "kubernetesVersion: v1.31.0\n"],
      ]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, "1.34");
      assert.match(r.json.kubernetesVersionSource as string, /^talos\/talconfig\.yaml:\d+$/);
    });

    it("statements that agree on the minor (patches differ) count as one: the first Talos file is the source", async () => {
      const dir = repoWith([
        ["clusters/a/talos/talconfig.yaml", talconfig("v1.34.1")],
        ["clusters/b/talos/talconfig.yaml", talconfig("v1.34.3")],
        ...delivered("kubernetesupgrade.yaml", kubernetesUpgrade("v1.34.3")),
      ]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, "1.34");
      assert.match(r.json.kubernetesVersionSource as string, /^clusters\/a\/talos\/talconfig\.yaml:\d+$/);
    });
  });

  describe("never an error on a guess", () => {
    it("two clusters disagree: no version is used, both are reported (info), no version rule errs", async () => {
      const a = "clusters/a/talos/talconfig.yaml";
      const b = "clusters/b/talos/talconfig.yaml";
      const dir = repoWith([
        [a, talconfig("v1.33.2")],
        [b, talconfig("v1.35.0")],
      ]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, null);
      assert.equal(r.json.kubernetesVersionSource, null);
      const at = (f: string) => `${f}:${lineOf(dir, f, "kubernetesVersion:")}`;
      // The base repository's v1beta1 policy and binding: 1.33 would reject them, so each gets an info.
      const infos = ofRule(r, "admission/api-version");
      assert.deepEqual(
        infos.map((f) => [f.severity, `${f.file}:${f.line}`]),
        [
          ["info", `${MAP}:2`],
          ["info", `${MAP}:${lineOf(dir, MAP, "apiVersion: admissionregistration", 2)}`],
        ],
      );
      assert.ok(infos[0]?.what.includes(`1.33 (${at(a)}), 1.35 (${at(b)})`), infos[0]?.what);
      assert.match(infos[0]?.fix ?? "", /--kubernetes-version 1\.NN/);
      assert.match(infos[0]?.fix ?? "", /on 1\.33: apiVersion: admissionregistration\.k8s\.io\/v1alpha1/);
      assert.equal(r.code, 0);
      const err = await textErr(dir);
      assert.match(err, /^kubernetes version unknown: the repository states 1\.33 \(.+\), 1\.35 \(.+\);/m);
      assert.match(err, /pass --kubernetes-version 1\.NN/);
    });

    it("a Talos file left behind by an upgrade controller: disagreement, no version", async () => {
      const dir = repoWith([
        ["kubernetes/bootstrap/talos/talconfig.yaml", talconfig("v1.33.1")],
        ...delivered("kubernetesupgrade.yaml", kubernetesUpgrade("v1.34.2")),
      ]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, null);
      assert.deepEqual(
        r.findings.filter((f) => VERSION_RULES.includes(f.rule) && f.severity !== "info"),
        [],
      );
    });

    it("disagreeing statements, one below 1.24, with shared-handle PVs: volume/old-kubernetes is info", async () => {
      const dir = repoWith([
        ["clusters/a/talos/talconfig.yaml", talconfig("v1.23.5")],
        ["clusters/b/talos/talconfig.yaml", talconfig("v1.34.0")],
      ]);
      const r = await lint(dir);
      const old = ofRule(r, "volume/old-kubernetes");
      assert.deepEqual(
        old.map((f) => [f.severity, `${f.file}:${f.line}`]),
        [["info", `${PV_SYS}:${lineOf(dir, PV_SYS, "volumeHandle")}`]],
      );
      assert.match(old[0]?.fix ?? "", /--kubernetes-version 1\.NN/);
      // Stated by the flag, the same repository is an error.
      const known = await lint(dir, ["--kubernetes-version", "1.23"]);
      assert.deepEqual(
        ofRule(known, "volume/old-kubernetes").map((f) => f.severity),
        ["error"],
      );
    });

    it("disagreeing statements that all accept the policy: nothing to say", async () => {
      const dir = repoWith([
        ["clusters/a/talos/talconfig.yaml", talconfig("v1.34.0")],
        ["clusters/b/talos/talconfig.yaml", talconfig("v1.35.0")],
      ]);
      const r = await lint(dir);
      assert.equal(r.json.kubernetesVersion, null);
      assert.deepEqual(
        r.findings.filter((f) => VERSION_RULES.includes(f.rule)),
        [],
      );
    });

    it("no source at all: a MutatingAdmissionPolicy of any apiVersion gets no version finding; stderr says how to check", async () => {
      for (const api of ["v1alpha1", "v1beta1", "v1"]) {
        const dir = repoWith([
          [MAP, "admissionregistration.k8s.io/v1beta1", `admissionregistration.k8s.io/${api}`],
          [MAP, "admissionregistration.k8s.io/v1beta1", `admissionregistration.k8s.io/${api}`],
        ]);
        const r = await lint(dir);
        assert.equal(r.json.kubernetesVersion, null, api);
        assert.deepEqual(
          r.findings.filter((f) => VERSION_RULES.includes(f.rule)),
          [],
          api,
        );
        assert.equal(r.code, 0, api);
        if (api === "v1beta1") {
          assert.match(
            await textErr(dir),
            /^kubernetes version unknown \(nothing in the repository states it\): admission\/api-version and volume\/old-kubernetes are not checked \(pass --kubernetes-version 1\.NN\)$/m,
          );
        }
      }
    });

    it("a version stated by a Talos file is known: a policy it does not serve is an error", async () => {
      const dir = repoWith([["talos/talconfig.yaml", talconfig("v1.33.0")]]);
      const r = await lint(dir);
      assert.deepEqual(
        ofRule(r, "admission/api-version").map((f) => f.severity),
        ["error", "error"],
      );
      assert.match(ofRule(r, "admission/api-version")[0]?.what ?? "", /not served by Kubernetes 1\.33/);
    });
  });

  it("-o github and -o sarif print no version line", async () => {
    const dir = repoWith([["talos/talconfig.yaml", talconfig("v1.34.1")]]);
    for (const o of ["github", "sarif"]) {
      const r = await run(["lint", "--repo", dir, "-o", o], { cwd: dir });
      assert.doesNotMatch(r.err, /kubernetes version/, o);
    }
  });
});
