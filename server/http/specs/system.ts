/**
 * The specs of the node's own routes: health and metrics (`routes/health.ts`), the cluster
 * (`routes/cluster.ts`), tokens (`routes/tokens.ts`), the audit log (`routes/audit.ts`), who a caller is
 * (`routes/whoami.ts`), the OpenAPI document itself, and the old engine's history routes (`routes/history.ts`).
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { API_ROLES } from "../auth.ts";
import { routeSpec } from "../route_spec.ts";
import {
  cursorQuery,
  executionIdParam,
  intQuery,
  limitQuery,
  PAGE_HEADERS,
  workflowIdParam,
} from "../schemas.ts";
import { ErrorInfoSchema, WorkflowStatusSchema } from "./executions.ts";

/** The page size of `GET /api/v1/audit` without `?limit=`. */
export const DEFAULT_AUDIT_PAGE = 100;
/** The largest `?limit=` of `GET /api/v1/audit`. */
export const MAX_AUDIT_PAGE = 1_000;
/** The longest token name, in characters. */
export const MAX_TOKEN_NAME = 100;

const loose = z.looseObject({});

/** `GET /health`. */
export const healthSpec = routeSpec({
  operationId: "getHealth",
  summary: "Each part's check (storage, engine, cluster, event loop) and the process's memory",
  tags: ["health"],
  responses: {
    200: {
      description: "Healthy (`ok`, or `degraded` when the event loop lags).",
      schema: z.looseObject({ status: z.string(), ready: z.boolean(), node: z.string(), checks: loose }),
    },
    503: {
      description: "A part is down.",
      schema: z.looseObject({ status: z.string(), ready: z.boolean() }),
    },
  },
});

/** `GET /health/live`. */
export const liveSpec = routeSpec({
  operationId: "getLiveness",
  summary: "Liveness: the process answers",
  tags: ["health"],
  responses: { 200: { description: "Alive.", schema: z.object({ status: z.literal("ok") }) } },
});

const readiness = z.object({
  status: z.enum(["ready", "not_ready"]),
  engine: z.boolean(),
  cluster: z.boolean(),
  storage: z.boolean(),
  shards: z.int(),
});

/** `GET /health/ready`. */
export const readySpec = routeSpec({
  operationId: "getReadiness",
  summary: "Readiness: engine, cluster and storage all ready",
  tags: ["health"],
  responses: {
    200: { description: "Ready.", schema: readiness },
    503: { description: "Not ready.", schema: readiness },
  },
});

/** `GET /metrics`. */
export const metricsSpec = routeSpec({
  operationId: "getMetrics",
  summary: "The Prometheus exposition (docs/OPERATIONS.md lists the metrics)",
  tags: ["health"],
  responses: {
    200: { description: "The metrics, as Prometheus text.", contentType: "text/plain", schema: z.string() },
  },
});

/** `GET /api/v1/cluster/stats`. */
export const clusterStatsSpec = routeSpec({
  operationId: "getClusterStats",
  summary: "The cluster's members with their shards and running executions, and this member",
  tags: ["cluster"],
  responses: {
    200: {
      description: "The members and the sharding.",
      schema: z.looseObject({
        clusterName: z.string(),
        nodeCount: z.int(),
        leader: z.string().nullable(),
        members: z.array(z.looseObject({ id: z.string(), status: z.string() })),
        sharding: loose,
      }),
    },
  },
});

/** `GET /api/v1/cluster/shards`. */
export const clusterShardsSpec = routeSpec({
  operationId: "listClusterShards",
  summary: "Every shard with its owner, epoch and running executions",
  tags: ["cluster"],
  responses: {
    200: {
      description: "The shards.",
      schema: z.looseObject({
        totalShards: z.int(),
        activeShards: z.int(),
        shards: z.array(z.object({
          shardId: z.int(),
          location: z.string().nullable(),
          epoch: z.int(),
          entityCount: z.int(),
        })),
      }),
    },
  },
});

const location = z.object({
  shardId: z.int(),
  owner: z.string().nullable(),
  nodeAddress: z.string().nullable(),
  epoch: z.int(),
});

