/**
 * YAML that Flux's go-yaml accepts and js-yaml does not by default: custom tags (recyclarr, Authentik,
 * Home Assistant, mkdocs, Ansible) and an alias glued to the colon of a mapping key (`*app:`). Such
 * documents parse; a truly broken document is still reported at file:line:col.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { locate, parseYamlText, type RepoScan, scanRepo, type YamlDoc } from "../../src/gitops/scan.ts";
import { run, tempRepo, writeFiles } from "../helpers.ts";
import type { JsonFinding } from "./helpers.ts";

/** A scan of in-memory files, as scanRepo builds it (texts kept for `locate`). */
function scanOf(files: Record<string, string>): RepoScan {
  const scan: RepoScan = { root: "/nowhere", texts: new Map(), docs: [], objects: [], issues: [], dirs: new Set() };
  for (const [file, text] of Object.entries(files)) {
    scan.texts.set(file, text);
    parseYamlText(scan, file, text);
  }
  return scan;
}

const lines = (...l: string[]) => `${l.join("\n")}\n`;
const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;
const only = (scan: RepoScan): YamlDoc => {
  assert.deepEqual(scan.issues, []);
  assert.equal(scan.docs.length, 1);
  return scan.docs[0] as YamlDoc;
};

const RECYCLARR = lines(
  "# yaml-language-server: $schema=https://raw.githubusercontent.com/recyclarr/recyclarr/master/schemas/config-schema.json",
  "sonarr:",
  "  series:",
  "    base_url: !env_var SONARR_URL http://sonarr.media.svc.cluster.local",
  "    api_key: !env_var SONARR_API_KEY",
  "    delete_old_custom_formats: true",
  "    include:",
  "      - template: sonarr-quality-definition-series",
  "radarr:",
  "  movies:",
  "    base_url: !env_var RADARR_URL",
  "    api_key: !env_var RADARR_API_KEY",
);

const AUTHENTIK = lines(
  "version: 1",
  "metadata:",
  "  name: grafana",
  "entries:",
  "  - model: authentik_providers_oauth2.oauth2provider",
  "    identifiers:",
  "      name: grafana",
  "    attrs:",
  "      authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]",
  "      client_id: !Env GRAFANA_CLIENT_ID",
  "      client_secret: !Env [GRAFANA_CLIENT_SECRET, unset]",
  "      property_mappings:",
  "        - !Find [authentik_core.propertymapping, [name, email]]",
  "      signing_key: !KeyOf",
  "      redirect_uris: !Format",
  "        - matching_mode: strict",
  "          url: https://grafana.%s/login/generic_oauth",
  "      meta: !If",
  "        condition: true",
  "        value: x",
);

const BROKEN = lines("---", "apiVersion: v1", "kind: ConfigMap", "data:", "  a: [1, !env_var 2", "  b: 3");

const ALIAS_KEY = lines(
  "---",
  "apiVersion: helm.toolkit.fluxcd.io/v2",
  "kind: HelmRelease",
  "metadata:",
  "  name: &app jellyfin",
  "spec:",
  "  values:",
  "    controllers:",
  "      *app:",
  "        containers:",
  "          app:",
  "            image:",
  "              repository: ghcr.io/home-operations/jellyfin",
  "    service:",
  "      app: {controller: *app, ports: {http: {port: 8096}}}",
  "    persistence:",
  "      config: {existingClaim: *app, globalMounts: [{*app: /config}]}",
);

