/**
 * Steering an execution, mounted at `/api/v1`: `POST /executions/:executionId/pause`, `/resume`, `/retry`,
 * `/rerun` and `/migrate`. Each runs on the owner of the execution's shard (forwarded there from any other
 * member, like cancel and signals) and answers 200 with the execution's view. Bodies are checked before
 * anything runs: a key the route does not know is a 400 at its path, never ignored.
 *
 * @module
 */
import { shardOf } from "../../../core/ids.ts";
import type { Json } from "../../../core/json.ts";
import type { ExecutionView } from "../../../core/view.ts";
import type { Engine, Result } from "../../runtime/engine.ts";
import { parseJson, readBody } from "../body.ts";
import { ApiError, type ErrorDetail, json } from "../errors.ts";
import { isForwarded } from "../forwarding.ts";
import { engineError } from "../route_helpers.ts";
import { Router } from "../router.ts";
import type { RouteSpec, SpecContext } from "../route_spec.ts";
import { forwardedRequest, type ShardRouting } from "../routing.ts";
import { MAX_VERSION } from "../versions.ts";
import {
  MAX_NODE_ID_CHARS,
  MAX_REASON_CHARS,
  migrateSpec,
  pauseSpec,
  rerunSpec,
  resumeSpec,
  retrySpec,
} from "../specs/steering.ts";

export { MAX_REASON_CHARS } from "../specs/steering.ts";
/** At most this many unknown keys are named in one error. */
const MAX_UNKNOWN_DETAILS = 20;

/** What the steering routes use. */
export interface ExecutionControlDeps {
  engine: Engine;
  routing: ShardRouting;
}

/** A checked body: what the engine is asked to do with it. */
type Steer = (engine: Engine, executionId: string) => Promise<Result<ExecutionView>>;

/**
 * The steering sub-app (paths under `/api/v1`).
 *
 * @example
 * ```ts
 * import { executionControlRoutes } from "./execution_control.ts";
 * import { type ApiError, errorResponse } from "../errors.ts";
 * import type { Engine } from "../../runtime/engine.ts";
 * import type { ShardRouting } from "../routing.ts";
 * const routes = executionControlRoutes({ engine: {} as Engine, routing: {} as ShardRouting });
 * const answer = routes.handler({ onError: (_req, _url, err) => errorResponse(err as ApiError) });
 * // A rerun needs `fromNode`: refused before the engine is asked.
 * const r = await answer(new Request("http://x/executions/e1/rerun", { method: "POST", body: "{}" }));
 * if (r.status !== 400 || (await r.json()).error.details[0].path !== "$.fromNode") throw new Error("checked");
 * ```
 */
export function executionControlRoutes(deps: ExecutionControlDeps): Router {
  return new Router()
    .post("/executions/:executionId/pause", (ctx) => steer(deps, ctx, pauseBody), pauseSpec)
    .post(
      "/executions/:executionId/resume",
      (ctx) => steer(deps, ctx, emptyBody("resume", (e, id) => e.resume(id))),
      resumeSpec,
    )
    .post(
      "/executions/:executionId/retry",
      (ctx) => steer(deps, ctx, emptyBody("retry", (e, id) => e.retry(id))),
      retrySpec,
    )
    .post("/executions/:executionId/rerun", (ctx) => steer(deps, ctx, rerunBody), rerunSpec)
    .post("/executions/:executionId/migrate", (ctx) => steer(deps, ctx, migrateBody), migrateSpec);
}

/**
 * Checks the body (the spec's schema, and `check`, which throws its 400), then steers on the owner of the
 * execution's shard.
 */
async function steer(
  { engine, routing }: ExecutionControlDeps,
  { req, url, params, body }: SpecContext<RouteSpec & { params: typeof pauseSpec.params }>,
  check: (body: Record<string, unknown>) => Steer,
): Promise<Response> {
  const text = await readBody(req);
  const run = body(parseJson(text, {}), (raw) => check(objectBody(raw)));
  return await routing.route(
    shardOf(params.executionId, engine.shardCount),
    forwardedRequest(req, url, text),
    isForwarded(req),
    async () => {
      const r = await run(engine, params.executionId);
      if (!r.ok) throw engineError(r.error);
      return json(r.value);
    },
  );
}

function invalid(message: string, details: ErrorDetail[]): ApiError {
  return new ApiError(400, "validation_failed", message, details);
}

/** A JSON path to a key of the body: `$.name`, or `$["odd key"]`. */
function keyPath(key: string): string {
  const shown = key.length > 100 ? key.slice(0, 100) : key;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(shown) ? `$.${shown}` : `$[${JSON.stringify(shown)}]`;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalid("the body must be a JSON object", [{ path: "$", message: "expected an object" }]);
  }
  return body as Record<string, unknown>;
}

/** 400 for every key of `body` not in `keys` (`shape` says what the body may hold). */
function onlyKeys(body: Record<string, unknown>, keys: readonly string[], shape: string): void {
  const unknown = Object.keys(body).filter((k) => !keys.includes(k));
  if (unknown.length === 0) return;
  throw invalid(
    `the body has ${unknown.length} unknown field(s); this body is ${shape}`,
    unknown.slice(0, MAX_UNKNOWN_DETAILS).map((k) => ({
      path: keyPath(k),
      code: "unknown_field",
      message: "unknown field",
    })),
  );
}

/** `{"reason"?: string}`. */
function pauseBody(body: Record<string, unknown>): Steer {
  onlyKeys(body, ["reason"], `{"reason"?: string}`);
  const { reason = "paused by request" } = body;
  if (typeof reason !== "string" || reason.length > MAX_REASON_CHARS) {
    throw invalid(`reason must be a string of at most ${MAX_REASON_CHARS} characters`, [
      {
        path: "$.reason",
        message: typeof reason === "string" ? `${reason.length} characters` : "not a string",
      },
    ]);
  }
  return (engine, id) => engine.pause(id, reason);
}

/** A body with nothing in it (`{}` or none). */
function emptyBody(name: string, run: Steer): (body: Record<string, unknown>) => Steer {
  return (body) => {
    onlyKeys(body, [], `empty: ${name} takes no fields`);
    return run;
  };
}

/** `{"fromNode": string, "input"?: any}`. */
function rerunBody(body: Record<string, unknown>): Steer {
  onlyKeys(body, ["fromNode", "input"], `{"fromNode": string, "input"?: any}`);
  const { fromNode, input } = body as { fromNode?: unknown; input?: Json };
  if (typeof fromNode !== "string" || fromNode.length === 0 || fromNode.length > MAX_NODE_ID_CHARS) {
    throw invalid(`fromNode must be the id of a node (a string of 1 to ${MAX_NODE_ID_CHARS} characters)`, [
      { path: "$.fromNode", message: fromNode === undefined ? "required" : `got ${describe(fromNode)}` },
    ]);
  }
  return (engine, id) => engine.rerun(id, fromNode, input);
}

/** `{"version": n}`. */
function migrateBody(body: Record<string, unknown>): Steer {
  onlyKeys(body, ["version"], `{"version": integer}`);
  const { version } = body;
  if (!Number.isInteger(version) || (version as number) < 1 || (version as number) > MAX_VERSION) {
    throw invalid(`version must be an integer from 1 to ${MAX_VERSION}`, [
      { path: "$.version", message: version === undefined ? "required" : `got ${describe(version)}` },
    ]);
  }
  return (engine, id) => engine.migrate(id, version as number);
}

function describe(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).slice(0, 100);
}
