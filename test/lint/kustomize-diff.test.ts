/**
 * Differential test: the model's rendering of a folder against `kubectl kustomize` of the same folder,
 * for every Flux Kustomization of examples/home-ops and of test/fixtures/delivery/* (plus a few variants
 * of those fixtures), where kubectl is installed.
 *
 * Two comparisons per Kustomization whose spec.path has a kustomization.yaml:
 * - "kustomize": what kustomize itself makes of the folder. The model side is a probe Kustomization
 *   written for the purpose (same path, no targetNamespace, components, patches or postBuild), so the
 *   model's objects are its plain rendering of the folder.
 * - "flux": what Flux's kustomize-controller builds before postBuild. Flux rewrites the folder's
 *   kustomization.yaml: `namespace:` becomes spec.targetNamespace, spec.patches are appended to
 *   `patches:` and spec.components to `components:` (fluxcd/pkg kustomize generator). The kubectl side
 *   does that rewrite in a copy; the model side is a probe with the same targetNamespace, components and
 *   patches, without postBuild (so `${VAR}` stays in both).
 * Compared: the multiset of (kind, namespace, name), and each object's body without metadata.namespace
 * (generated ConfigMaps/Secrets by name only: the model does not read generator files' contents).
 * Generated names: kustomize appends a content hash unless disableNameSuffixHash; the model keeps the
 * base name, so a kubectl name `<base>-<10 chars>` is normalised to `<base>` when the model has `<base>`
 * (and every occurrence of it in kubectl's bodies too). Both are exercised: the flux-instance variant
 * "disableNameSuffixHash" disables the hash (as test/lint/delivery-model.test.ts does for its generated
 * ConfigMaps), the variant "hashed" keeps it and relies on the normalisation.
 * Folders without a kustomization.yaml (Flux generates one) cannot be built by kubectl: skipped.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { load, loadAll } from "js-yaml";
import { stringify } from "yaml";
import { type FluxKs, isClusterScoped, type ModelObject, type RepoModel } from "../../src/core/model.ts";
import { resolveDelivery } from "../../src/gitops/delivery.ts";
import { loadConventions } from "../../src/gitops/repo.ts";
import { scanRepo } from "../../src/gitops/scan.ts";
import { EXAMPLE, FIXTURES, kubectlPath, tempRepo, writeFiles } from "../helpers.ts";

const KUBECTL = kubectlPath();
const DELIVERY = path.join(FIXTURES, "delivery");
const PROBE_DIR = "kopiashare-probe";

type Obj = Record<string, unknown>;

interface Case {
  label: string;
  from: string;
  /** Files (repo-relative) replaced or added in the copy: [file, from, to] replaces text, [file, content] writes. */
  edits?: ([string, string, string] | [string, string])[];
}

