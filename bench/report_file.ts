/**
 * Where a bench's JSON report goes: `--json <path>` names a file, `--json -`
 * means standard output (one line), and without `--json` it is written to
 * `.data/bench/<name>-<time>.json` under the repository (`.data/` is not
 * tracked), so that every run leaves its figures behind.
 *
 * @module
 */

/** The folder reports go to by default: `.data/bench/` under the repository. */
export const DEFAULT_REPORT_DIR = new URL("../.data/bench/", import.meta.url);

/**
 * The file a report named `name` goes to when no `--json` path is given: `DEFAULT_REPORT_DIR`, the name
 * and the time (UTC, to the second, `:` as `-`).
 *
 * @example
 * ```ts
 * import { defaultReportPath } from "./report_file.ts";
 * const p = defaultReportPath("load-postgres-standard", new Date("2026-12-06T10:11:12.345Z"));
 * if (!p.endsWith("/.data/bench/load-postgres-standard-2026-12-06T10-11-12Z.json")) throw new Error(p);
 * ```
 */
export function defaultReportPath(name: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/\.\d+Z$/, "Z").replaceAll(":", "-");
  return new URL(`${name}-${stamp}.json`, DEFAULT_REPORT_DIR).pathname;
}

/**
 * The value of `--json` in `args`: a path, `-` (standard output), or undefined when absent. A `--json`
 * with no value after it (last, or followed by another `--flag`) means standard output.
 *
 * @example
 * ```ts
 * import { jsonTarget } from "./report_file.ts";
 * if (jsonTarget(["--json", "out.json"]) !== "out.json") throw new Error("a path");
 * if (jsonTarget(["--json", "--duration", "5s"]) !== "-" || jsonTarget(["--json"]) !== "-") throw new Error("-");
 * if (jsonTarget(["--duration", "5s"]) !== undefined) throw new Error("absent");
 * ```
 */
export function jsonTarget(args: readonly string[]): string | undefined {
  const i = args.indexOf("--json");
  if (i < 0) return undefined;
  const next = args[i + 1];
  return next === undefined || next.startsWith("--") ? "-" : next;
}

/**
 * Writes `report` where `target` says (see `jsonTarget`; undefined: the default file named `name`), and
 * prints it readably on standard output unless it went there; returns the file written (undefined for
 * standard output).
 *
 * @example
 * ```ts
 * import { writeReport } from "./report_file.ts";
 * const dir = await Deno.makeTempDir();
 * const path = await writeReport({ ok: 1 }, `${dir}/r.json`, "x", false);
 * if (JSON.parse(await Deno.readTextFile(path!)).ok !== 1) throw new Error("written");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeReport(
  report: unknown,
  target: string | undefined,
  name: string,
  print = true,
): Promise<string | undefined> {
  if (target === "-") {
    console.log(JSON.stringify(report));
    return undefined;
  }
  const path = target ?? defaultReportPath(name);
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
  if (print) {
    console.log(JSON.stringify(report, null, 2));
    console.error(`report written to ${path}`);
  }
  return path;
}
