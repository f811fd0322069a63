/**
 * The lookup of tokens made through the API: answers cached at most 2 s (unknown ones 1 s), bounded in
 * number, one query per digest at a time, no query for a token of another shape, expiry honoured inside the
 * cache, storage down is an error (never "unknown"), and at most 64 lookups wait on storage. A revoke takes
 * effect at once on the revoking member even with a lookup in flight; a flood of made-up tokens neither
 * evicts live answers nor takes the slots of tokens seen live.
 */
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../../testing/assert.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { StorageUnavailable } from "../../storage/storage.ts";
import { ApiError } from "./errors.ts";
import {
  digestHex,
  isStoredTokenShape,
  KNOWN_TOKEN_LOOKUPS,
  MAX_TOKEN_LOOKUPS,
  newStoredToken,
  newStoredTokenId,
  STORED_TOKEN_CACHE_MS,
  STORED_TOKEN_CACHE_SIZE,
  StoredTokens,
  UNKNOWN_TOKEN_CACHE_MS,
} from "./stored_tokens.ts";

/** Memory storage that counts digest lookups and can be taken down. */
class CountingStorage extends MemoryStorage {
  finds = 0;
  down = false;
  override findApiToken(digest: string) {
    this.finds++;
    if (this.down) return Promise.reject(new StorageUnavailable("down for the test"));
    return super.findApiToken(digest);
  }
}

/**
 * Memory storage whose lookups read at once but answer only when `release`d by hand (while `hold` is true):
 * the answer of a query that read a row before it changed and returns after.
 */
class HeldStorage extends MemoryStorage {
  finds = 0;
  hold = true;
  readonly #gates: (() => void)[] = [];
  override findApiToken(digest: string) {
    this.finds++;
    const found = super.findApiToken(digest);
    if (!this.hold) return found;
    const gate = new Promise<void>((r) => this.#gates.push(r));
    return found.then(async (t) => (await gate, t));
  }
  /** Lets every held lookup answer. */
  release(): void {
    for (const open of this.#gates.splice(0)) open();
  }
}

/** Stores a new token of `role`; returns the token and its id. */
async function stored(storage: MemoryStorage, role = "operator", expiresAt: number | null = null) {
  const token = newStoredToken();
  const id = newStoredTokenId();
  const r = await storage.createApiToken(
    { id, digest: digestHex(token), name: "t", role, createdAt: 0, createdBy: null, expiresAt },
    1_000,
    0,
  );
  assert(r.ok);
  return { token, id };
}

Deno.test("stored tokens: 46 characters, fm_ and base64url of 32 random bytes, each new", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const t = newStoredToken();
    assertStrictEquals(t.length, 46);
    assert(isStoredTokenShape(t), t);
    seen.add(t);
  }
  assertStrictEquals(seen.size, 200);
  assert(/^[0-9a-f]{16}$/.test(newStoredTokenId()));
  for (const bad of ["fm_short", `xx_${"a".repeat(43)}`, `fm_${"a".repeat(42)}=`, `fm_${"a".repeat(44)}`]) {
    assert(!isStoredTokenShape(bad), bad);
  }
});

Deno.test("stored tokens: a revoke is seen once the cached answer runs out; the revoking member forgets at once", async () => {
  const storage = new CountingStorage();
  let now = 1_000;
  const tokens = new StoredTokens(storage, () => now);
  const other = new StoredTokens(storage, () => now); // another member
  const { token, id } = await stored(storage);
  assertEquals(await tokens.lookup(token), { role: "operator", tokenId: id });
  assertEquals(await other.lookup(token), { role: "operator", tokenId: id });
  await storage.revokeApiToken(id, now);
  tokens.forget(id);
  assertStrictEquals(await tokens.lookup(token), undefined, "the revoking member forgets at once");
  assertEquals(await other.lookup(token), { role: "operator", tokenId: id }, "cached on the other");
  now += STORED_TOKEN_CACHE_MS;
  assertStrictEquals(await other.lookup(token), undefined, "refused once the cached answer ran out");
});

