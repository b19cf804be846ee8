/**
 * Kustomize/Flux patches on plain objects (core/kustomize-patch.ts). Every table case states its
 * expected output literally; the last test replays the whole table through `kubectl kustomize`
 * (kustomize v5) and compares, so the table is also a record of what kustomize does.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments, stringify } from "yaml";
import {
  type Obj,
  type ParsedPatch,
  type PatchTarget,
  parsePatch,
  patchApplies,
  patchObject,
} from "../../src/core/kustomize-patch.ts";

interface Case {
  name: string;
  objects: Obj[];
  patches: { patch: string; target?: PatchTarget }[];
  /** The objects after patching, in input order, without the deleted ones. */
  want: Obj[];
  /** Every error (from parsePatch or patchObject) must match one of these, and there must be as many. */
  errors?: RegExp[];
  /** Why kustomize does something else here on purpose (the differential test then skips the case). */
  unlikeKustomize?: string;
}

const FLUX = "kustomize.toolkit.fluxcd.io/v1";
const SOURCE = { kind: "GitRepository", name: "flux-system" };
/** A Flux Kustomization in flux-system; `meta` adds to its metadata. */
const ks = (name: string, spec: Obj = {}, meta: Obj = {}): Obj => ({
  apiVersion: FLUX,
  kind: "Kustomization",
  metadata: { name, namespace: "flux-system", ...meta },
  spec: { path: `./apps/${name}`, sourceRef: SOURCE, ...spec },
});
const cm = (name: string, namespace?: string, meta: Obj = {}): Obj => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, ...(namespace ? { namespace } : {}), ...meta },
  data: { a: "1" },
});

const CHILDREN = { group: "kustomize.toolkit.fluxcd.io", kind: "Kustomization" };
const SUBSTITUTE_FROM = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: _
spec:
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-settings
      - kind: Secret
        name: cluster-secrets
        optional: true
`;
const CLUSTER_VARS = [
  { kind: "ConfigMap", name: "cluster-settings" },
  { kind: "Secret", name: "cluster-secrets", optional: true },
];
/** A patch that adds `hit: "yes"` to the annotations of whatever its target selects. */
const HIT = "kind: Any\nmetadata:\n  name: any\n  annotations:\n    hit: 'yes'\n";
const hit = (o: Obj): Obj => ({ ...o, metadata: { ...(o.metadata as Obj), annotations: { hit: "yes" } } });

const deployment: Obj = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "media", finalizers: ["a"] },
  spec: {
    template: {
      spec: {
        containers: [
          {
            name: "app",
            image: "app:1",
            args: ["--a", "--b"],
            env: [
              { name: "A", value: "1" },
              { name: "B", value: "2" },
            ],
            volumeMounts: [{ mountPath: "/config", name: "config" }],
          },
          { name: "sidecar", image: "sidecar:1" },
        ],
        tolerations: [{ key: "a", operator: "Exists" }],
        volumes: [{ name: "config", emptyDir: {} }],
      },
    },
  },
};

const cases: Case[] = [
  {
    name: "root Kustomization adds substituteFrom to every child Kustomization, beside postBuild.substitute",
    objects: [
      ks("media", { postBuild: { substitute: { APP: "jellyfin" } } }),
      ks("db"),
      cm("cluster-settings", "flux-system"),
      {
        apiVersion: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: { name: "media", namespace: "flux-system" },
        spec: { interval: "1h" },
      },
    ],
    patches: [{ patch: SUBSTITUTE_FROM, target: CHILDREN }],
    want: [
      ks("media", { postBuild: { substitute: { APP: "jellyfin" }, substituteFrom: CLUSTER_VARS } }),
      ks("db", { postBuild: { substituteFrom: CLUSTER_VARS } }),
      cm("cluster-settings", "flux-system"),
      {
        apiVersion: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: { name: "media", namespace: "flux-system" },
        spec: { interval: "1h" },
      },
    ],
  },
  {
    name: "a custom resource's list is replaced, not appended to nor merged by name: the child's own substituteFrom is lost",
    objects: [
      ks("media", {
        postBuild: {
          substituteFrom: [
            { kind: "ConfigMap", name: "media-settings" },
            { kind: "Secret", name: "cluster-secrets" },
          ],
        },
      }),
    ],
    patches: [{ patch: SUBSTITUTE_FROM, target: CHILDREN }],
    want: [ks("media", { postBuild: { substituteFrom: CLUSTER_VARS } })],
  },
  {
    name: "a patch adds nested spec.patches, decryption and a timeout (replacing the child's own patches)",
    objects: [ks("media", { patches: [{ patch: "old", target: { kind: "HelmRelease", name: "old" } }] }), ks("db")],
    patches: [
      {
        patch: `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: not-used