/** `GET /api/v1/cluster/executions/:executionId/location`. */
export const executionLocationSpec = routeSpec({
  operationId: "getExecutionLocation",
  summary: "Where an execution lives: its shard and the shard's owner",
  tags: ["cluster"],
  params: z.object({ executionId: executionIdParam }),
  responses: {
    200: { description: "Its place.", schema: location.extend({ executionId: z.string() }) },
    404: { description: "No such execution." },
  },
});

/** `GET /api/v1/cluster/workflow/:id/location`. */
export const workflowLocationSpec = routeSpec({
  operationId: "getWorkflowLocation",
  summary: "Where a workflow's latest execution lives (never run: the workflow's own shard)",
  tags: ["cluster"],
  params: z.object({ id: workflowIdParam }),
  responses: {
    200: { description: "Its place.", schema: location.extend({ workflowId: z.string() }) },
    404: { description: "No such workflow." },
  },
});

/** `GET /api/v1/events`. */
export const clusterEventsSpec = routeSpec({
  operationId: "listClusterEvents",
  summary: "The cluster's events (members joining and leaving, shards moving), newest first",
  tags: ["cluster"],
  query: z.object({
    limit: intQuery(1, 1000).default(100).describe("The most events: 1 to 1,000 (default 100)."),
    type: z.string().optional().describe("Only events of this type."),
  }),
  responses: {
    200: {
      description: "The events.",
      schema: z.object({
        events: z.array(z.object({ at: z.number(), type: z.string(), node: z.string(), details: loose })),
      }),
    },
  },
});

const TokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(API_ROLES),
  createdAt: z.number(),
  createdBy: z.string().nullable(),
  expiresAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
}).meta({ id: "ApiToken" });

/** `POST /api/v1/tokens`. */
export const createTokenSpec = routeSpec({
  operationId: "createToken",
  summary: "Makes an API token (the only answer that shows it)",
  tags: ["tokens"],
  body: z.strictObject({
    role: z.enum(API_ROLES),
    name: z.string().min(1).describe(`1 to ${MAX_TOKEN_NAME} characters, no control characters.`),
    expiresIn: z.string().regex(/^\d{1,7}[smhd]$/).optional().describe(
      "A whole number and a unit (`90s`, `15m`, `12h`, `30d`), 1 s to 3,650 days (default: never).",
    ),
  }),
  responses: {
    201: {
      description: "Made; `token` is shown this once.",
      schema: z.object({
        id: z.string(),
        name: z.string(),
        role: z.enum(API_ROLES),
        token: z.string(),
        createdAt: z.number(),
        expiresAt: z.number().nullable(),
      }),
      headers: { location: "The token's URL.", "cache-control": "`no-store`." },
    },
    400: { description: "Not `{role, name, expiresIn?}`." },
    409: { description: "1,000 tokens are live (`too_many_tokens`)." },
  },
});

/** `GET /api/v1/tokens`. */
export const listTokensSpec = routeSpec({
  operationId: "listTokens",
  summary: "The tokens made through the API (never the tokens themselves)",
  tags: ["tokens"],
  responses: { 200: { description: "The tokens.", schema: z.object({ tokens: z.array(TokenSchema) }) } },
});

/** `DELETE /api/v1/tokens/:id`. */
export const revokeTokenSpec = routeSpec({
  operationId: "revokeToken",
  summary: "Revokes a token",
  tags: ["tokens"],
  params: z.object({ id: z.string().describe("The token's id.") }),
  responses: {
    204: { description: "Revoked." },
    404: { description: "No such token." },
  },
});

/** `GET /api/v1/audit`. */
export const auditSpec = routeSpec({
  operationId: "listAudit",
  summary: "The state-changing calls, newest first",
  tags: ["audit"],
  query: z.object({ limit: limitQuery(DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE), cursor: cursorQuery }),
  responses: {
    200: {
      description: "A page of calls.",
      schema: z.object({
        events: z.array(z.looseObject({
          at: z.number(),
          node: z.string(),
          tokenId: z.string().nullable(),
          role: z.string().nullable(),
          method: z.string(),
          route: z.string(),
          path: z.string(),
          status: z.int(),
        })),
        next: z.string().nullable(),
      }),
      headers: PAGE_HEADERS,
    },
  },
});

