/**
 * The specs of the execution routes (`routes/executions.ts`, `routes/execute_batch.ts`,
 * `routes/execution_search.ts`): execute and its batch, a workflow's status and executions, an execution's
 * view, events, logs and node output, cancel and signal, and the search over every execution; with the
 * schemas of the execution view and the execution rows they answer.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { MAX_TIMEOUT_MS } from "../../../core/validate.ts";
import { MAX_BATCH_ITEMS } from "../batch_body.ts";
import { routeSpec } from "../route_spec.ts";
import {
  cursorQuery,
  ErrorDetailSchema,
  executionIdParam,
  intQuery,
  Json,
  limitQuery,
  PAGE_HEADERS,
  statusQuery,
  textQuery,
  versionParam,
  workflowIdParam,
} from "../schemas.ts";
import { MAX_VERSION } from "../versions.ts";

/** The longest `?wait=` honoured, in ms. */
export const MAX_WAIT_MS = 300_000;

/** An error as events and views carry it. */
export const ErrorInfoSchema = z.object({
  code: z.string(),
  message: z.string(),
  nodeId: z.string().optional(),
}).meta({ id: "ErrorInfo" });

const nullableTime = z.number().nullable();

/** One node of an execution's view. */
export const NodeViewSchema = z.object({
  nodeId: z.string(),
  type: z.string(),
  nodeType: z.string(),
  status: z.enum(["pending", "running", "completed", "failed", "skipped", "cancelled"]),
  attempts: z.int(),
  startTime: nullableTime,
  endTime: nullableTime,
  duration: nullableTime,
  recordsProcessed: z.number().nullable(),
  error: ErrorInfoSchema.nullable(),
  branch: z.string().optional().describe("Condition and switch nodes: the branch taken."),
  children: z.object({
    count: z.int(),
    started: z.int(),
    running: z.int(),
    ended: z.int(),
    failed: z.int(),
  }).optional().describe("`foreach` and `workflow.run` nodes: their children in the current attempt."),
}).meta({ id: "NodeView" });

/** An execution's view: its status, times, error, trigger and nodes. */
export const ExecutionViewSchema = z.object({
  executionId: z.string(),
  workflowId: z.string(),
  version: z.int(),
  status: z.enum(["running", "paused", "completed", "failed", "cancelled", "timed_out"]),
  startTime: nullableTime,
  endTime: nullableTime,
  duration: nullableTime,
  error: ErrorInfoSchema.nullable(),
  trigger: z.union([
    z.object({ kind: z.literal("api") }),
    z.object({ kind: z.literal("schedule"), scheduleId: z.string(), tickAt: z.number() }),
  ]).describe("Why it started."),
  queued: z.literal(true).optional().describe("Waiting for a slot of its concurrency key."),
  concurrency: z.object({ key: z.string(), limit: z.int() }).optional(),
  parent: z.object({
    executionId: z.string(),
    nodeId: z.string(),
    attempt: z.int(),
    index: z.int(),
    depth: z.int(),
  }).optional().describe("A child execution: the parent execution and node that started it."),
  reopened: z.int().optional().describe("How many times a retry or a rerun reopened it."),
  nodes: z.array(NodeViewSchema),
}).meta({ id: "ExecutionView" });

/** An execution in a list (from the execution index). */
export const ExecutionRowSchema = z.object({
  executionId: z.string(),
  workflowId: z.string(),
  version: z.int(),
  status: z.enum(["running", "completed", "failed", "cancelled", "timed_out"]),
  startTime: z.number(),
  endTime: nullableTime,
  duration: nullableTime,
  logsCount: z.int().describe("Events so far."),
}).meta({ id: "ExecutionRow" });

/** A workflow's state, as the status routes answer it (the old engine's four words). */
export const WorkflowStatusSchema = z.object({
  workflowId: z.string(),
  state: z.enum(["idle", "running", "completed", "failed"]),
  executionCount: z.int(),
  currentExecution: ExecutionRowSchema.nullable(),
  lastExecution: ExecutionRowSchema.nullable(),
}).meta({ id: "WorkflowStatus" });

/** The body of an execute. */
export const ExecuteBodySchema = z.strictObject({
  input: Json.optional().describe("The execution's input (default null)."),
  timeoutMs: z.int().min(1).max(MAX_TIMEOUT_MS).optional().describe("The execution's timeout."),
  version: z.int().min(1).max(MAX_VERSION).optional().describe(
    "The workflow version to run (default: the latest); must agree with `?version=`.",
  ),
}).meta({ id: "ExecuteBody" });

const executeQuery = {
  version: versionParam.optional().describe("The workflow version to run (default: the latest)."),
  view: z.enum(["full", "id"], { error: "must be id or full" }).optional().describe(
    "`id`: answer only `{executionId, status}`.",
  ),
};

const compactAnswer = z.object({ executionId: z.string(), status: z.string() });