spec:
  timeout: 5m
  decryption:
    provider: sops
    secretRef:
      name: sops-age
  patches:
    - patch: |-
        - op: add
          path: /spec/install/remediation/retries
          value: 3
      target:
        kind: HelmRelease
`,
        target: { kind: "Kustomization" },
      },
    ],
    want: ["media", "db"].map((name) =>
      ks(name, {
        timeout: "5m",
        decryption: { provider: "sops", secretRef: { name: "sops-age" } },
        patches: [
          {
            patch: "- op: add\n  path: /spec/install/remediation/retries\n  value: 3",
            target: { kind: "HelmRelease" },
          },
        ],
      }),
    ),
  },
  {
    name: "JSON 6902 add to /spec/postBuild/substituteFrom/- appends",
    objects: [ks("media", { postBuild: { substituteFrom: [{ kind: "ConfigMap", name: "media-settings" }] } })],
    patches: [
      {
        patch: '[{"op": "add", "path": "/spec/postBuild/substituteFrom/-", "value": {"kind": "Secret", "name": "s"}}]',
        target: { kind: "Kustomization", name: "media" },
      },
    ],
    want: [
      ks("media", {
        postBuild: {
          substituteFrom: [
            { kind: "ConfigMap", name: "media-settings" },
            { kind: "Secret", name: "s" },
          ],
        },
      }),
    ],
  },
  {
    name: "target by labelSelector (set-based, negation, comma = AND)",
    objects: [
      ks("a", {}, { labels: { tier: "apps" } }),
      ks("b", {}, { labels: { tier: "infra", skip: "true" } }),
      ks("c", {}, { labels: { tier: "infra" } }),
      ks("d"),
    ],
    patches: [{ patch: HIT, target: { labelSelector: "tier in (apps, infra),!skip" } }],
    want: [
      hit(ks("a", {}, { labels: { tier: "apps" } })),
      ks("b", {}, { labels: { tier: "infra", skip: "true" } }),
      hit(ks("c", {}, { labels: { tier: "infra" } })),
      ks("d"),
    ],
  },
  {
    name: "labelSelector != and notin also select objects without the label",
    objects: [ks("a", {}, { labels: { tier: "apps" } }), ks("b", {}, { labels: { tier: "infra" } }), ks("c")],
    patches: [
      { patch: HIT, target: { labelSelector: "tier!=apps" } },
      { patch: HIT, target: { labelSelector: "tier notin (infra)" } },
    ],
    want: [
      hit(ks("a", {}, { labels: { tier: "apps" } })),
      hit(ks("b", {}, { labels: { tier: "infra" } })),
      hit(ks("c")),
    ],
  },
  {
    name: "target by annotationSelector (an empty value is a value)",
    objects: [
      ks("a", {}, { annotations: { "kopiashare.io/backup": "enabled" } }),
      ks("b", {}, { annotations: { "kopiashare.io/backup": "" } }),
      ks("c"),
    ],
    patches: [
      {
        patch: "kind: Any\nmetadata:\n  name: any\nspec:\n  wait: true\n",
        target: { annotationSelector: "kopiashare.io/backup in (enabled,)" },
      },
      {
        patch: "kind: Any\nmetadata:\n  name: any\nspec:\n  force: true\n",
        target: { annotationSelector: "kopiashare.io/backup=" },
      },
    ],
    want: [
      ks("a", { wait: true }, { annotations: { "kopiashare.io/backup": "enabled" } }),
      ks("b", { wait: true, force: true }, { annotations: { "kopiashare.io/backup": "" } }),
      ks("c"),
    ],
  },
  {
    name: "target name and kind are regular expressions anchored at both ends",
    objects: [ks("media"), ks("media-a"), ks("xmedia-b"), ks("media-b-c"), cm("media-d", "flux-system")],
    patches: [{ patch: HIT, target: { kind: "Kust.*", name: "media-[a-z]|media" } }],
    want: [hit(ks("media")), hit(ks("media-a")), ks("xmedia-b"), ks("media-b-c"), cm("media-d", "flux-system")],
  },
  {
    name: "target namespace: a regular expression; objects without one are in default, cluster-scoped ones in none",
    objects: [
      cm("a", "flux-system"),
      cm("b", "media"),
      cm("c"),
      cm("d", "default"),
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "media" } },
    ],
    patches: [
      { patch: "kind: Any\nmetadata:\n  name: any\ndata:\n  b: '2'\n", target: { namespace: "flux-.*|media" } },
      { patch: HIT, target: { namespace: "default" } },
    ],
    want: [
      { ...cm("a", "flux-system"), data: { a: "1", b: "2" } },
      { ...cm("b", "media"), data: { a: "1", b: "2" } },
      hit(cm("c")),
      hit(cm("d", "default")),
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "media" } },
    ],
  },
  {
    name: "group '' is no constraint (every group); version matches the version part",
    objects: [ks("media"), cm("c", "flux-system"), { ...cm("e", "flux-system"), apiVersion: "example.com/v2" }],
    patches: [{ patch: HIT, target: { group: "", version: "v1" } }],
    want: [hit(ks("media")), hit(cm("c", "flux-system")), { ...cm("e", "flux-system"), apiVersion: "example.com/v2" }],
  },
  {
    name: "no target: the body's apiVersion, kind, name and namespace select (no namespace = default)",
    objects: [
      cm("settings", "flux-system"),
      cm("settings", "media"),
      cm("other", "flux-system"),
      cm("plain", "default"),
    ],
    patches: [
      {
        patch:
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: flux-system\ndata:\n  b: '2'\n",
      },
      { patch: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: null\n" },
    ],
    want: [
      { ...cm("settings", "flux-system"), data: { a: "1", b: "2" } },
      cm("settings", "media"),
      cm("other", "flux-system"),
      { ...cm("plain", "default"), data: {} },
    ],
  },
  {
    name: "a multi-document patch string is one patch per document",
    objects: [ks("media"), ks("db"), ks("apps")],
    patches: [
      {
        patch: `apiVersion: ${FLUX}\nkind: Kustomization\nmetadata:\n  name: media\n  namespace: flux-system\nspec:\n  wait: true\n---\napiVersion: ${FLUX}\nkind: Kustomization\nmetadata:\n  name: db\n  namespace: flux-system\nspec:\n  prune: false\n`,
      },
    ],
    want: [ks("media", { wait: true }), ks("db", { prune: false }), ks("apps")],
  },
  {
    name: "$patch: delete removes a map, a keyed list element, or (at the top) the whole object",
    objects: [ks("media", { postBuild: { substitute: { A: "1" } }, wait: true }), ks("gone"), deployment],
    patches: [
      {
        patch: "kind: Any\nmetadata:\n  name: any\nspec:\n  postBuild:\n    $patch: delete\n",
        target: { name: "media" },
      },
      { patch: "kind: Any\nmetadata:\n  name: any\n$patch: delete\n", target: { name: "gone" } },
      {
        patch: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: media
spec:
  template:
    spec:
      containers:
        - name: sidecar
          $patch: delete
        - name: app
          env:
            - name: A
              $patch: delete
`,
      },
    ],
    want: [
      ks("media", { wait: true }),
      {
        ...deployment,
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: "app",
                  image: "app:1",
                  args: ["--a", "--b"],
                  env: [{ name: "B", value: "2" }],
                  volumeMounts: [{ mountPath: "/config", name: "config" }],
                },
              ],
              tolerations: [{ key: "a", operator: "Exists" }],
              volumes: [{ name: "config", emptyDir: {} }],
            },
          },
        },
      },
    ],
  },
  {
    name: "Deployment: containers, env, volumeMounts and volumes merge by key (patch order first); args and tolerations are replaced; finalizers are a set",
    objects: [deployment],
    patches: [
      {
        patch: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: media
  finalizers: [b, a]
spec:
  template:
    spec:
      containers:
        - name: sidecar
          image: sidecar:2
        - name: app
          args: [--c]
          env:
            - name: C
              value: "3"
            - name: A
              value: "10"
          volumeMounts:
            - mountPath: /data
              name: data
        - name: new
          image: new:1
          env:
            - name: X
              value: null
      tolerations:
        - key: b
          operator: Exists
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: data
`,
      },
    ],
    want: [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "media", finalizers: ["b", "a"] },
        spec: {
          template: {
            spec: {
              containers: [
                { name: "sidecar", image: "sidecar:2" },
                {
                  name: "app",
                  image: "app:1",
                  args: ["--c"],
                  env: [
                    { name: "C", value: "3" },
                    { name: "A", value: "10" },
                    { name: "B", value: "2" },
                  ],
                  volumeMounts: [
                    { mountPath: "/data", name: "data" },
                    { mountPath: "/config", name: "config" },
                  ],
                },
                { name: "new", image: "new:1", env: [{ name: "X" }] },
              ],
              tolerations: [{ key: "b", operator: "Exists" }],
              volumes: [
                { name: "data", persistentVolumeClaim: { claimName: "data" } },
                { name: "config", emptyDir: {} },
              ],
            },
          },
        },
      },
    ],
  },
  {
    name: "Service ports merge by port and protocol; a {$patch: replace} element replaces a keyed list",
    objects: [
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web" },
        spec: {
          ports: [
            { name: "http", port: 80 },
            { name: "dns", port: 53, protocol: "UDP" },
          ],
          selector: { app: "web" },
        },
      },
      deployment,
    ],
    patches: [
      {
        patch:
          "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - {port: 53, protocol: TCP, name: dnstcp}\n    - {port: 80, targetPort: 8080}\n",
      },
      {
        patch:
          "kind: Any\nmetadata:\n  name: any\nspec:\n  template:\n    spec:\n      volumes:\n        - $patch: replace\n        - {name: only, emptyDir: {}}\n",
        target: { kind: "Deployment" },
      },
    ],
    want: [
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web" },
        spec: {
          ports: [
            { port: 53, protocol: "TCP", name: "dnstcp" },
            { name: "http", port: 80, targetPort: 8080 },
            { name: "dns", port: 53, protocol: "UDP" },
          ],
          selector: { app: "web" },
        },
      },
      {
        ...deployment,
        spec: {
          template: {
            spec: {
              ...((deployment.spec as Obj).template as { spec: Obj }).spec,
              volumes: [{ name: "only", emptyDir: {} }],
            },
          },
        },
      },
    ],
  },
  {
    name: "null deletes a key; $patch: replace replaces a map; new maps lose their nulls; lists are copied as written",
    objects: [ks("media", { postBuild: { substitute: { A: "1", B: "2" } }, healthChecks: [{ kind: "X", name: "x" }] })],
    patches: [
      {
        patch: `kind: Any
metadata:
  name: any
spec:
  path: null
  absent: null
  postBuild:
    substitute:
      $patch: replace
      C: "3"
  decryption:
    provider: sops
    secretRef: null
  healthChecks:
    - kind: Y
      name: null
`,
        target: { kind: "Kustomization" },
      },
    ],
    want: [
      {
        apiVersion: FLUX,
        kind: "Kustomization",
        metadata: { name: "media", namespace: "flux-system" },
        spec: {
          sourceRef: SOURCE,
          postBuild: { substitute: { C: "3" } },
          healthChecks: [{ kind: "Y", name: null }],
          decryption: { provider: "sops" },
        },
      },
    ],
  },
  {
    name: "JSON 6902: test, remove and replace with ~1/~0 escapes, move, copy, insert at an index, YAML 1.1 booleans",
    objects: [
      ks(
        "media",
        { list: ["a", "b"], postBuild: { substitute: { A: "1" } } },
        { annotations: { "a/b": "1", "c~d": "2" } },
      ),
    ],
    patches: [
      {
        patch: `- {op: test, path: /spec/path, value: ./apps/media}
- {op: remove, path: /metadata/annotations/a~1b}
- {op: replace, path: /metadata/annotations/c~0d, value: "3"}
- {op: move, from: /spec/postBuild/substitute, path: /spec/vars}
- {op: copy, from: /spec/list, path: /spec/copied}
- {op: add, path: /spec/list/0, value: z}
- {op: replace, path: /spec/list/-1, value: last}
- {op: replace, path: /spec/missing, value: added}
- {op: add, path: /spec/wait, value: on}
`,
        target: { kind: "Kustomization" },
      },
    ],
    want: [
      {
        apiVersion: FLUX,
        kind: "Kustomization",
        metadata: { name: "media", namespace: "flux-system", annotations: { "c~d": "3" } },
        spec: {
          path: "./apps/media",
          sourceRef: SOURCE,
          list: ["z", "a", "last"],
          postBuild: {},
          vars: { A: "1" },
          copied: ["a", "b"],
          missing: "added",
          wait: true,
        },
      },
    ],
  },
  {
    name: "patches apply in order, each seeing the previous ones' result",
    objects: [cm("a", "media"), cm("b", "media")],
    patches: [
      { patch: HIT, target: { labelSelector: "added=yes" } },
      { patch: "kind: Any\nmetadata:\n  name: any\n  labels:\n    added: 'yes'\n", target: { name: "a" } },
      { patch: "kind: Any\nmetadata:\n  name: any\ndata:\n  seen: 'yes'\n", target: { labelSelector: "added=yes" } },
    ],
    want: [{ ...cm("a", "media", { labels: { added: "yes" } }), data: { a: "1", seen: "yes" } }, cm("b", "media")],
  },
  {
    name: "labelSelector > and < compare integers",
    objects: [
      cm("a", "media", { labels: { prio: "3" } }),
      cm("b", "media", { labels: { prio: "1" } }),
      cm("c", "media"),
    ],
    patches: [{ patch: HIT, target: { labelSelector: "prio>2" } }],
    want: [
      hit(cm("a", "media", { labels: { prio: "3" } })),
      cm("b", "media", { labels: { prio: "1" } }),
      cm("c", "media"),
    ],
  },
  {
    name: "a top-level $patch: replace does nothing; $retainKeys and $setElementOrder are merged as ordinary keys",
    objects: [ks("media"), deployment],
    patches: [
      {
        patch: "kind: Any\nmetadata:\n  name: any\n$patch: replace\nspec:\n  wait: true\n",
        target: { kind: "Kustomization" },
      },
      {
        patch: `kind: Any
metadata:
  name: any
spec:
  strategy:
    $retainKeys: [type]
    type: Recreate
  template:
    spec:
      $setElementOrder/containers: [{name: sidecar}, {name: app}]
`,
        target: { kind: "Deployment" },
      },
    ],
    want: [
      ks("media"),
      {
        ...deployment,
        spec: {
          strategy: { $retainKeys: ["type"], type: "Recreate" },
          template: {
            spec: {
              ...((deployment.spec as Obj).template as { spec: Obj }).spec,
              "$setElementOrder/containers": [{ name: "sidecar" }, { name: "app" }],
            },
          },
        },
      },
    ],
  },
  {
    name: "container ports merge by containerPort and protocol",
    objects: [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "dns" },
        spec: { template: { spec: { containers: [{ name: "dns", ports: [{ containerPort: 53, name: "dns" }] }] } } },
      },
    ],
    patches: [
      {
        patch:
          "kind: Any\nmetadata:\n  name: any\nspec:\n  template:\n    spec:\n      containers:\n        - name: dns\n          ports: [{containerPort: 53, protocol: UDP}, {containerPort: 9153}]\n",
        target: { kind: "Deployment" },
      },
    ],
    want: [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "dns" },
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: "dns",
                  ports: [
                    { containerPort: 53, protocol: "UDP" },
                    { containerPort: 9153 },
                    { containerPort: 53, name: "dns" },
                  ],
                },
              ],
            },
          },
        },
      },
    ],
    unlikeKustomize: "kustomize v5.5 drops the 53/UDP element when the object's 53 has no protocol",
  },
  // Errors: returned, never thrown. kustomize fails the whole build on each of them.
  {
    name: "error: an unknown op",
    objects: [ks("media")],
    patches: [{ patch: "- {op: frob, path: /spec/path}\n", target: { kind: "Kustomization" } }],
    want: [ks("media")],
    errors: [/operation 1 \(frob \/spec\/path\): unknown op/],
  },
  {
    name: "error: an op on a missing path leaves the object unpatched by that patch; later patches still apply",
    objects: [ks("media")],
    patches: [
      {
        patch: "- {op: add, path: /spec/wait, value: true}\n- {op: remove, path: /spec/postBuild/substitute}\n",
        target: { kind: "Kustomization" },
      },
      { patch: HIT, target: { kind: "Kustomization" } },
    ],
    want: [hit(ks("media"))],
    errors: [/JSON 6902 patch on Kustomization flux-system\/media: operation 2 \(remove .*\): the path does not exist/],
  },
  {
    name: "error: a test op that fails",
    objects: [ks("media")],
    patches: [
      { patch: '[{"op": "test", "path": "/spec/path", "value": "./other"}]', target: { kind: "Kustomization" } },
    ],
    want: [ks("media")],
    errors: [/test failed/],
  },
  {
    name: "error: an index out of range",
    objects: [ks("media", { list: ["a"] })],
    patches: [{ patch: "- {op: add, path: /spec/list/2, value: x}\n", target: { kind: "Kustomization" } }],
    want: [ks("media", { list: ["a"] })],
    errors: [/index 2 is out of range/],
  },
  {
    name: "error: unparsable YAML",
    objects: [ks("media")],
    patches: [{ patch: "kind: Kustomization\nmetadata: [\n", target: { kind: "Kustomization" } }],
    want: [ks("media")],
    errors: [/unable to parse the patch/],
  },
  {
    name: "error: a flow-style YAML op list (text starting with '[' must be JSON)",
    objects: [ks("media")],
    patches: [{ patch: "[{op: add, path: /spec/wait, value: true}]", target: { kind: "Kustomization" } }],
    want: [ks("media")],
    errors: [/unable to parse the patch/],
  },
  {
    name: "error: a JSON 6902 patch without a target",
    objects: [ks("media")],
    patches: [{ patch: "- {op: add, path: /spec/wait, value: true}\n" }],
    want: [ks("media")],
    errors: [/JSON 6902 patch must have a target/],
  },
  {
    name: "error: a strategic merge patch without metadata.name",
    objects: [ks("media")],
    patches: [{ patch: "kind: Kustomization\nspec:\n  wait: true\n", target: { kind: "Kustomization" } }],
    want: [ks("media")],
    errors: [/lacks kind or metadata.name/],
  },
  {
    name: "error: a map merged into a scalar",
    objects: [ks("media")],
    patches: [
      { patch: "kind: Any\nmetadata:\n  name: any\nspec:\n  path:\n    a: 1\n", target: { kind: "Kustomization" } },
    ],
    want: [ks("media")],
    errors: [/cannot merge a map into a scalar at spec.path/],
  },
  {
    name: "error: an invalid selector and an invalid name regex",
    objects: [ks("media")],
    patches: [
      { patch: HIT, target: { labelSelector: "app=a," } },
      { patch: HIT, target: { name: "(" } },
    ],
    want: [ks("media")],
    errors: [/invalid target: cannot parse selector requirement "" in "app=a,"/, /invalid target: .*\(/],
  },
  {
    name: "error: an element of a keyed list without its key",
    objects: [deployment],
    patches: [
      {
        patch:
          "kind: Any\nmetadata:\n  name: any\nspec:\n  template:\n    spec:\n      containers:\n        - image: x\n",
        target: { kind: "Deployment" },
      },
    ],
    want: [deployment],
    errors: [/an element of spec.template.spec.containers has no name/],
    unlikeKustomize: "kustomize silently empties the list",
  },
  {
    name: "error: a path that is not a JSON pointer",
    objects: [ks("media")],
    patches: [{ patch: "- {op: add, path: spec/wait, value: true}\n", target: { kind: "Kustomization" } }],
    want: [ks("media")],
    errors: [/path is not a JSON pointer/],
    unlikeKustomize: "kustomize drops the first segment and adds /wait at the top",
  },
];

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Parses a case's patches and applies them to each object; inputs and parsed patches are frozen to catch mutation. */
function run(c: Case): { objects: Obj[]; errors: string[] } {
  const parsed: ParsedPatch[] = [];
  const errors: string[] = [];
  for (const entry of c.patches) {
    const r = parsePatch(deepFreeze(structuredClone(entry)));
    if (r.error) errors.push(r.error);
    parsed.push(...deepFreeze(r.patches));
  }
  const objects: Obj[] = [];
  for (const o of c.objects) {
    const r = patchObject(deepFreeze(structuredClone(o)), parsed);
    errors.push(...r.errors);
    if (!r.deleted) objects.push(r.obj);
  }
  return { objects, errors };
}

describe("kustomize patches (table)", () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = run(c);
      assert.deepEqual(got.objects, c.want);
      assert.equal(got.errors.length, c.errors?.length ?? 0, got.errors.join("\n"));
      for (const [i, re] of (c.errors ?? []).entries()) assert.match(got.errors[i] ?? "", re);
    });
  }
});

describe("kustomize patches (API)", () => {
  it("returns the same object when no patch applies, a new one otherwise, and shares nothing with the patch", () => {
    const { patches } = parsePatch({ patch: SUBSTITUTE_FROM, target: CHILDREN });
    const config = cm("c", "flux-system");
    assert.equal(patchObject(config, patches).obj, config);
    const media = ks("media");
    const first = patchObject(media, patches).obj;
    assert.notEqual(first, media);
    assert.deepEqual(media, ks("media"));
    ((first.spec as Obj).postBuild as { substituteFrom: Obj[] }).substituteFrom.push({ kind: "Secret", name: "x" });
    const second = patchObject(ks("db"), patches).obj;
    assert.deepEqual((second.spec as Obj).postBuild, { substituteFrom: CLUSTER_VARS });
  });

  it("a JSON 6902 patch without a target applies to nothing", () => {
    const p: ParsedPatch = { type: "json6902", ops: [{ op: "remove", path: "/spec" }], target: undefined };
    assert.equal(patchApplies(p, ks("media")), false);
  });

  it("parsePatch never throws on garbage", () => {
    for (const entry of [
      {},
      { patch: 42 },
      { patch: "" },
      { patch: "kind: X\nmetadata: {name: x}", target: "x" },
      { patch: "kind: X\nmetadata: {name: x}", target: { name: 5 } },
      { patch: "[]", target: { kind: "X" } },
      { patch: "- 1\n- 2", target: { kind: "X" } },
      { patch: "[1, 2]", target: { kind: "X" } },
      { patch: "- {op: move, path: /a}", target: { kind: "X" } },
      { patch: "a: b\na: c", target: { kind: "X" } },
      { patch: "kind: X\nmetadata: {name: x}\n$patch: bogus", target: { kind: "ConfigMap" } },
    ]) {
      const r = parsePatch(entry);
      if (!r.error) {
        assert.deepEqual(patchObject(cm("c"), r.patches).errors, [
          "strategic merge patch on ConfigMap c: unknown patch strategy 'bogus'",
        ]);
        continue;
      }
      assert.deepEqual(r.patches, [], JSON.stringify(entry));
    }
  });

  it("keys like __proto__ and constructor are plain keys", () => {
    const { patches } = parsePatch({
      patch:
        '[{"op": "add", "path": "/data/__proto__", "value": {"polluted": true}}, {"op": "remove", "path": "/data/constructor"}]',
      target: { kind: "ConfigMap" },
    });
    const r = patchObject(cm("c"), patches);
    assert.match(r.errors[0] ?? "", /operation 2 .*the path does not exist/);
    const smp = parsePatch({
      patch: 'kind: X\nmetadata: {name: x}\ndata: {"__proto__": {"polluted": true}}',
      target: {},
    });
    const patched = patchObject(cm("c"), smp.patches).obj;
    assert.deepEqual(Object.keys(patched.data as Obj), ["a", "__proto__"]);
    assert.equal(({} as Obj).polluted, undefined);
  });
});

const execFileAsync = promisify(execFile);

/** `kubectl kustomize` over a temp dir holding the case's objects and a kustomization.yaml with its patches. */
async function kustomize(c: Case): Promise<{ objects: Obj[] } | { failed: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), "kopiashare-kustomize-patch-"));
  try {
    await writeFile(path.join(dir, "objects.yaml"), c.objects.map((o) => stringify(o)).join("---\n"));
    await writeFile(
      path.join(dir, "kustomization.yaml"),
      stringify({ resources: ["objects.yaml"], patches: c.patches }),
    );
    const { stdout } = await execFileAsync("kubectl", ["kustomize", dir]);
    return { objects: parseAllDocuments(stdout).map((d) => d.toJS() as Obj) };
  } catch (e) {
    return { failed: String((e as { stderr?: string }).stderr ?? e) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const byId = (objects: Obj[]) => {
  const id = (o: Obj) => {
    const m = o.metadata as Obj;
    return `${o.apiVersion}/${o.kind}/${m.namespace ?? ""}/${m.name}`;
  };
  return [...objects].sort((a, b) => id(a).localeCompare(id(b)));
};

describe("kustomize patches (differential)", () => {
  it("every table case gives what kubectl kustomize gives", async (t) => {
    const probe = spawnSync("kubectl", ["kustomize", "--help"], { encoding: "utf8" });
    if (probe.error || probe.status !== 0) {
      t.skip(`kubectl not installed: ${probe.error?.message ?? probe.stderr}`);
      return;
    }
    const compared = cases.filter((c) => !c.unlikeKustomize);
    const results = await Promise.all(compared.map(kustomize));
    for (const [i, c] of compared.entries()) {
      await t.test(c.name, () => {
        const kubectl = results[i]!;
        if (c.errors) {
          assert.ok("failed" in kubectl, "kustomize builds this, but we report an error");
          return;
        }
        assert.ok("objects" in kubectl, `kustomize fails: ${"failed" in kubectl ? kubectl.failed : ""}`);
        assert.deepEqual(byId(run(c).objects), byId(kubectl.objects));
      });
    }
  });
});
