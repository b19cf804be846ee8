/**
 * What Flux and kustomize really apply: one `it` per false-positive class measured on real home-ops
 * repositories, each on a small fixture of our own (test/fixtures/delivery/<case>, or the lint base with
 * edits). Every case asserts the model (reachability, roots, namespaces, substitution) and the lint
 * findings; most also assert the opposite fixture (the pattern removed) to prove the check can fail.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import type { FluxKs, RepoModel } from "../../src/core/model.ts";
import { resolveDelivery } from "../../src/gitops/delivery.ts";
import { loadConventions } from "../../src/gitops/repo.ts";
import { scanRepo } from "../../src/gitops/scan.ts";
import { FIXTURES, writeFiles } from "../helpers.ts";
import { APP_KS, type Edit, type LintRun, lint, M, ofRule, repoWith } from "./helpers.ts";

const DELIVERY = path.join(FIXTURES, "delivery");
const fixture = (name: string) => path.join(DELIVERY, name);

function modelOf(dir: string): RepoModel {
  return resolveDelivery(scanRepo(dir), loadConventions(dir));
}

/** The Kustomization `ns/name` (the only one with that id). */
function ksOf(m: RepoModel, id: string): FluxKs {
  const list = m.kustomizations.filter((k) => k.id === id);
  assert.equal(list.length, 1, `one Kustomization ${id}, got ${list.length}: ${m.kustomizations.map((k) => k.id)}`);
  return list[0] as FluxKs;
}

/** [reachable, root, parent, external] of a Kustomization. */
const state = (k: FluxKs) => [k.reachable, k.root, k.parent, k.external];

/** "severity file:line" of each finding of a rule. */
const found = (r: LintRun, rule: string) => ofRule(r, rule).map((f) => `${f.severity} ${f.file}:${f.line}`);

/** No finding of any of these rules (message lists what was found). */
function none(r: LintRun, rules: string[]): void {
  const hits = r.findings.filter((f) => rules.includes(f.rule));
  assert.deepEqual(
    hits.map((f) => `${f.rule} ${f.severity} ${f.file}:${f.line} ${f.what}`),
    [],
  );
}

const doc = (...lines: string[]) => `---\n${lines.join("\n")}\n`;

/** A Flux Kustomization document (flux-system namespace, GitRepository flux-system unless `source`). */
function fluxKs(name: string, p: string, extra: string[] = [], source = "GitRepository/flux-system"): string {
  const [kind, sname] = source.split("/");
  return doc(
    "apiVersion: kustomize.toolkit.fluxcd.io/v1",
    "kind: Kustomization",
    "metadata:",
    `  name: ${name}`,
    "  namespace: flux-system",
    "spec:",
    "  interval: 1h",
    `  path: ${p}`,
    "  prune: true",
    "  sourceRef:",
    `    kind: ${kind}`,
    `    name: ${sname}`,
    ...extra.map((l) => `  ${l}`),
  );
}

/** Moves oci-sync's FluxInstance out of the artifact's folders (to bootstrap/). */
function moveInstance(dir: string): void {
  const from = path.join(dir, "kubernetes/clusters/x/flux-instance.yaml");
  writeFiles(dir, { "bootstrap/flux-instance.yaml": readFileSync(from, "utf8") });
  rmSync(from);
}

