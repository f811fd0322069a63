/**
 * The HTTP API: routes, status codes and bodies (see docs/API.md). One sub-app per
 * resource (server/http/routes/), mounted Hono-style with `Router.route`; handlers
 * are thin: they parse, call the workflow service or the engine, and map errors as
 * values to statuses. This module composes the sub-apps and says how errors become
 * responses; the router (`router.ts`) answers each request.
 *
 * @module
 */
import {
  type ApiTokenStore,
  type AuditLog,
  type ClusterEventLog,
  type ExecutionIndex,
  InvalidCursor,
  type StorageLifecycle,
  StorageUnavailable,
} from "../../storage/storage.ts";
import type { ClusterMember } from "../cluster/member.ts";
import type { Engine } from "../runtime/engine.ts";
import type { Logger } from "../runtime/logger.ts";
import type { ScheduleService } from "../runtime/schedule_service.ts";
import type { WorkflowService } from "../runtime/workflows.ts";
import { auditEventOf, type AuditRecorder } from "./audit.ts";
import { type ApiRole, Authenticator, type Caller, roleNeeded } from "./auth.ts";
import type { RateLimiter } from "./rate_limit.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { isForwarded } from "./forwarding.ts";
import { OPENAPI_PATH, openApiDocument } from "./openapi.ts";
import { openApiSpec } from "./specs/system.ts";
import { type RequestObserver, Router, UNMATCHED_ROUTE } from "./router.ts";
import type { ShardRouting } from "./routing.ts";
import { auditRoutes } from "./routes/audit.ts";
import { clusterRoutes } from "./routes/cluster.ts";
import { executionControlRoutes } from "./routes/execution_control.ts";
import { executionRoutes } from "./routes/executions.ts";
import { healthRoutes, type RuntimeHealth } from "./routes/health.ts";
import { historyRoutes } from "./routes/history.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { workflowRoutes } from "./routes/workflows.ts";
import { executionSearchRoutes } from "./routes/execution_search.ts";
import { whoamiRoutes } from "./routes/whoami.ts";
import { consoleHandler, isConsolePath } from "../console/serve.ts";

export { markForwarded } from "./forwarding.ts";
export { nodeTypes } from "./presenters.ts";
export { DEFAULT_PAGE, MAX_PAGE } from "./route_helpers.ts";
export { MAX_SIGNAL_BYTES, MAX_WAIT_MS } from "./routes/executions.ts";
export { EVENT_LOOP_SLOW_MS, type RuntimeHealth } from "./routes/health.ts";

/** Observability hooks of the API's requests. */
export type ApiObserver = RequestObserver;

export { UNMATCHED_ROUTE };

/** Who may call the API: the configured tokens (and those made through the API), and whether `/metrics` is open. */
export interface ApiAuth {
  authenticator: Authenticator;
  /** `/metrics` answers without a token (`--metrics-public`). */
  metricsPublic: boolean;
  /** Requests a second per token (none: unlimited). */
  limiter?: RateLimiter;
}

/** What the API serves from. */
export interface ApiDeps {
  /** Tokens and roles; without it (or without tokens) every caller may do everything (loopback only). */
  auth?: ApiAuth;
  engine: Engine;
  workflows: WorkflowService;
  /**
   * The schedules (the owner-side scheduler). Without it the schedule routes answer 503
   * `schedules_unavailable` and a workflow's `metadata.schedule` is checked but not scheduled.
   */
  schedules?: ScheduleService;
  /**
   * The storage roles the routes use: the execution index, the cluster event log, API tokens, the audit log,
   * the backend's kind.
   */
  storage: ExecutionIndex & ClusterEventLog & ApiTokenStore & AuditLog & StorageLifecycle;
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
  /** Records every state-changing call, storing those of known callers (none: no audit). */
  audit?: { recorder: AuditRecorder; node: string; now(): number };
}

/**
 * Every route of the API, in precedence order (first match wins), the last one `GET /api/v1/openapi.json`
 * (the document of them all, `openapi.ts`); `callers` holds each request's caller.
 */
export function apiRouter(deps: ApiDeps, callers: WeakMap<Request, Caller> = new WeakMap()): Router {
  const router = resourceRouter(deps, callers);
  let document: string | undefined;
  return router.get(OPENAPI_PATH, () => {
    document ??= JSON.stringify(openApiDocument(router.routes(), {
      auth: deps.auth?.authenticator.enabled ?? false,
      roleOf: (method, pattern) => roleNeeded(method, pattern, deps.auth?.metricsPublic ?? false),
    }));
    return new Response(document, { headers: { "content-type": "application/json; charset=utf-8" } });
  }, openApiSpec);
}

