import { assert, assertEquals, assertMatch, assertStrictEquals } from "../testing/assert.ts";
import { checkConfig, type ConfigSchema, type Problem } from "./schema.ts";
import { findKind } from "./catalog.ts";

const codes = (problems: Problem[]) => problems.map((p) => `${p.code} @ ${p.path}`);

Deno.test("checkConfig: numeric strings are coerced only where the field says coerce", () => {
  const schema: ConfigSchema = {
    limit: { type: "integer", coerce: true, label: "Limit" },
    ratio: { type: "number", coerce: true, label: "Ratio" },
    strict: { type: "integer", label: "Strict" },
  };
  const ok = checkConfig(schema, { limit: "10", ratio: " 1.5 " }, "$.config");
  assertEquals(ok.problems, []);
  assertStrictEquals(ok.config.limit, 10);
  assertStrictEquals(ok.config.ratio, 1.5);

  assertStrictEquals(checkConfig(schema, { limit: "-3" }, "$").config.limit, -3);
  assertStrictEquals(checkConfig(schema, { ratio: "1e3" }, "$").config.ratio, 1000);
  assertStrictEquals(checkConfig(schema, { ratio: ".5" }, "$").config.ratio, 0.5);

  const strict = checkConfig(schema, { strict: "10" }, "$.config");
  assertEquals(codes(strict.problems), ["config_type @ $.config.strict"]);
  assertStrictEquals(strict.config.strict, "10", "the bad value is left as it was");

  const notNumeric = checkConfig(schema, { limit: "ten" }, "$.config");
  assertEquals(codes(notNumeric.problems), ["config_type @ $.config.limit"]);
  assertMatch(notNumeric.problems[0].message, /numeric string/);

  assertEquals(codes(checkConfig(schema, { limit: "1.5" }, "$").problems), ["config_type @ $.limit"]);
  assertEquals(codes(checkConfig(schema, { limit: 1.5 }, "$").problems), ["config_type @ $.limit"]);
  assertEquals(codes(checkConfig(schema, { ratio: "1e400" }, "$").problems), ["config_type @ $.ratio"]);
  assertEquals(codes(checkConfig(schema, { ratio: "0x10" }, "$").problems), ["config_type @ $.ratio"]);
  // Coercion is only from strings: booleans are not numbers.
  assertEquals(codes(checkConfig(schema, { limit: true }, "$").problems), ["config_type @ $.limit"]);
});

Deno.test("checkConfig: defaults fill missing, null and empty values, never given ones", () => {
  const schema: ConfigSchema = {
    order: { type: "string", default: "asc", label: "Order" },
    size: { type: "integer", default: 10, coerce: true, label: "Size" },
    headers: { type: "object", default: {}, label: "Headers" },
    note: { type: "string", label: "Note" },
  };
  assertEquals(checkConfig(schema, {}, "$").config, { order: "asc", size: 10, headers: {} });
  assertEquals(checkConfig(schema, { order: null, size: "" }, "$").config, {
    order: "asc",
    size: 10,
    headers: {},
  });
  assertEquals(checkConfig(schema, { order: "desc", size: 3 }, "$").config, {
    order: "desc",
    size: 3,
    headers: {},
  });
  assertEquals(checkConfig(schema, undefined, "$"), {
    config: { order: "asc", size: 10, headers: {} },
    problems: [],
  });
  assertEquals(checkConfig(schema, null, "$").problems, []);
  // An optional field without a default that is null or empty is dropped.
  assertEquals(checkConfig(schema, { note: null }, "$").config.note, undefined);
  assert(!("note" in checkConfig(schema, { note: "" }, "$").config));
  assertStrictEquals(checkConfig(schema, { note: "hi" }, "$").config.note, "hi");
});

Deno.test("checkConfig: enum", () => {
  const schema: ConfigSchema = {
    op: { type: "string", enum: ["count", "sum"], label: "Op" },
    level: { type: "integer", enum: [1, 2, 3], coerce: true, label: "Level" },
  };
  assertEquals(checkConfig(schema, { op: "sum", level: "2" }, "$").problems, []);
  assertStrictEquals(checkConfig(schema, { level: "2" }, "$").config.level, 2);
  const bad = checkConfig(schema, { op: "avg", level: 4 }, "$.c");
  assertEquals(codes(bad.problems), ["config_enum @ $.c.op", "config_enum @ $.c.level"]);
  assertMatch(bad.problems[0].message, /count, sum/);
  assertEquals(codes(checkConfig(schema, { op: "SUM" }, "$").problems), ["config_enum @ $.op"]);
});

