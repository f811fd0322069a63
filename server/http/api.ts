/**
 * The HTTP API: routes, status codes and bodies (see docs/API.md). Handlers are
 * thin: they parse, call the workflow service or the engine, and map errors as
 * values to statuses.
 *
 * @module
 */
import { CATALOG } from "../../core/catalog.ts";
import { hash128, shardOf } from "../../core/ids.ts";
import { canonicalJson, type Json } from "../../core/json.ts";
import type { ExecutionStatus } from "../../core/state.ts";
import type { ExecutionView } from "../../core/view.ts";
import { MAX_TIMEOUT_MS } from "../../core/validate.ts";
import { NODE_CATEGORIES } from "../../core/workflow.ts";
import {
  InvalidCursor,
  type Storage,
  StorageUnavailable,
  type StoredExecution,
  type StoredWorkflow,
} from "../../storage/storage.ts";
import type { Engine, EngineError } from "../runtime/engine.ts";
import { parseJson, readBody, readJson } from "./body.ts";
import { ApiError, errorResponse, json } from "./errors.ts";
import { type RouteContext, Router } from "./router.ts";
import type { Logger } from "../runtime/logger.ts";
import type { WorkflowService } from "../runtime/workflows.ts";
import type { ClusterMember } from "../cluster/member.ts";
import { EXECUTION_ID_HEADER, FORWARDED_HEADER, forwardedRequest, type ShardRouting } from "./routing.ts";

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

/** Measures of the process for `/health`. */
export interface RuntimeHealth {
  /** The event loop's latest lag (a periodic timer's drift), in ms; `null` before the first measure. */
  eventLoopLagMs: number | null;
}

/** The pattern of the requests no route matched, as metrics label it. */
export const UNMATCHED_ROUTE = "unmatched";

/** Above this event-loop lag, `/health` says `degraded` (still 200: the node works, slowly). */
export const EVENT_LOOP_SLOW_MS = 1_000;

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

/** Requests that arrived over the cluster transport (trusted with cluster headers). */
const forwardedRequests = new WeakSet<Request>();

/** Marks a request as forwarded by another member (only the cluster transport's responder does). */
export function markForwarded(req: Request): Request {
  forwardedRequests.add(req);
  return req;
}

function isForwarded(req: Request): boolean {
  return forwardedRequests.has(req) && req.headers.get(FORWARDED_HEADER) !== null;
}

/** The longest `?wait=` honoured, in ms. */
export const MAX_WAIT_MS = 300_000;
/** Page sizes. */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;
/** The largest signal payload, as JSON bytes. */
export const MAX_SIGNAL_BYTES = 64 * 1024;

const EXECUTION_STATUSES = new Set(["running", "completed", "failed", "cancelled", "timed_out"]);

const ENGINE_STATUS: Record<EngineError["code"], number> = {
  already_started: 409,
  not_started: 409,
  execution_terminal: 409,
  unknown_node: 404,
  signal_unknown: 404,
  execution_not_found: 404,
  node_not_found: 404,
  idempotency_mismatch: 422,
  overloaded: 503,
  not_owner: 503,
  conflict: 409,
  execution_exists: 409,
  workflow_changed: 409,
};

function engineError(error: EngineError): ApiError {
  const status = ENGINE_STATUS[error.code];
  if (error.code === "idempotency_mismatch") {
    return new ApiError(status, error.code, error.message, [
      { path: "headers.Idempotency-Key", message: `the key belongs to execution ${error.executionId}` },
    ]);
  }
  return new ApiError(status, error.code, error.message, [], status === 503 ? { "retry-after": "1" } : {});
}

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ApiError(400, "invalid_parameter", `${name} must be an integer from ${min} to ${max}`, [
      { path: `?${name}`, message: `got ${JSON.stringify(raw)}` },
    ]);
  }
  return n;
}

function nextCursorHeaders(url: URL, next: string | null): Record<string, string> {
  if (next === null) return {};
  const link = new URL(url);
  link.searchParams.set("cursor", next);
  return { "x-next-cursor": next, link: `<${link.pathname}${link.search}>; rel="next"` };
}

function workflowSummary(w: StoredWorkflow) {
  const d = w.definition;
  return {
    id: w.id,
    name: d.name,
    description: d.description ?? "",
    version: w.version,
    tags: d.tags ?? [],
    nodeCount: d.nodes.length,
    edgeCount: d.edges.length,
    createdAt: w.createdAt,
  };
}