const started = z.object({
  executionId: z.string(),
  workflowId: z.string(),
  version: z.int(),
  status: z.string().describe("`started` (the old engine's word), or its end when it already ended."),
  message: z.string(),
  note: z.string(),
});

const params = z.object({ id: workflowIdParam });
const executionParams = z.object({ executionId: executionIdParam });
const LOCATION = { location: "The execution's URL (`/api/v1/executions/{executionId}`)." };

/** `POST /api/v1/workflows/:id/execute`. */
export const executeSpec = routeSpec({
  operationId: "executeWorkflow",
  summary: "Starts an execution of a workflow",
  description: "On the owner of the new execution's shard. `?wait=` waits up to that many ms for the end " +
    "(200 with the view when it ended in time). An Idempotency-Key makes a retry answer the first execution.",
  tags: ["executions"],
  params,
  query: z.object({
    wait: intQuery(0, MAX_WAIT_MS).default(0).describe("Wait up to this many ms for the end (default 0)."),
    ...executeQuery,
  }),
  headers: z.object({
    "Idempotency-Key": z.string().min(1, { error: "must be 1 to 255 characters" })
      .max(255, { error: "must be 1 to 255 characters" }).optional()
      .describe("A retry with the same key answers the execution it started."),
  }),
  body: ExecuteBodySchema,
  bodyRequired: false,
  responses: {
    200: {
      description: "It ended within `?wait=` (the view and a message), or `?view=id`.",
      schema: z.union([ExecutionViewSchema.extend({ message: z.string() }), compactAnswer]),
      headers: LOCATION,
    },
    202: {
      description: "Started (or already submitted with this Idempotency-Key).",
      schema: z.union([started, compactAnswer]),
      headers: { ...LOCATION, "idempotent-replayed": "`true` when the key's execution was answered." },
    },
    400: { description: "A bad query, header or body (`validation_failed` at the body's paths)." },
    404: { description: "No such workflow, or no such version." },
    422: { description: "The Idempotency-Key belongs to a different request." },
  },
});

/** One item's result in a batch. */
const BatchResultSchema = z.object({
  status: z.int().describe("201 started, 200 the item's Idempotency-Key's execution, else its error status."),
  executionId: z.string().optional(),
  version: z.int().optional(),
  executionStatus: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string(), details: z.array(ErrorDetailSchema) }).optional(),
}).meta({ id: "BatchResult" });

/** `POST /api/v1/workflows/:id/execute/batch`. */
export const executeBatchSpec = routeSpec({
  operationId: "executeWorkflowBatch",
  summary: "Starts up to 1,000 executions of a workflow",
  description: "Each item is checked and answered like a single execute (its own Idempotency-Key, its own " +
    "error), the answers in the order of the items; an item's fault never fails the others.",
  tags: ["executions"],
  params,
  query: z.object(executeQuery),
  body: z.strictObject({
    items: z.array(Json).min(1).max(MAX_BATCH_ITEMS).describe(
      "1 to 1,000 items, each `{input?, timeoutMs?, version?, idempotencyKey?}` (as `ExecuteBody`, plus its " +
        "key); an item that is not one is that item's 400 result.",
    ),
  }),
  responses: {
    200: {
      description: "Every item's result.",
      schema: z.union([
        z.object({
          workflowId: z.string(),
          count: z.int(),
          created: z.int(),
          replayed: z.int(),
          failed: z.int(),
          results: z.array(BatchResultSchema),
        }),
        z.object({ results: z.array(BatchResultSchema) }).describe("`?view=id`."),
      ]),
    },
    400: { description: "The body is not `{items: [...]}`, or has over 1,000 items (`batch_too_large`)." },
    404: { description: "No such workflow." },
  },
});

/** `GET /api/v1/workflows/:id/status`. */
export const workflowStatusSpec = routeSpec({
  operationId: "getWorkflowStatus",
  summary: "A workflow's state: its running and its last execution",
  tags: ["executions"],
  params,
  responses: {
    200: { description: "Its state.", schema: WorkflowStatusSchema },
    404: { description: "No such workflow." },
  },
});

/** `GET /api/v1/workflows/:id/executions`. */
export const listWorkflowExecutionsSpec = routeSpec({
  operationId: "listWorkflowExecutions",
  summary: "A workflow's executions, newest first",
  tags: ["executions"],
  params,
  query: z.object({ status: statusQuery.optional(), limit: limitQuery(), cursor: cursorQuery }),
  responses: {
    200: { description: "A page.", schema: z.array(ExecutionRowSchema), headers: PAGE_HEADERS },
    404: { description: "No such workflow." },
  },
});

/** `GET /api/v1/workflows/:id/executions/:executionId/logs`. */
export const executionLogsSpec = routeSpec({
  operationId: "getExecutionLogs",
  summary: "An execution's events as the old engine's logs",
  tags: ["old engine"],
  params: z.object({ id: workflowIdParam, executionId: executionIdParam }),
  responses: {
    200: {
      description: "Every event, with `timestamp` (its `at`) and `event` (its `type`).",
      schema: z.object({
        executionId: z.string(),
        logs: z.array(z.looseObject({ timestamp: z.number(), event: z.string() })),
      }),
    },
    404: { description: "No such workflow, or no such execution of it." },
  },
});

