/**
 * API tokens over SQL: `api_tokens`, one row per token with the SHA-256 digest of it (never the token). A
 * create runs in a transaction under an advisory lock, so the bound on live tokens holds across nodes.
 *
 * @module
 */
import { sql } from "npm:kysely@0.29.9";
import type { CreateApiTokenResult, NewApiToken, StoredApiToken } from "../access_records.ts";
import type { ApiTokenStore } from "../roles.ts";
import type { SqlContext } from "./context.ts";
import { num, numOrNull } from "./rows.ts";

/** The advisory lock key creates run under (any constant shared by every node). */
export const API_TOKENS_LOCK_KEY = 727_274_002;

/** A row of `api_tokens` as selected (without its digest) as a listed token. */
function toToken(r: {
  id: string;
  name: string;
  role: string;
  created_at: string | number;
  created_by: string | null;
  expires_at: string | number | null;
  revoked_at: string | number | null;
}): StoredApiToken {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    createdAt: num(r.created_at),
    createdBy: r.created_by,
    expiresAt: numOrNull(r.expires_at),
    revokedAt: numOrNull(r.revoked_at),
  };
}

const LISTED = ["id", "name", "role", "created_at", "created_by", "expires_at", "revoked_at"] as const;

/** The `ApiTokenStore` role over SQL. */
export class SqlApiTokens implements ApiTokenStore {
  constructor(private readonly ctx: SqlContext) {}

  createApiToken(token: NewApiToken, maxLive: number, now: number): Promise<CreateApiTokenResult> {
    return this.ctx.run(() =>
      this.ctx.db.transaction().execute(async (trx): Promise<CreateApiTokenResult> => {
        await sql`select pg_advisory_xact_lock(${API_TOKENS_LOCK_KEY})`.execute(trx);
        const counted = await sql<{ n: string | number }>`select count(*) as n from api_tokens
          where revoked_at is null and (expires_at is null or expires_at > ${now})`.execute(trx);
        const live = num(counted.rows[0].n);
        if (live >= maxLive) return { ok: false, code: "too_many_tokens", live };
        // Forget the oldest dead tokens beyond `maxLive` of them.
        await sql`delete from api_tokens where id in (
          select id from api_tokens where revoked_at is not null or expires_at <= ${now}
          order by coalesce(revoked_at, expires_at) desc, id desc offset ${maxLive})`.execute(trx);
        await trx.insertInto("api_tokens").values({
          id: token.id,
          digest: token.digest,
          name: token.name,
          role: token.role,
          created_at: token.createdAt,
          created_by: token.createdBy,
          expires_at: token.expiresAt,
          revoked_at: null,
        }).execute();
        const { digest: _, ...listed } = token;
        return { ok: true, token: { ...listed, revokedAt: null } };
      })
    );
  }

  listApiTokens(limit: number): Promise<StoredApiToken[]> {
    return this.ctx.run(async () =>
      (await this.ctx.db.selectFrom("api_tokens").select(LISTED).orderBy("created_at", "desc")
        .orderBy("id", "desc").limit(limit).execute()).map(toToken)
    );
  }

  findApiToken(digest: string): Promise<StoredApiToken | undefined> {
    return this.ctx.run(async () => {
      const r = await this.ctx.db.selectFrom("api_tokens").select(LISTED).where("digest", "=", digest)
        .executeTakeFirst();
      return r && toToken(r);
    });
  }

  revokeApiToken(id: string, now: number): Promise<StoredApiToken | undefined> {
    return this.ctx.run(async () => {
      const r = await this.ctx.db.updateTable("api_tokens")
        .set({ revoked_at: sql<number>`coalesce(revoked_at, ${now})` })
        .where("id", "=", id).returning(LISTED).executeTakeFirst();
      return r && toToken(r);
    });
  }
}
