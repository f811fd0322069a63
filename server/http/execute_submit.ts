/**
 * Submitting one execute to the engine on the owner of its shard, as the single execute route and the batch
 * route both do: the request hash an Idempotency-Key is checked against, the latest version (from memory,
 * read again when the creating append finds it changed) or a named version (read from storage).
 *
 * @module
 */
import { hash128 } from "../../core/ids.ts";
import { canonicalJson } from "../../core/json.ts";
import type { StoredWorkflow } from "../../storage/storage.ts";
import type { Engine, Result } from "../runtime/engine.ts";
import type { Submission } from "../runtime/options.ts";
import { ApiError } from "./errors.ts";
import type { ExecuteBody } from "./execute_body.ts";
import { versionNotFound } from "./versions.ts";

/** Where the workflows come from (the node's `WorkflowService`). */
export interface ExecuteWorkflows {
  latestForExecute(id: string): Promise<StoredWorkflow | undefined>;
  forgetLatest(id: string): void;
  get(id: string, version?: number): Promise<StoredWorkflow | undefined>;
}

/** What one execute submits, besides its body. */
export interface ExecuteTarget {
  workflowId: string;
  executionId: string;
  /** The Idempotency-Key. */
  key: string | undefined;
}

/** The engine's answer to one execute, and the workflow version it ran. */
export interface Submitted {
  workflow: StoredWorkflow;
  r: Result<{ executionId: string; created: boolean }>;
}

/**
 * The hash an Idempotency-Key's replay is compared with: the body's `input`, `timeoutMs` and `version` as
 * canonical JSON (key order does not matter); `undefined` without a key.
 *
 * @example
 * ```ts
 * import { requestHashOf } from "./execute_submit.ts";
 * const a = requestHashOf("k", { input: { a: 1, b: 2 }, timeoutMs: undefined, version: undefined });
 * const b = requestHashOf("k", { input: { b: 2, a: 1 }, timeoutMs: undefined, version: undefined });
 * if (a !== b || requestHashOf(undefined, { input: 1, timeoutMs: undefined, version: undefined }) !== undefined) {
 *   throw new Error("canonical");
 * }
 * ```
 */
export function requestHashOf(
  key: string | undefined,
  { input, timeoutMs, version }: Pick<ExecuteBody, "input" | "timeoutMs" | "version">,
): string | undefined {
  // The version is part of the request: the same key with another version (or none) is another request.
  return key === undefined ? undefined : hash128(canonicalJson({ input, timeoutMs, version }));
}

/**
 * Submits one execute on this node (the owner of its shard): the version the body names (read by `pinned`,
 * default {@link pinnedVersion}), else the latest. Engine errors are returned as values; a missing workflow
 * or version throws its 404 `ApiError`.
 *
 * @example
 * ```ts
 * import { submitExecute } from "./execute_submit.ts";
 * import { MemoryStorage } from "../../storage/memory.ts";
 * import { testEngine } from "../../testing/engine.ts";
 * const storage = new MemoryStorage();
 * const engine = testEngine(storage);
 * await engine.start();
 * const definition = {
 *   id: "w", name: "w", edges: [],
 *   nodes: [{ id: "a", type: "source" as const, nodeType: "sequence.numbers", config: { start: 1, end: 3 } }],
 * };
 * const put = await storage.putWorkflow(definition, "hash-of-w", 0, Date.now());
 * if (!put.ok) throw new Error("stored");
 * const workflows = {
 *   latestForExecute: () => Promise.resolve(put.workflow),
 *   forgetLatest: () => {},
 *   get: () => Promise.resolve(put.workflow),
 * };
 * const body = { input: null, timeoutMs: undefined, version: undefined, versionPath: undefined };
 * const { r } = await submitExecute(engine, workflows, { workflowId: "w", executionId: "ex-1", key: undefined }, body);
 * if (!r.ok || !r.value.created) throw new Error(JSON.stringify(r));
 * await engine.stop();
 * ```
 */
export async function submitExecute(
  engine: Engine,
  workflows: ExecuteWorkflows,
  { workflowId, executionId, key }: ExecuteTarget,
  body: ExecuteBody,
  pinned: (version: number, path: string) => Promise<StoredWorkflow> = (version, path) =>
    pinnedVersion(workflows, workflowId, version, path),
): Promise<Submitted> {
  const { input, timeoutMs, version } = body;
  const submission = {
    executionId,
    input,
    idempotencyKey: key,
    requestHash: requestHashOf(key, body),
    timeoutMs,
  };
  if (version !== undefined) {
    // A named version runs even when a newer one is stored: no latest-version check on its creating append.
    const workflow = await pinned(version, body.versionPath!);
    return { workflow, r: await engine.submit(workflow, { ...submission, requireLatestVersion: false }) };
  }
  return await submitLatest(engine, workflows, workflowId, submission);
}

/** What `engine.submit` gets from an execute, whichever version it runs. */
type ExecuteSubmission = Omit<Submission, "requireLatestVersion">;

/**
 * Submits the workflow's latest version, usually from memory: the creating append checks it is still the
 * latest, and a `workflow_changed` refusal (another node updated or deleted it) reads it again (3 tries).
 */
async function submitLatest(
  engine: Engine,
  workflows: ExecuteWorkflows,
  workflowId: string,
  submission: ExecuteSubmission,
): Promise<Submitted> {
  for (let tries = 1;; tries++) {
    const workflow = await workflows.latestForExecute(workflowId);
    if (!workflow) throw new ApiError(404, "workflow_not_found", `no workflow ${workflowId}`);
    const r = await engine.submit(workflow, { ...submission, requireLatestVersion: true });
    if (r.ok || r.error.code !== "workflow_changed" || tries === 3) return { workflow, r };
    workflows.forgetLatest(workflowId);
  }
}

/**
 * Version `version` of a live workflow, read from storage (404 `workflow_not_found` when the workflow is
 * deleted or was never stored, 404 `version_not_found` at `path` when it has no such version).
 *
 * @example
 * ```ts
 * import { pinnedVersion } from "./execute_submit.ts";
 * const workflows = { get: (_id: string, v?: number) => Promise.resolve(v === 3 ? undefined : { version: v ?? 2 } as never) };
 * let code = "";
 * try { await pinnedVersion(workflows, "w", 3, "$.version"); } catch (e) { code = (e as { code: string }).code; }
 * if (code !== "version_not_found") throw new Error(code);
 * ```
 */
export async function pinnedVersion(
  workflows: Pick<ExecuteWorkflows, "get">,
  workflowId: string,
  version: number,
  path: string,
): Promise<StoredWorkflow> {
  const [live, pinned] = await Promise.all([workflows.get(workflowId), workflows.get(workflowId, version)]);
  if (!live) throw new ApiError(404, "workflow_not_found", `no workflow ${workflowId}`);
  if (!pinned) throw versionNotFound(workflowId, version, path);
  return pinned;
}
