/**
 * The access roles in the SQLite store: API tokens (`api_tokens`, one row per token with the SHA-256 digest
 * of it, never the token; a create counts the live ones and forgets the oldest dead ones in its write
 * transaction) and the audit log (`audit_events`, newest first by its serial id, paged by it and trimmed to
 * the newest N).
 *
 * @module
 */
import type {
  AuditEvent,
  AuditOutcome,
  CreateApiTokenResult,
  NewApiToken,
  StoredApiToken,
} from "../access_records.ts";
import type { Page } from "../records.ts";
import type { ApiTokenStore, AuditLog } from "../roles.ts";
import { decodeAuditCursor, encodeAuditCursor } from "../storage.ts";
import type { SqliteContext } from "./context.ts";

/** A row of `api_tokens` as selected (without its digest). */
interface TokenRow {
  id: string;
  name: string;
  role: string;
  created_at: number;
  created_by: string | null;
  expires_at: number | null;
  revoked_at: number | null;
}

const LISTED = "id, name, role, created_at, created_by, expires_at, revoked_at";

/** A token row as a listed token. */
function toToken(r: TokenRow): StoredApiToken {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    createdAt: r.created_at,
    createdBy: r.created_by,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}

/** The `ApiTokenStore` role over SQLite. */
export class SqliteApiTokens implements ApiTokenStore {
  constructor(private readonly ctx: SqliteContext) {}

  createApiToken(token: NewApiToken, maxLive: number, now: number): Promise<CreateApiTokenResult> {
    return this.ctx.write((): CreateApiTokenResult => {
      const db = this.ctx.db;
      const live = db.get<{ n: number }>(
        "select count(*) as n from api_tokens where revoked_at is null and (expires_at is null or expires_at > ?)",
        now,
      )!.n;
      if (live >= maxLive) return { ok: false, code: "too_many_tokens", live };
      // Forget the oldest dead tokens beyond `maxLive` of them.
      db.run(
        `delete from api_tokens where id in (
          select id from api_tokens where revoked_at is not null or expires_at <= ?
          order by coalesce(revoked_at, expires_at) desc, id desc limit -1 offset ?)`,
        now,
        maxLive,
      );
      db.run(
        `insert into api_tokens (id, digest, name, role, created_at, created_by, expires_at, revoked_at)
          values (?, ?, ?, ?, ?, ?, ?, null)`,
        token.id,
        token.digest,
        token.name,
        token.role,
        token.createdAt,
        token.createdBy,
        token.expiresAt,
      );
      const { digest: _, ...listed } = token;
      return { ok: true, token: { ...listed, revokedAt: null } };
    });
  }

  listApiTokens(limit: number): Promise<StoredApiToken[]> {
    return this.ctx.run(() =>
      this.ctx.db.all<TokenRow>(
        `select ${LISTED} from api_tokens order by created_at desc, id desc limit ?`,
        limit,
      )
        .map(toToken)
    );
  }

  findApiToken(digest: string): Promise<StoredApiToken | undefined> {
    return this.ctx.run(() => {
      const r = this.ctx.db.get<TokenRow>(`select ${LISTED} from api_tokens where digest = ?`, digest);
      return r && toToken(r);
    });
  }

  revokeApiToken(id: string, now: number): Promise<StoredApiToken | undefined> {
    return this.ctx.write(() => {
      const r = this.ctx.db.get<TokenRow>(
        `update api_tokens set revoked_at = coalesce(revoked_at, ?) where id = ? returning ${LISTED}`,
        now,
        id,
      );
      return r && toToken(r);
    });
  }
}

/** A row of `audit_events`. */
interface AuditRow {
  id: number;
  at: number;
  node: string;
  token_id: string | null;
  role: string | null;
  method: string;
  route: string;
  path: string;
  status: number;
  outcome: string;
  request_id: string | null;
}

/** The `AuditLog` role over SQLite. */
export class SqliteAuditLog implements AuditLog {
  constructor(private readonly ctx: SqliteContext) {}

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.ctx.write(() => {
      for (const e of events) {
        this.ctx.db.run(
          `insert into audit_events (at, node, token_id, role, method, route, path, status, outcome, request_id)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          e.at,
          e.node,
          e.tokenId,
          e.role,
          e.method,
          e.route,
          e.path,
          e.status,
          e.outcome,
          e.requestId,
        );
      }
    });
  }

  listAudit(limit: number, cursor?: string | null): Promise<Page<AuditEvent>> {
    return this.ctx.run(() => {
      const before = cursor == null ? undefined : decodeAuditCursor(cursor);
      const rows = before === undefined
        ? this.ctx.db.all<AuditRow>("select * from audit_events order by id desc limit ?", limit + 1)
        : this.ctx.db.all<AuditRow>(
          "select * from audit_events where id < ? order by id desc limit ?",
          before,
          limit + 1,
        );
      const page = rows.slice(0, limit);
      return {
        items: page.map((r) => ({
          at: r.at,
          node: r.node,
          tokenId: r.token_id,
          role: r.role,
          method: r.method,
          route: r.route,
          path: r.path,
          status: r.status,
          outcome: r.outcome as AuditOutcome,
          requestId: r.request_id,
        })),
        next: rows.length > limit ? encodeAuditCursor(page.at(-1)!.id) : null,
      };
    });
  }

  trimAudit(keep: number): Promise<void> {
    return this.ctx.run(() => {
      this.ctx.db.run(
        "delete from audit_events where id <= (select id from audit_events order by id desc limit 1 offset ?)",
        keep,
      );
    });
  }
}
