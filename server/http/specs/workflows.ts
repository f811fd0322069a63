/**
 * The specs of the workflow routes (`routes/workflows.ts`, `routes/workflow_versions.ts`): the node palette,
 * create, list, read, update and delete a definition, its versions and their diff; with the schema of a
 * workflow definition.
 *
 * The definition's schema is its shape: the fields and their JSON types, every node's and edge's own fields
 * and their bounds. It is checked first; the full validation (`core/validate.ts`: node kinds, configs against
 * their kinds, handles, cycles, expressions) then reports every problem at once, and words a fault the schema
 * found too (400 `validation_failed`, each problem with its code at its path).
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { MAX_VERSION } from "../versions.ts";
import { MAX_CONCURRENCY_LIMIT, MAX_RETENTION_MS, MAX_TIMEOUT_MS } from "../../../core/validate.ts";
import { NODE_CATEGORIES } from "../../../core/workflow.ts";
import { routeSpec } from "../route_spec.ts";
import {
  cursorQuery,
  intQuery,
  limitQuery,
  PAGE_HEADERS,
  textQuery,
  versionParam,
  workflowIdParam,
} from "../schemas.ts";

const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const timeoutMs = z.int().min(1).max(MAX_TIMEOUT_MS);
const object = z.record(z.string(), z.unknown());

/** One node of a definition (its config is checked against its kind by the validation). */
export const WorkflowNodeSchema = z.looseObject({
  id: z.string().regex(ID).describe("1 to 128 of A-Z a-z 0-9 . _ : -, unique in the workflow."),
  type: z.enum(NODE_CATEGORIES as [string, ...string[]]).describe("The node's category."),
  nodeType: z.string().describe("Its kind in the category (`GET /api/v1/workflows/node-types` lists them)."),
  config: object.nullable().optional().describe("Its kind's settings (docs/NODES.md)."),
  label: z.string().optional(),
  position: z.looseObject({ x: z.number(), y: z.number() }).optional(),
  style: object.optional(),
  retry: z.looseObject({
    maxAttempts: z.int().min(1).max(100).optional(),
    initialIntervalMs: z.number().min(0).optional(),
    backoffCoefficient: z.number().min(1).optional(),
    maxIntervalMs: z.number().min(0).optional(),
  }).optional(),
  timeoutMs: timeoutMs.optional().describe("Per-attempt timeout."),
}).meta({ id: "WorkflowNode" });

/** One edge of a definition: the records of `source` flow into `target`. */
export const WorkflowEdgeSchema = z.looseObject({
  source: z.string(),
  target: z.string(),
  id: z.string().optional(),
  sourceHandle: z.string().nullable().optional(),
  targetHandle: z.string().nullable().optional(),
  label: z.string().optional(),
  animated: z.boolean().optional(),
  style: object.optional(),
}).meta({ id: "WorkflowEdge" });

/** A workflow definition, as posted (the old engine's JSON as it is; other keys are kept). */
export const WorkflowDefinitionSchema = z.looseObject({
  id: z.string().regex(ID).describe("1 to 128 of A-Z a-z 0-9 . _ : -"),
  name: z.string(),
  description: z.string().optional(),
  version: z.string().optional().describe("A label of the author's; the stored version is a number."),
  author: z.string().optional(),
  tags: z.array(z.string()).optional(),
  nodes: z.array(WorkflowNodeSchema).min(1),
  edges: z.array(WorkflowEdgeSchema),
  metadata: z.looseObject({
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
    schedule: z.looseObject({
      enabled: z.boolean().optional(),
      scheduleType: z.string().optional(),
      interval: z.union([z.string(), z.number()]).optional(),
      cronExpression: z.string().optional(),
    }).optional().describe("Becomes the schedule `wf:<id>` (docs/SCHEDULES.md)."),
  }).optional(),
  timeoutMs: timeoutMs.optional().describe("Every execution's timeout."),
  retentionMs: z.int().min(0).max(MAX_RETENTION_MS).optional()
    .describe("How long an ended execution keeps its history (0: forever; absent: `--retention`)."),
  concurrency: z.looseObject({
    key: z.string().min(1).max(1000).describe("An expression over the input (`input.customerId`)."),
    limit: z.int().min(1).max(MAX_CONCURRENCY_LIMIT),
  }).optional().describe("At most `limit` executions with the same key run at once."),
}).meta({ id: "WorkflowDefinition" });

/** A definition as `PUT` takes it: without an `id`, it takes the path's. */
export const WorkflowUpdateSchema = WorkflowDefinitionSchema.extend({
  id: z.string().regex(ID).optional().describe("The path's id (another one is `id_mismatch`)."),
}).meta({ id: "WorkflowUpdate" });

/** The answer of a create or an update. */
const WorkflowWriteSchema = z.object({
  message: z.string(),
  workflowId: z.string(),
  version: z.int().describe("The stored version."),
  scheduleStatus: z.string().describe("What became of `metadata.schedule` (`none` without one)."),
}).meta({ id: "WorkflowWrite" });

const params = z.object({ id: workflowIdParam });
const VERSION_HEADER = { "x-workflow-version": "The stored version answered." };

/** `GET /api/v1/workflows/node-types`. */
export const nodeTypesSpec = routeSpec({
  operationId: "listNodeTypes",
  summary: "The node palette: every node kind by category, with its config fields",
  tags: ["workflows"],
  responses: {
    200: {
      description: "Per category, its kinds.",
      schema: z.record(z.string(), z.array(z.looseObject({ type: z.string(), category: z.string() }))),
    },
  },
});

