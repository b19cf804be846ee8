/** resolveDelivery: what Flux would apply, with effective namespaces, substitution and reachability. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { repositoryPairs } from "../../src/core/claims.ts";
import { DEFAULTS } from "../../src/core/config.ts";
import { consumersIn } from "../../src/core/consumers.ts";
import { resolveDelivery } from "../../src/gitops/delivery.ts";
import { scanRepo } from "../../src/gitops/scan.ts";
import { tempRepo, writeFiles } from "../helpers.ts";
import { BASE } from "./helpers.ts";

const ks = (name: string, p: string, extra = "") =>
  `---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: flux-system\nspec:\n  path: ${p}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n${extra}`;
const root = ks("flux-system", "./clusters/main");
const cm = (name: string, ns?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${ns ? `  namespace: ${ns}\n` : ""}`;

function model(files: Record<string, string>) {
  const dir = tempRepo();
  writeFiles(dir, files);
  return resolveDelivery(scanRepo(dir), DEFAULTS);
}

describe("resolveDelivery", () => {
  it("effective namespace: targetNamespace > kustomize namespace > metadata.namespace, never the folder", () => {
    const m = model({
      "clusters/main/flux-system/gotk.yaml": root,
      "clusters/main/apps.yaml":
        ks("target", "./apps/folder-a", "  targetNamespace: t\n") +
        ks("kust", "./apps/folder-b") +
        ks("meta", "./apps/folder-c"),
      "apps/folder-a/kustomization.yaml": "namespace: k\nresources:\n  - cm.yaml\n",
      "apps/folder-a/cm.yaml": cm("a", "m"),
      "apps/folder-b/kustomization.yaml": "namespace: k\nresources:\n  - cm.yaml\n",
      "apps/folder-b/cm.yaml": cm("b", "m"),
      "apps/folder-c/cm.yaml": cm("c", "m"),
      "apps/folder-c/nested/cm.yaml": cm("d"),
    });
    const ns = Object.fromEntries(m.objects.filter((o) => o.kind === "ConfigMap").map((o) => [o.name, o.namespace]));
    assert.deepEqual(ns, { a: "t", b: "k", c: "m", d: undefined });
    const d = m.objects.find((o) => o.name === "d");
    assert.equal(d?.via, "flux-system/meta");
    assert.equal(`${d?.file}:${d?.line}`, "apps/folder-c/nested/cm.yaml:1");
  });

  it("the outermost kustomize namespace wins over inner ones", () => {
    const m = model({
      "clusters/main/flux-system/gotk.yaml": root,
      "clusters/main/apps.yaml": ks("outer", "./apps"),
      "apps/kustomization.yaml": "namespace: outer\nresources:\n  - ./inner\n",
      "apps/inner/kustomization.yaml": "namespace: inner\nresources:\n  - cm.yaml\n",
      "apps/inner/cm.yaml": cm("x"),
    });
    assert.equal(m.objects.find((o) => o.name === "x")?.namespace, "outer");
  });

  it("a folder without kustomization.yaml applies every YAML file below it; sub-folders with one are built", () => {
    const m = model({
      "clusters/main/flux-system/gotk.yaml": root,
      "clusters/main/apps.yaml": ks("apps", "./apps"),
      "apps/a.yaml": cm("a"),
      "apps/deep/er/b.yml": cm("b"),
      "apps/built/kustomization.yaml": "resources:\n  - c.yaml\n",
      "apps/built/c.yaml": cm("c"),
      "apps/built/not-listed.yaml": cm("hidden"),
      "apps/notes.txt": "kind: ConfigMap\n",
    });
    const names = m.objects.filter((o) => o.via === "flux-system/apps").map((o) => o.name);
    assert.deepEqual(names.sort(), ["a", "b", "c"]);
  });

  it("a component is rendered once per app, with that app's substitution", () => {
    const m = model({
      "clusters/main/flux-system/gotk.yaml": root,
      "clusters/main/apps.yaml":
        ks(
          "one",
          "./apps/one",
          "  targetNamespace: n1\n  components:\n    - ../../comp\n  postBuild:\n    substitute:\n      APP: one\n",
        ) +
        ks(
          "two",
          "./apps/two",
          "  targetNamespace: n2\n  components:\n    - ../../comp\n  postBuild:\n    substitute:\n      APP: two\n      SIZE: 9Gi\n",
        ),
      "apps/one/kustomization.yaml": "resources: []\n",
      "apps/two/kustomization.yaml": "resources: []\n",
      "comp/kustomization.yaml":
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - cm.yaml\n",
      "comp/cm.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${APP}-cm\ndata:\n  size: ${SIZE:=${DEFAULT_SIZE:-1Gi}}\n  uid: ${UID:=1000}\n  ns: ${NAMESPACE:-default}\n",
    });
    const copies = m.objects.filter((o) => o.kind === "ConfigMap");
    assert.deepEqual(
      copies.map((o) => [o.name, o.namespace, o.component, (o.body.data as Record<string, unknown>).size]),
      [
        ["one-cm", "n1", "comp", "1Gi"],
        ["two-cm", "n2", "comp", "9Gi"],
      ],
    );
    const one = copies[0];
    assert.ok(one);
    assert.equal((one.body.data as Record<string, unknown>).uid, 1000, "a whole-value number reads back as a number");
    assert.equal((one.raw.metadata as Record<string, unknown>).name, "${APP}-cm", "raw is untouched");
    const ns = one?.vars.find((v) => v.use.name === "NAMESPACE");
    assert.deepEqual(ns && [ns.path.join("."), ns.use.how, ns.use.value], ["data.ns", "default", "default"]);
  });

  it("reachability: roots deliver themselves; a ks.yaml nothing lists is not applied", () => {
    const m = model({
      "clusters/main/flux-system/gotk.yaml": root,
      "clusters/main/flux-system/kustomization.yaml": "resources:\n  - gotk.yaml\n",
      "clusters/main/apps.yaml": ks("apps", "./apps"),
      "apps/kustomization.yaml": "resources:\n  - ./listed/ks.yaml\n",
      "apps/listed/ks.yaml": ks("listed", "./apps/listed/app"),
      "apps/listed/app/cm.yaml": cm("x", "n"),
      "apps/stray/ks.yaml": ks("stray", "./apps/stray/app"),
      "apps/stray/app/cm.yaml": cm("y", "n"),
    });
    const byName = Object.fromEntries(m.kustomizations.map((k) => [k.name, [k.reachable, k.root, k.parent]]));
    assert.deepEqual(byName, {
      "flux-system": [true, true, undefined],
      apps: [true, false, "flux-system/flux-system"],
      listed: [true, false, "flux-system/apps"],
      stray: [false, false, undefined],
    });
    assert.equal(m.roots, "bootstrap");
    assert.ok(m.objects.some((o) => o.name === "x"));
    assert.ok(!m.objects.some((o) => o.name === "y"), "a stray Kustomization's objects are not applied");
  });

  it("a FluxInstance's sync path is a root; Kustomizations of another source are not rendered", () => {
    const m = model({
      "kubernetes/flux/instance.yaml":
        "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\n  namespace: flux-system\nspec:\n  sync:\n    kind: GitRepository\n    path: kubernetes/flux/cluster\n",
      "kubernetes/flux/cluster/ks.yaml":
        ks("apps", "./kubernetes/apps") +
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: other\n  namespace: flux-system\nspec:\n  path: ./somewhere/else\n  sourceRef:\n    kind: OCIRepository\n    name: vendor\n",
      "kubernetes/apps/cm.yaml": cm("z", "n"),
    });
    assert.equal(m.roots, "bootstrap");
    const other = m.kustomizations.find((k) => k.name === "other");
    assert.deepEqual([other?.reachable, other?.external, other?.objects.length], [true, true, 0]);
    assert.ok(m.objects.some((o) => o.name === "z" && o.via === "flux-system/apps"));
  });

  it("files mode: no Flux Kustomization, every object counts with its kustomize namespace", () => {
    const m = model({
      "a/kustomization.yaml": "namespace: k\nresources:\n  - cm.yaml\n",
      "a/cm.yaml": cm("a"),
      "b.yaml": cm("b", "m"),
    });
    assert.equal(m.mode, "files");
    assert.deepEqual(
      m.objects.map((o) => `${o.name}:${o.namespace}`),
      ["a:k", "b:m"],
    );
  });

  it("consumersIn and repositoryPairs on the base repository", () => {
    const m = resolveDelivery(scanRepo(BASE), DEFAULTS);
    assert.deepEqual(
      consumersIn(m, "media").map((o) => `${o.kind}/${o.name}`),
      ["ReplicationSource/jellyfin", "ReplicationDestination/jellyfin-dst"],
    );
    assert.deepEqual(
      consumersIn(m, "volsync-system").map((o) => `${o.kind}/${o.name}`),
      ["KopiaMaintenance/kopia"],
    );
    assert.deepEqual(consumersIn(m, "nowhere"), []);
    assert.deepEqual(
      repositoryPairs(m).map((p) => [p.namespace, p.pvc?.name, p.pv?.name, p.via]),
      [
        ["media", "kopia", "kopia-repository-pv-media", "flux-system/volsync-repository-pvc-media"],
        [
          "volsync-system",
          "kopia",
          "kopia-repository-pv-volsync-system",
          "flux-system/volsync-repository-pvc-volsync-system",
        ],
      ],
    );
  });
});
