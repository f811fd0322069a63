/**
 * The HTTP API: routes, status codes and bodies (see docs/API.md). One sub-app per
 * resource (server/http/routes/), mounted Hono-style with `Router.route`; handlers
 * are thin: they parse, call the workflow service or the engine, and map errors as
 * values to statuses. This module composes the sub-apps and wraps them with the
 * error responses and the request observer.
 *
 * @module
 */
import { InvalidCursor, type Storage, StorageUnavailable } from "../../storage/storage.ts";
import type { ClusterMember } from "../cluster/member.ts";
import type { Engine } from "../runtime/engine.ts";
import type { Logger } from "../runtime/logger.ts";
import type { WorkflowService } from "../runtime/workflows.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { isForwarded } from "./forwarding.ts";
import { Router } from "./router.ts";
import type { ShardRouting } from "./routing.ts";
import { clusterRoutes } from "./routes/cluster.ts";
import { executionRoutes } from "./routes/executions.ts";
import { healthRoutes, type RuntimeHealth } from "./routes/health.ts";
import { historyRoutes } from "./routes/history.ts";
import { workflowRoutes } from "./routes/workflows.ts";

export { markForwarded } from "./forwarding.ts";
export { nodeTypes } from "./presenters.ts";
export { DEFAULT_PAGE, MAX_PAGE } from "./route_helpers.ts";
export { MAX_SIGNAL_BYTES, MAX_WAIT_MS } from "./routes/executions.ts";
export { EVENT_LOOP_SLOW_MS, type RuntimeHealth } from "./routes/health.ts";

/**
 * Observability hooks of the API (server/ops/metrics.ts and server/ops/tracing.ts implement them). All optional;
 * called on every request, so each must be cheap and must not throw.
 */
export interface ApiObserver {
  /**
   * A request was answered. `route` is the pattern it matched (`/api/v1/executions/:executionId`), or
   * `unmatched` for a 404/405: never the raw path. Not called for requests another member forwarded here
   * (the member that received them counts them).
   */
  requestEnded?(method: string, route: string, status: number, ms: number): void;
  /**
   * Runs `respond`, the handling of a request another member forwarded here, inside the trace context the
   * request carries (its `traceparent`); `route()` names the pattern it matched once `respond` ran.
   */
  forwarded?(req: Request, route: () => string, respond: () => Promise<Response>): Promise<Response>;
}

/** The pattern of the requests no route matched, as metrics label it. */
export const UNMATCHED_ROUTE = "unmatched";

/** What the API serves from. */
export interface ApiDeps {
  engine: Engine;
  workflows: WorkflowService;
  storage: Storage;
  log: Logger;
  /** Is storage reachable right now (for /health/ready)? */
  storageHealthy?: () => Promise<boolean>;
  cluster: ClusterMember;
  routing: ShardRouting;
  /** Request metrics and traces (none by default). */
  observer?: ApiObserver;
  /** The Prometheus exposition `GET /metrics` serves; without it there is no /metrics route. */
  metrics?: () => Promise<{ contentType: string; text: string }>;
  /** Event-loop lag for `/health` (without it: `null`). */
  runtime?: () => RuntimeHealth;
}

/** Every route of the API, in precedence order (first match wins). */
function apiRouter(deps: ApiDeps): Router {
  return new Router()
    .route("/", healthRoutes(deps))
    .route("/api/v1/workflows", workflowRoutes(deps))
    .route("/api/v1", executionRoutes(deps))
    .route("/api/v1", clusterRoutes(deps))
    .route("/api/history", historyRoutes(deps));
}

/** Builds the API's request handler. */
export function createApi(deps: ApiDeps): (req: Request) => Promise<Response> {
  const router = apiRouter(deps);

  /** Answers one request; `seen.route` is set to the pattern matched. */
  const respond = async (req: Request, url: URL, seen: { route: string }): Promise<Response> => {
    try {
      const { handler, params, pattern } = router.match(req.method, url);
      seen.route = pattern;
      return await handler({ req, url, params });
    } catch (err) {
      return errorFor(deps.log, req, url, err);
    }
  };

  const observer = deps.observer;
  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const seen = { route: UNMATCHED_ROUTE };
    if (!observer) return await respond(req, url, seen);
    if (isForwarded(req)) {
      return observer.forwarded
        ? await observer.forwarded(req, () => seen.route, () => respond(req, url, seen))
        : await respond(req, url, seen);
    }
    const t0 = performance.now();
    const res = await respond(req, url, seen);
    observer.requestEnded?.(req.method, seen.route, res.status, performance.now() - t0);
    return res;
  };
}

/** The error response of what a handler threw: its ApiError, a 400 bad cursor, a 503, or a logged 500. */
function errorFor(log: Logger, req: Request, url: URL, err: unknown): Response {
  if (err instanceof ApiError) return errorResponse(err);
  if (err instanceof InvalidCursor) {
    return errorResponse(
      new ApiError(400, "invalid_parameter", err.message, [{ path: "?cursor", message: err.message }]),
    );
  }
  if (err instanceof StorageUnavailable) {
    return errorResponse(
      new ApiError(503, "storage_unavailable", err.message, [], { "retry-after": "1" }),
    );
  }
  log.error("request failed", {
    method: req.method,
    path: url.pathname,
    error: String(err),
    stack: (err as Error)?.stack,
  });
  return errorResponse(new ApiError(500, "internal", "internal error; see the server log"));
}
