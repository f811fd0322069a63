/**
 * Conformance cases of the `ApiTokenStore` role: tokens stored by digest and listed without it, revoked once,
 * the bound on live tokens, and the oldest dead tokens forgotten. Cases may share a storage with others:
 * each uses ids and digests of its own and counts the live tokens it found.
 *
 * @module
 */
import { isLiveToken, type NewApiToken, type StoredApiToken } from "../../storage/storage.ts";
import { assert, assertEquals, assertStrictEquals } from "../assert.ts";
import { type ConformanceCase, type Ctx, T } from "./fixtures.ts";

/** A 64-hex-digit digest of its own for `id`. */
async function digestFor(id: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(id));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A token to store, `createdAt` T + k. */
async function token(id: string, k: number, extra: Partial<NewApiToken> = {}): Promise<NewApiToken> {
  return {
    id,
    digest: await digestFor(id),
    name: `token ${k} ✓`,
    role: "operator",
    createdAt: T + k,
    createdBy: "1a2b3c4d",
    expiresAt: null,
    ...extra,
  };
}

/** What a stored token lists as. */
function listedOf(t: NewApiToken, revokedAt: number | null = null): StoredApiToken {
  const { digest: _, ...listed } = t;
  return { ...listed, revokedAt };
}

/** How many tokens are live at `now`. */
async function liveAt(c: Ctx, now: number): Promise<number> {
  return (await c.storage.listApiTokens(100_000)).filter((t) => isLiveToken(t, now)).length;
}

/** api tokens: stored by digest, listed without it, revoked once */
async function storedFoundListedRevoked(c: Ctx): Promise<void> {
  const s = c.storage;
  const a = await token(c.id("a"), 1);
  const b = await token(c.id("b"), 2, { role: "admin", createdBy: null, expiresAt: T + 1_000 });
  assertEquals(await s.createApiToken(a, 10_000, T + 1), { ok: true, token: listedOf(a) });
  assertEquals(await s.createApiToken(b, 10_000, T + 2), { ok: true, token: listedOf(b) });
  assertEquals(await s.findApiToken(a.digest), listedOf(a));
  assertEquals(await s.findApiToken(b.digest), listedOf(b));
  assertStrictEquals(await s.findApiToken(await digestFor(c.id("never"))), undefined);
  const mine = (await s.listApiTokens(100_000)).filter((t) => t.id === a.id || t.id === b.id);
  assertEquals(mine, [listedOf(b), listedOf(a)], "newest first, without the digest");
  for (const t of await s.listApiTokens(100_000)) assert(!("digest" in t), "a listed token has no digest");
  assertEquals(await s.listApiTokens(1).then((l) => l.length), 1);
  assertEquals(await s.revokeApiToken(a.id, T + 5), listedOf(a, T + 5));
  assertEquals(
    await s.revokeApiToken(a.id, T + 9),
    listedOf(a, T + 5),
    "a second revoke keeps the first time",
  );
  assertEquals(await s.findApiToken(a.digest), listedOf(a, T + 5));
  assertStrictEquals(await s.revokeApiToken(c.id("never"), T + 5), undefined);
  assertEquals(await s.findApiToken(b.digest), listedOf(b), "the other token is untouched");
}

/** api tokens: a create is refused at maxLive live tokens; revoked and expired ones do not count */
async function boundedLive(c: Ctx): Promise<void> {
  const s = c.storage;
  const now = T + 100;
  const live0 = await liveAt(c, now);
  const max = live0 + 2;
  const a = await token(c.id("a"), 10), b = await token(c.id("b"), 11, { expiresAt: T + 150 });
  const x = await token(c.id("x"), 12);
  assertStrictEquals((await s.createApiToken(a, max, now)).ok, true);
  assertStrictEquals((await s.createApiToken(b, max, now)).ok, true);
  assertEquals(await s.createApiToken(x, max, now), { ok: false, code: "too_many_tokens", live: max });
  assertStrictEquals(await s.findApiToken(x.digest), undefined, "a refused token is not stored");
  await s.revokeApiToken(a.id, T + 20);
  assertStrictEquals((await s.createApiToken(x, max, now)).ok, true, "a revoked token does not count");
  const y = await token(c.id("y"), 13);
  assertStrictEquals((await s.createApiToken(y, max, now)).ok, false);
  // At T + 200, b has expired: it no longer counts.
  assertStrictEquals((await s.createApiToken(y, max, T + 200)).ok, true, "an expired token does not count");
}

/** api tokens: a create forgets the oldest dead tokens beyond maxLive of them */
async function deadForgotten(c: Ctx): Promise<void> {
  const s = c.storage;
  const now = T + 100;
  const dead: NewApiToken[] = [];
  for (let k = 1; k <= 5; k++) {
    const t = await token(c.id(`dead-${k}`), 20 + k);
    assertStrictEquals((await s.createApiToken(t, 100_000, now)).ok, true);
    await s.revokeApiToken(t.id, T + 90 + k); // later than any other case's dead token
    dead.push(t);
  }
  const max = (await liveAt(c, now)) + 3;
  assertStrictEquals((await s.createApiToken(await token(c.id("live"), 30), max, now)).ok, true);
  const all = await s.listApiTokens(100_000);
  assert(all.filter((t) => !isLiveToken(t, now)).length <= max, "at most maxLive dead tokens are kept");
  const kept = Math.min(5, max);
  for (const [i, t] of dead.entries()) {
    const shouldKeep = i >= 5 - kept;
    assertStrictEquals((await s.findApiToken(t.digest)) !== undefined, shouldKeep, `dead token ${i + 1}`);
  }
}

/** The `ApiTokenStore` role's conformance cases, in order. */
export const API_TOKENS_CASES: ConformanceCase[] = [
  { title: "api tokens: stored by digest, listed without it, revoked once", run: storedFoundListedRevoked },
  {
    title: "api tokens: a create is refused at maxLive live tokens; revoked and expired ones do not count",
    run: boundedLive,
  },
  { title: "api tokens: a create forgets the oldest dead tokens beyond maxLive of them", run: deadForgotten },
];
