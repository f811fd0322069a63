/**
 * The token routes, mounted at `/api/v1/tokens` (admin only): make a token (`POST`, the only answer that
 * shows it), list them (never the token), revoke one (`DELETE /{id}`). Tokens are kept as SHA-256 digests;
 * at most 1,000 are live at once.
 *
 * @module
 */
import type { StoredApiToken } from "../../../storage/access_records.ts";
import type { ApiTokenStore } from "../../../storage/roles.ts";
import { API_ROLES, type ApiRole, type Caller } from "../auth.ts";
import { readJson } from "../body.ts";
import { ApiError, json } from "../errors.ts";
import { Router } from "../router.ts";
import type { SpecContext } from "../route_spec.ts";
import { createTokenSpec, listTokensSpec, MAX_TOKEN_NAME, revokeTokenSpec } from "../specs/system.ts";
import { digestHex, newStoredToken, newStoredTokenId } from "../stored_tokens.ts";

export { MAX_TOKEN_NAME } from "../specs/system.ts";

/** The most live tokens made through the API. */
export const MAX_LIVE_TOKENS = 1_000;
/** The longest `expiresIn`: ten years, ms. */
export const MAX_EXPIRES_IN_MS = 3_650 * 86_400_000;

/** What the token routes use. */
export interface TokenRoutesDeps {
  store: ApiTokenStore;
  /** The caller of a request (undefined on a node without auth). */
  callerOf(req: Request): Caller | undefined;
  /** Forgets a revoked token's cached lookups on this member. */
  forget?(id: string): void;
  /** Wall-clock time, epoch ms. */
  now(): number;
}

/** The token sub-app (paths under `/api/v1/tokens`). */
export function tokenRoutes(deps: TokenRoutesDeps): Router {
  return new Router()
    .post("/", (ctx) => createToken(deps, ctx), createTokenSpec)
    .get(
      "/",
      async () => json({ tokens: (await deps.store.listApiTokens(2 * MAX_LIVE_TOKENS)).map(listed) }),
      listTokensSpec,
    )
    .delete("/:id", async ({ params }) => {
      const revoked = await deps.store.revokeApiToken(params.id, deps.now());
      if (revoked === undefined) throw new ApiError(404, "token_not_found", `no token ${params.id}`);
      deps.forget?.(params.id);
      return new Response(null, { status: 204 });
    }, revokeTokenSpec);
}

/** A token as listed. */
function listed(t: StoredApiToken) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdAt: t.createdAt,
    createdBy: t.createdBy,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
  };
}

/** `POST /api/v1/tokens`: 201 with the new token (shown this once). */
async function createToken(
  deps: TokenRoutesDeps,
  ctx: SpecContext<typeof createTokenSpec>,
): Promise<Response> {
  const { req } = ctx;
  const body = ctx.body(await readJson(req), tokenBody);
  const now = deps.now();
  const token = newStoredToken();
  const r = await deps.store.createApiToken(
    {
      id: newStoredTokenId(),
      digest: digestHex(token),
      name: body.name,
      role: body.role,
      createdAt: now,
      createdBy: deps.callerOf(req)?.tokenId ?? null,
      expiresAt: body.expiresInMs === undefined ? null : now + body.expiresInMs,
    },
    MAX_LIVE_TOKENS,
    now,
  );
  if (!r.ok) {
    throw new ApiError(409, "too_many_tokens", `${r.live} tokens are live; revoke one first`, [
      { path: "$", message: `at most ${MAX_LIVE_TOKENS} live tokens` },
    ]);
  }
  const t = r.token;
  return json(
    { id: t.id, name: t.name, role: t.role, token, createdAt: t.createdAt, expiresAt: t.expiresAt },
    201,
    { location: `/api/v1/tokens/${t.id}`, "cache-control": "no-store" },
  );
}

/** The body of a create, `{role, name, expiresIn?}`, checked (400 `validation_failed` with its path). */
function tokenBody(body: unknown): { role: ApiRole; name: string; expiresInMs: number | undefined } {
  const fault = (path: string, message: string) =>
    new ApiError(400, "validation_failed", `the token request is not valid: ${message}`, [{ path, message }]);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw fault("$", "expected an object {role, name, expiresIn?}");
  }
  const { role, name, expiresIn, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw fault(`$.${unknown.slice(0, 100)}`, "unknown field");
  if (typeof role !== "string" || !(API_ROLES as readonly string[]).includes(role)) {
    throw fault("$.role", `role must be one of ${API_ROLES.join(", ")}`);
  }
  if (typeof name !== "string" || name.trim() === "" || [...name].length > MAX_TOKEN_NAME) {
    throw fault("$.name", `name must be a string of 1 to ${MAX_TOKEN_NAME} characters`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name) || !name.isWellFormed()) {
    throw fault("$.name", "name must not contain control characters or lone surrogates");
  }
  return {
    role: role as ApiRole,
    name,
    expiresInMs: expiresIn === undefined ? undefined : duration(expiresIn),
  };
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `expiresIn`: a whole number and a unit (`90s`, `15m`, `12h`, `30d`), at least 1 s, at most 3,650 days. */
function duration(value: unknown): number {
  const m = typeof value === "string" ? /^(\d{1,7})([smhd])$/.exec(value) : null;
  const ms = m === null ? NaN : Number(m[1]) * UNIT_MS[m[2]];
  if (!(ms >= 1_000 && ms <= MAX_EXPIRES_IN_MS)) {
    throw new ApiError(
      400,
      "validation_failed",
      "expiresIn must be like 30d, 12h, 15m or 90s (up to 3650d)",
      [
        {
          path: "$.expiresIn",
          message: `got ${typeof value === "string" ? JSON.stringify(value.slice(0, 100)) : typeof value}`,
        },
      ],
    );
  }
  return ms;
}
