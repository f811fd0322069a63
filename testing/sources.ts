/**
 * The repository's production TypeScript sources, for the tests that check their shape (the wings' import
 * directions, file and function sizes): which files they are, and each one parsed with the TypeScript
 * compiler. Imported only by tests.
 *
 * @module
 */
import ts from "npm:typescript@5.9.3";

/** The repository's root folder. */
export const REPO_ROOT: URL = new URL("../", import.meta.url);

/** Folders never scanned (besides hidden ones): installed dependencies and data. */
const SKIPPED_FOLDERS = new Set(["node_modules", ".data"]);

/**
 * Whether `path` (relative to the repository root, `/`-separated) is a production source file: a `.ts`
 * file that is neither a test (`*_test.ts`) nor under `testing/`.
 *
 * @example
 * ```ts
 * import { isProductionSource } from "./sources.ts";
 * if (!isProductionSource("server/http/api.ts")) throw new Error("a production file");
 * if (isProductionSource("server/http/api_errors_test.ts")) throw new Error("a test");
 * if (isProductionSource("testing/pg.ts")) throw new Error("a test helper");
 * ```
 */
export function isProductionSource(path: string): boolean {
  return path.endsWith(".ts") && !path.endsWith("_test.ts") && !path.startsWith("testing/");
}

/**
 * Every production source file under `root` (the repository by default), as `/`-separated paths relative
 * to it, sorted.
 *
 * @example
 * ```ts
 * import { productionSources } from "./sources.ts";
 * const files = productionSources();
 * if (!files.includes("core/decide.ts") || files.some((f) => f.startsWith("testing/"))) {
 *   throw new Error(files.join(", "));
 * }
 * ```
 */
export function productionSources(root: URL = REPO_ROOT): string[] {
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of Deno.readDirSync(new URL(folder, root))) {
      const path = folder + entry.name;
      if (entry.isDirectory && !entry.name.startsWith(".") && !SKIPPED_FOLDERS.has(entry.name)) {
        walk(`${path}/`);
      } else if (entry.isFile && isProductionSource(path)) files.push(path);
    }
  };
  walk("");
  return files.sort();
}

/** Reads one source file, by its path relative to `root` (the repository by default). */
export function readSource(path: string, root: URL = REPO_ROOT): string {
  return Deno.readTextFileSync(new URL(path, root));
}

/**
 * Parses TypeScript source into a syntax tree (with parent links, so nodes know their position and text).
 *
 * @example
 * ```ts
 * import { lineOf, parseSource } from "./sources.ts";
 * const file = parseSource("x.ts", "const a = 1;\nconst b = 2;\n");
 * if (lineOf(file, file.statements[1].getStart()) !== 2) throw new Error("b is on line 2");
 * ```
 */
export function parseSource(path: string, text: string): ts.SourceFile {
  return ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** The 1-based line of a position in `file`. */
export function lineOf(file: ts.SourceFile, position: number): number {
  return file.getLineAndCharacterOfPosition(position).line + 1;
}
