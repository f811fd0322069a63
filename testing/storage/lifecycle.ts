/**
 * Conformance cases of the `StorageLifecycle` role: the backend answers a ping
 * and names its kind.
 *
 * @module
 */
import { assertStrictEquals } from "../assert.ts";
import type { ConformanceCase, Ctx } from "./fixtures.ts";

/** ping answers true */
async function pingAnswersTrue(c: Ctx): Promise<void> {
  assertStrictEquals(await c.storage.ping(), true);
  assertStrictEquals(typeof c.storage.kind, "string");
}

/** The `StorageLifecycle` role's conformance cases, in order. */
export const LIFECYCLE_CASES: ConformanceCase[] = [
  { title: "ping answers true", run: pingAnswersTrue },
];
