/**
 * The specs of the steering routes (`routes/execution_control.ts`): pause, resume, retry, rerun and migrate an
 * execution. Each answers the execution's view; each body refuses a key it does not know.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { routeSpec } from "../route_spec.ts";
import { executionIdParam, Json } from "../schemas.ts";
import { MAX_VERSION } from "../versions.ts";
import { ExecutionViewSchema } from "./executions.ts";

/** The longest pause reason kept, in characters. */
export const MAX_REASON_CHARS = 1000;
/** The longest `fromNode` a rerun may name, in characters. */
export const MAX_NODE_ID_CHARS = 256;

const params = z.object({ executionId: executionIdParam });
const answers = {
  200: { description: "The execution's view.", schema: ExecutionViewSchema },
  400: { description: "The body has an unknown key or a bad value (at its path)." },
  404: { description: "No such execution." },
  409: { description: "The execution's state refuses it (see the error code)." },
} as const;

/** `POST /api/v1/executions/:executionId/pause`. */
export const pauseSpec = routeSpec({
  operationId: "pauseExecution",
  summary: "Pauses an execution: it starts no further node until resumed",
  tags: ["steering"],
  params,
  body: z.strictObject({
    reason: z.string().max(MAX_REASON_CHARS).optional().describe("Why (default `paused by request`)."),
  }),
  bodyRequired: false,
  responses: answers,
});

/** `POST /api/v1/executions/:executionId/resume`. */
export const resumeSpec = routeSpec({
  operationId: "resumeExecution",
  summary: "Resumes a paused execution",
  tags: ["steering"],
  params,
  body: z.strictObject({}),
  bodyRequired: false,
  responses: answers,
});

/** `POST /api/v1/executions/:executionId/retry`. */
export const retrySpec = routeSpec({
  operationId: "retryExecution",
  summary: "Retries a failed execution from its failed nodes",
  tags: ["steering"],
  params,
  body: z.strictObject({}),
  bodyRequired: false,
  responses: answers,
});

/** `POST /api/v1/executions/:executionId/rerun`. */
export const rerunSpec = routeSpec({
  operationId: "rerunExecution",
  summary: "Runs an ended execution again from a node (and everything after it)",
  tags: ["steering"],
  params,
  body: z.strictObject({
    fromNode: z.string().min(1).max(MAX_NODE_ID_CHARS).describe("The node to run again from."),
    input: Json.optional().describe("A new input for the run (default: the execution's)."),
  }),
  responses: answers,
});

/** `POST /api/v1/executions/:executionId/migrate`. */
export const migrateSpec = routeSpec({
  operationId: "migrateExecution",
  summary: "Moves a live execution to a newer version of its workflow",
  tags: ["steering"],
  params,
  body: z.strictObject({ version: z.int().min(1).max(MAX_VERSION).describe("The version to move to.") }),
  responses: answers,
});