describe("YAML with custom tags", () => {
  it("reads recyclarr's !env_var as the tagged scalar's string", () => {
    const v = only(scanOf({ "recyclarr.yml": RECYCLARR })).value;
    assert.deepEqual(v, {
      sonarr: {
        series: {
          base_url: "SONARR_URL http://sonarr.media.svc.cluster.local",
          api_key: "SONARR_API_KEY",
          delete_old_custom_formats: true,
          include: [{ template: "sonarr-quality-definition-series" }],
        },
      },
      radarr: { movies: { base_url: "RADARR_URL", api_key: "RADARR_API_KEY" } },
    });
  });

  it("reads Authentik's tagged sequences, mappings and empty nodes as their untagged values", () => {
    const v = only(scanOf({ "blueprint.yaml": AUTHENTIK })).value;
    assert.deepEqual((v as { entries: { attrs: unknown }[] }).entries[0]?.attrs, {
      authorization_flow: ["authentik_flows.flow", ["slug", "default-provider-authorization-implicit-consent"]],
      client_id: "GRAFANA_CLIENT_ID",
      client_secret: ["GRAFANA_CLIENT_SECRET", "unset"],
      property_mappings: [["authentik_core.propertymapping", ["name", "email"]]],
      signing_key: "",
      redirect_uris: [{ matching_mode: "strict", url: "https://grafana.%s/login/generic_oauth" }],
      meta: { condition: true, value: "x" },
    });
  });

  it("reads Home Assistant, mkdocs and Ansible tags, global and verbatim ones too", () => {
    const text = lines(
      "homeassistant:",
      "  customize: !include customize.yaml",
      "  packages: !include_dir_named packages",
      "http:",
      "  trusted_proxies: !secret proxies",
      "automation: !include_dir_merge_list automations/",
      "blueprint_input: !input motion_sensor",
      "emoji_index: !!python/name:material.extensions.emoji.twemoji",
      "emoji_generator: !!python/name:material.extensions.emoji.to_svg ''",
      "verbatim: !<tag:example.com,2024:thing> {a: 1}",
      "ansible: !unsafe '{{ not_templated }}'",
      "anchored: &pw !vault secret",
      "again: *pw",
      "number_like: !env_var 8080",
    );
    assert.deepEqual(only(scanOf({ "configuration.yaml": text })).value, {
      homeassistant: { customize: "customize.yaml", packages: "packages" },
      http: { trusted_proxies: "proxies" },
      automation: "automations/",
      blueprint_input: "motion_sensor",
      emoji_index: "",
      emoji_generator: "",
      verbatim: { a: 1 },
      ansible: "{{ not_templated }}",
      anchored: "secret",
      again: "secret",
      number_like: "8080",
    });
  });

  it("keeps the meaning of the standard tags, and their errors", () => {
    const text = lines(
      "s: !!str 123",
      "i: !!int '7'",
      "f: !!float 1",
      "b: !!bool 'true'",
      "n: !!null ~",
      "bin: !!binary aGk=",
      "m: !!map {a: 1}",
      "q: !!seq [1]",
      "plain: 123",
    );
    const v = only(scanOf({ "std.yaml": text })).value as Record<string, unknown>;
    assert.deepEqual(
      { ...v, bin: undefined },
      {
        s: "123",
        i: 7,
        f: 1,
        b: true,
        n: null,
        bin: undefined,
        m: { a: 1 },
        q: [1],
        plain: 123,
      },
    );
    assert.deepEqual([...(v.bin as Uint8Array)], [104, 105]);
    for (const bad of ["a: !!int abc\n", "a: !!str [1]\n", "a: !!map text\n"]) {
      const scan = scanOf({ "bad.yaml": bad });
      assert.equal(scan.docs.length, 0, bad);
      assert.equal(scan.issues.length, 1, bad);
      assert.match(scan.issues[0]?.message ?? "", /^bad\.yaml:1:\d+: .*tag:yaml\.org,2002:(int|str|map)/, bad);
    }
  });

  it("lets locate find keys below tagged nodes", () => {
    const scan = scanOf({ "blueprint.yaml": AUTHENTIK });
    const doc = only(scan);
    const at = (needle: string) => lineOf(AUTHENTIK, needle);
    assert.equal(locate(scan, doc, ["entries", 0, "attrs", "client_id"]), at("client_id:"));
    assert.equal(locate(scan, doc, ["entries", 0, "attrs", "meta", "value"]), at("value: x"));
    assert.equal(locate(scan, doc, ["entries", 0, "attrs", "redirect_uris", 0, "url"]), at("url:"));
  });
});