Deno.test("stored tokens: unknown tokens are cached too; a token of another shape never reaches storage", async () => {
  const storage = new CountingStorage();
  let now = 0;
  const tokens = new StoredTokens(storage, () => now);
  const garbage = newStoredToken();
  for (let i = 0; i < 100; i++) assertStrictEquals(await tokens.lookup(garbage), undefined);
  assertStrictEquals(storage.finds, 1, "one query for a hundred tries");
  now += UNKNOWN_TOKEN_CACHE_MS;
  assertStrictEquals(await tokens.lookup(garbage), undefined);
  assertStrictEquals(storage.finds, 2, "asked again once the answer ran out");
  for (let i = 0; i < 100; i++) {
    assertStrictEquals(await tokens.lookup(`not-one-of-ours-${i}-0123456789`), undefined);
  }
  assertStrictEquals(storage.finds, 2, "no query for another shape");
});

Deno.test("stored tokens: concurrent lookups of one token share one query", async () => {
  const storage = new CountingStorage();
  const tokens = new StoredTokens(storage, () => 0);
  const { token, id } = await stored(storage, "admin");
  const callers = await Promise.all(Array.from({ length: 20 }, () => tokens.lookup(token)));
  assert(callers.every((c) => c?.tokenId === id && c.role === "admin"));
  assertStrictEquals(storage.finds, 1);
});

Deno.test("stored tokens: an expired token is refused, even with a cached answer", async () => {
  const storage = new MemoryStorage();
  let now = 0;
  const tokens = new StoredTokens(storage, () => now);
  const { token } = await stored(storage, "viewer", 500);
  assertStrictEquals((await tokens.lookup(token))?.role, "viewer");
  now = 500;
  assertStrictEquals(await tokens.lookup(token), undefined);
});

Deno.test("stored tokens: storage down is an error, not an unknown token; a cached answer still serves", async () => {
  const storage = new CountingStorage();
  let now = 0;
  const tokens = new StoredTokens(storage, () => now);
  const { token } = await stored(storage);
  assertStrictEquals((await tokens.lookup(token))?.role, "operator");
  storage.down = true;
  assertStrictEquals((await tokens.lookup(token))?.role, "operator", "cached");
  await assertRejects(() => tokens.lookup(newStoredToken()), StorageUnavailable);
  now += STORED_TOKEN_CACHE_MS;
  await assertRejects(() => tokens.lookup(token), StorageUnavailable);
});

Deno.test("stored tokens: the cache is bounded", async () => {
  const storage = new CountingStorage();
  const tokens = new StoredTokens(storage, () => 0);
  for (let i = 0; i < STORED_TOKEN_CACHE_SIZE + 50; i++) await tokens.lookup(newStoredToken());
  assert(
    tokens.cached <= STORED_TOKEN_CACHE_SIZE && tokens.cached >= STORED_TOKEN_CACHE_SIZE / 2,
    `${tokens.cached}`,
  );
});

Deno.test("stored tokens: at most 64 lookups wait on storage; more are 503 overloaded", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  const storage = new (class extends MemoryStorage {
    override async findApiToken(digest: string) {
      await held;
      return super.findApiToken(digest);
    }
  })();
  const tokens = new StoredTokens(storage, () => 0);
  const waiting = Array.from({ length: MAX_TOKEN_LOOKUPS }, () => tokens.lookup(newStoredToken()));
  const err = await tokens.lookup(newStoredToken()).then(() => undefined, (e) => e);
  assert(err instanceof ApiError, String(err));
  assertEquals([err.status, err.code, err.headers["retry-after"]], [503, "overloaded", "1"]);
  release();
  assert((await Promise.all(waiting)).every((c) => c === undefined));
  assertStrictEquals(await tokens.lookup(newStoredToken()), undefined, "room again");
});

