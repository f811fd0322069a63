/**
 * Tokens made through the API, as the authenticator sees them: their shape (`fm_` and 43 base64url
 * characters: 32 random bytes), their making, and the lookup of a presented one in storage by its SHA-256
 * digest behind a short cache. A revoke on any member takes effect on every member within the cache's
 * lifetime (`STORED_TOKEN_CACHE_MS`); the member that revoked forgets at once: `forget` drops the token's
 * cached answers, remembers its id for the cache's lifetime (a lookup that answers it later is refused) and
 * starts a new generation: no later request joins a lookup that was in flight, and no answer of such a lookup
 * is cached as live.
 *
 * Live answers are cached for at most 2 s in their own cache (at most 2,000), which unknown answers (cached
 * 1 s, at most 10,000) cannot evict, so a flood of the same garbage token costs one lookup a second and a
 * flood of different ones pushes out no real token. A presented token that cannot be one of ours (wrong
 * shape) never reaches storage; lookups of one digest share one query; at most 64 lookups wait on storage at
 * once (more are `503 overloaded`), and lookups of tokens seen live in the last hour have 16 slots of their
 * own besides, which a flood of made-up tokens cannot take.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "../../storage/memory.ts";
 * import { digestHex, newStoredToken, StoredTokens } from "./stored_tokens.ts";
 *
 * const storage = new MemoryStorage();
 * const token = newStoredToken();
 * const record = { id: "0123456789abcdef", name: "ci", role: "operator", createdAt: 0, createdBy: null };
 * await storage.createApiToken({ ...record, expiresAt: null, digest: digestHex(token) }, 10, 0);
 * const tokens = new StoredTokens(storage, () => 0);
 * if ((await tokens.lookup(token))?.role !== "operator") throw new Error("a stored token is known");
 * if (await tokens.lookup(newStoredToken()) !== undefined) throw new Error("another is not");
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { isLiveToken, type StoredApiToken } from "../../storage/access_records.ts";
import type { ApiTokenStore } from "../../storage/roles.ts";
import { API_ROLES, type ApiRole, type Caller } from "./auth.ts";
import { BoundedCache } from "../../core/cache.ts";
import { ApiError } from "./errors.ts";

/** What every token made through the API starts with. */
export const STORED_TOKEN_PREFIX = "fm_";
/** Random bytes in a token made through the API. */
export const STORED_TOKEN_BYTES = 32;
/** How long a lookup's answer is trusted: the bound on a revoke reaching every member, ms. */
export const STORED_TOKEN_CACHE_MS = 2_000;
/** How long "no such token" is trusted, ms. */
export const UNKNOWN_TOKEN_CACHE_MS = 1_000;
/** The most cached unknown answers (unknown, revoked or expired tokens). */
export const STORED_TOKEN_CACHE_SIZE = 10_000;
/** The most cached live answers, in a cache of their own: twice the 1,000 tokens that may be live at once. */
export const LIVE_TOKEN_CACHE_SIZE = 2_000;
/** The most lookups waiting on storage at once (besides the `KNOWN_TOKEN_LOOKUPS`). */
export const MAX_TOKEN_LOOKUPS = 64;
/** Slots of their own for lookups of tokens seen live recently: other lookups cannot take them. */
export const KNOWN_TOKEN_LOOKUPS = 16;
/** How long a token seen live keeps the use of those slots, ms. */
export const KNOWN_TOKEN_MS = 3_600_000;
/** The most revoked ids remembered (each for `STORED_TOKEN_CACHE_MS`). */
export const MAX_REVOKED_IDS = 10_000;

const SHAPE = /^fm_[A-Za-z0-9_-]{43}$/;

/** A new token: `fm_` and 32 random bytes (`crypto.getRandomValues`) in base64url, 46 characters. */
export function newStoredToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(STORED_TOKEN_BYTES));
  return STORED_TOKEN_PREFIX + btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** A new token id: 16 random hex digits (an id of a configured token has 8, so they never collide). */
