/** Flux postBuild substitution (core/substitute.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hasVariables, substitute, substituteTree, variableNames } from "../../src/core/substitute.ts";

const vars = new Map<string, string | null>([
  ["APP", "jellyfin"],
  ["EMPTY", ""],
  ["SECRET", null],
]);
const s = (t: string) => substitute(t, vars);

describe("substitute", () => {
  it("values, defaults (nested), and the difference between := and =", () => {
    assert.equal(s("${APP}-dst").text, "jellyfin-dst");
    assert.equal(s("${NAMESPACE:-default}").text, "default");
    assert.equal(s("${NAMESPACE:=default}").text, "default");
    assert.equal(s("${A:=${B:-${APP}}}").text, "jellyfin");
    assert.equal(s("${EMPTY:-d}").text, "d");
    assert.equal(s("${EMPTY-d}").text, "");
    assert.equal(s("${EMPTY=d}").text, "");
    assert.equal(s("${APP^^}/${APP,,}/${#APP}").text, "JELLYFIN/jellyfin/8");
  });

  it("reports how each expression got its value", () => {
    assert.deepEqual(
      s("${APP} ${NAMESPACE:-default} ${MISSING}").uses.map((u) => [u.name, u.how, u.value, u.expr]),
      [
        ["APP", "value", "jellyfin", "${APP}"],
        ["NAMESPACE", "default", "default", "${NAMESPACE:-default}"],
        ["MISSING", "missing", "", "${MISSING}"],
      ],
    );
  });

  it("$$ escapes, $VAR is left alone, unclosed ${ is kept", () => {
    assert.equal(s("echo $${HOME} $$x").text, "echo ${HOME} $x");
    assert.deepEqual(s("echo $${HOME}").uses, []);
    assert.equal(s("echo $HOME").text, "echo $HOME");
    assert.equal(s("${unclosed").text, "${unclosed");
    assert.ok(hasVariables("a ${B}"));
    assert.ok(!hasVariables("a $${B} $C"));
    assert.deepEqual(variableNames("${A:=${B}} ${C}").sort(), ["A", "B", "C"]);
  });

  it("a variable with an unknown value (encrypted) stays as written and is marked unknown", () => {
    const r = s("filesystem://${SECRET}/x");
    assert.equal(r.text, "filesystem://${SECRET}/x");
    assert.ok(r.unknown);
  });

  it("trees: copies only what changes, keeps types of whole-value numbers and booleans, records paths", () => {
    const input = {
      metadata: { name: "${APP}", labels: { keep: "x" } },
      spec: { uid: "${UID:=1000}", on: "${ON:=true}", list: ["${APP}", "lit"], mixed: "u${UID:=1}" },
    };
    const frozen = JSON.stringify(input);
    const r = substituteTree(input, vars);
    assert.equal(JSON.stringify(input), frozen, "input not mutated");
    const out = r.value as typeof input;
    assert.equal(out.metadata.name, "jellyfin");
    assert.equal(out.metadata.labels, input.metadata.labels, "unchanged subtrees are shared");
    assert.equal(out.spec.uid as unknown, 1000);
    assert.equal(out.spec.on as unknown, true);
    assert.equal(out.spec.mixed, "u1");
    assert.deepEqual(out.spec.list, ["jellyfin", "lit"]);
    assert.deepEqual(
      r.occurrences.map((o) => o.path.join(".")),
      ["metadata.name", "spec.uid", "spec.on", "spec.list.0", "spec.mixed"],
    );
    const same = substituteTree({ a: "plain" }, vars);
    assert.equal(same.changed, false);
    const keyed = substituteTree({ "${APP}": { v: "${APP}" } }, vars).value;
    assert.deepEqual(keyed, { jellyfin: { v: "jellyfin" } });
  });
});
