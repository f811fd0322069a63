/**
 * Test helpers, in one place so that a later swap to `@std/assert` is one edit.
 * Imported only by `*_test.ts` files.
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
