/**
 * Tokens made through the API, as the authenticator sees them: their shape (`fm_` and 43 base64url
 * characters: 32 random bytes), their making, and the lookup of a presented one in storage by its SHA-256
 * digest behind a short cache. A revoke on any member takes effect on every member within the cache's
 * lifetime (`STORED_TOKEN_CACHE_MS`); the member that revoked forgets at once.
 *
 * The cache holds what storage answered, live or unknown, for at most 2 s (an unknown token for 1 s), in at
 * most 10,000 entries, so a flood of the same garbage token costs one lookup a second; a presented token
 * that cannot be one of ours (wrong shape) never reaches storage; lookups of one digest share one query; and
 * at most 64 lookups wait on storage at once (more are `503 overloaded`).
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
import { ApiError } from "./errors.ts";

/** What every token made through the API starts with. */
export const STORED_TOKEN_PREFIX = "fm_";
/** Random bytes in a token made through the API. */
export const STORED_TOKEN_BYTES = 32;
/** How long a lookup's answer is trusted: the bound on a revoke reaching every member, ms. */
export const STORED_TOKEN_CACHE_MS = 2_000;
/** How long "no such token" is trusted, ms. */
export const UNKNOWN_TOKEN_CACHE_MS = 1_000;
/** The most cached answers. */
export const STORED_TOKEN_CACHE_SIZE = 10_000;
/** The most lookups waiting on storage at once. */
export const MAX_TOKEN_LOOKUPS = 64;

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

/** A cached answer: the caller, or null (unknown, revoked or expired), trusted until `until`. */
interface Cached {
  caller: Caller | null;
  until: number;
}

/** Looks up presented tokens in storage, behind a short, bounded cache. */
export class StoredTokens {
  readonly #cache = new Map<string, Cached>();
  readonly #pending = new Map<string, Promise<StoredApiToken | undefined>>();

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
    const hit = this.#cache.get(digest);
    if (hit !== undefined && hit.until > now) return hit.caller ?? undefined;
    const found = await this.#find(digest);
    const at = this.now();
    const live = found !== undefined && isLiveToken(found, at) && isRole(found.role);
    const caller = live ? { role: found.role as ApiRole, tokenId: found.id } : null;
    let until = at + (live ? STORED_TOKEN_CACHE_MS : UNKNOWN_TOKEN_CACHE_MS);
    if (live && found.expiresAt !== null) until = Math.min(until, found.expiresAt);
    this.#remember(digest, { caller, until });
    return caller ?? undefined;
  }

  /** How many answers are cached (at most `STORED_TOKEN_CACHE_SIZE`). */
  get cached(): number {
    return this.#cache.size;
  }

  /** Forgets a token (revoked here): its next use asks storage. */
  forget(id: string): void {
    for (const [digest, cached] of this.#cache) {
      if (cached.caller?.tokenId === id) this.#cache.delete(digest);
    }
  }

  /** One query per digest at a time; at most `MAX_TOKEN_LOOKUPS` at once. */
  #find(digest: string): Promise<StoredApiToken | undefined> {
    const pending = this.#pending.get(digest);
    if (pending !== undefined) return pending;
    if (this.#pending.size >= MAX_TOKEN_LOOKUPS) {
      throw new ApiError(503, "overloaded", "too many token lookups at once; retry", [], {
        "retry-after": "1",
      });
    }
    const p = this.store.findApiToken(digest).finally(() => this.#pending.delete(digest));
    this.#pending.set(digest, p);
    return p;
  }

  #remember(digest: string, cached: Cached): void {
    this.#cache.delete(digest);
    // Full: drop the oldest answer (a Map keeps insertion order).
    if (this.#cache.size >= STORED_TOKEN_CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(digest, cached);
  }
}

function isRole(role: string): role is ApiRole {
  return (API_ROLES as readonly string[]).includes(role);
}
