/**
 * Everything init writes, for every generation, validates against its schema: kubernetes-models for core
 * and batch, the Flux models for Kustomizations, and small hand-written schemas (below) from the published
 * CRD fields of Volsync (perfectra1n fork), Kopiur, External Secrets and MutatingAdmissionPolicy, which
 * kubernetes-models 4.5.1 does not carry. Where kubectl is installed, `kubectl kustomize` renders every
 * generated kustomization folder.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { Kustomization as FluxKustomization } from "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1/Kustomization";
import { loadAll } from "js-yaml";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolume } from "kubernetes-models/v1/PersistentVolume";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { kubectlPath } from "../helpers.ts";
import { FRESH_FLAGS, freshRepo, init, KOPIUR_FLAGS, kustomize } from "./util.ts";

// ---------------------------------------------------------------------------------------------------
// A small structural validator: type, required, closed properties, enums, items.
// ---------------------------------------------------------------------------------------------------

type Schema =
  | { type: "string"; enum?: string[]; pattern?: RegExp }
  | { type: "integer" | "boolean" | "any" }
  | { type: "array"; items: Schema; minItems?: number }
  | { type: "object"; properties?: Record<string, Schema>; required?: string[]; open?: boolean; values?: Schema };

const str: Schema = { type: "string" };
const int: Schema = { type: "integer" };
const bool: Schema = { type: "boolean" };
const any: Schema = { type: "any" };
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: "object",
  properties,
  required,
});
const arr = (items: Schema): Schema => ({ type: "array", items });
const stringMap: Schema = { type: "object", values: str };
const podSecurityContext = obj({
  runAsUser: int,
  runAsGroup: int,
  runAsNonRoot: bool,
  fsGroup: int,
  fsGroupChangePolicy: { type: "string", enum: ["OnRootMismatch", "Always"] },
  supplementalGroups: arr(int),
});
const securityContext = obj({
  runAsUser: int,
  runAsGroup: int,
  runAsNonRoot: bool,
  allowPrivilegeEscalation: bool,
});
const moverVolumes = arr(
  obj(
    {
      mountPath: { type: "string", pattern: /^[a-zA-Z0-9_-]+$/ },
      volumeSource: obj({
        persistentVolumeClaim: obj({ claimName: str, readOnly: bool }, ["claimName"]),
        secret: any,
        nfs: any,
      }),
    },
    ["mountPath", "volumeSource"],
  ),
);
const accessModes = arr({
  type: "string",
  enum: ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"],
});
const volumeOptions = {
  copyMethod: { type: "string", enum: ["None", "Clone", "Snapshot", "Direct"] } as Schema,
  capacity: str,
  storageClassName: str,
  accessModes,
  volumeSnapshotClassName: str,
  destinationPVC: str,
  cacheCapacity: str,
  cacheStorageClassName: str,
  cacheAccessModes: accessModes,
  repository: str,
  moverSecurityContext: podSecurityContext,
  moverServiceAccount: str,
  moverVolumes,
};
const meta = (namespaced: boolean) =>
  obj({ name: str, ...(namespaced ? { namespace: str } : {}), labels: stringMap, annotations: stringMap }, ["name"]);

const SCHEMAS: Record<string, Schema> = {
  "volsync.backube/v1alpha1/ReplicationSource": obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(true),
      spec: obj({
        sourcePVC: str,
        trigger: obj({ schedule: str, manual: str }),
        paused: bool,
        kopia: obj({
          ...volumeOptions,
          retain: obj({ hourly: int, daily: int, weekly: int, monthly: int, yearly: int, latest: int }),
          compression: str,
          parallelism: int,
          username: str,
          hostname: str,
          sourcePathOverride: str,
          repositoryPVC: str,
        }),
      }),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
  "volsync.backube/v1alpha1/ReplicationDestination": obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(true),
      spec: obj({
        trigger: obj({ schedule: str, manual: str }),
        paused: bool,
        kopia: obj({
          ...volumeOptions,
          sourceIdentity: obj({ sourceName: str, sourceNamespace: str, sourcePVCName: str }, ["sourceName"]),
          username: str,
          hostname: str,
          previous: int,
          restoreAsOf: str,
          shallow: int,
        }),
      }),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
  "volsync.backube/v1alpha1/KopiaMaintenance": obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(true),
      spec: obj(
        {
          repository: obj({ repository: str, customCA: any, repositoryType: str }, ["repository"]),
          trigger: obj({ schedule: str, manual: str }),
          enabled: bool,
          suspend: bool,
          podSecurityContext,
          containerSecurityContext: any,
          moverVolumes,
          cacheCapacity: str,
          resources: any,
        },
        ["repository"],
      ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
  "external-secrets.io/v1/ExternalSecret": obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(true),
      spec: obj({
        secretStoreRef: obj({ kind: { type: "string", enum: ["SecretStore", "ClusterSecretStore"] }, name: str }, [
          "name",
        ]),
        target: obj({ name: str, template: obj({ data: stringMap }) }),
        dataFrom: arr(obj({ extract: obj({ key: str }, ["key"]) })),
      }),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
  "kopiur.home-operations.com/v1alpha1/ClusterRepository": obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(false),
      spec: obj(
        {
          backend: obj({
            filesystem: obj({ path: str, volume: obj({ pvc: obj({ name: str }, ["name"]), nfs: any }) }, ["path"]),
          }),
          encryption: obj({ passwordSecretRef: obj({ name: str, namespace: str, key: str }, ["name", "namespace"]) }),
          create: obj({ enabled: bool }),
          allowedNamespaces: obj({ list: arr(str), selector: any, all: bool }),
          identityDefaults: obj({ hostnameExpr: str, usernameExpr: str }),
          moverDefaults: obj({ securityContext, podSecurityContext, cache: any }),
          maintenance: any,
        },
        ["backend"],
      ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
  "kopiur.home-operations.com/v1alpha1/Maintenance": obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(true),
      spec: obj(
        {
          repository: obj({ kind: { type: "string", enum: ["Repository", "ClusterRepository"] }, name: str }, ["name"]),
          schedule: obj({
            quick: obj({ cron: str, jitter: str }),
            full: obj({ cron: str, jitter: str }),
            timezone: str,
          }),
        },
        ["repository"],
      ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
  "kopiur.home-operations.com/v1alpha1/SnapshotPolicy": obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(true),
      spec: obj(
        {
          repository: obj({ kind: { type: "string", enum: ["Repository", "ClusterRepository"] }, name: str }, ["name"]),
          // Per source (Kopiur's SnapshotPolicy reference): one of pvc, pvcSelector, nfs, and what kopia records.
          sources: arr(
            obj({
              pvc: obj({ name: str }, ["name"]),
              sourcePathOverride: str,
              sourcePathStrategy: { type: "string", enum: ["PvcName", "PvcNamespacedName"] },
            }),
          ),
          retention: obj({
            keepLatest: int,
            keepHourly: int,
            keepDaily: int,
            keepWeekly: int,
            keepMonthly: int,
            keepAnnual: int,
          }),
          compression: obj({ compressor: str, neverCompress: arr(str) }),
          credentialProjection: obj({ enabled: bool }),
          copyMethod: { type: "string", enum: ["Snapshot", "Clone", "Direct"] },
          mover: obj({ securityContext, podSecurityContext }),
        },
        ["repository", "sources"],
      ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
  "kopiur.home-operations.com/v1alpha1/SnapshotSchedule": obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(true),
      spec: obj(
        {
          policyRef: obj({ name: str }, ["name"]),
          schedule: obj({ cron: str, jitter: str, runOnCreate: bool }, ["cron"]),
        },
        ["policyRef", "schedule"],
      ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
  "kopiur.home-operations.com/v1alpha1/Restore": obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(true),
      spec: obj(
        {
          source: obj({ fromPolicy: obj({ name: str, offset: int }, ["name"]), identity: any }),
          target: obj({ populator: obj({}), pvc: any }),
          policy: obj({ onMissingSnapshot: { type: "string", enum: ["Continue", "Fail"] }, waitTimeout: str }),
        },
        ["source", "target"],
      ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  ),
};

const mapSchema = (): Schema =>
  obj(
    {
      apiVersion: str,
      kind: str,
      metadata: meta(false),
      spec: obj(
        {
          failurePolicy: { type: "string", enum: ["Fail", "Ignore"] },
          reinvocationPolicy: { type: "string", enum: ["Never", "IfNeeded"] },
          matchConstraints: obj({
            resourceRules: arr(
              obj({ apiGroups: arr(str), apiVersions: arr(str), operations: arr(str), resources: arr(str) }),
            ),
          }),
          matchConditions: arr(obj({ name: str, expression: str }, ["name", "expression"])),
          mutations: arr(
            obj(
              {
                patchType: { type: "string", enum: ["JSONPatch", "ApplyConfiguration"] },
                jsonPatch: obj({ expression: str }, ["expression"]),
              },
              ["patchType"],
            ),
          ),
        },
        ["mutations", "reinvocationPolicy"],
      ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
  );
const bindingSchema = (): Schema =>
  obj({ apiVersion: str, kind: str, metadata: meta(false), spec: obj({ policyName: str }, ["policyName"]) }, [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
  ]);
for (const v of ["v1alpha1", "v1beta1", "v1"]) {
  SCHEMAS[`admissionregistration.k8s.io/${v}/MutatingAdmissionPolicy`] = mapSchema();
  SCHEMAS[`admissionregistration.k8s.io/${v}/MutatingAdmissionPolicyBinding`] = bindingSchema();
}

function check(value: unknown, schema: Schema, at: string, problems: string[]): void {
  switch (schema.type) {
    case "any":
      return;
    case "string":
      if (typeof value !== "string") problems.push(`${at}: expected a string, got ${JSON.stringify(value)}`);
      else if (schema.enum && !schema.enum.includes(value))
        problems.push(`${at}: ${value} is not one of ${schema.enum}`);
      else if (schema.pattern && !schema.pattern.test(value))
        problems.push(`${at}: ${value} does not match ${schema.pattern}`);
      return;
    case "integer":
      if (!Number.isInteger(value)) problems.push(`${at}: expected an integer, got ${JSON.stringify(value)}`);
      return;
    case "boolean":
      if (typeof value !== "boolean") problems.push(`${at}: expected a boolean, got ${JSON.stringify(value)}`);
      return;
    case "array":
      if (!Array.isArray(value)) problems.push(`${at}: expected a list`);
      else
        value.forEach((x, i) => {
          check(x, schema.items, `${at}[${i}]`, problems);
        });
      return;
    case "object": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        problems.push(`${at}: expected a mapping`);
        return;
      }
      const o = value as Record<string, unknown>;
      for (const r of schema.required ?? []) if (!(r in o)) problems.push(`${at}.${r}: required`);
      for (const [k, v] of Object.entries(o)) {
        const sub = schema.properties?.[k] ?? schema.values;
        if (sub) check(v, sub, `${at}.${k}`, problems);
        else if (!schema.open) problems.push(`${at}.${k}: not a field of the published CRD`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------

/** postBuild substitution as Flux does it for the component: APP set, every other variable by its default. */
function substitute(text: string): string {
  return text.replace(/\$\{([A-Z_]+)(?::=([^}]*))?\}/g, (_m, name: string, def: string | undefined) =>
    name === "APP" ? "demo" : (def ?? ""),
  );
}