Deno.test("checkConfig: inclusive ranges and maxLength", () => {
  const schema: ConfigSchema = {
    n: { type: "integer", min: 1, max: 5, label: "N" },
    s: { type: "string", maxLength: 3, label: "S" },
    a: { type: "array", maxLength: 2, label: "A" },
  };
  assertEquals(checkConfig(schema, { n: 1, s: "abc", a: [1, 2] }, "$").problems, []);
  assertEquals(checkConfig(schema, { n: 5 }, "$").problems, []);
  assertEquals(codes(checkConfig(schema, { n: 0 }, "$").problems), ["config_range @ $.n"]);
  assertEquals(codes(checkConfig(schema, { n: 6 }, "$").problems), ["config_range @ $.n"]);
  assertEquals(codes(checkConfig(schema, { s: "abcd", a: [1, 2, 3] }, "$").problems), [
    "config_range @ $.s",
    "config_range @ $.a",
  ]);
});

Deno.test("checkConfig: required fields", () => {
  const schema: ConfigSchema = {
    path: { type: "string", required: true, label: "Path" },
    mode: { type: "string", required: true, default: "w", label: "Mode" },
  };
  const missing = checkConfig(schema, {}, "$.nodes[1].config");
  assertEquals(missing.problems.map((p) => [p.code, p.path]), [["config_missing", "$.nodes[1].config.path"]]);
  assertMatch(missing.problems[0].message, /Path/);
  assertStrictEquals(missing.config.mode, "w", "a required field with a default takes the default");
  assertEquals(codes(checkConfig(schema, { path: "" }, "$").problems), ["config_missing @ $.path"]);
  assertEquals(codes(checkConfig(schema, { path: null }, "$").problems), ["config_missing @ $.path"]);
  assertEquals(checkConfig(schema, { path: "/tmp/x" }, "$").problems, []);
});

Deno.test("checkConfig: unknown keys are kept as they are; the input is not mutated", () => {
  const schema: ConfigSchema = { limit: { type: "integer", coerce: true, default: 5, label: "Limit" } };
  const input = { limit: "7", uiColor: "#fff", nested: { a: [1] }, empty: null };
  const snapshot = structuredClone(input);
  const { config, problems } = checkConfig(schema, input, "$");
  assertEquals(problems, []);
  assertEquals(config, { limit: 7, uiColor: "#fff", nested: { a: [1] }, empty: null });
  assertStrictEquals(config.nested, input.nested);
  assertEquals(input, snapshot);
});

Deno.test("checkConfig: types, and every problem reported at once", () => {
  const schema: ConfigSchema = {
    b: { type: "boolean", label: "B" },
    o: { type: "object", label: "O" },
    a: { type: "array", label: "A" },
    s: { type: "string", label: "S" },
    x: { type: "any", label: "X" },
  };
  assertEquals(checkConfig(schema, { b: false, o: {}, a: [], s: "", x: [{ y: 1 }] }, "$").problems, []);
  const bad = checkConfig(schema, { b: "true", o: [], a: {}, s: 1, x: null }, "$.c");
  assertEquals(codes(bad.problems), [
    "config_type @ $.c.b",
    "config_type @ $.c.o",
    "config_type @ $.c.a",
    "config_type @ $.c.s",
  ]);
  for (const config of [[], "x", 3, true]) {
    const r = checkConfig(schema, config, "$.c");
    assertEquals(r.config, {});
    assertEquals(codes(r.problems), ["config_type @ $.c"]);
  }
});

Deno.test("checkConfig: catalog schemas (the old UI's string numbers)", () => {
  const sequence = findKind("source", "sequence.numbers")!;
  assertEquals(checkConfig(sequence.config, { end: "100" }, "$").config, { start: 1, end: 100, step: 1 });
  const http = findKind("control", "http")!;
  const r = checkConfig(http.config, { url: "http://x", method: "TRACE", timeoutMs: "0" }, "$");
  assertEquals(codes(r.problems), ["config_enum @ $.method", "config_range @ $.timeoutMs"]);
});