const CASES: Case[] = [
  { label: "examples/home-ops", from: EXAMPLE },
  ...readdirSync(DELIVERY)
    .sort()
    .map((n) => ({ label: `delivery/${n}`, from: path.join(DELIVERY, n) })),
  {
    label: "delivery/transformers (unsetOnly, an object with its own namespace)",
    from: path.join(DELIVERY, "transformers"),
    edits: [
      [
        "apps/media/jellyfin/app/namespace-transformer.yaml",
        "  namespace: media\n",
        "  namespace: media\nunsetOnly: true\n",
      ],
      [
        "apps/media/jellyfin/app/secret.yaml",
        "  name: jellyfin-volsync\n",
        "  name: jellyfin-volsync\n  namespace: other\n",
      ],
    ],
  },
  {
    label: "delivery/flux-instance (valuesFrom a generated ConfigMap, disableNameSuffixHash)",
    from: path.join(DELIVERY, "flux-instance"),
    edits: [
      [
        "kubernetes/apps/flux-system/flux-instance/app/kustomization.yaml",
        "  - ./helmrelease.yaml\n",
        "  - ./helmrelease.yaml\nconfigMapGenerator:\n  - name: flux-instance-values\n    files:\n      - values.yaml=./helm/values.yaml\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
      ],
      [
        "kubernetes/apps/flux-system/flux-instance/app/helm/values.yaml",
        "instance:\n  sync:\n    kind: GitRepository\n",
      ],
    ],
  },
  {
    label: "delivery/flux-instance (valuesFrom a generated ConfigMap, hashed)",
    from: path.join(DELIVERY, "flux-instance"),
    edits: [
      [
        "kubernetes/apps/flux-system/flux-instance/app/kustomization.yaml",
        "  - ./helmrelease.yaml\n",
        "  - ./helmrelease.yaml\nconfigMapGenerator:\n  - name: flux-instance-values\n    files:\n      - values.yaml=./helm/values.yaml\n",
      ],
      [
        "kubernetes/apps/flux-system/flux-instance/app/helm/values.yaml",
        "instance:\n  sync:\n    kind: GitRepository\n",
      ],
    ],
  },
  {
    label: "delivery/parent-patches (kustomize namespace: and Flux components in one folder)",
    from: path.join(DELIVERY, "parent-patches"),
    edits: [
      ["apps/media/jellyfin/app/kustomization.yaml", "resources:\n", "namespace: media\nresources:\n"],
      ["apps/media/jellyfin/ks.yaml", "  targetNamespace: media\n", "  components:\n    - ../../components/extra\n"],
      [
        "apps/media/components/extra/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./configmap.yaml\n",
      ],
      ["apps/media/components/extra/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"],
    ],
  },
  {
    label: "delivery/parent-patches (the folder's patches: on a Flux component's object)",
    from: path.join(DELIVERY, "parent-patches"),
    edits: [
      [
        "apps/media/jellyfin/app/kustomization.yaml",
        "  - ./replicationsource.yaml\n",
        '  - ./replicationsource.yaml\npatches:\n  - target:\n      kind: ConfigMap\n      name: extra\n    patch: |-\n      - op: add\n        path: /data\n        value:\n          patched: "yes"\n',
      ],
      [
        "apps/media/jellyfin/ks.yaml",
        "  targetNamespace: media\n",
        "  targetNamespace: media\n  components:\n    - ../../components/extra\n",
      ],
      [
        "apps/media/components/extra/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./configmap.yaml\n",
      ],
      ["apps/media/components/extra/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"],
    ],
  },
];

function copyOf(c: Case): string {
  const dir = tempRepo(c.from);
  for (const e of c.edits ?? []) {
    const abs = path.join(dir, e[0]);
    if (e.length === 3) {
      const text = readFileSync(abs, "utf8");
      assert.ok(text.includes(e[1]), `${e[0]} does not contain ${JSON.stringify(e[1])}`);
      writeFileSync(
        abs,
        text.replace(e[1], () => e[2]),
      );
    } else writeFiles(dir, { [e[0]]: e[1] });
  }
  return dir;
}

const modelOf = (dir: string): RepoModel => resolveDelivery(scanRepo(dir), loadConventions(dir));

function kustomizationFile(dir: string, folder: string): string | undefined {
  for (const n of ["kustomization.yaml", "kustomization.yml", "Kustomization"]) {
    if (existsSync(path.join(dir, folder, n))) return path.join(dir, folder, n);
  }
  return undefined;
}

/** The Flux Kustomizations worth comparing: applied, rendered from this checkout, path present. */
function targets(m: RepoModel): FluxKs[] {
  return m.kustomizations.filter((k) => k.reachable && !k.external && k.path?.exists && k.path.target !== undefined);
}