type Obj = { apiVersion: string; kind: string; metadata?: { name?: string } };

function validate(o: Obj): string[] {
  const problems: string[] = [];
  const key = `${o.apiVersion}/${o.kind}`;
  const where = `${o.kind} ${o.metadata?.name}`;
  const models: Record<string, (x: unknown) => { validate(): void }> = {
    "v1/PersistentVolume": (x) => new PersistentVolume(x as never),
    "v1/PersistentVolumeClaim": (x) => new PersistentVolumeClaim(x as never),
    "v1/Namespace": (x) => new Namespace(x as never),
    "batch/v1/Job": (x) => new Job(x as never),
    "kustomize.toolkit.fluxcd.io/v1/Kustomization": (x) => new FluxKustomization(x as never),
  };
  const model = models[key];
  if (model) {
    try {
      model(o).validate();
    } catch (e) {
      problems.push(`${where}: ${(e as Error).message}`);
    }
    return problems;
  }
  const schema = SCHEMAS[key];
  if (!schema) {
    if (o.apiVersion.startsWith("kustomize.config.k8s.io/")) return problems;
    return [`${where}: no schema for ${key}`];
  }
  check(o, schema, where, problems);
  return problems;
}

const MOVER_CASES: [string, string[]][] = [
  ["volsync-0.16 on 1.32", ["--mover", "volsync-0.16", "--kubernetes-version", "1.32"]],
  ["volsync-0.16 on 1.34", ["--mover", "volsync-0.16", "--kubernetes-version", "1.34"]],
  ["volsync-0.16 on 1.36", ["--mover", "volsync-0.16", "--kubernetes-version", "1.36"]],
  ["volsync-0.17", ["--mover", "volsync-0.17"]],
  ["kopiur", ["--mover", "kopiur", ...KOPIUR_FLAGS]],
];

