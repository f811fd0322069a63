/**
 * The records of API access kept in storage: API tokens created through the API (kept as SHA-256 digests,
 * never as the token) and the audit log of state-changing calls. Storage does not interpret roles or
 * outcomes: the server does.
 *
 * @module
 */
/** An API token as listed: everything but its digest (and never the token itself). */
export interface StoredApiToken {
  /** The token's id: what logs, the audit log and `DELETE /api/v1/tokens/{id}` name. */
  id: string;
  /** A name for people (`ci`, `grafana`). */
  name: string;
  /** Its role (`viewer`, `operator`, `admin`). */
  role: string;
  /** Epoch ms. */
  createdAt: number;
  /** The id of the token that created it (`null`: a node without auth). */
  createdBy: string | null;
  /** Epoch ms after which it is refused (`null`: never). */
  expiresAt: number | null;
  /** Epoch ms of its revocation (`null`: not revoked). */
  revokedAt: number | null;
}

/** A token to store: its listing fields and the SHA-256 digest (64 lowercase hex digits) of the token. */
export interface NewApiToken extends Omit<StoredApiToken, "revokedAt"> {
  digest: string;
}

/** The result of storing a token: refused when `maxLive` live tokens exist already. */
export type CreateApiTokenResult =
  | { ok: true; token: StoredApiToken }
  | { ok: false; code: "too_many_tokens"; live: number };

/** Whether a token is live at `now`: not revoked and not expired. */
export function isLiveToken(t: Pick<StoredApiToken, "revokedAt" | "expiresAt">, now: number): boolean {
  return t.revokedAt === null && (t.expiresAt === null || t.expiresAt > now);
}

/** How a recorded call ended: done, refused (401, 403, 429), or failed (any other 4xx or 5xx). */
export type AuditOutcome = "ok" | "denied" | "failed";

/** One state-changing API call, as the audit log keeps it. */
export interface AuditEvent {
  /** Epoch ms when the call was answered. */
  at: number;
  /** The node that answered it. */
  node: string;
  /** The caller's token id (never the token); `null` without a known token. */
  tokenId: string | null;
  /** The caller's role; `null` without a known token. */
  role: string | null;
  method: string;
  /** The route pattern matched (`/api/v1/workflows/:id`), or `unmatched`. */
  route: string;
  /** The request's path (at most 1,024 characters). */
  path: string;
  /** The HTTP status answered. */
  status: number;
  outcome: AuditOutcome;
  /** The request's `x-request-id`, if it had a usable one. */
  requestId: string | null;
}
