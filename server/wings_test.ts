/**
 * The wings of server/ import in one direction only. This test parses every production source file of the
 * repository (tests and testing/ excepted) with the TypeScript compiler, resolves each relative import or
 * re-export (static, dynamic or in a type) to the area it lands in, and names each import against the rules
 * below by `file:line`. It needs read access to the repository (`deno task test` grants it).
 */
import ts from "npm:typescript@5.9.3";
import { assert, assertEquals } from "../testing/assert.ts";
import { lineOf, parseSource, productionSources, readSource } from "../testing/sources.ts";

/**
 * An import rule: files of the areas in `from` never import from the areas in `never`, or import only from
 * the areas in `only`. An area is `server/<wing>` for a folder of server/, `server` for the assembly files at
 * server/'s root (start.ts, main.ts), a top-level folder's name (`core`, `testing`, …), or `.` for the
 * repository root's files. `server/*` stands for every wing; `*` for every area.
 */
interface Rule {
  from: readonly string[];
  never?: readonly string[];
  only?: readonly string[];
  why: string;
}

/** The directions: http → runtime → storage/core, each wing importing only downwards. */
const RULES: readonly Rule[] = [
  {
    from: ["server/runtime"],
    never: ["server/http", "server/cluster", "server/ops"],
    why: "runtime sits under http, cluster and ops",
  },
  {
    from: ["server/cluster"],
    never: ["server/http", "server/ops"],
    why: "cluster sits under http and ops",
  },
  {
    from: ["server/executors"],
    only: ["server/executors", "core"],
    why: "executors import only core (and npm packages)",
  },
  {
    from: ["server/cli"],
    only: ["server/cli", "core"],
    why: "the CLI is a client of the HTTP API: it imports only core (and npm packages)",
  },
  {
    from: ["server/embed"],
    never: ["server/http", "server/cluster", "server/runtime"],
    why:
      "node kinds and the in-process client sit beside executors (server/embedded_engine.ts assembles them)",
  },
  {
    from: ["core", "storage", "transport"],
    never: ["server/*", "server", "sim", "bench"],
    why: "core, storage and transport sit under server/",
  },
  {
    from: ["server/*"],
    never: ["server"],
    why: "a wing never imports the assembly files at server/'s root (start.ts, main.ts)",
  },
  {
    from: ["core", "storage", "transport", "server", "server/*", "sim", "."],
    never: ["testing"],
    why: "production code never imports the test helpers in testing/ (bench/ is tooling and may, like tests)",
  },
];

/** One relative import of a file. */
interface Import {
  line: number;
  specifier: string;
  /** The imported file's path from the repository root. */
  target: string;
}

/** One import against a rule. */
interface Violation {
  file: string;
  line: number;
  specifier: string;
  why: string;
}

/** The area of a path relative to the repository root (see `Rule`). */
function areaOf(path: string): string {
  const parts = path.split("/");
  if (parts.length === 1) return ".";
  if (parts[0] === "server") return parts.length === 2 ? "server" : `server/${parts[1]}`;
  return parts[0];
}

/** Whether an area is one of `areas` (with `server/*` and `*` as wildcards). */
function inAreas(area: string, areas: readonly string[]): boolean {
  return areas.some((a) => a === "*" || a === area || (a === "server/*" && area.startsWith("server/")));
}

/** The string a module-specifier node holds, if it is a string literal. */
function literal(node: ts.Node | undefined): string | undefined {
  return node !== undefined && ts.isStringLiteralLike(node) ? node.text : undefined;
}

/** The module specifier of an import-like node: `import`/`export … from`, `import(…)`, `import("…").T`. */
function specifierOf(node: ts.Node): string | undefined {
  if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return literal(node.moduleSpecifier);
  if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
    return literal(node.moduleReference.expression);
  }
  if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
    return literal(node.arguments[0]);
  }
  if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) return literal(node.argument.literal);
  return undefined;
}