function executionRow(e: StoredExecution) {
  return {
    executionId: e.executionId,
    workflowId: e.workflowId,
    version: e.version,
    status: e.status,
    startTime: e.startTime,
    endTime: e.endTime,
    duration: e.endTime === null ? null : e.endTime - e.startTime,
    logsCount: e.lastSeq,
  };
}

function historyExecution(view: ExecutionView, workflowName: string) {
  return {
    executionId: view.executionId,
    workflowName,
    startTime: view.startTime,
    endTime: view.endTime,
    status: view.status,
    duration: view.duration,
    error: view.error,
    nodes: view.nodes.map((n) => ({
      nodeId: n.nodeId,
      nodeType: n.nodeType,
      startTime: n.startTime,
      endTime: n.endTime,
      duration: n.duration,
      status: n.status,
      recordsProcessed: n.recordsProcessed,
      error: n.error?.message ?? null,
    })),
  };
}

/** The node palette: per category, every node kind with its config schema. */
export function nodeTypes() {
  const out: Record<string, unknown[]> = {};
  for (const category of NODE_CATEGORIES) out[category] = [];
  for (const k of CATALOG) {
    out[k.type].push({
      type: k.nodeType,
      category: k.type,
      displayName: k.displayName,
      icon: k.icon,
      description: k.description,
      acceptsInput: k.acceptsInput,
      outputs: k.outputs,
      config: k.config,
    });
  }
  return out;
}