/** `GET /api/v1/executions/:executionId`. */
export const getExecutionSpec = routeSpec({
  operationId: "getExecution",
  summary: "An execution's view",
  tags: ["executions"],
  params: executionParams,
  responses: {
    200: { description: "Its view.", schema: ExecutionViewSchema },
    404: { description: "No such execution." },
  },
});

/** `GET /api/v1/executions/:executionId/events`. */
export const executionEventsSpec = routeSpec({
  operationId: "listExecutionEvents",
  summary: "An execution's events (its history), after a sequence number",
  tags: ["executions"],
  params: executionParams,
  query: z.object({
    after: intQuery(0, 2 ** 31).default(0).describe("Only events with a greater `seq` (default 0)."),
  }),
  responses: {
    200: {
      description: "Its events, in order; each has `v`, `seq`, `at` and `type` (docs/API.md lists them).",
      schema: z.object({
        executionId: z.string(),
        events: z.array(z.looseObject({ v: z.int(), seq: z.int(), at: z.number(), type: z.string() })),
      }),
    },
    404: { description: "No such execution." },
  },
});

/** `GET /api/v1/executions/:executionId/nodes/:nodeId/output`. */
export const nodeOutputSpec = routeSpec({
  operationId: "getNodeOutput",
  summary: "A slice of a completed node's output records",
  tags: ["executions"],
  params: z.object({ executionId: executionIdParam, nodeId: z.string().describe("The node's id.") }),
  query: z.object({
    offset: intQuery(0, 2 ** 31).default(0).describe("The first record (default 0)."),
    limit: intQuery(1, 10_000).default(1000).describe("The most records (default 1,000)."),
  }),
  responses: {
    200: {
      description: "The records.",
      schema: z.object({
        executionId: z.string(),
        nodeId: z.string(),
        total: z.int(),
        offset: z.int(),
        limit: z.int(),
        records: z.array(Json),
      }),
    },
    404: { description: "No such execution, or no such node." },
    409: { description: "The node has not completed (`output_not_ready`)." },
  },
});

/** Any JSON body other than an object: read as `{}`. */
const otherJson = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(Json)]);

/** `POST /api/v1/executions/:executionId/cancel`. */
export const cancelSpec = routeSpec({
  operationId: "cancelExecution",
  summary: "Cancels an execution",
  tags: ["executions"],
  params: executionParams,
  body: z.union([
    z.looseObject({
      reason: Json.optional().describe(
        "Why (a string, up to 1,000 characters kept; another value is ignored).",
      ),
    }),
    otherJson.describe("Any other JSON is read as `{}`."),
  ]),
  bodyRequired: false,
  responses: {
    200: { description: "The execution view right after it.", schema: ExecutionViewSchema },
    404: { description: "No such execution." },
    409: { description: "It already ended." },
  },
});

/** `POST /api/v1/executions/:executionId/signals/:name`. */
export const signalSpec = routeSpec({
  operationId: "signalExecution",
  summary: "Sends a signal to the nodes of an execution that wait for it",
  tags: ["executions"],
  params: z.object({ executionId: executionIdParam, name: z.string().describe("The signal's name.") }),
  body: z.union([
    z.looseObject({ payload: Json.optional().describe("The signal's payload (at most 64 KiB of JSON).") }),
    otherJson.describe("Any other JSON is read as `{}`."),
  ]),
  bodyRequired: false,
  responses: {
    200: { description: "The execution view right after it.", schema: ExecutionViewSchema },
    404: { description: "No such execution, or no node waits for this signal." },
    409: { description: "It already ended." },
    413: { description: "The payload is over 64 KiB." },
  },
});

/** `GET /api/v1/executions`. */
export const searchExecutionsSpec = routeSpec({
  operationId: "searchExecutions",
  summary: "Every execution, newest first, filtered",
  tags: ["executions"],
  query: z.object({
    workflowId: textQuery(256).optional().describe("Only this workflow's executions."),
    status: statusQuery.optional(),
    from: intQuery(0, Number.MAX_SAFE_INTEGER).optional().describe("Started at or after (epoch ms)."),
    to: intQuery(0, Number.MAX_SAFE_INTEGER).optional().describe("Started at or before (epoch ms)."),
    q: textQuery(256).optional().describe("The start of the execution id."),
    limit: limitQuery(),
    cursor: cursorQuery,
  }).superRefine((q, ctx) => {
    if (q.from !== undefined && q.to !== undefined && q.from > q.to) {
      ctx.addIssue({
        code: "custom",
        path: ["from"],
        message: "must not be after to",
        params: { detail: `${q.from} > ${q.to}` },
      });
    }
  }),
  responses: {
    200: { description: "A page.", schema: z.array(ExecutionRowSchema), headers: PAGE_HEADERS },
  },
});