describe("generated objects validate against their schemas", () => {
  for (const [name, args] of MOVER_CASES) {
    it(name, async () => {
      const dir = freshRepo();
      const wrote = await init(dir, [...args, ...FRESH_FLAGS]);
      const problems: string[] = [];
      let count = 0;
      for (const [file, text] of wrote) {
        if (file === "kopiashare.yaml") continue;
        for (const doc of loadAll(substitute(text))) {
          if (!doc || typeof doc !== "object") continue;
          count++;
          problems.push(...validate(doc as Obj).map((p) => `${file}: ${p}`));
        }
      }
      assert.ok(count >= 12, `only ${count} objects`);
      assert.deepEqual(problems, []);
    });
  }

  it("the validator itself rejects a field the CRD does not have", () => {
    const bad = {
      apiVersion: "volsync.backube/v1alpha1",
      kind: "KopiaMaintenance",
      metadata: { name: "kopia" },
      spec: { repository: { repository: "kopia-secret" }, moverSecurityContext: { runAsUser: 1000 } },
    };
    assert.match(validate(bad).join("\n"), /moverSecurityContext: not a field of the published CRD/);
    assert.match(
      validate({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: 3 } } as unknown as Obj).join(""),
      /PersistentVolumeClaim/,
    );
  });
});

describe("kubectl kustomize renders every generated kustomization folder", () => {
  for (const [name, args] of MOVER_CASES) {
    it(name, async (t) => {
      if (!kubectlPath()) {
        t.skip("kubectl is not installed");
        return;
      }
      const dir = freshRepo();
      const wrote = await init(dir, [...args, ...FRESH_FLAGS]);
      const folders = [...wrote.keys()]
        .filter((f) => f.endsWith("/kustomization.yaml"))
        .map((f) => f.slice(0, -"/kustomization.yaml".length));
      assert.ok(folders.length >= 4);
      for (const folder of folders) {
        let target = path.join(dir, folder);
        if (folder === "kubernetes/components/volsync") {
          // a Component renders through a Kustomization that includes it
          target = path.join(dir, ".render-component");
          mkdirSync(target, { recursive: true });
          writeFileSync(
            path.join(target, "kustomization.yaml"),
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: demo\ncomponents:\n  - ../kubernetes/components/volsync\n",
          );
        }
        const r = kustomize(target);
        assert.ok(r, "kubectl disappeared");
        assert.ok(r.ok, `kubectl kustomize ${folder}:\n${r.out}`);
      }
    });
  }
});
