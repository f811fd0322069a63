/**
 * The core stays pure: no clock, no randomness, no timers, no I/O, no globals, no
 * imports from outside `core/` and no runtime dependency. This test reads every
 * core source file (tests and `testing.ts` excepted) and names each violation by
 * `file:line`. It needs read access to `core/` (`deno task test` grants it).
 */
import { assert, assertEquals } from "../testing/assert.ts";

/** One violation. */
interface Finding {
  file: string;
  line: number;
  rule: string;
  text: string;
}

/** Forbidden tokens, matched outside comments. `(?<![\w$.])`: not part of a longer name or a member. */
const FORBIDDEN: readonly { rule: string; pattern: RegExp }[] = [
  { rule: "Date.now", pattern: /(?<![\w$.])Date\s*\.\s*now(?![\w$])/ },
  { rule: "new Date(", pattern: /(?<![\w$.])new\s+Date\s*\(/ },
  { rule: "Math.random", pattern: /(?<![\w$.])Math\s*\.\s*random(?![\w$])/ },
  { rule: "performance.now", pattern: /(?<![\w$.])performance\s*\.\s*now(?![\w$])/ },
  { rule: "setTimeout", pattern: /(?<![\w$.])setTimeout(?![\w$])/ },
  { rule: "setInterval", pattern: /(?<![\w$.])setInterval(?![\w$])/ },
  { rule: "queueMicrotask", pattern: /(?<![\w$.])queueMicrotask(?![\w$])/ },
  { rule: "Deno.", pattern: /(?<![\w$.])Deno\s*\./ },
  { rule: "fetch(", pattern: /(?<![\w$.])fetch\s*\(/ },
  { rule: "crypto.", pattern: /(?<![\w$.])crypto\s*\./ },
  { rule: "process.", pattern: /(?<![\w$.])process\s*\./ },
  { rule: "globalThis", pattern: /(?<![\w$.])globalThis(?![\w$])/ },
  { rule: "dynamic import(", pattern: /(?<![\w$.])import\s*\(/ },
];

/**
 * Blanks out comments, keeping every newline (so lines keep their numbers) and
 * leaving string, template and regex literals as they are (a `//` in a string or
 * a `/*` in a regex is not a comment).
 */
function stripComments(source: string): string {
  let out = "";
  let i = 0;
  /** Brace depth of each open `${` of a template literal. */
  const templates: number[] = [];
  let depth = 0;
  /** The last significant character outside comments: decides whether `/` starts a regex. */
  let last = "";
  const blank = (text: string) => text.replace(/[^\n]/g, " ");
  const skipQuoted = (quote: string) => {
    const start = i++;
    while (i < source.length && source[i] !== quote && source[i] !== "\n") {
      i += source[i] === "\\" ? 2 : 1;
    }
    i++;
    out += source.slice(start, i);
  };
  const skipTemplate = () => {
    // From just after "`" or "}" to just after the closing "`" or an opening "${".
    const start = i;
    while (i < source.length) {
      if (source[i] === "\\") i += 2;
      else if (source[i] === "`") {
        i++;
        break;
      } else if (source[i] === "$" && source[i + 1] === "{") {
        i += 2;
        templates.push(depth);
        depth = 0;
        break;
      } else i++;
    }
    out += source.slice(start, i);
  };
  while (i < source.length) {
    const ch = source[i];
    const next = source[i + 1];
    if (ch === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (ch === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (ch === '"' || ch === "'") {
      skipQuoted(ch);
      last = ch;
    } else if (ch === "`") {
      out += ch;
      i++;
      skipTemplate();
      last = "`";
    } else if (ch === "}" && templates.length > 0 && depth === 0) {
      out += ch;
      i++;
      depth = templates.pop()!;
      skipTemplate();
      last = "`";
    } else if (
      ch === "/" && (last === "" || "(,=:[!&|?{};+-*%<>~^".includes(last) || /\breturn\s*$/.test(out))
    ) {
      // A regex literal: up to the closing "/" outside a character class, then its flags.
      const start = i++;
      let inClass = false;
      while (i < source.length && source[i] !== "\n") {
        if (source[i] === "\\") i += 2;
        else if (source[i] === "[") (inClass = true), i++;
        else if (source[i] === "]") (inClass = false), i++;
        else if (source[i] === "/" && !inClass) {
          i++;
          break;
        } else i++;
      }
      while (i < source.length && /[a-z]/.test(source[i])) i++;
      out += source.slice(start, i);
      last = "/";
    } else {
      if (ch === "{") depth++;
      else if (ch === "}") depth--;
      if (!/\s/.test(ch)) last = ch;
      out += ch;
      i++;
    }
  }
  return out;
}

const IMPORT =
  /(?<![\w$.])(import|export)(\s+type(?![\w$]))?\s*([^;'"`]*?)((?<![\w$.])from\s*)?(["'])([^"'\n]+)\5/g;

/** A module specifier a file imports or re-exports from. */
interface ModuleReference {
  line: number;
  specifier: string;
  typeOnly: boolean;
}

/** `import|export ... from "x"` and bare `import "x"` in comment-free code; not `export const s = "x"`. */
function moduleReferences(code: string): ModuleReference[] {
  const refs: ModuleReference[] = [];
  for (const m of code.matchAll(IMPORT)) {
    const [, keyword, typeOnly, clause, from, , specifier] = m;
    if (from === undefined && !(keyword === "import" && clause === "")) continue;
    refs.push({
      line: code.slice(0, m.index).split("\n").length,
      specifier,
      typeOnly: typeOnly !== undefined,
    });
  }
  return refs;
}

/** Every violation in one file's text. */
function findImpurities(file: string, source: string): Finding[] {
  const code = stripComments(source);
  const original = source.split("\n");
  const findings: Finding[] = [];
  code.split("\n").forEach((line, k) => {
    for (const { rule, pattern } of FORBIDDEN) {
      if (pattern.test(line)) findings.push({ file, line: k + 1, rule, text: original[k].trim() });
    }
  });
  for (const { line, specifier, typeOnly } of moduleReferences(code)) {
    const text = original[line - 1].trim();
    if (specifier.startsWith("../")) {
      findings.push({ file, line, rule: `import from an outer folder: ${specifier}`, text });
    } else if (!specifier.startsWith("./") && !typeOnly) {
      findings.push({ file, line, rule: `runtime import of a non-relative specifier: ${specifier}`, text });
    }
  }
  return findings.sort((a, b) => a.line - b.line);
}

const CORE = new URL("./", import.meta.url);
const canRead = Deno.permissions.querySync({ name: "read", path: CORE }).state === "granted";

Deno.test({
  name: "purity: no core source file uses the clock, randomness, timers, I/O, globals or outer imports",
  ignore: !canRead,
  fn() {
    const files: string[] = [];
    for (const entry of Deno.readDirSync(CORE)) {
      const name = entry.name;
      if (!entry.isFile || !name.endsWith(".ts") || name.endsWith("_test.ts") || name === "testing.ts") {
        continue;
      }
      files.push(name);
    }
    files.sort();
    assert(
      files.includes("decide.ts") && files.includes("state.ts"),
      `core files found: ${files.join(", ")}`,
    );
    const sources = new Map(files.map((name) => [name, Deno.readTextFileSync(new URL(name, CORE))]));
    // The import scan sees real imports (a guard against a matcher that silently matches nothing).
    const decideImports = moduleReferences(stripComments(sources.get("decide.ts")!)).map((r) => r.specifier);
    assert(decideImports.includes("./state.ts"), `imports seen in decide.ts: ${decideImports.join(", ")}`);
    const findings = [...sources].flatMap(([name, source]) => findImpurities(`core/${name}`, source));
    const report = findings.map((f) => `${f.file}:${f.line}: ${f.rule}: ${f.text}`);
    assert(report.length === 0, `the core must stay pure:\n${report.join("\n")}`);
  },
});

Deno.test("purity: the checker has teeth", () => {
  const rules = (source: string) => findImpurities("mem.ts", source).map((f) => `${f.line}:${f.rule}`);
  assertEquals(rules("const t = Date.now();\n"), ["1:Date.now"]);
  assertEquals(rules("export const a = 1;\nconst d = new Date(0);\nMath.random();"), [
    "2:new Date(",
    "3:Math.random",
  ]);
  assertEquals(
    rules(
      "performance.now(); setTimeout(f, 1);\nsetInterval(f);queueMicrotask(f)\nDeno.exit(1); await fetch(u);",
    ),
    [
      "1:performance.now",
      "1:setTimeout",
      "2:setInterval",
      "2:queueMicrotask",
      "3:Deno.",
      "3:fetch(",
    ],
  );
  assertEquals(rules("crypto.randomUUID(); process.env.X; globalThis.y; await import(x);"), [
    "1:crypto.",
    "1:process.",
    "1:globalThis",
    "1:dynamic import(",
  ]);

  // Imports.
  assertEquals(rules('import { x } from "../server/x.ts";'), [
    "1:import from an outer folder: ../server/x.ts",
  ]);
  assertEquals(rules('import fc from "npm:fast-check";'), [
    "1:runtime import of a non-relative specifier: npm:fast-check",
  ]);
  assertEquals(rules('import "jsr:@std/assert";'), [
    "1:runtime import of a non-relative specifier: jsr:@std/assert",
  ]);
  assertEquals(rules('export { ok } from "node:assert";'), [
    "1:runtime import of a non-relative specifier: node:assert",
  ]);
  assertEquals(rules('import {\n  a,\n  b,\n} from "kysely";'), [
    "1:runtime import of a non-relative specifier: kysely",
  ]);
  assertEquals(rules('import type { Kysely } from "kysely";\nexport type { T } from "npm:x";'), []);
  assertEquals(rules('import { a } from "./a.ts";\nimport { type B, c } from "./b.ts";'), []);
  assertEquals(rules('import type { T } from "../server/t.ts";'), [
    "1:import from an outer folder: ../server/t.ts",
  ]);

  // Comments do not count; strings, templates and regexes do not start comments.
  assertEquals(rules("// Date.now()\n/* Math.random()\n setTimeout */ const x = 1;\n/** Deno.env */"), []);
  assertEquals(rules('const url = "postgres://host"; const t = Date.now();'), ["1:Date.now"]);
  assertEquals(rules("const re = /\\/*x/; Math.random();"), ["1:Math.random"]);
  assertEquals(rules("const s = `a ${`b ${c}`} // not a comment`; Date.now();"), ["1:Date.now"]);
  assertEquals(rules("const s = `/* ${1} */`; Date.now();"), ["1:Date.now"]);
  // Names that only contain a forbidden word are fine.
  assertEquals(
    rules("const subprocess = 1; x.process.y; myDeno.x; obj.fetch(); refetch(); mySetTimeout();"),
    [],
  );
  assertEquals(rules('export const text = "x";\nexport function f() {}'), []);
});

Deno.test("purity: stripComments keeps line numbers and code", () => {
  const source = 'a(); // one\n/* two\nthree */ b("//", `/*`);\nc(/re/g);';
  const stripped = stripComments(source);
  assertEquals(stripped.split("\n").length, source.split("\n").length);
  assertEquals(stripped.split("\n").map((l) => l.trimEnd()), [
    "a();",
    "",
    '         b("//", `/*`);',
    "c(/re/g);",
  ]);
});