/** The routes of the API's resources, in precedence order. */
function resourceRouter(deps: ApiDeps, callers: WeakMap<Request, Caller>): Router {
  const now = deps.audit?.now ?? Date.now;
  return new Router()
    .route("/", healthRoutes(deps))
    .route("/api/v1/workflows", workflowRoutes({ ...deps, now }))
    .route("/api/v1/schedules", scheduleRoutes({ ...deps, now }))
    .route("/api/v1", executionSearchRoutes(deps))
    .route("/api/v1", executionRoutes(deps))
    .route("/api/v1", executionControlRoutes(deps))
    .route("/api/v1", clusterRoutes(deps))
    .route(
      "/api/v1/tokens",
      tokenRoutes({
        store: deps.storage,
        callerOf: (req) => callers.get(req),
        forget: (id) => deps.auth?.authenticator.stored?.forget(id),
        now,
      }),
    )
    .route("/api/v1", auditRoutes(deps))
    .route(
      "/api/v1",
      whoamiRoutes({
        authEnabled: deps.auth?.authenticator.enabled ?? false,
        callerOf: (req) => callers.get(req),
        nodeId: deps.cluster.opts.nodeId,
      }),
    )
    .route("/api/history", historyRoutes(deps));
}

/**
 * Builds the node's request handler: the web console (`/`, `/ui/…`, `server/console/`), which needs no token,
 * and the API.
 */
export function createApi(deps: ApiDeps): (req: Request) => Promise<Response> {
  const ui = consoleHandler();
  const api = createApiOnly(deps);
  return (req) => isConsolePath(req.url) ? ui(req) : api(req);
}

/** The API's request handler. */
function createApiOnly(deps: ApiDeps): (req: Request) => Promise<Response> {
  const callers = new WeakMap<Request, Caller>();
  const audit = deps.audit;
  return apiRouter(deps, callers).handler({
    onError: (req, url, err) => errorFor(deps.log, req, url, err),
    observer: deps.observer,
    isForwarded,
    authorize: deps.auth?.authenticator.enabled
      ? (req, pattern) => authorize(deps.auth!, req, pattern, callers)
      : undefined,
    answered: audit && ((req, _url, route, res) => {
      const caller = callers.get(req);
      const event = auditEventOf(req, route, res.status, caller, audit.node, audit.now());
      if (event === undefined) return;
      // Only a known caller's call is stored (on a node without auth every caller is): an unknown one could
      // flood the stored log, so its call is logged and counted only.
      if (caller === undefined && deps.auth?.authenticator.enabled) {
        audit.recorder.recordUnauthenticated(event);
      } else audit.recorder.record(event);
    }),
  });
}

/**
 * Answers 401 `unauthenticated` to a request without a known token and 403 `forbidden` to one whose role lacks
 * the route's right. Requests another member forwarded were checked by the member that received them.
 */
function authorize(
  auth: ApiAuth,
  req: Request,
  pattern: string | null,
  callers: WeakMap<Request, Caller>,
): void | Promise<void> {
  if (isForwarded(req)) return;
  const needed = pattern === null ? "viewer" : roleNeeded(req.method, pattern, auth.metricsPublic);
  if (needed === null) return;
  const header = req.headers.get("authorization");
  // A configured token is checked at once; only another one waits on storage (behind its cache).
  const configured = auth.authenticator.identify(header);
  if (configured !== undefined) return admit(auth, req, needed, configured, callers);
  return auth.authenticator.authenticate(header).then((caller) => admit(auth, req, needed, caller, callers));
}

/** Lets a caller through to a route needing `needed`, or throws its 401, 429 or 403. */
function admit(
  auth: ApiAuth,
  req: Request,
  needed: ApiRole,
  caller: Caller | undefined,
  callers: WeakMap<Request, Caller>,
): void {
  if (caller === undefined) {
    throw new ApiError(
      401,
      "unauthenticated",
      "a known API token is required: Authorization: Bearer <token>",
      [
        {
          path: "headers.Authorization",
          message: req.headers.has("authorization") ? "unknown token" : "missing",
        },
      ],
      { "www-authenticate": 'Bearer realm="flowmesh"' },
    );
  }
  callers.set(req, caller);
  const waitS = auth.limiter?.take(caller.tokenId) ?? 0;
  if (waitS > 0) {
    throw new ApiError(429, "rate_limited", `token ${caller.tokenId} is over its request rate; retry later`, [
      { path: "headers.Authorization", message: `${auth.limiter!.perSecond} requests a second per token` },
    ], { "retry-after": String(Math.max(1, Math.ceil(waitS))) });
  }
  if (!Authenticator.allows(caller.role, needed)) {
    throw new ApiError(403, "forbidden", `this needs the ${needed} role; the token has ${caller.role}`, [
      { path: "headers.Authorization", message: `token ${caller.tokenId} is ${caller.role}` },
    ]);
  }
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
