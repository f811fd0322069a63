/**
 * The lookup of tokens made through the API: answers cached at most 2 s (unknown ones 1 s), bounded in
 * number, one query per digest at a time, no query for a token of another shape, expiry honoured inside the
 * cache, storage down is an error (never "unknown"), and at most 64 lookups wait on storage.
 */
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../../testing/assert.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { StorageUnavailable } from "../../storage/storage.ts";
import { ApiError } from "./errors.ts";
import {
  digestHex,
  isStoredTokenShape,
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
  assertStrictEquals(tokens.cached, STORED_TOKEN_CACHE_SIZE);
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