Deno.test("stored tokens: a revoke takes effect at once on the revoking member, even with a lookup in flight", async () => {
  const storage = new HeldStorage();
  const tokens = new StoredTokens(storage, () => 1_000);
  const { token, id } = await stored(storage, "admin");
  const before = tokens.lookup(token); // read the live row; answers after the revoke
  await storage.revokeApiToken(id, 1_000);
  tokens.forget(id);
  storage.hold = false;
  const after = tokens.lookup(token);
  storage.release();
  assertStrictEquals(
    await after,
    undefined,
    "a request after the revoke does not share the lookup in flight",
  );
  assertStrictEquals(await before, undefined, "the revoked id is refused when the old lookup answers");
  assertStrictEquals(await tokens.lookup(token), undefined, "nor is its answer cached");
  assertStrictEquals(storage.finds, 2);
});

Deno.test("stored tokens: a lookup in flight across a revoke is not cached, even once the revoked id is forgotten", async () => {
  const storage = new HeldStorage();
  let now = 1_000;
  const tokens = new StoredTokens(storage, () => now);
  const { token, id } = await stored(storage, "admin");
  const { token: other, id: otherId } = await stored(storage, "viewer");
  const slow = tokens.lookup(token);
  const slowOther = tokens.lookup(other);
  await storage.revokeApiToken(id, now);
  tokens.forget(id);
  now += STORED_TOKEN_CACHE_MS + 500; // the revoked id is no longer remembered when the slow lookup answers
  storage.hold = false;
  storage.release();
  await slow;
  assertEquals(await slowOther, { role: "viewer", tokenId: otherId }, "another token's answer is right");
  assertStrictEquals(await tokens.lookup(token), undefined, "the stale live answer was not cached");
  assertStrictEquals((await tokens.lookup(other))?.role, "viewer");
  assertStrictEquals(storage.finds, 4, "both asked storage again: neither stale answer was cached");
});

Deno.test("stored tokens: a flood of made-up tokens does not evict a live answer", async () => {
  const storage = new CountingStorage();
  const tokens = new StoredTokens(storage, () => 0);
  const { token, id } = await stored(storage);
  assertEquals(await tokens.lookup(token), { role: "operator", tokenId: id });
  for (let i = 0; i < STORED_TOKEN_CACHE_SIZE + 50; i++) await tokens.lookup(newStoredToken());
  const finds = storage.finds;
  assertEquals(await tokens.lookup(token), { role: "operator", tokenId: id });
  assertStrictEquals(storage.finds, finds, "still cached: no query");
});

Deno.test("stored tokens: made-up tokens cannot take the lookup slots of tokens seen live", async () => {
  const storage = new HeldStorage();
  storage.hold = false;
  let now = 0;
  const tokens = new StoredTokens(storage, () => now);
  const real = [];
  for (let i = 0; i <= KNOWN_TOKEN_LOOKUPS; i++) real.push(await stored(storage));
  for (const { token } of real) assertStrictEquals((await tokens.lookup(token))?.role, "operator");
  now += STORED_TOKEN_CACHE_MS; // every live answer ran out: the next use asks storage
  storage.hold = true;
  const flood = Array.from({ length: MAX_TOKEN_LOOKUPS }, () => tokens.lookup(newStoredToken()));
  const refused = await tokens.lookup(newStoredToken()).then(() => undefined, (e) => e);
  assert(refused instanceof ApiError && refused.code === "overloaded", String(refused));
  const own = real.slice(0, KNOWN_TOKEN_LOOKUPS).map(({ token }) => tokens.lookup(token));
  const spare = await tokens.lookup(real[KNOWN_TOKEN_LOOKUPS].token).then(() => undefined, (e) => e);
  assert(spare instanceof ApiError && spare.code === "overloaded", "the own slots are bounded too");
  storage.release();
  assert((await Promise.all(flood)).every((c) => c === undefined));
  const callers = await Promise.all(own);
  assertEquals(
    callers,
    real.slice(0, KNOWN_TOKEN_LOOKUPS).map(({ id }) => ({ role: "operator", tokenId: id })),
  );
});
