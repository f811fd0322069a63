/**
 * `GET /api/v1/whoami`: who the caller is to this node — whether the node checks tokens, the caller's role and
 * token id (never the token) — and the node's id. The web console reads it after sign-in to show only what the
 * role may do. Mounted at `/api/v1`; like every read it needs a `viewer` token on a node with tokens.
 *
 * @module
 */
import type { Caller } from "../auth.ts";
import { json } from "../errors.ts";
import { Router } from "../router.ts";
import { whoamiSpec } from "../specs/system.ts";

/** What the route reads. */
export interface WhoamiDeps {
  /** Whether the node checks tokens (without any, every caller may do everything). */
  authEnabled: boolean;
  /** The caller a request was admitted as (none on a node without tokens). */
  callerOf(req: Request): Caller | undefined;
  /** This node's id. */
  nodeId: string;
}

/** The sub-app (paths under `/api/v1`): `GET /whoami`. */
export function whoamiRoutes(deps: WhoamiDeps): Router {
  return new Router().get("/whoami", ({ req }) => {
    const caller = deps.authEnabled ? deps.callerOf(req) : undefined;
    return json({
      authEnabled: deps.authEnabled,
      role: caller?.role ?? (deps.authEnabled ? null : "admin"),
      tokenId: caller?.tokenId ?? null,
      node: deps.nodeId,
    });
  }, whoamiSpec);
}
