/**
 * The access roles in memory: API tokens (`ApiTokenStore`) and the audit log (`AuditLog`), as
 * `MemoryStorage` holds them.
 *
 * @module
 */
import {
  type AuditEvent,
  type CreateApiTokenResult,
  isLiveToken,
  type NewApiToken,
  type StoredApiToken,
} from "./access_records.ts";
import type { ApiTokenStore, AuditLog } from "./roles.ts";
import { decodeAuditCursor, encodeAuditCursor, type Page } from "./storage.ts";

/** When a dead token died: its revocation, else its expiry. */
function diedAt(t: StoredApiToken): number {
  return t.revokedAt ?? t.expiresAt ?? 0;
}

/**
 * API tokens in memory, by digest.
 *
 * @example
 * ```ts
 * import { MemoryApiTokens } from "./memory_access.ts";
 * const tokens = new MemoryApiTokens();
 * const token = { id: "t1", name: "ci", role: "viewer", createdAt: 1, createdBy: null, expiresAt: null };
 * await tokens.createApiToken({ ...token, digest: "ab".repeat(32) }, 10, 1);
 * await tokens.revokeApiToken("t1", 2);
 * if ((await tokens.findApiToken("ab".repeat(32)))?.revokedAt !== 2) throw new Error("revoked at 2");
 * ```
 */
export class MemoryApiTokens implements ApiTokenStore {
  readonly #byDigest = new Map<string, StoredApiToken>();
  readonly #digestOf = new Map<string, string>();

  createApiToken(token: NewApiToken, maxLive: number, now: number): Promise<CreateApiTokenResult> {
    const all = [...this.#byDigest.values()];
    const live = all.filter((t) => isLiveToken(t, now)).length;
    if (live >= maxLive) return Promise.resolve({ ok: false, code: "too_many_tokens", live });
    if (this.#byDigest.has(token.digest) || this.#digestOf.has(token.id)) {
      throw new Error(`assertion: token ${token.id} is stored already`);
    }
    const dead = all.filter((t) => !isLiveToken(t, now)).sort((a, b) => diedAt(b) - diedAt(a));
    for (const t of dead.slice(maxLive)) this.#forget(t.id);
    const { digest, ...listed } = token;
    const stored: StoredApiToken = { ...listed, revokedAt: null };
    this.#byDigest.set(digest, stored);
    this.#digestOf.set(token.id, digest);
    return Promise.resolve({ ok: true, token: { ...stored } });
  }

  listApiTokens(limit: number): Promise<StoredApiToken[]> {
    const newestFirst = [...this.#byDigest.values()]
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    return Promise.resolve(newestFirst.slice(0, limit).map((t) => ({ ...t })));
  }

  findApiToken(digest: string): Promise<StoredApiToken | undefined> {
    const t = this.#byDigest.get(digest);
    return Promise.resolve(t && { ...t });
  }

  revokeApiToken(id: string, now: number): Promise<StoredApiToken | undefined> {
    const digest = this.#digestOf.get(id);
    const t = digest === undefined ? undefined : this.#byDigest.get(digest);
    if (t === undefined) return Promise.resolve(undefined);
    t.revokedAt ??= now;
    return Promise.resolve({ ...t });
  }

  #forget(id: string): void {
    const digest = this.#digestOf.get(id);
    if (digest === undefined) return;
    this.#digestOf.delete(id);
    this.#byDigest.delete(digest);
  }
}

/**
 * The audit log in memory, in the order recorded.
 *
 * @example
 * ```ts
 * import { MemoryAuditLog } from "./memory_access.ts";
 * const log = new MemoryAuditLog();
 * const call = { at: 1, node: "n1", tokenId: null, role: null, method: "POST", route: "/api/v1/workflows",
 *   path: "/api/v1/workflows", status: 201, outcome: "ok" as const, requestId: null };
 * await log.appendAudit([call, { ...call, at: 2 }]);
 * const page = await log.listAudit(1);
 * if (page.items[0].at !== 2 || page.next === null) throw new Error("newest first, with a next page");
 * ```
 */
export class MemoryAuditLog implements AuditLog {
  #events: { seq: number; event: AuditEvent }[] = [];
  #seq = 0;

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    for (const event of events) this.#events.push({ seq: ++this.#seq, event: { ...event } });
    return Promise.resolve();
  }

  listAudit(limit: number, cursor?: string | null): Promise<Page<AuditEvent>> {
    let before = Infinity;
    try {
      if (cursor != null) before = decodeAuditCursor(cursor);
    } catch (err) {
      return Promise.reject(err);
    }
    let i = this.#events.length - 1;
    while (i >= 0 && this.#events[i].seq >= before) i--;
    const page = this.#events.slice(Math.max(0, i + 1 - limit), i + 1).reverse();
    const more = i + 1 - limit > 0;
    return Promise.resolve({
      items: page.map((e) => ({ ...e.event })),
      next: more && page.length > 0 ? encodeAuditCursor(page.at(-1)!.seq) : null,
    });
  }

  trimAudit(keep: number): Promise<void> {
    if (this.#events.length > keep) this.#events = keep > 0 ? this.#events.slice(-keep) : [];
    return Promise.resolve();
  }
}