/** `POST /api/v1/workflows`. */
export const createWorkflowSpec = routeSpec({
  operationId: "createWorkflow",
  summary: "Creates a workflow (or answers `unchanged` for the same definition again)",
  tags: ["workflows"],
  body: WorkflowDefinitionSchema,
  responses: {
    200: { description: "The same definition again: unchanged.", schema: WorkflowWriteSchema },
    201: {
      description: "Created.",
      schema: WorkflowWriteSchema,
      headers: { location: "The workflow's URL." },
    },
    400: { description: "The definition has problems (`validation_failed`: every one, at its path)." },
    409: { description: "The id exists with another definition (`workflow_exists`): PUT a new version." },
  },
});

/** `GET /api/v1/workflows`. */
export const listWorkflowsSpec = routeSpec({
  operationId: "listWorkflows",
  summary: "The live workflows by id",
  tags: ["workflows"],
  query: z.object({
    limit: limitQuery(),
    cursor: cursorQuery,
    q: textQuery(256).optional().describe("Only workflows whose id or name contains this (case ignored)."),
  }),
  responses: {
    200: {
      description: "A page (with `?q=`, possibly short while a next cursor remains).",
      schema: z.array(z.object({
        id: z.string(),
        name: z.string(),
        description: z.string(),
        version: z.int(),
        tags: z.array(z.string()),
        nodeCount: z.int(),
        edgeCount: z.int(),
        createdAt: z.number(),
      })),
      headers: PAGE_HEADERS,
    },
  },
});

/** `GET /api/v1/workflows/:id`. */
export const getWorkflowSpec = routeSpec({
  operationId: "getWorkflow",
  summary: "A workflow's definition (its latest version, or `?version=`), credentials shown as `***`",
  tags: ["workflows"],
  params,
  query: z.object({
    version: intQuery(1, MAX_VERSION).optional().describe("A stored version (default: the latest)."),
  }),
  responses: {
    200: { description: "The definition.", schema: WorkflowDefinitionSchema, headers: VERSION_HEADER },
    404: { description: "No such workflow (or version)." },
  },
});

/** `PUT /api/v1/workflows/:id`. */
export const updateWorkflowSpec = routeSpec({
  operationId: "updateWorkflow",
  summary: "Stores a new version of a workflow (or answers `unchanged`)",
  description: "A credential sent back as `***` keeps the stored one.",
  tags: ["workflows"],
  params,
  body: WorkflowUpdateSchema,
  responses: {
    200: { description: "Updated, or unchanged.", schema: WorkflowWriteSchema },
    400: { description: "The definition has problems, or its id is another (`id_mismatch`)." },
    404: { description: "No such workflow." },
  },
});

/** `DELETE /api/v1/workflows/:id`. */
export const deleteWorkflowSpec = routeSpec({
  operationId: "deleteWorkflow",
  summary: "Deletes a workflow (its versions stay readable for its executions)",
  tags: ["workflows"],
  params,
  responses: {
    200: { description: "Deleted.", schema: z.object({ message: z.string(), workflowId: z.string() }) },
    404: { description: "No such workflow." },
  },
});

/** `GET /api/v1/workflows/:id/versions`. */
export const listVersionsSpec = routeSpec({
  operationId: "listWorkflowVersions",
  summary: "A workflow's stored versions",
  tags: ["workflows"],
  params,
  query: z.object({ limit: limitQuery(), cursor: cursorQuery }),
  responses: {
    200: {
      description: "A page of versions.",
      schema: z.array(z.object({
        version: z.int(),
        name: z.string(),
        hash: z.string(),
        createdAt: z.number(),
        nodeCount: z.int(),
        edgeCount: z.int(),
      })),
      headers: PAGE_HEADERS,
    },
    404: { description: "No such workflow." },
  },
});

/** `GET /api/v1/workflows/:id/versions/:version`. */
export const getVersionSpec = routeSpec({
  operationId: "getWorkflowVersion",
  summary: "One version's definition",
  tags: ["workflows"],
  params: z.object({ id: workflowIdParam, version: versionParam.describe("The version.") }),
  responses: {
    200: { description: "The definition.", schema: WorkflowDefinitionSchema, headers: VERSION_HEADER },
    404: { description: "No such workflow, or no such version." },
  },
});

/** `GET /api/v1/workflows/:id/diff`. */
export const diffSpec = routeSpec({
  operationId: "diffWorkflowVersions",
  summary: "What changed between two versions",
  tags: ["workflows"],
  params,
  query: z.object({
    from: versionParam.describe("The version before."),
    to: versionParam.describe("The version after."),
  }),
  responses: {
    200: {
      description: "Nodes and edges added, removed and changed, and the top-level fields that differ.",
      schema: z.object({
        workflowId: z.string(),
        from: z.int(),
        to: z.int(),
        nodes: z.looseObject({
          added: z.array(z.string()),
          removed: z.array(z.string()),
          changed: z.array(object),
        }),
        edges: z.looseObject({ added: z.array(object), removed: z.array(object), changed: z.array(object) }),
        fields: z.array(z.string()),
      }),
    },
    404: { description: "No such workflow, or no such version." },
  },
});
