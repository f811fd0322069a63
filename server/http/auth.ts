/**
 * API tokens and roles. A caller proves a token with `Authorization: Bearer <token>`; the token's role says what
 * it may do: `viewer` reads, `operator` also runs and steers executions, `admin` does everything. Tokens are
 * kept as SHA-256 digests and compared in constant time; a token is never logged or served back, only its
 * id (the first 8 hex digits of its digest). Besides the configured tokens, an admin may make tokens through
 * the API (`StoredTokens`, stored_tokens.ts): looked up in storage by digest, their id is their own.
 *
 * @example
 * ```ts
 * import { Authenticator } from "./auth.ts";
 *
 * const auth = new Authenticator([{ role: "operator", token: "operator-token-0123456789" }]);
 * const caller = auth.identify("Bearer operator-token-0123456789");
 * if (caller?.role !== "operator") throw new Error("the token is known");
 * if (auth.identify("Bearer guess-guess-guess-guess") !== undefined) throw new Error("a guess is not");
 * if (!Authenticator.allows("operator", "viewer") || Authenticator.allows("viewer", "admin")) throw new Error();
 * ```
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { StoredTokens } from "./stored_tokens.ts";

/** The roles, each with every right of the ones before it. */
export const API_ROLES = ["viewer", "operator", "admin"] as const;

/** A role of an API token. */
export type ApiRole = typeof API_ROLES[number];

/** A configured token and its role. */
export interface ApiToken {
  /** What the token may do. */
  role: ApiRole;
  /** The secret a caller sends as `Authorization: Bearer <token>`. */
  token: string;
}

/** Who called: the token's role and id (never the token). */
export interface Caller {
  role: ApiRole;
  /** The first 8 hex digits of the token's SHA-256 digest: enough to tell tokens apart in logs. */
  tokenId: string;
}

/** A token as kept: its digest. */
interface KeptToken {
  role: ApiRole;
  digest: Buffer;
  id: string;
}

function digestOf(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** The token of an `Authorization: Bearer <token>` header, or undefined (missing, another scheme, malformed). */
function bearerToken(authorization: string | null): string | undefined {
  const m = authorization === null ? null : /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(authorization);
  return m === null ? undefined : m[1];
}

/** Checks bearer tokens against the configured ones, then (when given) the ones made through the API. */
export class Authenticator {
  readonly #tokens: KeptToken[];

  /**
   * @param tokens The configured tokens.
   * @param stored The tokens made through the API (none: only the configured ones are known).
   */
  constructor(tokens: readonly ApiToken[], readonly stored?: StoredTokens) {
    this.#tokens = tokens.map(({ role, token }) => {
      const digest = digestOf(token);
      return { role, digest, id: digest.toString("hex").slice(0, 8) };
    });
  }

  /** Whether any token is configured (without any, a loopback-only node serves without auth). */
  get enabled(): boolean {
    return this.#tokens.length > 0;
  }

  /**
   * The caller an `Authorization` header proves, or `undefined` (missing, not `Bearer`, or unknown). Every
   * configured token is compared, in constant time, whatever matches.
   */
  identify(authorization: string | null): Caller | undefined {
    const token = bearerToken(authorization);
    return token === undefined ? undefined : this.#configured(token);
  }

  /**
   * The caller an `Authorization` header proves: a configured token, else a live token made through the API
   * (looked up in storage behind a short cache). Rejects with `StorageUnavailable` when storage must be asked
   * and is down.
   */
  async authenticate(authorization: string | null): Promise<Caller | undefined> {
    const token = bearerToken(authorization);
    if (token === undefined) return undefined;
    return this.#configured(token) ?? await this.stored?.lookup(token);
  }

  #configured(token: string): Caller | undefined {
    const presented = digestOf(token);
    let found: KeptToken | undefined;
    for (const kept of this.#tokens) {
      if (timingSafeEqual(kept.digest, presented) && found === undefined) found = kept;
    }
    return found && { role: found.role, tokenId: found.id };
  }

  /** Whether `role` has the rights of `needed`. */
  static allows(role: ApiRole, needed: ApiRole): boolean {
    return API_ROLES.indexOf(role) >= API_ROLES.indexOf(needed);
  }
}

/**
 * Patterns that answer without a token: liveness and readiness probes, and the API's OpenAPI document (the
 * API's shape is no secret: a client generator fetches it before it has a token).
 */
const OPEN = new Set(["/health", "/health/live", "/health/ready", "/api/v1/openapi.json"]);

/** `POST` routes an operator may call: running and steering executions, and running a schedule now. */
const OPERATOR_POSTS = new Set([
  "/api/v1/workflows/:id/execute",
  "/api/v1/workflows/:id/execute/batch",
  "/api/v1/executions/:executionId/cancel",
  "/api/v1/executions/:executionId/signals/:name",
  "/api/v1/executions/:executionId/pause",
  "/api/v1/executions/:executionId/resume",
  "/api/v1/executions/:executionId/retry",
  "/api/v1/executions/:executionId/rerun",
  "/api/v1/executions/:executionId/migrate",
  "/api/v1/schedules/:scheduleId/trigger",
]);

/** Reads only an admin may make: tokens and the audit log. */
const ADMIN_READS = new Set(["/api/v1/tokens", "/api/v1/audit"]);

/**
 * The role a request needs, by its method and the route pattern it matched; `null` when it needs none.
 * Reads need `viewer` (but tokens and the audit log `admin`); running and steering executions and triggering
 * a schedule `operator`; any other change (a schedule's add, patch, delete, pause, resume, stop) `admin`.
 * `/metrics` needs `viewer` unless `metricsPublic`.
 */
export function roleNeeded(method: string, pattern: string, metricsPublic: boolean): ApiRole | null {
  if (OPEN.has(pattern)) return null;
  if (pattern === "/metrics") return metricsPublic ? null : "viewer";
  if (ADMIN_READS.has(pattern)) return "admin";
  if (method === "GET" || method === "HEAD") return "viewer";
  if (method === "POST" && OPERATOR_POSTS.has(pattern)) return "operator";
  return "admin";
}
