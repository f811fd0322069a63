/**
 * Small modules, short functions: no production source file (tests and testing/ excepted) is over
 * `MAX_FILE_LINES` lines, and no function in one (declarations, methods, arrow functions, function
 * expressions, getters, setters, constructors) spans over `MAX_FUNCTION_LINES` lines, measured on the
 * TypeScript compiler's syntax tree from a function's first token (its leading comment excluded) to its last.
 * Needs read access to the repository (`deno task test` grants it).
 *
 * Run as a script, it prints every offender, longest first, and exits 1 if there is one:
 * `deno run -A testing/source_size_test.ts`.
 */
import ts from "npm:typescript@5.9.3";
import { assert, assertEquals } from "./assert.ts";
import { lineOf, parseSource, productionSources, readSource } from "./sources.ts";

/** The most lines a production source file may have. */
const MAX_FILE_LINES = 600;
/** The most lines a function may span. */
const MAX_FUNCTION_LINES = 100;

/** A file or a function over its limit. */
interface Oversize {
  file: string;
  /** The line it starts on (1 for a file). */
  line: number;
  /** `file`, or the function's name (`Class.method`, `outer > (arrow)`, …). */
  what: string;
  lines: number;
  limit: number;
}

/** The number of lines of a text (a final newline ends the last line, it does not start another). */
function lineCount(text: string): number {
  if (text === "") return 0;
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

/** Whether a node is a function with a body (an overload or an abstract method has none). */
function isFunction(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node) || ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node) || ts.isConstructorDeclaration(node)) && node.body !== undefined;
}

/** A readable name of a function: its own, or the name it is assigned to, with its class. */
function nameOf(node: ts.FunctionLikeDeclaration): string {
  const named = (n: ts.Node | undefined) =>
    n !== undefined && (ts.isIdentifier(n) || ts.isPrivateIdentifier(n) || ts.isStringLiteral(n))
      ? n.text
      : undefined;
  let own = ts.isConstructorDeclaration(node) ? "constructor" : named(node.name);
  const parent = node.parent;
  if (own === undefined && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent))) {
    own = named(parent.name);
  }
  if (own === undefined && ts.isPropertyDeclaration(parent)) own = named(parent.name);
  const holder = ts.isClassLike(parent)
    ? parent
    : ts.isPropertyDeclaration(parent)
    ? parent.parent
    : undefined;
  const prefix = holder !== undefined && ts.isClassLike(holder) && holder.name ? `${holder.name.text}.` : "";
  const kind = ts.isGetAccessorDeclaration(node) ? "get " : ts.isSetAccessorDeclaration(node) ? "set " : "";
  return `${kind}${prefix}${own ?? (ts.isArrowFunction(node) ? "(arrow)" : "(function)")}`;
}

/** The file and functions of one source file (`path` from the repository root) that are over the limits. */
function oversizes(path: string, source: string): Oversize[] {
  const found: Oversize[] = [];
  const fileLines = lineCount(source);
  if (fileLines > MAX_FILE_LINES) {
    found.push({ file: path, line: 1, what: "file", lines: fileLines, limit: MAX_FILE_LINES });
  }
  const file = parseSource(path, source);
  const visit = (node: ts.Node, outer: string | undefined) => {
    let inner = outer;
    if (isFunction(node)) {
      const start = lineOf(file, node.getStart(file));
      const lines = lineOf(file, node.getEnd()) - start + 1;
      const name = nameOf(node);
      inner = outer === undefined ? name : `${outer} > ${name}`;
      if (lines > MAX_FUNCTION_LINES) {
        found.push({ file: path, line: start, what: inner, lines, limit: MAX_FUNCTION_LINES });
      }
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(file, undefined);
  return found;
}

/** Every oversize in the repository's production sources, longest first. */
function repositoryOversizes(): Oversize[] {
  return productionSources().flatMap((f) => oversizes(f, readSource(f)))
    .sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

/** One line of the report per oversize: `file:line  lines/limit  what`. */
function report(found: readonly Oversize[]): string {
  const width = Math.max(0, ...found.map((o) => `${o.file}:${o.line}`.length));
  return found.map((o) =>
    `${`${o.file}:${o.line}`.padEnd(width)}  ${String(o.lines).padStart(4)}/${o.limit}  ${o.what}`
  ).join("\n");
}

const ROOT = new URL("../", import.meta.url);
const canRead = Deno.permissions.querySync({ name: "read", path: ROOT }).state === "granted";

Deno.test({
  name: `sizes: no production file over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES}`,
  ignore: !canRead,
  fn() {
    const files = productionSources();
    assert(files.includes("core/decide.ts") && files.includes("server/start.ts"), files.join(", "));
    const found = repositoryOversizes();
    assert(found.length === 0, `over the size limits (lines/limit):\n${report(found)}`);
  },
});

Deno.test("sizes: the checker has teeth", () => {
  const long = (n: number) => Array.from({ length: n }, (_, i) => `  x${i}();`).join("\n");
  const found = (source: string) => oversizes("x.ts", source).map((o) => `${o.line}:${o.what}:${o.lines}`);
  // Every kind of function is measured, from its first token to its last; a leading comment does not count.
  assertEquals(found(`/** Doc.\n * more */\nfunction f() {\n${long(98)}\n}\n`), []);
  assertEquals(found(`function f() {\n${long(99)}\n}\n`), ["1:f:101"]);
  assertEquals(found(`const g = () => {\n${long(99)}\n};`), ["1:g:101"]);
  assertEquals(found(`export default function () {\n${long(99)}\n}`), ["1:(function):101"]);
  assertEquals(
    found(
      `class C {\n  constructor() {\n${long(99)}\n  }\n  get v() {\n${long(99)}\n  }\n` +
        `  m() {\n${long(99)}\n  }\n  f = function () {\n${long(99)}\n  };\n}`,
    ),
    ["2:C.constructor:101", "103:get C.v:101", "204:C.m:101", "305:C.f:101"],
  );
  // A function inside a long one is measured on its own; its name tells where it is.
  assertEquals(found(`const o = {\n  m() {\n    run(() => {\n${long(99)}\n    });\n  },\n};`), [
    "2:m:103",
    "3:m > (arrow):101",
  ]);
  // A file over the limit is reported once, as a whole.
  assertEquals(found(`${"const a = 1;\n".repeat(600)}`), []);
  assertEquals(found(`${"const a = 1;\n".repeat(601)}`), ["1:file:601"]);
  // The report names file:line, the length and the limit.
  assertEquals(report([{ file: "a.ts", line: 3, what: "f", lines: 120, limit: 100 }]), "a.ts:3   120/100  f");
});

if (import.meta.main) {
  const found = repositoryOversizes();
  console.log(found.length === 0 ? "no oversizes" : report(found));
  if (found.length > 0) Deno.exitCode = 1;
}
