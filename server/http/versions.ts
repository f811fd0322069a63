/**
 * Version numbers in requests, shared by the version routes and execute: their bound (`versionParam` in
 * `schemas.ts` reads one from a path segment or a query parameter), and the 404 of a version a workflow does
 * not have.
 *
 * @module
 */
import { ApiError } from "./errors.ts";

/** The largest version number a request may name. */
export const MAX_VERSION = 2 ** 31 - 1;

/** The error code of a version a workflow does not have. */
export const VERSION_NOT_FOUND = "version_not_found";

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