describe("an alias glued to the colon of a mapping key (*app:)", () => {
  it("is the alias then the colon, as in go-yaml; `*app :` was already", () => {
    const doc = only(scanOf({ "helmrelease.yaml": ALIAS_KEY }));
    assert.equal(doc.line, 2);
    const values = (doc.value as { spec: { values: Record<string, unknown> } }).spec.values;
    assert.deepEqual(values.controllers, {
      jellyfin: { containers: { app: { image: { repository: "ghcr.io/home-operations/jellyfin" } } } },
    });
    assert.deepEqual(values.persistence, {
      config: { existingClaim: "jellyfin", globalMounts: [{ jellyfin: "/config" }] },
    });
    const spaced = only(scanOf({ "spaced.yaml": ALIAS_KEY.replaceAll("*app:", "*app :") })).value;
    assert.deepEqual(spaced, doc.value);
  });

  it("keeps the line of every later document, and of locate", () => {
    const text = lines(
      "a: &x one",
      "b:",
      "  *x:",
      "    c: 1",
      "---",
      "# two",
      "d: &y two",
      "e: {*y: 2}",
      "---",
      "f: 3",
    );
    const scan = scanOf({ "multi.yaml": text });
    assert.deepEqual(scan.issues, []);
    assert.deepEqual(
      scan.docs.map((d) => [d.index, d.line, d.value]),
      [
        [0, 1, { a: "one", b: { one: { c: 1 } } }],
        [1, 7, { d: "two", e: { two: 2 } }],
        [2, 10, { f: 3 }],
      ],
    );
    assert.equal(locate(scan, scan.docs[0] as YamlDoc, ["b", "one", "c"]), 4);
    assert.equal(locate(scan, scan.docs[1] as YamlDoc, ["e", "two"]), 8);
    const hr = scanOf({ "helmrelease.yaml": ALIAS_KEY });
    const repo = lineOf(ALIAS_KEY, "repository:");
    assert.equal(
      locate(hr, only(hr), ["spec", "values", "controllers", "jellyfin", "containers", "app", "image", "repository"]),
      repo,
    );
  });

  it("is still an error when no such anchor is defined before it, at the same position", () => {
    const text = lines("metadata:", "  name: &app jellyfin", "spec:", "  *nope:", "    enabled: true");
    const scan = scanOf({ "ks.yaml": text });
    assert.equal(scan.docs.length, 0);
    assert.deepEqual(scan.issues, [
      { file: "ks.yaml", kind: "parse", line: 4, col: 9, message: 'ks.yaml:4:9: unidentified alias "nope:"' },
    ]);
  });

  it("reports a later error at its column in the original text", () => {
    // Two spaces are put in before the error on its line: the column is still the original one.
    const text = lines("---", "a: &a 1", "b: &b 2", "c: {*a: 1, *b: 2, *a: 3}");
    const scan = scanOf({ "dup.yaml": text });
    assert.equal(scan.docs.length, 0);
    const col = "c: {*a: 1, *b: 2, *a: 3}".lastIndexOf("*a") + 1;
    assert.deepEqual(scan.issues, [
      { file: "dup.yaml", kind: "parse", line: 4, col, message: `dup.yaml:4:${col}: duplicated mapping key` },
    ]);
  });
});

describe("a truly invalid document", () => {
  it("is reported at file:line:col as js-yaml places it, after the documents before it", () => {
    const text = `apiVersion: v1\nkind: Namespace\nmetadata: {name: media}\n${BROKEN}`;
    const scan = scanOf({ "broken.yaml": text });
    assert.equal(scan.docs.length, 1, "the document before it is read");
    // js-yaml's own position (the tag, unknown to its default schema, is left out), in the document
    // whose first line is line 5 (0-based 4).
    let mark = { line: -1, column: -1 };
    assert.throws(
      () => load(BROKEN.slice(4).replace("!env_var ", "")),
      (e: { mark: typeof mark }) => {
        mark = e.mark;
        return true;
      },
    );
    const line = 4 + mark.line + 1;
    const col = mark.column + 1;
    assert.deepEqual([line, col], [9, 3]);
    assert.deepEqual(scan.issues, [
      {
        file: "broken.yaml",
        kind: "parse",
        line,
        col,
        message: `broken.yaml:${line}:${col}: missed comma between flow collection entries`,
      },
    ]);
    // locate does not throw on it, and falls back to the document's line at worst.
    const doc: YamlDoc = { file: "broken.yaml", index: 1, line: 5, value: undefined };
    assert.equal(typeof locate(scan, doc, ["data", "a", 0]), "number");
  });
});