/** The relative imports of one file (`path` from the repository root), resolved to repository paths. */
function relativeImports(path: string, source: string): Import[] {
  const file = parseSource(path, source);
  const imports: Import[] = [];
  const visit = (node: ts.Node) => {
    const specifier = specifierOf(node);
    if (specifier !== undefined && (specifier.startsWith("./") || specifier.startsWith("../"))) {
      const target = new URL(specifier, `file:///${path}`).pathname.slice(1);
      imports.push({ line: lineOf(file, node.getStart()), specifier, target });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return imports;
}

/** Every import of one file (`path` from the repository root) that goes against `RULES`. */
function wingViolations(path: string, source: string): Violation[] {
  const from = areaOf(path);
  const rules = RULES.filter((r) => inAreas(from, r.from));
  const violations: Violation[] = [];
  for (const { line, specifier, target } of relativeImports(path, source)) {
    const to = areaOf(target);
    for (const rule of rules) {
      const against = (rule.never !== undefined && inAreas(to, rule.never)) ||
        (rule.only !== undefined && !inAreas(to, rule.only));
      if (against) violations.push({ file: path, line, specifier, why: rule.why });
    }
  }
  return violations;
}

const ROOT = new URL("../", import.meta.url);
const canRead = Deno.permissions.querySync({ name: "read", path: ROOT }).state === "granted";

Deno.test({
  name: "wings: every production import goes in the wings' direction",
  ignore: !canRead,
  fn() {
    const files = productionSources();
    assert(files.includes("server/start.ts") && files.includes("server/runtime/engine.ts"), files.join(", "));
    const sources = new Map(files.map((f) => [f, readSource(f)]));
    // The import scan sees real imports (a guard against a parser that silently finds nothing).
    const assembly = relativeImports("server/start.ts", sources.get("server/start.ts")!).map((i) => i.target);
    assert(assembly.some((t) => t.startsWith("server/http/")), `imports seen in start.ts: ${assembly}`);
    const report = [...sources].flatMap(([file, source]) => wingViolations(file, source))
      .map((v) => `${v.file}:${v.line}: imports ${v.specifier}: ${v.why}`);
    assert(report.length === 0, `imports against the wings' direction:\n${report.join("\n")}`);
  },
});

Deno.test("wings: the checker has teeth", () => {
  const found = (path: string, source: string) =>
    wingViolations(path, source).map((v) => `${v.line}:${v.specifier}`);
  // A planted wrong import is reported, with its line.
  assertEquals(found("server/runtime/x.ts", 'const a = 1;\nimport { createApi } from "../http/api.ts";'), [
    "2:../http/api.ts",
  ]);
  // Every way to import counts: type-only, re-exports, dynamic imports, import types.
  assertEquals(
    found(
      "server/cluster/x.ts",
      'import type { A } from "../ops/a.ts";\nexport { b } from "../http/b.ts";\n' +
        'const c = await import("../ops/c.ts");\ntype D = import("../http/d.ts").D;',
    ),
    ["1:../ops/a.ts", "2:../http/b.ts", "3:../ops/c.ts", "4:../http/d.ts"],
  );
  assertEquals(found("server/runtime/x.ts", 'export * from "../cluster/member.ts";'), [
    "1:../cluster/member.ts",
  ]);
  // Executors import only core and each other; npm packages are fine.
  assertEquals(
    found(
      "server/executors/x.ts",
      'import { a } from "./a.ts";\nimport { b } from "../../core/b.ts";\nimport y from "npm:yaml@2.9.1";\n' +
        'import { c } from "../runtime/c.ts";\nimport { d } from "../../storage/d.ts";',
    ),
    ["4:../runtime/c.ts", "5:../../storage/d.ts"],
  );
  // No wing imports the assembly; nothing imports testing/; the lower layers never import server/.
  assertEquals(found("server/ops/x.ts", 'import { start } from "../start.ts";'), ["1:../start.ts"]);
  assertEquals(found("sim/x.ts", 'import { pg } from "../testing/pg.ts";'), ["1:../testing/pg.ts"]);
  assertEquals(found("bench/x.ts", 'import { pg } from "../testing/pg.ts";'), []);
  assertEquals(found("mod.ts", 'export { t } from "./testing/t.ts";'), ["1:./testing/t.ts"]);
  assertEquals(found("storage/x.ts", 'import type { E } from "../server/runtime/engine.ts";'), [
    "1:../server/runtime/engine.ts",
  ]);
  // What the directions allow, and what is not an import, is not reported.
  assertEquals(
    found(
      "server/http/x.ts",
      'import { E } from "../runtime/engine.ts";\nimport { C } from "../cluster/member.ts";\n' +
        'import { S } from "../../storage/storage.ts";\n// import { X } from "../start.ts";\n' +
        'const s = "../start.ts";',
    ),
    [],
  );
  assertEquals(found("server/start.ts", 'import { api } from "./http/api.ts";'), []);
  assertEquals(found("server/main.ts", 'import { start } from "./start.ts";'), []);
});