/** Probe Kustomizations: `plain-<i>` (path only) and `flux-<i>` (path, targetNamespace, components, patches). */
function probeFile(list: FluxKs[]): string {
  const docs: Obj[] = [
    {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { name: "kopiashare-probe", namespace: "flux-system" },
      spec: { url: "https://example.invalid/probe", interval: "1h" },
    },
    ks("kopiashare-probe", { path: `./${PROBE_DIR}` }),
  ];
  list.forEach((k, i) => {
    const spec = (k.body.spec ?? {}) as Obj;
    docs.push(ks(`plain-${i}`, { path: `./${k.path?.target}` }));
    const flux: Obj = { path: `./${k.path?.target}` };
    for (const key of ["targetNamespace", "components", "patches"]) if (spec[key] !== undefined) flux[key] = spec[key];
    docs.push(ks(`flux-${i}`, flux));
  });
  return docs.map((d) => `---\n${stringify(d)}`).join("");
}

function ks(name: string, spec: Obj): Obj {
  return {
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { name, namespace: "flux-system" },
    spec: { interval: "1h", prune: true, sourceRef: { kind: "GitRepository", name: "kopiashare-probe" }, ...spec },
  };
}

/** Flux's rewrite of the folder's kustomization.yaml (before `kustomize build`), in place. */
function fluxRewrite(dir: string, k: FluxKs): void {
  const file = kustomizationFile(dir, k.path?.target as string) as string;
  const kus = (load(readFileSync(file, "utf8")) ?? {}) as Obj;
  const spec = (k.body.spec ?? {}) as Obj;
  if (typeof spec.targetNamespace === "string") kus.namespace = spec.targetNamespace;
  if (Array.isArray(spec.patches)) kus.patches = [...((kus.patches as unknown[]) ?? []), ...spec.patches];
  if (Array.isArray(spec.components)) kus.components = [...((kus.components as unknown[]) ?? []), ...spec.components];
  writeFileSync(file, stringify(kus));
}

function kustomize(dir: string, folder: string): Obj[] {
  const out = execFileSync(
    KUBECTL as string,
    ["kustomize", "--load-restrictor", "LoadRestrictionsNone", path.join(dir, folder)],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  return loadAll(out).filter((d): d is Obj => d !== null && typeof d === "object");
}

interface Item {
  id: string;
  /** Body without metadata.namespace; undefined for generated ConfigMaps/Secrets (not compared). */
  body: Obj | undefined;
}

const idOf = (kind: string, ns: string | undefined, name: string) =>
  `${kind} ${isClusterScoped(kind) ? "-" : (ns ?? "-")} ${name}`;

function withoutNamespace(body: Obj): Obj {
  const meta = { ...((body.metadata as Obj | undefined) ?? {}) };
  delete meta.namespace;
  return { ...body, metadata: meta };
}

function modelItems(objects: ModelObject[]): Item[] {
  return objects.map((o) => {
    const generated = /(^|\/)kustomization\.ya?ml$/.test(o.file) && (o.kind === "ConfigMap" || o.kind === "Secret");
    return { id: idOf(o.kind, o.namespace, o.name), body: generated ? undefined : withoutNamespace(o.body) };
  });
}

/** kubectl's objects, hashed generator names mapped to the model's base names (listed in `renamed`). */
function kubectlItems(docs: Obj[], model: Item[], renamed: string[]): Item[] {
  const names = new Set(model.map((i) => i.id));
  const map = new Map<string, string>();
  for (const d of docs) {
    const kind = String(d.kind);
    const meta = (d.metadata ?? {}) as Obj;
    const name = String(meta.name);
    const ns = meta.namespace as string | undefined;
    const base = /^(.*)-[a-z0-9]{10}$/.exec(name)?.[1];
    if (
      (kind === "ConfigMap" || kind === "Secret") &&
      base &&
      !names.has(idOf(kind, ns, name)) &&
      names.has(idOf(kind, ns, base))
    ) {
      map.set(name, base);
      renamed.push(`${kind} ${name} -> ${base}`);
    }
  }
  return docs.map((d) => {
    let body = d;
    if (map.size > 0) {
      let text = JSON.stringify(d);
      for (const [hashed, base] of map) text = text.split(hashed).join(base);
      body = JSON.parse(text) as Obj;
    }
    const meta = (body.metadata ?? {}) as Obj;
    const item: Item = {
      id: idOf(String(body.kind), meta.namespace as string | undefined, String(meta.name)),
      body: withoutNamespace(body),
    };
    return item;
  });
}

/**
 * go-yaml (kustomize, Flux) reads a folded scalar (`>-`) whose next line is more indented with one line
 * break too many ("[\n\n  JSONPatch{..."; YAML 1.2 example 8.10 gives one, as js-yaml does): such blank
 * lines are dropped on both sides before comparing. The difference is only whitespace in the cluster's copy.
 */
function normalised(v: unknown): unknown {
  if (typeof v === "string") return v.replace(/\n\n+(?=[ \t])/g, "\n");
  if (Array.isArray(v)) return v.map(normalised);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v as Obj).map(([k, x]) => [k, normalised(x)]));
  }
  return v;
}