/** `GET /api/v1/whoami`. */
export const whoamiSpec = routeSpec({
  operationId: "whoami",
  summary: "Who the caller is to this node: its role and token id",
  tags: ["tokens"],
  responses: {
    200: {
      description: "The caller.",
      schema: z.object({
        authEnabled: z.boolean(),
        role: z.enum(API_ROLES).nullable(),
        tokenId: z.string().nullable(),
        node: z.string(),
      }),
    },
  },
});

/** `GET /api/v1/openapi.json`. */
export const openApiSpec = routeSpec({
  operationId: "getOpenApi",
  summary: "This document: the API's OpenAPI 3.1 description, generated from its routes' schemas",
  tags: ["meta"],
  responses: {
    200: { description: "The OpenAPI document.", schema: z.looseObject({ openapi: z.string() }) },
  },
});

const historyNode = z.object({
  nodeId: z.string(),
  nodeType: z.string(),
  startTime: z.number().nullable(),
  endTime: z.number().nullable(),
  duration: z.number().nullable(),
  status: z.string(),
  recordsProcessed: z.number().nullable(),
  error: z.string().nullable(),
});

const HistoryExecutionSchema = z.object({
  executionId: z.string(),
  workflowName: z.string(),
  startTime: z.number().nullable(),
  endTime: z.number().nullable(),
  status: z.string(),
  duration: z.number().nullable(),
  error: ErrorInfoSchema.nullable(),
  nodes: z.array(historyNode),
}).meta({ id: "HistoryExecution" });

const historyParams = z.object({ workflowId: workflowIdParam });
const noWorkflow = { description: "No such workflow." };

/** `GET /api/history/:workflowId`. */
export const historySpec = routeSpec({
  operationId: "getHistory",
  summary: "A workflow's executions, each with its nodes (the old engine's shape)",
  tags: ["old engine"],
  params: historyParams,
  query: z.object({ limit: limitQuery(), cursor: cursorQuery }),
  responses: {
    200: {
      description: "A page.",
      schema: z.object({ workflowId: z.string(), executions: z.array(HistoryExecutionSchema) }),
      headers: PAGE_HEADERS,
    },
    404: noWorkflow,
  },
});

/** `GET /api/history/:workflowId/execution/:executionId`. */
export const historyExecutionSpec = routeSpec({
  operationId: "getHistoryExecution",
  summary: "One execution with its nodes (the old engine's shape)",
  tags: ["old engine"],
  params: z.object({ workflowId: workflowIdParam, executionId: executionIdParam }),
  responses: {
    200: { description: "The execution.", schema: HistoryExecutionSchema },
    404: { description: "No such workflow, or no such execution of it." },
  },
});

/** `GET /api/history/:workflowId/timeline`. */
export const timelineSpec = routeSpec({
  operationId: "getHistoryTimeline",
  summary: "The nodes' times of an execution (default: the latest)",
  tags: ["old engine"],
  params: historyParams,
  query: z.object({ executionId: z.string().optional().describe("The execution (default: the latest).") }),
  responses: {
    200: {
      description: "The timeline.",
      schema: z.object({
        executionId: z.string(),
        startTime: z.number().nullable(),
        endTime: z.number().nullable(),
        duration: z.number().nullable(),
        nodes: z.array(historyNode),
      }),
    },
    404: { description: "No such workflow, or it has no such execution." },
  },
});

/** `GET /api/history/:workflowId/status`. */
export const historyStatusSpec = routeSpec({
  operationId: "getHistoryStatus",
  summary: "A workflow's state (as `GET /api/v1/workflows/{id}/status`)",
  tags: ["old engine"],
  params: historyParams,
  responses: { 200: { description: "Its state.", schema: WorkflowStatusSchema }, 404: noWorkflow },
});
