/**
 * The execution routes, mounted at `/api/v1`: starting a workflow's execution
 * (on the owner of its shard), a workflow's status, executions and logs, and an
 * execution's view, events, node output, cancellation and signals.
 *
 * @module
 */
import { shardOf } from "../../../core/ids.ts";
import type { Json } from "../../../core/json.ts";
import type { ExecutionStatus } from "../../../core/state.ts";
import type { ExecutionIndex } from "../../../storage/storage.ts";
import type { Engine } from "../../runtime/engine.ts";
import type { Logger } from "../../runtime/logger.ts";
import type { WorkflowService } from "../../runtime/workflows.ts";
import { parseJson, readBody } from "../body.ts";
import { type ExecuteBody, executeBody, type ExecuteView } from "../execute_body.ts";
import { submitExecute } from "../execute_submit.ts";
import { ApiError, json } from "../errors.ts";
import { withOldState } from "../old_engine.ts";
import { newExecutionIdFor } from "../execution_ids.ts";
import { isForwarded } from "../forwarding.ts";
import { executionRow } from "../presenters.ts";
import {
  engineError,
  nextCursorHeaders,
  viewOr404,
  workflowOr404,
  workflowStatus,
} from "../route_helpers.ts";
import { Router } from "../router.ts";
import type { SpecContext } from "../route_spec.ts";
import { EXECUTION_ID_HEADER, forwardedRequest, type ShardRouting } from "../routing.ts";
import { executeBatch } from "./execute_batch.ts";
import {
  cancelSpec,
  executeBatchSpec,
  executeSpec,
  executionEventsSpec,
  executionLogsSpec,
  getExecutionSpec,
  listWorkflowExecutionsSpec,
  nodeOutputSpec,
  signalSpec,
  workflowStatusSpec,
} from "../specs/executions.ts";

export { MAX_WAIT_MS } from "../specs/executions.ts";
/** The largest signal payload, as JSON bytes. */
export const MAX_SIGNAL_BYTES = 64 * 1024;

/** What the execution routes use. */
export interface ExecutionRoutesDeps {
  engine: Engine;
  workflows: WorkflowService;
  storage: ExecutionIndex;
  routing: ShardRouting;
  /** Where an unexpected failure of a batch's item is logged. */
  log?: Logger;
}

/** The execution sub-app (paths under `/api/v1`). */
export function executionRoutes(deps: ExecutionRoutesDeps): Router {
  const { engine, workflows, storage } = deps;
  return new Router()
    .post("/workflows/:id/execute", (ctx) => execute(deps, ctx), executeSpec)
    .post("/workflows/:id/execute/batch", (ctx) => executeBatch(deps, ctx), executeBatchSpec)
    .get(
      "/workflows/:id/status",
      ({ params }) => workflowStatus(workflows, storage, params.id).then((s) => json(withOldState(s))),
      workflowStatusSpec,
    )
    .get("/workflows/:id/executions", (ctx) => listExecutions(deps, ctx), listWorkflowExecutionsSpec)
    .get("/workflows/:id/executions/:executionId/logs", async ({ params }) => {
      await workflowOr404(workflows, params.id);
      const view = await viewOr404(engine, params.executionId);
      if (view.workflowId !== params.id) {
        throw new ApiError(404, "execution_not_found", "no such execution here");
      }
      const events = await engine.events(params.executionId);
      return json({
        executionId: params.executionId,
        logs: events.map((e) => ({ timestamp: e.at, event: e.type, ...e })),
      });
    }, executionLogsSpec)
    .get(
      "/executions/:executionId",
      async ({ params }) => json(await viewOr404(engine, params.executionId)),
      getExecutionSpec,
    )
    .get("/executions/:executionId/events", async ({ params, query }) => {
      await viewOr404(engine, params.executionId);
      return json({
        executionId: params.executionId,
        events: await engine.events(params.executionId, query.after),
      });
    }, executionEventsSpec)
    .get("/executions/:executionId/nodes/:nodeId/output", (ctx) => nodeOutput(engine, ctx), nodeOutputSpec)
    .post("/executions/:executionId/cancel", (ctx) => cancel(deps, ctx), cancelSpec)
    .post("/executions/:executionId/signals/:name", (ctx) => signal(deps, ctx), signalSpec);
}

/**
 * `POST /api/v1/workflows/:id/execute`: on the owner of the new execution's shard (forwarded there with the
 * execution id chosen here), starts the workflow's latest version, or the version named by `?version=` or the
 * body's `version`; `?wait=` waits for the end; `?view=id` answers only `{executionId, status}`.
 */