/** Builds the API's request handler. */
export function createApi(deps: ApiDeps): (req: Request) => Promise<Response> {
  const { engine, workflows, storage, routing } = deps;
  const router = new Router();

  const workflowOr404 = async (id: string): Promise<StoredWorkflow> => {
    const w = await workflows.get(id);
    if (!w) throw new ApiError(404, "workflow_not_found", `no workflow ${id}`);
    return w;
  };
  const viewOr404 = async (executionId: string): Promise<ExecutionView> => {
    const v = await engine.view(executionId);
    if (!v) throw new ApiError(404, "execution_not_found", `no execution ${executionId}`);
    return v;
  };
  const workflowStatus = async (workflowId: string) => {
    await workflowOr404(workflowId);
    const [count, running, recent] = await Promise.all([
      storage.countExecutions(workflowId),
      storage.listExecutions({ workflowId, status: "running", limit: 1 }),
      storage.listExecutions({ workflowId, limit: 20 }),
    ]);
    const last = recent.items.find((e) => e.status !== "running") ?? null;
    const current = running.items[0] ?? null;
    return {
      workflowId,
      state: current ? "running" : last ? last.status : "idle",
      executionCount: count,
      currentExecution: current && executionRow(current),
      lastExecution: last && executionRow(last),
    };
  };

  // ---- health
  router.on("GET", "/health", async () => {
    const t0 = performance.now();
    const storageUp = deps.storageHealthy ? await deps.storageHealthy() : true;
    const storageMs = performance.now() - t0;
    const engineUp = engine.ready;
    const clusterUp = deps.cluster.ready;
    const lagMs = deps.runtime?.().eventLoopLagMs ?? null;
    const slow = lagMs !== null && lagMs > EVENT_LOOP_SLOW_MS;
    const healthy = storageUp && engineUp && clusterUp;
    const members: Record<string, number> = {};
    for (const m of deps.cluster.snapshot.members) members[m.status] = (members[m.status] ?? 0) + 1;
    const memory = Deno.memoryUsage();
    return json({
      status: !healthy ? "unhealthy" : slow ? "degraded" : "ok",
      storage: storage.kind,
      ready: healthy,
      node: deps.cluster.opts.nodeId,
      checks: {
        storage: { status: storageUp ? "up" : "down", kind: storage.kind, pingMs: round(storageMs) },
        engine: {
          status: engineUp ? "up" : "down",
          shards: engine.ownedShards.size,
          liveExecutions: engine.activeExecutions,
          pendingTimers: engine.pendingTimers,
        },
        cluster: {
          status: clusterUp ? "up" : "down",
          cutOff: deps.cluster.cutOff,
          leader: deps.cluster.snapshot.leader,
          members,
        },
        eventLoop: { status: slow ? "slow" : "ok", lagMs: lagMs === null ? null : round(lagMs) },
      },
      memory: {
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        externalBytes: memory.external,
      },
    }, healthy ? 200 : 503);
  });
  router.on("GET", "/health/live", () => json({ status: "ok" }));
  router.on("GET", "/health/ready", async () => {
    const storageUp = deps.storageHealthy ? await deps.storageHealthy() : true;
    const ready = engine.ready && deps.cluster.ready && storageUp;
    return json(
      {
        status: ready ? "ready" : "not_ready",
        engine: engine.ready,
        cluster: deps.cluster.ready,
        storage: storageUp,
        shards: engine.ownedShards.size,
      },
      ready ? 200 : 503,
    );
  });

  // ---- workflows
  router.on("GET", "/api/v1/workflows/node-types", () => json(nodeTypes()));
  router.on("POST", "/api/v1/workflows", async ({ req }) => {
    const r = await workflows.create(await readJson(req));
    if (!r.ok) {
      if (r.code === "validation_failed") {
        throw new ApiError(400, r.code, `the workflow has ${r.problems.length} problem(s)`, r.problems);
      }
      if (r.code === "workflow_exists") {
        throw new ApiError(
          409,
          r.code,
          `workflow ${r.current.id} exists with a different definition; PUT a new version`,
        );
      }
      throw new ApiError(409, r.code, "the workflow changed concurrently; retry");
    }
    const w = r.workflow;
    const schedule = w.definition.metadata?.schedule;
    return json(
      {
        message: r.status === "created" ? "workflow created" : "workflow unchanged",
        workflowId: w.id,
        version: w.version,
        scheduleStatus: schedule?.enabled ? "stored (the scheduler is not part of this release)" : "none",
      },
      r.status === "created" ? 201 : 200,
      { location: `/api/v1/workflows/${encodeURIComponent(w.id)}` },
    );
  });
  router.on("GET", "/api/v1/workflows", async ({ url }) => {
    const limit = intParam(url, "limit", DEFAULT_PAGE, 1, MAX_PAGE);
    const page = await workflows.list(limit, url.searchParams.get("cursor"));
    return json(page.items.map(workflowSummary), 200, nextCursorHeaders(url, page.next));
  });
  router.on("GET", "/api/v1/workflows/:id", async ({ params, url }) => {
    const version = url.searchParams.has("version") ? intParam(url, "version", 1, 1, 2 ** 31) : undefined;
    const w = await workflows.get(params.id, version);
    if (!w) throw new ApiError(404, "workflow_not_found", `no workflow ${params.id}`);
    return json(w.definition, 200, { "x-workflow-version": String(w.version) });
  });
  router.on("PUT", "/api/v1/workflows/:id", async ({ req, params }) => {
    const r = await workflows.update(params.id, await readJson(req));
    if (!r.ok) {
      if (r.code === "validation_failed") {
        throw new ApiError(400, r.code, `the workflow has ${r.problems.length} problem(s)`, r.problems);
      }
      if (r.code === "workflow_not_found") throw new ApiError(404, r.code, `no workflow ${params.id}`);
      if (r.code === "id_mismatch") {
        throw new ApiError(400, r.code, r.message, [{ path: "$.id", message: r.message }]);
      }
      throw new ApiError(409, r.code, "the workflow changed concurrently; retry");
    }
    return json({
      message: r.status === "updated" ? "workflow updated" : "workflow unchanged",
      workflowId: r.workflow.id,
      version: r.workflow.version,
    });
  });
  router.on("DELETE", "/api/v1/workflows/:id", async ({ params }) => {
    if (!(await workflows.delete(params.id))) {
      throw new ApiError(404, "workflow_not_found", `no workflow ${params.id}`);
    }
    return json({ message: "workflow deleted", workflowId: params.id });
  });

  // ---- executions
  router.on("POST", "/api/v1/workflows/:id/execute", async ({ req, url, params }) => {
    const wait = intParam(url, "wait", 0, 0, MAX_WAIT_MS);
    const text = await readBody(req);
    const key = req.headers.get("idempotency-key") ?? undefined;
    if (key !== undefined && (key.length === 0 || key.length > 255)) {
      throw new ApiError(400, "invalid_header", "Idempotency-Key must be 1 to 255 characters", [
        { path: "headers.Idempotency-Key", message: `length ${key.length}` },
      ]);
    }
    const forwarded = isForwarded(req);
    const executionId = (forwarded ? req.headers.get(EXECUTION_ID_HEADER) : null) ??
      engine.newExecutionId(params.id, key);
    const request = forwardedRequest(req, url, text, { [EXECUTION_ID_HEADER]: executionId });
    return await routing.route(
      shardOf(executionId, engine.shardCount),
      request,
      forwarded,
      () => executeHere(params.id, executionId, key, wait, parseJson(text, {})),
    );
  });
  const executeHere = async (
    workflowId: string,
    executionId: string,
    key: string | undefined,
    wait: number,
    body: unknown,
  ): Promise<Response> => {
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new ApiError(400, "validation_failed", "the body must be an object {input?, timeoutMs?}", [
        { path: "$", message: "expected an object" },
      ]);
    }
    const { input = null, timeoutMs } = body as { input?: Json; timeoutMs?: unknown };
    if (
      timeoutMs !== undefined &&
      (!Number.isInteger(timeoutMs) || (timeoutMs as number) <= 0 || (timeoutMs as number) > MAX_TIMEOUT_MS)
    ) {
      throw new ApiError(
        400,
        "validation_failed",
        `timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}`,
        [
          { path: "$.timeoutMs", message: `got ${JSON.stringify(timeoutMs)}` },
        ],
      );
    }
    // The latest version, usually from memory: the creating append checks it is still the latest, and a
    // `workflow_changed` refusal (another node updated or deleted it) reads it again.
    const requestHash = key === undefined ? undefined : hash128(canonicalJson({ input, timeoutMs }));
    let workflow: StoredWorkflow;
    let r: Awaited<ReturnType<typeof engine.submit>>;
    for (let tries = 1;; tries++) {
      const latest = await workflows.latestForExecute(workflowId);
      if (!latest) throw new ApiError(404, "workflow_not_found", `no workflow ${workflowId}`);
      workflow = latest;
      r = await engine.submit(workflow, {
        executionId,
        input,
        idempotencyKey: key,
        requestHash,
        timeoutMs: timeoutMs as number | undefined,
        requireLatestVersion: true,
      });
      if (r.ok || r.error.code !== "workflow_changed") break;
      workflows.forgetLatest(workflowId);
      if (tries === 3) break;
    }
    if (!r.ok) throw engineError(r.error);
    const { created } = r.value;
    const headers: Record<string, string> = { location: `/api/v1/executions/${executionId}` };
    if (!created) headers["idempotent-replayed"] = "true";
    const view = wait > 0 ? await engine.wait(executionId, wait) : await engine.view(executionId);
    if (view && view.status !== "running" && wait > 0) {
      return json({ ...view, message: "execution finished" }, 200, headers);
    }
    return json(
      {
        executionId,
        workflowId: workflow.id,
        version: view?.version ?? workflow.version,
        status: view?.status ?? "running",
        message: created ? "execution started" : "execution already submitted with this Idempotency-Key",
      },
      202,
      headers,
    );
  };
  router.on(
    "GET",
    "/api/v1/workflows/:id/status",
    ({ params }) => workflowStatus(params.id).then((s) => json(s)),
  );
  router.on("GET", "/api/v1/workflows/:id/executions", async ({ params, url }) => {
    await workflowOr404(params.id);
    const status = url.searchParams.get("status") ?? undefined;
    if (status !== undefined && !EXECUTION_STATUSES.has(status)) {
      throw new ApiError(
        400,
        "invalid_parameter",
        `status must be one of ${[...EXECUTION_STATUSES].join(", ")}`,
        [
          { path: "?status", message: `got ${JSON.stringify(status)}` },
        ],
      );
    }
    const page = await storage.listExecutions({
      workflowId: params.id,
      status: status as ExecutionStatus | undefined,
      limit: intParam(url, "limit", DEFAULT_PAGE, 1, MAX_PAGE),
      cursor: url.searchParams.get("cursor"),
    });
    return json(page.items.map(executionRow), 200, nextCursorHeaders(url, page.next));
  });
  router.on("GET", "/api/v1/workflows/:id/executions/:executionId/logs", async ({ params }) => {
    await workflowOr404(params.id);
    const view = await viewOr404(params.executionId);
    if (view.workflowId !== params.id) {
      throw new ApiError(404, "execution_not_found", "no such execution here");
    }
    const events = await engine.events(params.executionId);
    return json({
      executionId: params.executionId,
      logs: events.map((e) => ({ timestamp: e.at, event: e.type, ...e })),
    });
  });
  router.on(
    "GET",
    "/api/v1/executions/:executionId",
    async ({ params }) => json(await viewOr404(params.executionId)),
  );
  router.on("GET", "/api/v1/executions/:executionId/events", async ({ params, url }) => {
    await viewOr404(params.executionId);
    const after = intParam(url, "after", 0, 0, 2 ** 31);
    return json({ executionId: params.executionId, events: await engine.events(params.executionId, after) });
  });
  router.on("GET", "/api/v1/executions/:executionId/nodes/:nodeId/output", async ({ params, url }) => {
    const offset = intParam(url, "offset", 0, 0, 2 ** 31);
    const limit = intParam(url, "limit", 1000, 1, 10_000);
    const r = await engine.output(params.executionId, params.nodeId);
    if (!r.ok) throw engineError(r.error);
    if (r.value === undefined) {
      throw new ApiError(409, "output_not_ready", `node ${params.nodeId} has not completed`);
    }
    return json({
      executionId: params.executionId,
      nodeId: params.nodeId,
      total: r.value.length,
      offset,
      limit,
      records: r.value.slice(offset, offset + limit),
    });
  });
  router.on("POST", "/api/v1/executions/:executionId/cancel", async ({ req, url, params }) => {
    const text = await readBody(req);
    return await routing.route(
      shardOf(params.executionId, engine.shardCount),
      forwardedRequest(req, url, text),
      isForwarded(req),
      () => cancelHere(params.executionId, parseJson(text, {})),
    );
  });
  const cancelHere = async (executionId: string, parsed: unknown): Promise<Response> => {
    const body = parsed as { reason?: unknown };
    const reason = typeof body?.reason === "string" ? body.reason.slice(0, 1000) : "cancelled by request";
    const r = await engine.cancel(executionId, reason);
    if (!r.ok) throw engineError(r.error);
    return json(r.value);
  };
  router.on("POST", "/api/v1/executions/:executionId/signals/:name", async ({ req, url, params }) => {
    const text = await readBody(req);
    const body = parseJson(text, {}) as { payload?: Json } | null;
    const payload = body && typeof body === "object" && "payload" in body ? body.payload ?? null : null;
    if (new TextEncoder().encode(JSON.stringify(payload)).length > MAX_SIGNAL_BYTES) {
      throw new ApiError(413, "payload_too_large", `a signal payload is at most ${MAX_SIGNAL_BYTES} bytes`);
    }
    return await routing.route(
      shardOf(params.executionId, engine.shardCount),
      forwardedRequest(req, url, text),
      isForwarded(req),
      async () => {
        const r = await engine.signal(params.executionId, params.name, payload);
        if (!r.ok) throw engineError(r.error);
        return json(r.value);
      },
    );
  });

  // ---- cluster
  router.on("GET", "/api/v1/cluster/stats", async () => {
    const snap = deps.cluster.snapshot;
    const running = await storage.countRunningByShard();
    const byOwner = new Map<string, { shards: number; executions: number }>();
    for (const s of snap.shards) {
      if (s.owner === null) continue;
      const o = byOwner.get(s.owner) ?? { shards: 0, executions: 0 };
      o.shards++;
      o.executions += running.get(s.shard) ?? 0;
      byOwner.set(s.owner, o);
    }
    const self = deps.cluster.member(deps.cluster.opts.nodeId);
    return json({
      clusterName: "flowmesh",
      nodeCount: snap.members.filter((m) => m.status !== "down").length,
      leader: snap.leader,
      selfAddress: deps.cluster.opts.address || deps.cluster.opts.httpAddress,
      selfId: deps.cluster.opts.nodeId,
      selfRoles: deps.cluster.opts.roles,
      members: snap.members.map((m) => ({
        id: m.id,
        address: m.address,
        httpAddress: m.httpAddress,
        status: m.status,
        roles: m.roles,
        lastHeartbeat: m.heartbeatAt,
        shardCount: byOwner.get(m.id)?.shards ?? 0,
        liveExecutions: byOwner.get(m.id)?.executions ?? 0,
      })),
      sharding: {
        totalShards: snap.shards.length,
        activeShards: snap.shards.filter((s) => s.owner !== null).length,
        totalEntities: [...running.values()].reduce((a, b) => a + b, 0),
        selfShards: engine.ownedShards.size,
        selfLiveExecutions: engine.activeExecutions,
        selfStatus: self?.status ?? "unknown",
      },
      at: snap.at,
    });
  });
  router.on("GET", "/api/v1/cluster/shards", async () => {
    const snap = deps.cluster.snapshot;
    const running = await storage.countRunningByShard();
    return json({
      entityType: "execution",
      totalShards: snap.shards.length,
      activeShards: snap.shards.filter((s) => s.owner !== null).length,
      shards: snap.shards.map((s) => ({
        shardId: s.shard,
        location: s.owner,
        epoch: s.epoch,
        entityCount: running.get(s.shard) ?? 0,
      })),
    });
  });
  const location = (executionId: string) => {
    const shard = shardOf(executionId, engine.shardCount);
    const a = deps.cluster.snapshot.shards[shard];
    const owner = a?.owner ?? null;
    const member = owner === null ? undefined : deps.cluster.member(owner);
    return {
      executionId,
      shardId: shard,
      owner,
      nodeAddress: member?.httpAddress ?? null,
      epoch: a?.epoch ?? 0,
    };
  };
  router.on("GET", "/api/v1/cluster/executions/:executionId/location", async ({ params }) => {
    await viewOr404(params.executionId);
    return json(location(params.executionId));
  });
  router.on("GET", "/api/v1/cluster/workflow/:id/location", async ({ params }) => {
    await workflowOr404(params.id);
    const latest = await storage.listExecutions({ workflowId: params.id, limit: 1 });
    if (latest.items.length === 0) {
      throw new ApiError(404, "execution_not_found", "this workflow has no executions");
    }
    return json({ workflowId: params.id, ...location(latest.items[0].executionId) });
  });
  router.on("GET", "/api/v1/events", async ({ url }) => {
    const limit = intParam(url, "limit", 100, 1, 1000);
    const type = url.searchParams.get("type") || undefined;
    return json({ events: await storage.listClusterEvents(limit, type) });
  });

  // ---- the old engine's history routes
  router.on("GET", "/api/history/:workflowId", async ({ params, url }) => {
    const w = await workflowOr404(params.workflowId);
    const page = await storage.listExecutions({
      workflowId: w.id,
      limit: intParam(url, "limit", DEFAULT_PAGE, 1, MAX_PAGE),
      cursor: url.searchParams.get("cursor"),
    });
    const views = await Promise.all(page.items.map((e) => engine.view(e.executionId)));
    return json(
      {
        workflowId: w.id,
        executions: views.filter((v) => v !== undefined).map((v) => historyExecution(v!, w.definition.name)),
      },
      200,
      nextCursorHeaders(url, page.next),
    );
  });
  router.on(
    "GET",
    "/api/history/:workflowId/status",
    ({ params }) => workflowStatus(params.workflowId).then((s) => json(s)),
  );
  router.on("GET", "/api/history/:workflowId/execution/:executionId", async ({ params }) => {
    const w = await workflowOr404(params.workflowId);
    const v = await viewOr404(params.executionId);
    if (v.workflowId !== w.id) {
      throw new ApiError(404, "execution_not_found", "no such execution for this workflow");
    }
    return json(historyExecution(v, w.definition.name));
  });
  router.on("GET", "/api/history/:workflowId/timeline", async ({ params, url }) => {
    const w = await workflowOr404(params.workflowId);
    let executionId = url.searchParams.get("executionId");
    if (!executionId) {
      const latest = await storage.listExecutions({ workflowId: w.id, limit: 1 });
      if (latest.items.length === 0) {
        throw new ApiError(404, "execution_not_found", "this workflow has no executions");
      }
      executionId = latest.items[0].executionId;
    }
    const v = await viewOr404(executionId);
    if (v.workflowId !== w.id) {
      throw new ApiError(404, "execution_not_found", "no such execution for this workflow");
    }
    const h = historyExecution(v, w.definition.name);
    return json({
      executionId: h.executionId,
      startTime: h.startTime,
      endTime: h.endTime,
      duration: h.duration,
      nodes: h.nodes,
    });
  });

  if (deps.metrics) {
    const metrics = deps.metrics;
    router.on("GET", "/metrics", async () => {
      const { contentType, text } = await metrics();
      return new Response(text, { headers: { "content-type": contentType } });
    });
  }

  /** Answers one request; `seen.route` is set to the pattern matched. */
  const respond = async (req: Request, url: URL, seen: { route: string }): Promise<Response> => {
    try {
      const { handler, params, pattern } = router.match(req.method, url);
      seen.route = pattern;
      return await handler({ req, url, params } satisfies RouteContext);
    } catch (err) {
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
      deps.log.error("request failed", {
        method: req.method,
        path: url.pathname,
        error: String(err),
        stack: (err as Error)?.stack,
      });
      return errorResponse(new ApiError(500, "internal", "internal error; see the server log"));
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

/** `x` to 0.1. */
function round(x: number): number {
  return Math.round(x * 10) / 10;
}