describe("what Flux delivers (false-positive classes of real repositories)", () => {
  // ---------------------------------------------------------------------------------------------
  // 1. The Flux Operator's instance, as the flux-instance chart (inline values, valuesFrom a generated
  //    ConfigMap, inside a ResourceSet) or as a plain FluxInstance, creates GitRepository flux-system.
  it("1. a FluxInstance (flux-instance chart, valuesFrom, ResourceSet, plain) syncs the root", async (t) => {
    const FI = fixture("flux-instance");
    const APP = "kubernetes/apps/flux-system/flux-instance/app";
    const REACHABLE = [
      "flux-system/cluster-apps",
      "flux-system/flux-instance",
      "flux-system/volsync-repository-pvc-media",
      "flux-system/jellyfin",
    ];

    async function assertSynced(dir: string, declaredIn: string) {
      const m = modelOf(dir);
      assert.equal(m.roots, "bootstrap");
      assert.equal(m.fluxInstance, true);
      const roots = m.kustomizations.filter((k) => k.root);
      assert.deepEqual(
        roots.map((k) => [k.id, k.path?.target, k.path?.exists, k.doc.file]),
        [["flux-system/flux-system", "kubernetes/flux/cluster", true, declaredIn]],
      );
      for (const id of REACHABLE) assert.equal(ksOf(m, id).reachable, true, `${id} is reachable`);
      assert.deepEqual(state(ksOf(m, "flux-system/cluster-apps")), [true, false, "flux-system/flux-system", false]);
      assert.deepEqual(state(ksOf(m, "flux-system/jellyfin")), [true, false, "flux-system/cluster-apps", false]);
      assert.ok(
        m.objects.some(
          (o) => o.kind === "ReplicationSource" && o.namespace === "media" && o.via === "flux-system/jellyfin",
        ),
      );
      const r = await lint(dir);
      none(r, ["delivery/unknown-source", "delivery/not-applied", "delivery/no-root", "delivery/missing-path"]);
    }

    await t.test(
      "HelmRelease of the flux-instance chart (chartRef to an OCIRepository), inline instance.sync",
      async () => {
        await assertSynced(repoWith([], FI), `${APP}/helmrelease.yaml`);
      },
    );

    await t.test(
      "control: without instance.sync, GitRepository flux-system is unknown and the roots are guessed",
      async () => {
        const dir = repoWith([[`${APP}/helmrelease.yaml`, "      sync:\n", "      no-sync:\n"]], FI);
        const m = modelOf(dir);
        assert.equal(m.roots, "guessed");
        const r = await lint(dir);
        assert.ok(
          found(r, "delivery/unknown-source").length > 0,
          "sourceRef flux-system is reported without the instance",
        );
        assert.equal(ofRule(r, "delivery/no-root").length, 1);
      },
    );

    await t.test(
      "valuesFrom a ConfigMap that a kustomization.yaml configMapGenerator makes from helm/values.yaml",
      async () => {
        const dir = repoWith(
          [
            [
              `${APP}/helmrelease.yaml`,
              doc(
                "apiVersion: helm.toolkit.fluxcd.io/v2",
                "kind: HelmRelease",
                "metadata:",
                "  name: flux-instance",
                "spec:",
                "  interval: 1h",
                "  chartRef:",
                "    kind: OCIRepository",
                "    name: flux-instance",
                "  valuesFrom:",
                "    - kind: ConfigMap",
                "      name: flux-instance-values",
              ),
            ],
            [
              `${APP}/kustomization.yaml`,
              doc(
                "apiVersion: kustomize.config.k8s.io/v1beta1",
                "kind: Kustomization",
                "resources:",
                "  - ./ocirepository.yaml",
                "  - ./helmrelease.yaml",
                "configMapGenerator:",
                "  - name: flux-instance-values",
                "    files:",
                "      - values.yaml=./helm/values.yaml",
                "generatorOptions:",
                "  disableNameSuffixHash: true",
              ),
            ],
            [
              `${APP}/helm/values.yaml`,
              [
                "instance:",
                "  distribution:",
                "    version: 2.x",
                "  sync:",
                "    kind: GitRepository",
                "    url: https://github.com/example/home-ops",
                "    ref: refs/heads/main",
                "    path: kubernetes/flux/cluster",
                "",
              ].join("\n"),
            ],
          ],
          FI,
        );
        await assertSynced(dir, `${APP}/helm/values.yaml`);
        const cm = modelOf(dir).objects.find((o) => o.kind === "ConfigMap" && o.name === "flux-instance-values");
        assert.equal(cm?.namespace, "flux-system", "the generated values ConfigMap is delivered too");
      },
    );

    await t.test("a plain FluxInstance object", async () => {
      const dir = repoWith(
        [
          [
            `${APP}/helmrelease.yaml`,
            doc(
              "apiVersion: fluxcd.controlplane.io/v1",
              "kind: FluxInstance",
              "metadata:",
              "  name: flux",
              "spec:",
              "  distribution:",
              "    version: 2.x",
              "    registry: ghcr.io/fluxcd",
              "  sync:",
              "    kind: GitRepository",
              "    url: https://github.com/example/home-ops",
              "    ref: refs/heads/main",
              "    path: kubernetes/flux/cluster",
            ),
          ],
        ],
        FI,
      );
      await assertSynced(dir, `${APP}/helmrelease.yaml`);
    });

    await t.test("the HelmRelease inside a ResourceSet's spec.resources", async () => {
      const dir = repoWith(
        [
          [
            `${APP}/helmrelease.yaml`,
            doc(
              "apiVersion: fluxcd.controlplane.io/v1",
              "kind: ResourceSet",
              "metadata:",
              "  name: flux-instance",
              "spec:",
              "  resources:",
              "    - apiVersion: helm.toolkit.fluxcd.io/v2",
              "      kind: HelmRelease",
              "      metadata:",
              "        name: flux-instance",
              "        namespace: flux-system",
              "      spec:",
              "        interval: 1h",
              "        chartRef:",
              "          kind: OCIRepository",
              "          name: flux-instance",
              "        values:",
              "          instance:",
              "            sync:",
              "              kind: GitRepository",
              "              url: https://github.com/example/home-ops",
              "              ref: refs/heads/main",
              "              path: kubernetes/flux/cluster",
            ),
          ],
        ],
        FI,
      );
      await assertSynced(dir, `${APP}/helmrelease.yaml`);
    });
  });

  // ---------------------------------------------------------------------------------------------
  it("2. gotk-sync root plus an app whose ks.yaml lies inside its own path: only the bootstrap one is a root", async () => {
    const dir = repoWith([], fixture("gotk-sync"));
    const m = modelOf(dir);
    assert.equal(m.roots, "bootstrap");
    assert.deepEqual(
      m.kustomizations.filter((k) => k.root).map((k) => [k.id, k.doc.file]),
      [["flux-system/flux-system", "clusters/home/flux-system/gotk-sync.yaml"]],
    );
    assert.deepEqual(state(ksOf(m, "flux-system/apps")), [true, false, "flux-system/flux-system", false]);
    // jellyfin's path (apps/media/jellyfin, no kustomization.yaml) applies its own ks.yaml too: a cycle,
    // like bootstrap's, but apps applies it, and it is not declared beside its GitRepository.
    assert.deepEqual(state(ksOf(m, "flux-system/jellyfin")), [true, false, "flux-system/apps", false]);
    assert.ok(
      m.objects.some((o) => o.kind === "Kustomization" && o.name === "jellyfin" && o.via === "flux-system/jellyfin"),
      "the app's path delivers its own ks.yaml",
    );
    assert.deepEqual(
      m.objects
        .filter((o) => o.via === "flux-system/jellyfin" && o.kind !== "Kustomization")
        .map((o) => `${o.kind}/${o.namespace}/${o.name}`)
        .sort(),
      ["ReplicationSource/media/jellyfin", "Secret/media/jellyfin-volsync"],
    );
    const r = await lint(dir);
    none(r, ["delivery/no-root", "delivery/not-applied", "delivery/unknown-source", "delivery/missing-path"]);
  });

  // ---------------------------------------------------------------------------------------------
  it("3. dot-folders, commented-out entries and ks.yaml files nothing lists", async (t) => {
    const archived: Edit[] = [
      // An old cluster in .archive/: self-delivering (bootstrap style), and an app whose path is gone.
      [
        ".archive/old-cluster/flux-system/gotk-sync.yaml",
        doc(
          "apiVersion: source.toolkit.fluxcd.io/v1",
          "kind: GitRepository",
          "metadata:",
          "  name: flux-system",
          "  namespace: flux-system",
          "spec:",
          "  interval: 1h",
          "  url: https://github.com/example/old",
        ) + fluxKs("flux-system", "./.archive/old-cluster"),
      ],
      [".archive/old-cluster/apps.yaml", fluxKs("old-apps", "./.archive/old-cluster/apps")],
      [".archive/sonarr/ks.yaml", fluxKs("sonarr", "./kubernetes/apps/media/sonarr/app", ["targetNamespace: media"])],
      [".github/renovate/ks.yaml", fluxKs("renovate-test", "./nowhere")],
    ];

    await t.test(".archive/ and other dot-folders: neither a root nor reported, even with a missing path", async () => {
      const dir = repoWith(archived);
      const m = modelOf(dir);
      assert.deepEqual(
        m.kustomizations.filter((k) => k.root).map((k) => k.id),
        ["flux-system/cluster"],
        "the base repository's bootstrap Kustomization is the only root",
      );
      for (const k of m.kustomizations.filter((x) => x.doc.file.startsWith("."))) {
        assert.deepEqual([k.id, k.reachable, k.root, k.excluded], [k.id, false, false, true]);
      }
      const r = await lint(dir);
      const inDot = r.findings.filter((f) => f.file.startsWith("."));
      assert.deepEqual(
        inDot.map((f) => `${f.rule} ${f.file}`),
        [],
      );
      none(r, ["delivery/no-root", "delivery/not-applied", "delivery/missing-path"]);
    });

    // Flux's generated kustomization (a path without kustomization.yaml) takes every YAML file below the
    // path (fluxcd/pkg kustomize generator: a plain walk), and source-controller leaves out only .git/,
    // .github/, CI files and what a .sourceignore names: a dot-folder such as .archive/ inside the path is
    // applied. The model's walk skips every dot-folder.
    await t.test("a dot-folder inside a path Flux walks (no kustomization.yaml) is applied all the same", () => {
      const dir = repoWith(
        [
          [
            "clusters/home/.archive/old-settings.yaml",
            doc("apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: old-settings", "  namespace: flux-system"),
          ],
        ],
        fixture("gotk-sync"),
      );
      assert.ok(modelOf(dir).objects.some((o) => o.name === "old-settings" && o.via === "flux-system/flux-system"));
    });

    await t.test("an app whose entry is commented out in its parent kustomization.yaml is not reported", async () => {
      const sonarr = `${M}/sonarr/ks.yaml`;
      const dir = repoWith([
        [`${M}/kustomization.yaml`, "  - ./jellyfin/ks.yaml\n", "  - ./jellyfin/ks.yaml\n  # - ./sonarr/ks.yaml\n"],
        [
          sonarr,
          fluxKs(
            "sonarr",
            "./kubernetes/apps/media/sonarr/app",
            [
              "targetNamespace: media",
              "components:",
              "  - ../../../../components/volsync",
              "postBuild:",
              "  substitute:",
              "    APP: sonarr",
            ],
            "GitRepository/home-kubernetes",
          ),
        ],
        [`${M}/sonarr/app/kustomization.yaml`, "resources: []\n"],
      ]);
      const m = modelOf(dir);
      const k = ksOf(m, "flux-system/sonarr");
      assert.deepEqual([k.reachable, k.excluded], [false, true]);
      const r = await lint(dir);
      assert.deepEqual(found(r, "delivery/not-applied"), []);

      // control: the same ks.yaml without the commented-out line is a warning (it would deliver backups)
      const plain = repoWith([
        [
          sonarr,
          fluxKs(
            "sonarr",
            "./kubernetes/apps/media/sonarr/app",
            [
              "targetNamespace: media",
              "components:",
              "  - ../../../../components/volsync",
              "postBuild:",
              "  substitute:",
              "    APP: sonarr",
            ],
            "GitRepository/home-kubernetes",
          ),
        ],
        [`${M}/sonarr/app/kustomization.yaml`, "resources: []\n"],
      ]);
      assert.deepEqual(found(await lint(plain), "delivery/not-applied"), [`warning ${sonarr}:2`]);
    });

    await t.test(
      "a ks.yaml nothing lists: info when it delivers nothing of the backup system, warning when it delivers a ReplicationSource",
      async () => {
        const echo = `${M}/echo/ks.yaml`;
        const sonarr = `${M}/sonarr/ks.yaml`;
        const dir = repoWith([
          [
            echo,
            fluxKs(
              "echo",
              "./kubernetes/apps/media/echo/app",
              ["targetNamespace: media"],
              "GitRepository/home-kubernetes",
            ),
          ],
          [
            `${M}/echo/app/configmap.yaml`,
            doc("apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: echo", "data:", "  a: b"),
          ],
          [
            sonarr,
            fluxKs(
              "sonarr",
              "./kubernetes/apps/media/sonarr/app",
              ["targetNamespace: media"],
              "GitRepository/home-kubernetes",
            ),
          ],
          [
            `${M}/sonarr/app/replicationsource.yaml`,
            doc(
              "apiVersion: volsync.backube/v1alpha1",
              "kind: ReplicationSource",
              "metadata:",
              "  name: sonarr",
              "spec:",
              "  sourcePVC: sonarr",
              "  trigger:",
              "    schedule: 0 * * * *",
              "  kopia:",
              "    repository: sonarr-volsync-secret",
              "    copyMethod: Snapshot",
            ),
          ],
        ]);
        const m = modelOf(dir);
        assert.deepEqual([ksOf(m, "flux-system/echo").reachable, ksOf(m, "flux-system/echo").excluded], [false, false]);
        assert.deepEqual(
          ksOf(m, "flux-system/sonarr").wouldApply.map((o) => `${o.kind}/${o.namespace}/${o.name}`),
          ["ReplicationSource/media/sonarr"],
        );
        const r = await lint(dir);
        assert.deepEqual(found(r, "delivery/not-applied").sort(), [`info ${echo}:2`, `warning ${sonarr}:2`]);
      },
    );
  });

  // ---------------------------------------------------------------------------------------------
  it("4. an OCI artifact as the sync source, and ExternalArtifacts of an ArtifactGenerator", async (t) => {
    const OCI = fixture("oci-sync");
    const INSTANCE = "kubernetes/clusters/x/flux-instance.yaml";
    const CHILDREN = ["flux-system/apps", "flux-system/volsync-repository-pvc-media", "flux-system/jellyfin"];

    function assertFollowed(m: RepoModel, declaredIn: string) {
      assert.deepEqual(
        m.kustomizations.filter((k) => k.root).map((k) => [k.id, k.path?.target, k.doc.file]),
        [["flux-system/flux-system", "kubernetes/clusters/x", declaredIn]],
      );
      assert.deepEqual(m.unfollowed, []);
      for (const id of CHILDREN) {
        const k = ksOf(m, id);
        assert.deepEqual([id, k.reachable, k.external, k.path?.exists], [id, true, false, true]);
      }
      assert.equal(ksOf(m, "flux-system/apps").path?.target, "kubernetes/apps", "./apps is relative to the artifact");
      assert.deepEqual(
        m.objects.filter((o) => o.namespace === "media").map((o) => `${o.via} ${o.kind}/${o.name}`),
        [
          "flux-system/volsync-repository-pvc-media PersistentVolumeClaim/kopia",
          "flux-system/jellyfin Secret/jellyfin-volsync",
          "flux-system/jellyfin ReplicationSource/jellyfin",
        ],
      );
    }

    await t.test(
      "the instance's own file lies under <prefix>/clusters/x: the artifact root is found, children followed",
      async () => {
        const dir = repoWith([], OCI);
        assertFollowed(modelOf(dir), INSTANCE);
        const r = await lint(dir);
        none(r, ["delivery/no-root", "delivery/not-applied", "delivery/unknown-source", "delivery/missing-path"]);
      },
    );

    await t.test("the instance elsewhere: an info delivery/no-root that it cannot follow, and no errors", async () => {
      const dir = repoWith([], OCI);
      moveInstance(dir);
      const m = modelOf(dir);
      assert.deepEqual(
        m.unfollowed.map((u) => [u.source, u.path, u.loc.file]),
        [["OCIRepository/flux-system", "./clusters/x", "bootstrap/flux-instance.yaml"]],
      );
      for (const id of CHILDREN) assert.equal(ksOf(m, id).external, true, `${id} is not in this checkout as it stands`);
      const r = await lint(dir);
      assert.deepEqual(found(r, "delivery/no-root"), ["info bootstrap/flux-instance.yaml:4"]);
      assert.match(ofRule(r, "delivery/no-root")[0]?.what ?? "", /root folder in this checkout is unknown/);
      assert.deepEqual(
        r.findings.filter((f) => f.severity !== "info").map((f) => `${f.rule} ${f.file}`),
        [],
      );
    });

    await t.test("the instance elsewhere, with artifactRoots in kopiashare.yaml: followed", async () => {
      const dir = repoWith([["kopiashare.yaml", "artifactRoots:\n  OCIRepository/flux-system: kubernetes\n"]], OCI);
      moveInstance(dir);
      assertFollowed(modelOf(dir), "bootstrap/flux-instance.yaml");
      const r = await lint(dir);
      none(r, ["delivery/no-root", "delivery/not-applied", "delivery/unknown-source", "delivery/missing-path"]);
    });

    await t.test(
      "ExternalArtifact of an ArtifactGenerator whose copy changes the path: declared, not followed",
      async () => {
        const dir = repoWith(
          [["kubernetes/clusters/x/artifacts.yaml", 'to: "@artifact/apps/media/jellyfin/app/"', 'to: "@artifact/"']],
          OCI,
        );
        const m = modelOf(dir);
        const k = ksOf(m, "flux-system/jellyfin");
        assert.deepEqual([k.reachable, k.external, k.objects.length], [true, true, 0]);
        const r = await lint(dir);
        none(r, ["delivery/unknown-source", "delivery/missing-path"]);
      },
    );
  });

  // ---------------------------------------------------------------------------------------------
  it("5. patches: a parent's spec.patches on child Kustomizations, and kustomization.yaml patches", async (t) => {
    const PP = fixture("parent-patches");
    const APPS = "clusters/home/apps.yaml";
    const CM = "apps/media/jellyfin/app/configmap.yaml";
    const url = (m: RepoModel) =>
      (m.objects.find((o) => o.kind === "ConfigMap" && o.file === CM)?.body.data as Record<string, unknown>)
        ?.PUBLIC_URL;
    /** clusters/home/apps.yaml without its spec.patches. */
    const unpatched: Edit = [APPS, "  patches:\n", "  no-patches:\n"];

    await t.test("a strategic-merge patch adds postBuild.substituteFrom cluster-settings to every child", async () => {
      const dir = repoWith([], PP);
      const m = modelOf(dir);
      const jf = ksOf(m, "flux-system/jellyfin");
      assert.deepEqual(
        jf.substituteFrom.map((f) => [f.kind, f.name, f.found]),
        [["ConfigMap", "cluster-settings", true]],
      );
      assert.deepEqual(jf.substitute, { APP: "jellyfin" }, "the patch merges into postBuild, substitute stays");
      assert.equal(url(m), "https://jellyfin.example.org");
      const r = await lint(dir);
      none(r, ["flux/undefined-variable", "flux/substitute-from-missing", "flux/no-post-build"]);
    });

    await t.test(
      "control: without the patch ${SECRET_DOMAIN} is undefined (error: jellyfin delivers a ReplicationSource)",
      async () => {
        const dir = repoWith([unpatched], PP);
        const m = modelOf(dir);
        assert.deepEqual(ksOf(m, "flux-system/jellyfin").substituteFrom, []);
        const r = await lint(dir);
        assert.deepEqual(found(r, "flux/undefined-variable"), [`error ${CM}:7`]);
      },
    );

    await t.test("a JSON 6902 patch adds the substituteFrom", async () => {
      const dir = repoWith(
        [
          [
            APPS,
            /* the strategic-merge patch replaced by a JSON patch of one child */
            "    - patch: |-\n        apiVersion: kustomize.toolkit.fluxcd.io/v1\n        kind: Kustomization\n        metadata:\n          name: not-used\n        spec:\n          postBuild:\n            substituteFrom:\n              - kind: ConfigMap\n                name: cluster-settings\n      target:\n        group: kustomize.toolkit.fluxcd.io\n        kind: Kustomization\n        labelSelector: substitution.flux/disabled notin (true)\n",
            "    - patch: |-\n        - op: add\n          path: /spec/postBuild/substituteFrom\n          value:\n            - kind: ConfigMap\n              name: cluster-settings\n      target:\n        group: kustomize.toolkit.fluxcd.io\n        kind: Kustomization\n        name: jellyfin\n",
          ],
        ],
        PP,
      );
      const m = modelOf(dir);
      assert.deepEqual(
        ksOf(m, "flux-system/jellyfin").substituteFrom.map((f) => f.name),
        ["cluster-settings"],
      );
      assert.deepEqual(ksOf(m, "flux-system/volsync-repository-pvc-media").substituteFrom, []);
      assert.equal(url(m), "https://jellyfin.example.org");
      none(await lint(dir), ["flux/undefined-variable"]);
    });

    // `kubectl kustomize` fails the whole build when a JSON 6902 op does not apply to one of the patch's
    // targets ("add operation does not apply: doc is missing path"): Flux fails cluster-apps, so none of
    // its children (the PVC's Kustomization included) is applied or updated. The model skips the failing
    // patch for that object (src/core/kustomize-patch.ts: "Any failing op leaves the object unpatched")
    // and lint says nothing.
    await t.test("a spec.patches JSON op that fails on one of its targets fails the parent: reported", async () => {
      const dir = repoWith(
        [
          [
            APPS,
            "    - patch: |-\n        apiVersion: kustomize.toolkit.fluxcd.io/v1\n        kind: Kustomization\n        metadata:\n          name: not-used\n        spec:\n          postBuild:\n            substituteFrom:\n              - kind: ConfigMap\n                name: cluster-settings\n      target:\n        group: kustomize.toolkit.fluxcd.io\n        kind: Kustomization\n        labelSelector: substitution.flux/disabled notin (true)\n",
            // volsync-repository-pvc-media has no spec.postBuild: the op has no parent to add to
            "    - patch: |-\n        - op: add\n          path: /spec/postBuild/substituteFrom\n          value:\n            - kind: ConfigMap\n              name: cluster-settings\n      target:\n        group: kustomize.toolkit.fluxcd.io\n        kind: Kustomization\n",
          ],
        ],
        PP,
      );
      const r = await lint(dir);
      assert.ok(
        r.findings.some((f) => f.severity === "error" && f.file === APPS),
        `an error at ${APPS}: ${r.findings.map((f) => `${f.rule} ${f.file}`).join(", ")}`,
      );
    });

    await t.test(
      "a kustomization.yaml patches: entry sets the PVC's storageClassName: the model sees the patched value",
      async () => {
        const dir = repoWith([], PP);
        const m = modelOf(dir);
        const pvc = m.objects.find((o) => o.kind === "PersistentVolumeClaim" && o.name === "kopia");
        assert.ok(pvc, "the PVC is delivered");
        assert.equal((pvc.body.spec as Record<string, unknown>).storageClassName, "backups");
        none(await lint(dir), ["binding/mismatch"]);
        // control: without the patch the PVC's class differs from its PV's
        const plain = repoWith(
          [["apps/media/volsync-repository-pvc/app/kustomization.yaml", "patches:\n", "no-patches:\n"]],
          PP,
        );
        assert.equal(
          ofRule(await lint(plain), "binding/mismatch").length,
          1,
          "binding/mismatch fires on the unpatched PVC",
        );
      },
    );
  });

  // ---------------------------------------------------------------------------------------------
  it("6. kustomize transformers: (NamespaceTransformer) and namespace:", async (t) => {
    const TR = fixture("transformers");
    const PVC_T = "apps/media/volsync-repository-pvc/app/namespace-transformer.yaml";
    const JF_T = "apps/media/jellyfin/app/namespace-transformer.yaml";
    const where = (m: RepoModel, kind: string, name: string) =>
      m.objects.filter((o) => o.kind === kind && o.name === name).map((o) => o.namespace);

    await t.test("a builtin NamespaceTransformer puts the PVC kopia and the ReplicationSource into media", async () => {
      const dir = repoWith([], TR);
      const m = modelOf(dir);
      assert.deepEqual(where(m, "PersistentVolumeClaim", "kopia"), ["media"]);
      assert.deepEqual(where(m, "ReplicationSource", "jellyfin"), ["media"]);
      assert.deepEqual(where(m, "PersistentVolume", "kopia-repository-pv-media"), [undefined], "cluster-scoped");
      none(await lint(dir), ["delivery/no-claim", "delivery/orphan"]);
    });

    await t.test("control: the transformer of the PVC's folder removed: no PVC kopia in media", async () => {
      const dir = repoWith(
        [["apps/media/volsync-repository-pvc/app/kustomization.yaml", "transformers:\n", "x-transformers:\n"]],
        TR,
      );
      const m = modelOf(dir);
      assert.deepEqual(where(m, "PersistentVolumeClaim", "kopia"), [undefined]);
      assert.equal(ofRule(await lint(dir), "delivery/no-claim").length, 1);
    });

    await t.test("unsetOnly: true sets the namespace of objects that have none, and keeps the others'", async () => {
      const dir = repoWith(
        [
          [JF_T, "  namespace: media\n", "  namespace: media\nunsetOnly: true\n"],
          [PVC_T, "  namespace: media\n", "  namespace: media\nunsetOnly: true\n"],
          [
            "apps/media/jellyfin/app/secret.yaml",
            "  name: jellyfin-volsync\n",
            "  name: jellyfin-volsync\n  namespace: other\n",
          ],
        ],
        TR,
      );
      const m = modelOf(dir);
      assert.deepEqual(where(m, "PersistentVolumeClaim", "kopia"), ["media"]);
      assert.deepEqual(where(m, "ReplicationSource", "jellyfin"), ["media"]);
      assert.deepEqual(where(m, "Secret", "jellyfin-volsync"), ["other"]);
      none(await lint(dir), ["delivery/no-claim"]);
    });

    // Flux appends spec.components to the path's kustomization.yaml, so its namespace: (and patches,
    // transformers) apply to the component's objects too; test/lint/kustomize-diff.test.ts shows the same
    // against kubectl. Here: the lint base's jellyfin with the namespace in its kustomization.yaml instead of
    // targetNamespace. The model leaves the Volsync component's objects without a namespace, so media's
    // PV/PVC look unused (delivery/orphan) and nothing about the ReplicationSource is checked in media.
    await t.test(
      "the path's kustomize namespace: reaches the objects of the Flux Kustomization's spec.components",
      async () => {
        const dir = repoWith([
          [APP_KS, "  targetNamespace: media\n", ""],
          [`${M}/jellyfin/app/kustomization.yaml`, "resources:\n", "namespace: media\nresources:\n"],
        ]);
        const m = modelOf(dir);
        assert.deepEqual(
          m.objects.filter((o) => o.via === "flux-system/jellyfin").map((o) => `${o.kind}/${o.namespace}`),
          ["HelmRelease/media", "ExternalSecret/media", "ReplicationSource/media", "ReplicationDestination/media"],
        );
        none(await lint(dir), ["delivery/orphan"]);
      },
    );

    await t.test("the kustomize namespace: field renames the Namespace object", () => {
      const m = modelOf(repoWith([], TR));
      assert.deepEqual(
        m.objects.filter((o) => o.kind === "Namespace").map((o) => [o.name, o.file]),
        [["media", "apps/media/namespace/namespace.yaml"]],
      );
    });
  });

  // ---------------------------------------------------------------------------------------------
  it("7. parse scope: only files a reachable Kustomization applies are reported", async (t) => {
    const BROKEN = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata: {a: [unclosed\n";
    const RECYCLARR = `${M}/recyclarr`;
    const notManifests: Edit[] = [
      // a Helm chart: templates are Go templates, not YAML
      ["charts/echo/Chart.yaml", "apiVersion: v2\nname: echo\nversion: 1.0.0\n"],
      [
        "charts/echo/templates/deployment.yaml",
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include "echo.fullname" . }}\n  labels:\n    {{- include "echo.labels" . | nindent 4 }}\n',
      ],
      // a configMapGenerator input: recyclarr's custom tags (valid YAML, but not a manifest)
      [`${M}/kustomization.yaml`, "  - ./jellyfin/ks.yaml\n", "  - ./jellyfin/ks.yaml\n  - ./recyclarr/ks.yaml\n"],
      [
        `${RECYCLARR}/ks.yaml`,
        fluxKs(
          "recyclarr",
          "./kubernetes/apps/media/recyclarr/app",
          ["targetNamespace: media"],
          "GitRepository/home-kubernetes",
        ),
      ],
      [
        `${RECYCLARR}/app/kustomization.yaml`,
        doc(
          "apiVersion: kustomize.config.k8s.io/v1beta1",
          "kind: Kustomization",
          "configMapGenerator:",
          "  - name: recyclarr",
          "    files:",
          "      - ./config/recyclarr.yml",
          "generatorOptions:",
          "  disableNameSuffixHash: true",
        ),
      ],
      [
        `${RECYCLARR}/app/config/recyclarr.yml`,
        "sonarr:\n  series:\n    base_url: !env_var SONARR_URL\n    api_key: !env_var SONARR_API_KEY\n",
      ],
      // Ansible and Taskfile folders
      ["ansible/roles/k3s/tasks/main.yml", "- name: install\n  when: {{ k3s_enabled }}\n  shell: [unclosed\n"],
      [".taskfiles/flux/Taskfile.yaml", BROKEN],
    ];
    const parseErrors = (m: RepoModel) => m.issues.filter((i) => i.kind === "parse").map((i) => i.file);

    await t.test(
      "Helm templates, a generator input with custom tags, Ansible and .taskfiles: no input/invalid-yaml",
      async () => {
        const dir = repoWith(notManifests);
        const scanned = scanRepo(dir)
          .issues.filter((i) => i.kind === "parse")
          .map((i) => i.file);
        assert.deepEqual(
          scanned.sort(),
          [
            ".taskfiles/flux/Taskfile.yaml",
            "ansible/roles/k3s/tasks/main.yml",
            "charts/echo/templates/deployment.yaml",
          ],
          "the scan finds the parse errors (and reads the custom tags)",
        );
        const m = modelOf(dir);
        assert.deepEqual(parseErrors(m), []);
        assert.ok(
          m.objects.some((o) => o.kind === "ConfigMap" && o.name === "recyclarr" && o.namespace === "media"),
          "the generated ConfigMap is delivered",
        );
        assert.deepEqual(found(await lint(dir), "input/invalid-yaml"), []);
      },
    );

    // kustomize reads a generator input as bytes: `kubectl kustomize` builds this folder and puts the broken
    // text into the ConfigMap. The model records generator inputs as files the folder applies (edges.files in
    // Builder.generated), so markDelivery/issuesInScope report their parse errors as input/invalid-yaml.
    await t.test(
      "invalid YAML in a configMapGenerator input (recyclarr.yml listed under files:): no input/invalid-yaml",
      async () => {
        const dir = repoWith([...notManifests, [`${RECYCLARR}/app/config/recyclarr.yml`, BROKEN]]);
        assert.deepEqual(parseErrors(modelOf(dir)), []);
        assert.deepEqual(found(await lint(dir), "input/invalid-yaml"), []);
      },
    );

    await t.test(
      "the same broken text in a file a reachable Kustomization applies: error when it delivers backups, else warning",
      async () => {
        const ECHO = `${M}/echo`;
        const dir = repoWith([
          // jellyfin delivers the Volsync component: its broken HelmRelease stops backups
          [`${M}/jellyfin/app/helmrelease.yaml`, BROKEN],
          // echo delivers nothing of the backup system
          [`${M}/kustomization.yaml`, "  - ./jellyfin/ks.yaml\n", "  - ./jellyfin/ks.yaml\n  - ./echo/ks.yaml\n"],
          [
            `${ECHO}/ks.yaml`,
            fluxKs(
              "echo",
              "./kubernetes/apps/media/echo/app",
              ["targetNamespace: media"],
              "GitRepository/home-kubernetes",
            ),
          ],
          [`${ECHO}/app/configmap.yaml`, BROKEN],
          [`${ECHO}/app/ok.yaml`, doc("apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: echo")],
        ]);
        const m = modelOf(dir);
        assert.deepEqual(
          m.issues.filter((i) => i.kind === "parse").map((i) => [i.file, i.deliveredBy]),
          [
            [`${ECHO}/app/configmap.yaml`, ["flux-system/echo"]],
            [`${M}/jellyfin/app/helmrelease.yaml`, ["flux-system/jellyfin"]],
          ].sort(),
        );
        const r = await lint(dir);
        assert.deepEqual(
          ofRule(r, "input/invalid-yaml")
            .map((f) => `${f.severity} ${f.file}`)
            .sort(),
          [`error ${M}/jellyfin/app/helmrelease.yaml`, `warning ${ECHO}/app/configmap.yaml`],
        );
      },
    );
  });

  // ---------------------------------------------------------------------------------------------
  it("8. objects made by other objects: ExternalSecret targets, SOPS Secrets, one cluster-settings per cluster", async (t) => {
    const CONFIG = "kubernetes/flux/config";
    const HR = `${M}/jellyfin/app/helmrelease.yaml`;
    /** jellyfin reads Secret cluster-secrets, and its HelmRelease uses ${SECRET_DOMAIN} and ${OTHER}. */
    const reads: Edit[] = [
      [
        APP_KS,
        "    substitute:\n      APP: jellyfin\n",
        "    substitute:\n      APP: jellyfin\n    substituteFrom:\n      - kind: Secret\n        name: cluster-secrets\n",
      ],
      [
        HR,
        "        existingClaim: jellyfin\n",
        "        existingClaim: jellyfin\n    ingress:\n      host: jellyfin.${SECRET_DOMAIN}\n      path: /${OTHER}\n",
      ],
      [`${CONFIG}/kustomization.yaml`, "  - ./cluster.yaml\n", "  - ./cluster.yaml\n  - ./cluster-secrets.yaml\n"],
    ];
    // One finding per variable, or one info for all the variables an unseen substituteFrom may set.
    const vars = (r: LintRun) =>
      ofRule(r, "flux/undefined-variable")
        .flatMap((f) => {
          const many = /variables? \(([^)]*)\)/.exec(f.what);
          const names = many ? (many[1] as string).split(", ") : [(/\$\{(\w+)\}/.exec(f.what) ?? [])[1]];
          return names.map((n) => `${f.severity} ${n}`);
        })
        .sort();

    await t.test(
      "substituteFrom Secret/cluster-secrets made by an ExternalSecret (target.name, dataFrom): found, unknown variables at most info",
      async () => {
        const dir = repoWith([
          ...reads,
          [
            `${CONFIG}/cluster-secrets.yaml`,
            doc(
              "apiVersion: external-secrets.io/v1",
              "kind: ExternalSecret",
              "metadata:",
              "  name: cluster-secrets-es",
              "  namespace: flux-system",
              "spec:",
              "  secretStoreRef:",
              "    kind: ClusterSecretStore",
              "    name: onepassword",
              "  target:",
              "    name: cluster-secrets",
              "  dataFrom:",
              "    - extract:",
              "        key: cluster-secrets",
            ),
          ],
        ]);
        const m = modelOf(dir);
        assert.deepEqual(
          ksOf(m, "flux-system/jellyfin").substituteFrom.map((f) => [f.kind, f.name, f.found, f.keysKnown]),
          [["Secret", "cluster-secrets", true, false]],
        );
        const r = await lint(dir);
        assert.deepEqual(found(r, "flux/substitute-from-missing"), []);
        assert.deepEqual(
          vars(r),
          ["info OTHER", "info SECRET_DOMAIN"],
          "the Secret's keys are unknown: either may be set",
        );
        // control: without the ExternalSecret the Secret is missing (info), and the variables are still only info
        const missing = await lint(repoWith([...reads, [`${CONFIG}/cluster-secrets.yaml`, "---\n"]]));
        assert.deepEqual(found(missing, "flux/substitute-from-missing"), [`info ${APP_KS}:23`]);
        assert.deepEqual(vars(missing), ["info OTHER", "info SECRET_DOMAIN"]);
      },
    );

    await t.test(
      "a SOPS-encrypted Secret is found: its keys are set (values unknown), a key it lacks is still undefined",
      async () => {
        const dir = repoWith([
          ...reads,
          [
            `${CONFIG}/cluster-secrets.yaml`,
            doc(
              "apiVersion: v1",
              "kind: Secret",
              "metadata:",
              "  name: cluster-secrets",
              "  namespace: flux-system",
              "stringData:",
              "  SECRET_DOMAIN: ENC[AES256_GCM,data:bm90LXJlYWw=,iv:aXY=,tag:dGFn,type:str]",
              "sops:",
              "  age:",
              "    - recipient: age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
              "      enc: not-real",
              "  lastmodified: '2026-01-01T00:00:00Z'",
              "  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]",
              "  version: 3.9.0",
            ),
          ],
        ]);
        const m = modelOf(dir);
        assert.deepEqual(
          ksOf(m, "flux-system/jellyfin").substituteFrom.map((f) => [f.name, f.found, f.keysKnown]),
          [["cluster-secrets", true, true]],
        );
        const r = await lint(dir);
        assert.deepEqual(found(r, "flux/substitute-from-missing"), []);
        assert.deepEqual(vars(r), ["error OTHER"], "SECRET_DOMAIN is in the SOPS Secret; OTHER is in nothing");
      },
    );

    await t.test(
      "two clusters in one repository, each with its own cluster-settings: each reads the nearest",
      async () => {
        const dir = repoWith([], fixture("two-clusters"));
        const m = modelOf(dir);
        const copies = m.objects.filter((o) => o.kind === "ConfigMap" && o.name === "cluster-info");
        assert.deepEqual(copies.map((o) => (o.body.data as Record<string, unknown>).cluster).sort(), [
          "production",
          "staging",
        ]);
        const apps = m.kustomizations.filter((k) => k.name === "apps");
        assert.deepEqual(apps.map((k) => [k.doc.file, k.reachable, k.substituteFrom.map((f) => f.found)]).sort(), [
          ["clusters/production/apps.yaml", true, [true]],
          ["clusters/staging/apps.yaml", true, [true]],
        ]);
        // production alone sets EXTRA: staging's copy is the one that fails
        const extra = repoWith(
          [
            [
              "clusters/production/cluster-settings.yaml",
              "  CLUSTER_NAME: production\n",
              "  CLUSTER_NAME: production\n  EXTRA: x\n",
            ],
            [
              "apps/common/configmap.yaml",
              "  cluster: ${CLUSTER_NAME}\n",
              "  cluster: ${CLUSTER_NAME}\n  extra: ${EXTRA}\n",
            ],
          ],
          fixture("two-clusters"),
        );
        const em = modelOf(extra);
        assert.deepEqual(
          em.objects
            .filter((o) => o.name === "cluster-info")
            .map(
              (o) =>
                `${(o.body.data as Record<string, unknown>).cluster}:${o.vars.map((v) => `${v.use.name} ${v.use.how}`)}`,
            )
            .sort(),
          ["production:", "staging:EXTRA missing"],
        );
        assert.deepEqual(
          ofRule(await lint(extra), "flux/undefined-variable").map((f) => [f.severity, f.file, f.what.slice(0, 8)]),
          [["warning", "apps/common/configmap.yaml", "${EXTRA}"]],
        );
        none(await lint(dir), ["flux/undefined-variable", "flux/substitute-from-missing"]);
      },
    );

    // Both clusters have a Kustomization flux-system/apps: ids are not unique in a repository of several
    // clusters, and flux/undefined-variable looks the delivering Kustomization up by id
    // (kustomizationById), so staging's copy is judged by production's Kustomization.
    await t.test(
      "two clusters: a variable only staging lacks, where staging also reads a Secret not in Git, is info",
      async () => {
        const dir = repoWith(
          [
            [
              "clusters/staging/apps.yaml",
              "        name: cluster-settings\n",
              "        name: cluster-settings\n      - kind: Secret\n        name: staging-secrets\n",
            ],
            [
              "clusters/production/cluster-settings.yaml",
              "  CLUSTER_NAME: production\n",
              "  CLUSTER_NAME: production\n  TOKEN: abc\n",
            ],
            [
              "apps/common/configmap.yaml",
              "  cluster: ${CLUSTER_NAME}\n",
              "  cluster: ${CLUSTER_NAME}\n  token: ${TOKEN}\n",
            ],
          ],
          fixture("two-clusters"),
        );
        // production sets TOKEN; staging may get it from staging-secrets: at most info
        assert.deepEqual(
          ofRule(await lint(dir), "flux/undefined-variable").map((f) => f.severity),
          ["info"],
        );
      },
    );
  });

  // ---------------------------------------------------------------------------------------------
  it("9. reachability of kustomization.yaml files", async (t) => {
    await t.test(
      "a missing resource in a kustomization.yaml that no reachable Kustomization builds: not reported",
      async () => {
        const dir = repoWith([
          ["kubernetes/unused/kustomization.yaml", "resources:\n  - ./missing.yaml\n  - ./gone\n"],
          ["kubernetes/apps/system/volsync-system/old/kustomization.yaml", "resources:\n  - ./missing.yaml\n"],
        ]);
        const m = modelOf(dir);
        const kd = m.kustomizeDirs.find((k) => k.dir === "kubernetes/unused");
        assert.deepEqual([kd?.resources.map((r) => r.exists), kd?.deliveredBy], [[false, false], []]);
        assert.deepEqual(found(await lint(dir), "delivery/missing-path"), []);
      },
    );

    await t.test(
      "the same in one the root builds: reported, error when backups are below it, else warning",
      async () => {
        const dir = repoWith([
          [`${M}/kustomization.yaml`, "  - ./jellyfin/ks.yaml\n", "  - ./jellyfin/ks.yaml\n  - ./missing.yaml\n"],
          [`${M}/kustomization.yaml`, "resources:\n", "resources:\n  - ./echo/ks.yaml\n"],
          [
            `${M}/echo/ks.yaml`,
            fluxKs(
              "echo",
              "./kubernetes/apps/media/echo/app",
              ["targetNamespace: media"],
              "GitRepository/home-kubernetes",
            ),
          ],
          [`${M}/echo/app/kustomization.yaml`, "resources:\n  - ./configmap.yaml\n  - ./missing.yaml\n"],
          [`${M}/echo/app/configmap.yaml`, doc("apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: echo")],
        ]);
        const m = modelOf(dir);
        assert.deepEqual(m.kustomizeDirs.find((k) => k.dir === M)?.deliveredBy, ["flux-system/cluster-apps"]);
        assert.deepEqual(m.kustomizeDirs.find((k) => k.dir === `${M}/echo/app`)?.deliveredBy, ["flux-system/echo"]);
        const r = await lint(dir);
        assert.deepEqual(found(r, "delivery/missing-path").sort(), [
          `error ${M}/kustomization.yaml:9`,
          `warning ${M}/echo/app/kustomization.yaml:3`,
        ]);
      },
    );
  });

  // ---------------------------------------------------------------------------------------------
  it("10. a Kustomization of an OCIRepository (Flux's own flux-manifests, path ./) is not a root and renders nothing", async () => {
    const FLUX = "kubernetes/flux/config/flux.yaml";
    const dir = repoWith([
      [
        FLUX,
        doc(
          "apiVersion: source.toolkit.fluxcd.io/v1",
          "kind: OCIRepository",
          "metadata:",
          "  name: flux-manifests",
          "  namespace: flux-system",
          "spec:",
          "  interval: 10m",
          "  url: oci://ghcr.io/fluxcd/flux-manifests",
          "  ref:",
          "    tag: v2.6.0",
        ) + fluxKs("flux", "./", ["wait: true"], "OCIRepository/flux-manifests"),
      ],
      ["kubernetes/flux/config/kustomization.yaml", "  - ./cluster.yaml\n", "  - ./cluster.yaml\n  - ./flux.yaml\n"],
    ]);
    const m = modelOf(dir);
    const flux = ksOf(m, "flux-system/flux");
    assert.deepEqual(
      [flux.reachable, flux.root, flux.external, flux.parent, flux.objects.length],
      [true, false, true, "flux-system/cluster", 0],
    );
    assert.deepEqual(
      m.kustomizations.filter((k) => k.root).map((k) => k.id),
      ["flux-system/cluster"],
    );
    assert.ok(!m.objects.some((o) => o.via === "flux-system/flux"), "./ of the artifact is not this checkout's root");
    assert.ok(!m.kustomizations.some((k) => k.parent === "flux-system/flux"));
    // every object is delivered once, as without it
    const base = modelOf(repoWith([]));
    assert.equal(
      m.objects.length,
      base.objects.length + 2,
      "two more objects: the OCIRepository and the Kustomization",
    );
    const r = await lint(dir);
    none(r, ["delivery/unknown-source", "delivery/missing-path", "delivery/not-applied", "delivery/no-root"]);
    assert.ok(!r.findings.some((f) => f.rule.startsWith("binding/duplicate")), "nothing is delivered twice");
    // alone (nothing delivers it), it is not a guessed root either
    const alone = modelOf(
      repoWith([
        [
          FLUX,
          doc(
            "apiVersion: source.toolkit.fluxcd.io/v1",
            "kind: OCIRepository",
            "metadata:",
            "  name: flux-manifests",
            "  namespace: flux-system",
            "spec:",
            "  url: oci://ghcr.io/fluxcd/flux-manifests",
          ) + fluxKs("flux", "./", [], "OCIRepository/flux-manifests"),
        ],
      ]),
    );
    assert.equal(ksOf(alone, "flux-system/flux").root, false);
    assert.equal(ksOf(alone, "flux-system/flux").objects.length, 0);
  });
  it("11. a PVC kopia declared beside what Flux applies but left out of its kustomization.yaml: made by hand, a warning", async () => {
    const KUST = `${M}/volsync-repository-pvc/app/kustomization.yaml`;
    const held = await lint(repoWith([[KUST, "  - ./pvc.yaml", "  # - ./pvc.yaml   # made by hand, see the runbook"]]));
    assert.deepEqual(
      ofRule(held, "delivery/no-claim").map((f) => [f.severity, f.subject]),
      [["warning", "namespace media"]],
    );
    assert.match(
      ofRule(held, "delivery/no-claim")[0]?.what ?? "",
      /pvc\.yaml declares it, but its kustomization\.yaml leaves it out/,
    );
    // control: no such file at all, so nothing makes the claim: an error
    const gone = await lint(
      repoWith([
        [KUST, "  - ./pvc.yaml", ""],
        [`${M}/volsync-repository-pvc/app/pvc.yaml`, null],
      ]),
    );
    assert.deepEqual(
      ofRule(gone, "delivery/no-claim").map((f) => [f.severity, f.subject]),
      [["error", "namespace media"]],
    );
  });
});