async function execute(
  { engine, routing, workflows }: ExecutionRoutesDeps,
  ctx: SpecContext<typeof executeSpec>,
) {
  const { req, url, params, query: { wait, version, view = "full" } } = ctx;
  const text = await readBody(req);
  // The Idempotency-Key (1 to 255 characters) was checked by the spec's headers.
  const key = req.headers.get("idempotency-key") ?? undefined;
  const body = ctx.body(parseJson(text, {}), (raw) => executeBody(raw, version));
  const forwarded = isForwarded(req);
  // Keyed by the workflow's concurrency key when it has one (`execution_ids.ts`): routed to the key's owner.
  const executionId = (forwarded ? req.headers.get(EXECUTION_ID_HEADER) : null) ??
    await newExecutionIdFor(engine, workflows, params.id, key, body);
  const request = forwardedRequest(req, url, text, { [EXECUTION_ID_HEADER]: executionId });
  return await routing.route(
    shardOf(executionId, engine.shardCount),
    request,
    forwarded,
    () => executeHere(engine, workflows, { workflowId: params.id, executionId, key, wait, view }, body),
  );
}

/** What an execute request asks for, besides its body. */
interface ExecuteRequest {
  workflowId: string;
  executionId: string;
  /** The Idempotency-Key. */
  key: string | undefined;
  /** How long to wait for the end, in ms (0: answer 202 at once). */
  wait: number;
  /** The answer's shape: the default, or only `{executionId, status}`. */
  view: ExecuteView;
}

/** Starts an execution on this node (the owner of its shard) and answers 202, or 200 when it ended. */
async function executeHere(
  engine: Engine,
  workflows: WorkflowService,
  { workflowId, executionId, key, wait, view: shape }: ExecuteRequest,
  body: ExecuteBody,
): Promise<Response> {
  const { workflow, r } = await submitExecute(engine, workflows, { workflowId, executionId, key }, body);
  if (!r.ok) throw engineError(r.error);
  const { created } = r.value;
  const headers: Record<string, string> = { location: `/api/v1/executions/${executionId}` };
  if (!created) headers["idempotent-replayed"] = "true";
  const view = wait > 0 ? await engine.wait(executionId, wait) : await engine.view(executionId);
  const ended = view !== undefined && view.status !== "running" && wait > 0;
  // The old engine's word for a run accepted and not ended (its clients read it); an end is as stored.
  const status = !view || view.status === "running" ? "started" : view.status;
  if (shape === "id") return json({ executionId, status }, ended ? 200 : 202, headers);
  if (ended) return json({ ...view, message: "execution finished" }, 200, headers);
  return json(
    {
      executionId,
      workflowId: workflow.id,
      version: view?.version ?? workflow.version,
      status,
      message: created ? "execution started" : "execution already submitted with this Idempotency-Key",
      note: `follow it at /api/v1/executions/${executionId}`,
    },
    202,
    headers,
  );
}

/** `GET /api/v1/workflows/:id/executions`: a page of the workflow's executions, `?status=` filtering. */
async function listExecutions(
  { workflows, storage }: ExecutionRoutesDeps,
  { params, url, query }: SpecContext<typeof listWorkflowExecutionsSpec>,
) {
  await workflowOr404(workflows, params.id);
  // `?status=started` (the old engine's word for `running`) was taken as its alias by the spec.
  const page = await storage.listExecutions({
    workflowId: params.id,
    status: query.status as ExecutionStatus | undefined,
    limit: query.limit,
    cursor: query.cursor ?? null,
  });
  return json(page.items.map(executionRow), 200, nextCursorHeaders(url, page.next));
}

/** `GET /api/v1/executions/:executionId/nodes/:nodeId/output`: a slice of a completed node's records. */
async function nodeOutput(
  engine: Engine,
  { params, query: { offset, limit } }: SpecContext<typeof nodeOutputSpec>,
): Promise<Response> {
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
}

/** `POST /api/v1/executions/:executionId/cancel`, on the owner of the execution's shard. */
async function cancel(
  { engine, routing }: ExecutionRoutesDeps,
  { req, url, params, body: check }: SpecContext<typeof cancelSpec>,
) {
  const text = await readBody(req);
  return await routing.route(
    shardOf(params.executionId, engine.shardCount),
    forwardedRequest(req, url, text),
    isForwarded(req),
    async () => {
      const body = check(parseJson(text, {})) as { reason?: unknown };
      const reason = typeof body?.reason === "string" ? body.reason.slice(0, 1000) : "cancelled by request";
      const r = await engine.cancel(params.executionId, reason);
      if (!r.ok) throw engineError(r.error);
      return json(r.value);
    },
  );
}

/** `POST /api/v1/executions/:executionId/signals/:name`, on the owner of the execution's shard. */
async function signal(
  { engine, routing }: ExecutionRoutesDeps,
  { req, url, params, body: check }: SpecContext<typeof signalSpec>,
) {
  const text = await readBody(req);
  const body = check(parseJson(text, {})) as { payload?: Json } | null;
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
}
