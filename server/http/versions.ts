/**
 * Version numbers in requests, shared by the version routes and execute: how one is read from a path segment
 * or a query parameter, and the 404 of a version a workflow does not have.
 *
 * @module
 */
import { ApiError } from "./errors.ts";

/** The largest version number a request may name. */
export const MAX_VERSION = 2 ** 31 - 1;

/** The error code of a version a workflow does not have. */
export const VERSION_NOT_FOUND = "version_not_found";

/**
 * A version number as a request spells it (`"3"`), or 400 `invalid_parameter` with its detail at `path`
 * (`path.version`, `?version`, `?from`).
 *
 * @example
 * ```ts
 * import { parseVersion } from "./versions.ts";
 * if (parseVersion("12", "?version") !== 12) throw new Error("a version");
 * let refused = false;
 * try { parseVersion("0", "?version"); } catch { refused = true; }
 * if (!refused) throw new Error("versions start at 1");
 * ```
 */
export function parseVersion(raw: string, path: string): number {
  const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_VERSION)) {
    const name = path.replace(/^(path\.|\?)/, "");
    throw new ApiError(400, "invalid_parameter", `${name} must be an integer from 1 to ${MAX_VERSION}`, [
      { path, message: `got ${JSON.stringify(raw.slice(0, 100))}` },
    ]);
  }
  return n;
}

/**
 * The 404 `version_not_found` of a version workflow `id` does not have (`path` names where the request gave
 * it).
 *
 * @example
 * ```ts
 * import { versionNotFound } from "./versions.ts";
 * const e = versionNotFound("w", 9, "?version");
 * if (e.status !== 404 || e.details[0].path !== "?version") throw new Error(e.message);
 * ```
 */
export function versionNotFound(id: string, version: number, path: string): ApiError {
  return new ApiError(404, VERSION_NOT_FOUND, `workflow ${id} has no version ${version}`, [
    { path, message: `no version ${version}` },
  ]);
}
