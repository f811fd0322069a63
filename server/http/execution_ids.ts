/**
 * The id of an execution an execute request creates, made before the request is routed to the owner of the
 * id's shard. A workflow with a concurrency key (`concurrency: {key, limit}`) gets an id routed by the key
 * (`Engine.newExecutionId` with the key evaluated over the input), so every run of a key goes to one owner,
 * which admits them; a key that does not evaluate is a 400 `concurrency_key_invalid` at `$.input`.
 *
 * @module
 */
import type { Json } from "../../core/json.ts";
import type { StoredWorkflow } from "../../storage/storage.ts";
import { concurrencyKeyOf } from "../runtime/concurrency.ts";
import type { Engine } from "../runtime/engine.ts";
import { ApiError } from "./errors.ts";

/** Where the workflow versions come from (the node's `WorkflowService`). */
export interface WorkflowVersions {
  latestForExecute(id: string): Promise<StoredWorkflow | undefined>;
  get(id: string, version?: number): Promise<StoredWorkflow | undefined>;
}

/**
 * The id of a new execution of `workflowId` (version `version`, or the latest) with `input`: keyed by its
 * concurrency key when the workflow has one. A workflow that is not found gets a plain id: the owner answers
 * the 404.
 *
 * @throws {ApiError} 400 `concurrency_key_invalid` (path `$.input`) when the key does not evaluate to a
 * string or number of 1 to 256 characters.
 *
 * @example
 * ```ts
 * import { newExecutionIdFor } from "./execution_ids.ts";
 * import type { Engine } from "../runtime/engine.ts";
 * import type { StoredWorkflow } from "../../storage/storage.ts";
 * const engine = { newExecutionId: (w: string, _i?: string, k?: string) => `${w}/${k ?? "-"}` } as Engine;
 * const workflow = { id: "w", definition: { concurrency: { key: "input.customer", limit: 2 } } } as StoredWorkflow;
 * const workflows = { latestForExecute: () => Promise.resolve(workflow), get: () => Promise.resolve(workflow) };
 * const id = await newExecutionIdFor(engine, workflows, "w", undefined, { input: { customer: "acme" } });
 * if (id !== "w/acme") throw new Error(id);
 * ```
 */
export async function newExecutionIdFor(
  engine: Pick<Engine, "newExecutionId">,
  workflows: WorkflowVersions,
  workflowId: string,
  idempotencyKey: string | undefined,
  body: { input: Json; version?: number },
): Promise<string> {
  const workflow = body.version === undefined
    ? await workflows.latestForExecute(workflowId)
    : await workflows.get(workflowId, body.version);
  const concurrency = workflow?.definition.concurrency;
  if (concurrency === undefined) return engine.newExecutionId(workflowId, idempotencyKey);
  const k = await concurrencyKeyOf(concurrency.key, body.input);
  if (!k.ok) {
    throw new ApiError(400, "concurrency_key_invalid", k.message, [{ path: "$.input", message: k.message }]);
  }
  return engine.newExecutionId(workflowId, idempotencyKey, k.key);
}