export function newStoredTokenId(): string {
  return [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether a presented token has the shape of one made through the API. */
export function isStoredTokenShape(token: string): boolean {
  return SHAPE.test(token);
}

/** The SHA-256 digest of a token, as 64 lowercase hex digits (what storage keeps). */
export function digestHex(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A live answer: the caller, trusted until `until`. */
interface Live {
  caller: Caller;
  until: number;
}

/** A lookup waiting on storage, shared by the lookups of its digest in its generation. */
interface Pending {
  promise: Promise<StoredApiToken | undefined>;
  generation: number;
}

/** Looks up presented tokens in storage, behind a short, bounded cache. */
export class StoredTokens {
  /** Live answers by digest, oldest first (a Map keeps insertion order). */
  readonly #live = new Map<string, Live>();
  /** Unknown answers by digest: trusted until. */
  readonly #unknown = new BoundedCache<string, number>(STORED_TOKEN_CACHE_SIZE);
  /** Digests seen live recently, oldest first: their token id, and until when they use the known slots. */
  readonly #known = new Map<string, { tokenId: string; until: number }>();
  /** Ids revoked on this member, oldest first: refused until. */
  readonly #revoked = new Map<string, number>();
  readonly #pending = new Map<string, Pending>();
  /** Bumped by every `forget`: a lookup started before it is neither joined nor cached as live. */
  #generation = 0;
  #waiting = 0;
  #waitingKnown = 0;

  /**
   * @param store Where the tokens are kept.
   * @param now The wall clock, epoch ms (expiry is wall-clock time).
   */
  constructor(readonly store: ApiTokenStore, private readonly now: () => number) {}

  /**
   * The caller a presented token proves, or undefined (not of our shape, unknown, revoked or expired).
   * Rejects with `StorageUnavailable` when storage is down and the answer is not cached.
   */
  async lookup(token: string): Promise<Caller | undefined> {
    if (!isStoredTokenShape(token)) return undefined;
    const digest = digestHex(token);
    const now = this.now();
    const live = this.#live.get(digest);
    if (live !== undefined && live.until > now) return live.caller;
    const unknownUntil = this.#unknown.get(digest);
    if (unknownUntil !== undefined && unknownUntil > now) return undefined;
    const generation = this.#generation;
    const known = (this.#known.get(digest)?.until ?? 0) > now;
    return this.#answer(digest, await this.#find(digest, known), generation);
  }

  /** How many answers are cached (live ones at most `LIVE_TOKEN_CACHE_SIZE`, others `STORED_TOKEN_CACHE_SIZE`). */
  get cached(): number {
    return this.#live.size + this.#unknown.size;
  }

  /**
   * Forgets a token revoked here: drops its cached answers and its shared lookup, refuses its id for the
   * cache's lifetime, and starts a new generation (lookups in flight are not joined, nor cached as live).
   */
  forget(id: string): void {
    const now = this.now();
    this.#generation++;
    for (const [revoked, until] of this.#revoked) { // expired ids leave from the front
      if (until > now) break;
      this.#revoked.delete(revoked);
    }
    remember(this.#revoked, MAX_REVOKED_IDS, id, now + STORED_TOKEN_CACHE_MS);
    for (const [digest, live] of this.#live) {
      if (live.caller.tokenId === id) this.#drop(digest);
    }
    for (const [digest, known] of this.#known) {
      if (known.tokenId === id) this.#drop(digest);
    }
  }

  /** What a lookup that started in `generation` answers, cached when no revoke came in between. */
  #answer(digest: string, found: StoredApiToken | undefined, generation: number): Caller | undefined {
    const at = this.now();
    const live = found !== undefined && isLiveToken(found, at) && isRole(found.role) &&
      !this.#isRevoked(found.id, at);
    if (!live) {
      this.#live.delete(digest);
      this.#known.delete(digest);
      this.#unknown.set(digest, at + UNKNOWN_TOKEN_CACHE_MS);
      return undefined;
    }
    const caller = { role: found.role as ApiRole, tokenId: found.id };
    if (generation !== this.#generation) return caller; // a revoke came in between: not cached
    let until = at + STORED_TOKEN_CACHE_MS;
    if (found.expiresAt !== null) until = Math.min(until, found.expiresAt);
    this.#unknown.delete(digest);
    remember(this.#live, LIVE_TOKEN_CACHE_SIZE, digest, { caller, until });
    remember(this.#known, LIVE_TOKEN_CACHE_SIZE, digest, { tokenId: found.id, until: at + KNOWN_TOKEN_MS });
    return caller;
  }

  #isRevoked(id: string, now: number): boolean {
    return (this.#revoked.get(id) ?? 0) > now;
  }

  #drop(digest: string): void {
    this.#live.delete(digest);
    this.#known.delete(digest);
    this.#pending.delete(digest);
  }

  /**
   * One query per digest at a time (in one generation). A digest seen live recently takes one of the
   * `KNOWN_TOKEN_LOOKUPS` slots, else one of the `MAX_TOKEN_LOOKUPS` every lookup may take.
   */
  #find(digest: string, known: boolean): Promise<StoredApiToken | undefined> {
    const pending = this.#pending.get(digest);
    if (pending !== undefined && pending.generation === this.#generation) return pending.promise;
    const ownSlot = known && this.#waitingKnown < KNOWN_TOKEN_LOOKUPS;
    if (!ownSlot && this.#waiting >= MAX_TOKEN_LOOKUPS) {
      throw new ApiError(503, "overloaded", "too many token lookups at once; retry", [], {
        "retry-after": "1",
      });
    }
    if (ownSlot) this.#waitingKnown++;
    else this.#waiting++;
    const entry: Pending = {
      generation: this.#generation,
      promise: this.store.findApiToken(digest).finally(() => {
        if (ownSlot) this.#waitingKnown--;
        else this.#waiting--;
        if (this.#pending.get(digest) === entry) this.#pending.delete(digest);
      }),
    };
    this.#pending.set(digest, entry);
    return entry.promise;
  }
}

/** Sets `key` as the newest entry of `map`, dropping the oldest when it holds `max`. */
function remember<V>(map: Map<string, V>, max: number, key: string, value: V): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}

function isRole(role: string): role is ApiRole {
  return (API_ROLES as readonly string[]).includes(role);
}