describe("kopiashare lint on a repository with such YAML", () => {
  const KS = lines(
    "---",
    "apiVersion: kustomize.toolkit.fluxcd.io/v1",
    "kind: Kustomization",
    "metadata:",
    "  name: &app jellyfin",
    "  namespace: flux-system",
    "spec:",
    "  targetNamespace: media",
    "  commonMetadata:",
    "    labels:",
    "      app.kubernetes.io/name: *app",
    "  path: ./kubernetes/apps/media/jellyfin/app",
    "  prune: true",
    "  sourceRef:",
    "    kind: GitRepository",
    "    name: flux-system",
    "  postBuild:",
    "    substitute:",
    "      APP: *app",
    "      *app: enabled",
    "  interval: 30m",
  );

  async function lintRepo(files: Record<string, string>): Promise<{ dir: string; findings: JsonFinding[] }> {
    const dir = tempRepo();
    writeFiles(dir, files);
    const r = await run(["lint", "-o", "json"], { cwd: dir });
    assert.ok(r.out.startsWith("{"), `no JSON on stdout (exit ${r.code}): ${r.err}`);
    return { dir, findings: (JSON.parse(r.out) as { findings: JsonFinding[] }).findings };
  }

  it("finds no invalid YAML in a recyclarr config with !env_var and a ks with a *app: key", async () => {
    const { dir, findings } = await lintRepo({
      "kubernetes/apps/media/jellyfin/ks.yaml": KS,
      "kubernetes/apps/media/jellyfin/app/helmrelease.yaml": ALIAS_KEY,
      "kubernetes/apps/media/recyclarr/app/config/recyclarr.yml": RECYCLARR,
      "kubernetes/apps/security/authentik/app/blueprints/grafana.yaml": AUTHENTIK,
    });
    assert.deepEqual(
      findings.filter((f) => f.rule === "input/invalid-yaml"),
      [],
    );
    // Not only unreported: every file parses (the rule may leave out files that are not manifests).
    const scan = scanRepo(dir);
    assert.deepEqual(scan.issues, []);
    assert.deepEqual([...scan.texts.keys()].sort(), [
      "kubernetes/apps/media/jellyfin/app/helmrelease.yaml",
      "kubernetes/apps/media/jellyfin/ks.yaml",
      "kubernetes/apps/media/recyclarr/app/config/recyclarr.yml",
      "kubernetes/apps/security/authentik/app/blueprints/grafana.yaml",
    ]);
    const ks = scan.objects.find((o) => o.kind === "Kustomization");
    assert.deepEqual(ks?.body.spec && (ks.body.spec as { postBuild: unknown }).postBuild, {
      substitute: { APP: "jellyfin", jellyfin: "enabled" },
    });
  });

  it("still reports a truly broken document with file:line:col", async () => {
    const { findings } = await lintRepo({
      "kubernetes/apps/media/jellyfin/ks.yaml": KS,
      "kubernetes/apps/media/recyclarr/app/config/recyclarr.yml": RECYCLARR,
      "kubernetes/apps/media/broken/configmap.yaml": BROKEN,
    });
    const parse = findings.filter((f) => f.rule === "input/invalid-yaml");
    assert.deepEqual(
      parse.map((f) => [f.severity, f.file, f.line, f.col, f.what]),
      [
        [
          // Applied by the app's Kustomization, which delivers nothing of the backup system: a warning.
          "warning",
          "kubernetes/apps/media/broken/configmap.yaml",
          6,
          3,
          "not valid YAML: missed comma between flow collection entries",
        ],
      ],
    );
  });
});
