/**
 * The body of `POST /api/v1/workflows/:id/execute`, checked: `{input?, timeoutMs?, version?}`, with the
 * version also taken from `?version=` (parsed by the route's spec, `specs/executions.ts`). A key the API does
 * not know is refused (400 `validation_failed`, one `unknown_field` detail at `$.<key>` each), never ignored: a
 * misspelt `"verison"` must not run the latest version silently.
 *
 * @module
 */
import type { Json } from "../../core/json.ts";
import { MAX_TIMEOUT_MS } from "../../core/validate.ts";
import { ApiError, type ErrorDetail } from "./errors.ts";
import { MAX_VERSION } from "./versions.ts";

/** The keys an execute body may have. */
export const EXECUTE_KEYS: readonly string[] = ["input", "timeoutMs", "version"];

/** At most this many unknown keys are named in one error. */
const MAX_UNKNOWN_DETAILS = 20;

/** What an execute asks for. */
export interface ExecuteBody {
  input: Json;
  timeoutMs: number | undefined;
  /** The version to run (`undefined`: the latest). */
  version: number | undefined;
  /** Where the version was given (`$.version` or `?version`), to name in a 404. */
  versionPath: "$.version" | "?version" | undefined;
}

/**
 * A JSON path to a key of the body: `$.name`, or `$["odd key"]`.
 *
 * @example
 * ```ts
 * import { keyPath } from "./execute_body.ts";
 * if (keyPath("input") !== "$.input" || keyPath("a b") !== '$["a b"]') throw new Error();
 * ```
 */
export function keyPath(key: string): string {
  const shown = key.length > 100 ? key.slice(0, 100) : key;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(shown) ? `$.${shown}` : `$[${JSON.stringify(shown)}]`;
}

function invalid(message: string, details: ErrorDetail[]): ApiError {
  return new ApiError(400, "validation_failed", message, details);
}

/** The answers an execute may give: the default (`full`), or only `{executionId, status}` (`id`). */
export type ExecuteView = "full" | "id";

/**
 * Checks an execute body (an empty body is `{}`) and merges `?version=` (`fromQuery`) into it; 400
 * `validation_failed` with the path of each fault otherwise.
 *
 * @example
 * ```ts
 * import { executeBody } from "./execute_body.ts";
 * const ok = executeBody({ input: { n: 1 }, version: 2 }, undefined);
 * if (ok.version !== 2 || ok.versionPath !== "$.version") throw new Error("pinned");
 * let refused = "";
 * try { executeBody({ input: 1, verison: 2 }, undefined); } catch (e) { refused = (e as { details: { path: string }[] }).details[0].path; }
 * if (refused !== "$.verison") throw new Error("an unknown key is refused at its path");
 * ```
 */
export function executeBody(body: unknown, fromQuery: number | undefined): ExecuteBody {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalid("the body must be an object {input?, timeoutMs?, version?}", [
      { path: "$", message: "expected an object" },
    ]);
  }
  const unknown = Object.keys(body).filter((k) => !EXECUTE_KEYS.includes(k));
  if (unknown.length > 0) {
    throw invalid(
      `the body has ${unknown.length} unknown field(s); an execute body is {input?, timeoutMs?, version?}`,
      unknown.slice(0, MAX_UNKNOWN_DETAILS).map((k) => ({
        path: keyPath(k),
        code: "unknown_field",
        message: "unknown field",
      })),
    );
  }
  const { input = null, timeoutMs, version } = body as {
    input?: Json;
    timeoutMs?: unknown;
    version?: unknown;
  };
  if (
    timeoutMs !== undefined &&
    (!Number.isInteger(timeoutMs) || (timeoutMs as number) <= 0 || (timeoutMs as number) > MAX_TIMEOUT_MS)
  ) {
    throw invalid(`timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}`, [
      { path: "$.timeoutMs", message: `got ${JSON.stringify(timeoutMs)}` },
    ]);
  }
  if (
    version !== undefined &&
    (!Number.isInteger(version) || !((version as number) >= 1 && (version as number) <= MAX_VERSION))
  ) {
    throw invalid(`version must be an integer from 1 to ${MAX_VERSION}`, [
      { path: "$.version", message: `got ${JSON.stringify(version)?.slice(0, 100)}` },
    ]);
  }
  if (version !== undefined && fromQuery !== undefined && version !== fromQuery) {
    throw invalid(`the body's version ${version} and ?version=${fromQuery} differ; give one`, [
      { path: "$.version", message: `got ${version}` },
      { path: "?version", message: `got ${fromQuery}` },
    ]);
  }
  return {
    input,
    timeoutMs: timeoutMs as number | undefined,
    version: (version as number | undefined) ?? fromQuery,
    versionPath: version !== undefined ? "$.version" : fromQuery !== undefined ? "?version" : undefined,
  };
}