/** Differences, as readable lines: objects only one side has, and bodies that differ. */
function diff(model: Item[], kubectl: Item[]): string[] {
  const out: string[] = [];
  const ids = (l: Item[]) => l.map((i) => i.id).sort();
  const a = ids(model);
  const b = ids(kubectl);
  const count = (l: string[]) => l.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const ca = count(a);
  const cb = count(b);
  for (const id of new Set([...a, ...b])) {
    const x = ca.get(id) ?? 0;
    const y = cb.get(id) ?? 0;
    if (x !== y) out.push(`${id}: model ${x}, kubectl ${y}`);
  }
  for (const m of model) {
    if (m.body === undefined) continue;
    const k = kubectl.find((i) => i.id === m.id);
    if (!k?.body) continue;
    try {
      assert.deepStrictEqual(
        normalised(JSON.parse(JSON.stringify(m.body))),
        normalised(JSON.parse(JSON.stringify(k.body))),
      );
    } catch (e) {
      out.push(`${m.id}: body differs\n${(e as Error).message}`);
    }
  }
  return out;
}

describe("kubectl kustomize and the model render the same objects", () => {
  for (const c of CASES) {
    it(c.label, async (t) => {
      if (!KUBECTL) {
        t.skip("kubectl not installed: no second implementation of kustomize to compare with");
        return;
      }
      const dir = copyOf(c);
      const list = targets(modelOf(dir));
      assert.ok(list.length > 0, "something to compare");
      // The model's side: the same checkout plus the probe Kustomizations.
      const probe = copyOf(c);
      writeFiles(probe, { [`${PROBE_DIR}/probe.yaml`]: probeFile(list) });
      const pm = modelOf(probe);
      const compared: string[] = [];
      const skipped: string[] = [];
      for (const [i, k] of list.entries()) {
        const folder = k.path?.target as string;
        const label = `${k.id} (${k.doc.file}) -> ${folder || "."}`;
        await t.test(label, async (st) => {
          if (!kustomizationFile(dir, folder)) {
            skipped.push(folder);
            st.skip("no kustomization.yaml: Flux generates one, kubectl kustomize cannot build the folder");
            return;
          }
          compared.push(folder);
          for (const mode of ["plain", "flux"] as const) {
            const via = `flux-system/${mode}-${i}`;
            const model = modelItems(pm.objects.filter((o) => o.via === via));
            let docs: Obj[];
            if (mode === "plain") docs = kustomize(dir, folder);
            else {
              const copy = copyOf(c);
              fluxRewrite(copy, k);
              docs = kustomize(copy, folder);
            }
            const renamed: string[] = [];
            const kubectl = kubectlItems(docs, model, renamed);
            if (renamed.length > 0) st.diagnostic(`${mode}: generated names normalised: ${renamed.join(", ")}`);
            const d = diff(model, kubectl);
            assert.deepEqual(d, [], `${mode}: ${folder}\n${d.join("\n")}`);
          }
        });
      }
      t.diagnostic(`compared: ${compared.join(", ") || "none"}`);
      if (skipped.length > 0) t.diagnostic(`skipped (Flux generates the kustomization.yaml): ${skipped.join(", ")}`);
    });
  }
});
