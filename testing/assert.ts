/**
 * The assertions of the tests, in one place so that a later swap to `@std/assert` is one edit.
 * Imported only by tests and benches.
 *
 * @module
 */
export {
  deepEqual as assertEquals,
  equal as assertStrictEquals,
  match as assertMatch,
  notDeepEqual as assertNotEquals,
  ok as assert,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";
