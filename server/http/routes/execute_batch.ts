/**
 * `POST /api/v1/workflows/:id/execute/batch`: up to 1,000 executes of one workflow in one call, each item
 * checked, keyed and answered like a single execute (its own Idempotency-Key, its own error), the answers in
 * the order of the items. Every item is submitted at once, so they share the engine's commit groups rather
 * than waiting on each other. In a cluster the node that receives the batch makes every item's execution id,
 * runs the items of the shards it owns and forwards the others to their owners, one sub-batch per owner
 * (carrying the ids and the items' places, so paths and idempotency are the same wherever an item runs).
 *
 * @module
 */
import { shardOf } from "../../../core/ids.ts";
import type { StoredWorkflow } from "../../../storage/storage.ts";
import type { Engine } from "../../runtime/engine.ts";
import type { Logger } from "../../runtime/logger.ts";
import {
  type BatchItem,
  batchItem,
  batchItems,
  type BatchResult,
  itemFailure,
  MAX_BATCH_BODY_BYTES,
} from "../batch_body.ts";
import { parseJson, readBody } from "../body.ts";
import { ApiError, json } from "../errors.ts";
import type { ExecuteView } from "../execute_body.ts";
import { type ExecuteWorkflows, pinnedVersion, submitExecute } from "../execute_submit.ts";
import { newExecutionIdFor } from "../execution_ids.ts";
import { isForwarded } from "../forwarding.ts";
import { engineError } from "../route_helpers.ts";
import type { RouteContext } from "../router.ts";
import { checkBody, parseQuery } from "../route_spec.ts";
import { executeBatchSpec } from "../specs/executions.ts";
import {
  BATCH_ITEMS_HEADER,
  type ForwardedRequest,
  forwardedRequest,
  type ShardRouting,
} from "../routing.ts";

/** What the batch route uses. */
export interface BatchDeps {
  engine: Engine;
  workflows: ExecuteWorkflows;
  routing: ShardRouting;
  /** Where an item's unexpected failure is logged. */
  log?: Logger;
}

/** An item ready to submit: checked, with its execution id and its place. */
interface Placed extends BatchItem {
  /** Its place in this request's items (and in the answer). */
  slot: number;
  /** Its place in the batch the client posted (its error paths name it). */
  index: number;
  executionId: string;
  shard: number;
}

/** What one batch request runs with. */
interface BatchRun extends BatchDeps {
  workflowId: string;
  view: ExecuteView;
  results: BatchResult[];
  /** Workflow reads, each made once per batch. */
  versions: ExecuteWorkflows;
}

/**
 * Answers a batch: 200 `{workflowId, count, created, replayed, failed, results}` (with `?view=id`, `{results}`
 * whose items are `{status, executionId}` or `{status, error}`); a fault of the whole request is its 4xx.
 *
 * @example A batch over the bound is refused before anything runs
 * ```ts
 * import { executeBatch } from "./execute_batch.ts";
 * const body = JSON.stringify({ items: new Array(1_001).fill({}) });
 * const req = new Request("http://x/api/v1/workflows/w/execute/batch", { method: "POST", body });
 * let code = "";
 * try {
 *   await executeBatch({} as never, { req, url: new URL(req.url), params: { id: "w" } });
 * } catch (e) { code = (e as { code: string }).code; }
 * if (code !== "batch_too_large") throw new Error(code);
 * ```
 */
export async function executeBatch(deps: BatchDeps, { req, url, params }: RouteContext): Promise<Response> {
  const { view = "full", version } = parseQuery(executeBatchSpec.query, url.searchParams) as {
    view?: ExecuteView;
    version?: number;
  };
  if (url.searchParams.has("wait")) {
    throw new ApiError(400, "invalid_parameter", "the batch route does not wait for the executions' ends", [
      { path: "?wait", message: "not supported here: follow each execution at its id" },
    ]);
  }
  if (req.headers.has("idempotency-key")) {
    throw new ApiError(
      400,
      "invalid_header",
      "a batch takes an Idempotency-Key per item: items[i].idempotencyKey",
      [
        { path: "headers.Idempotency-Key", message: "not allowed on the batch route" },
      ],
    );
  }
  const text = await readBody(req, MAX_BATCH_BODY_BYTES);
  const raws = checkBody(executeBatchSpec.body, parseJson(text), batchItems);
  const forwarded = isForwarded(req);
  const places = forwarded ? placesOf(req.headers.get(BATCH_ITEMS_HEADER), raws.length) : undefined;
  const run: BatchRun = {
    ...deps,
    workflowId: params.id,
    view,
    results: new Array(raws.length),
    versions: onceEach(deps.workflows),
  };
  if (!forwarded && !(await run.versions.latestForExecute(run.workflowId))) {
    throw new ApiError(404, "workflow_not_found", `no workflow ${run.workflowId}`);
  }
  const ready = await placeItems(run, raws, version, places);
  if (forwarded) {
    // Sent here as the owner: every item runs here at once; one of a shard this node no longer owns is its
    // 503 `not_owner` (the engine's), never a wait that would hold the answers of the others.
    await Promise.all(ready.map((item) => runItem(run, item)));
  } else await runEverywhere(run, req, url, ready);
  return json(answer(run));
}

/** How long the received batch waits between rounds for items whose shard was moving. */
const MOVED_RETRY_MS = 100;

/**
 * Runs every item on its shard's owner. An item an owner refused with `not_owner` (its shard moved between
 * this node's look at the owners and the owner's) is placed again, as a single execute waits for a moving
 * shard, until `askTimeoutMs` has passed; its fixed id makes the retry idempotent.
 */
async function runEverywhere(run: BatchRun, req: Request, url: URL, ready: Placed[]): Promise<void> {
  const deadline = Date.now() + run.routing.askTimeoutMs;
  for (let pending = ready;;) {
    await Promise.all(groupsOf(run, pending).map((group) => runGroup(run, req, url, group)));
    pending = pending.filter((item) => run.results[item.slot]?.error?.code === "not_owner");
    if (pending.length === 0 || Date.now() + MOVED_RETRY_MS >= deadline) return;
    for (const item of pending) delete run.results[item.slot];
    await new Promise((resolve) => setTimeout(resolve, MOVED_RETRY_MS));
  }
}

/** The body of a batch's answer. */
function answer({ view, workflowId, results }: BatchRun) {
  if (view === "id") return { results };
  const created = results.filter((r) => r.status === 201).length;
  const replayed = results.filter((r) => r.status === 200).length;
  return {
    workflowId,
    count: results.length,
    created,
    replayed,
    failed: results.length - created - replayed,
    results,
  };
}

/** A forwarded sub-batch's places and ids (its header, written by the member that received the batch). */
function placesOf(header: string | null, count: number): { at: number[]; ids: string[] } {
  let parsed: { at?: unknown; ids?: unknown } | undefined;
  try {
    parsed = header === null ? undefined : JSON.parse(header);
  } catch { /* refused below */ }
  const { at, ids } = parsed ?? {};
  if (
    !Array.isArray(at) || !Array.isArray(ids) || at.length !== count || ids.length !== count ||
    !at.every(Number.isInteger) || !ids.every((id) => typeof id === "string")
  ) {
    throw new ApiError(400, "invalid_header", `a forwarded batch needs ${BATCH_ITEMS_HEADER} for its items`);
  }
  return { at, ids };
}

/** Workflow reads of one batch, each made once: a batch of one version reads it once, not per item. */
function onceEach(workflows: ExecuteWorkflows): ExecuteWorkflows {
  const reads = new Map<string, Promise<StoredWorkflow | undefined>>();
  const once = (key: string, read: () => Promise<StoredWorkflow | undefined>) => {
    let r = reads.get(key);
    if (r === undefined) reads.set(key, r = read());
    return r;
  };
  return {
    latestForExecute: (id) => once(`latest:${id}`, () => workflows.latestForExecute(id)),
    forgetLatest: (id) => {
      reads.delete(`latest:${id}`);
      workflows.forgetLatest(id);
    },
    get: (id, version) => once(`${version ?? "live"}:${id}`, () => workflows.get(id, version)),
  };
}

/** Checks every item and makes its execution id (a fault is the item's result); returns those ready. */
async function placeItems(
  run: BatchRun,
  raws: unknown[],
  fromQuery: number | undefined,
  places: { at: number[]; ids: string[] } | undefined,
): Promise<Placed[]> {
  const ready: (Placed | undefined)[] = await Promise.all(raws.map(async (raw, slot) => {
    const index = places?.at[slot] ?? slot;
    const checked = batchItem(raw, index, fromQuery);
    if (!checked.ok) {
      run.results[slot] = checked.result;
      return undefined;
    }
    const { key, body } = checked.item;
    try {
      // Keyed by the workflow's concurrency key when it has one (`execution_ids.ts`): routed to the key's owner.
      const executionId = places?.ids[slot] ??
        await newExecutionIdFor(run.engine, run.versions, run.workflowId, key, body);
      return {
        ...checked.item,
        slot,
        index,
        executionId,
        shard: shardOf(executionId, run.engine.shardCount),
      };
    } catch (err) {
      run.results[slot] = itemFailure(index, err, run.log);
      return undefined;
    }
  }));
  return ready.filter((p): p is Placed => p !== undefined);
}

/** Items that go to one place: a shard this node owns (or waits for), or every shard of one other owner. */
interface Group {
  /** The shard routed by: its owner runs the group. */
  shard: number;
  items: Placed[];
}

/**
 * The items grouped by where they run: per shard for those of this node's shards and of shards without an
 * owner (each waits for its own); per owner for the others (one sub-batch each).
 */
function groupsOf({ routing }: BatchRun, ready: Placed[]): Group[] {
  const groups = new Map<string, Group>();
  const self = routing.selfId;
  for (const item of ready) {
    const owner = routing.ownerOf(item.shard);
    const key = owner === null || owner === self ? `shard:${item.shard}` : `owner:${owner}`;
    const group = groups.get(key);
    if (group) group.items.push(item);
    else groups.set(key, { shard: item.shard, items: [item] });
  }
  return [...groups.values()];
}

/** Stands for "the group ran here" among the answers `ShardRouting.route` gives. */
const RAN_HERE = new Response(null, { status: 204 });

/** Runs a group here (owning its shard) or forwards it to its owner; a refusal fails each of its items. */
async function runGroup(
  run: BatchRun,
  req: Request,
  url: URL,
  group: Group,
): Promise<void> {
  const here = () => Promise.all(group.items.map((item) => runItem(run, item))).then(() => RAN_HERE);
  try {
    if (run.engine.ownedShards.has(group.shard)) {
      await here();
      return;
    }
    const res = await run.routing.route(group.shard, subBatch(req, url, group.items), false, here);
    if (res !== RAN_HERE) await takeAnswers(run, group.items, res);
  } catch (err) {
    for (const item of group.items) run.results[item.slot] ??= itemFailure(item.index, err, run.log);
  }
}

/** The forwarded form of a group: its items as posted, their places and ids in a header. */
function subBatch(req: Request, url: URL, items: Placed[]): ForwardedRequest {
  const places = JSON.stringify({ at: items.map((i) => i.index), ids: items.map((i) => i.executionId) });
  return forwardedRequest(req, url, JSON.stringify({ items: items.map((i) => i.raw) }), {
    [BATCH_ITEMS_HEADER]: places,
  });
}

/** Takes an owner's answer to a forwarded group: its results, or its error as each item's. */
async function takeAnswers(run: BatchRun, items: Placed[], res: Response): Promise<void> {
  const text = await res.text();
  let body: { results?: BatchResult[]; error?: BatchResult["error"] } | undefined;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON: failed below */ }
  const results = body?.results;
  if (res.status === 200 && Array.isArray(results) && results.length === items.length) {
    items.forEach((item, k) => run.results[item.slot] = results[k]);
    return;
  }
  const error = body?.error ??
    { code: "forward_failed", message: `the shard's owner answered ${res.status}`, details: [] };
  const status = res.status >= 400 ? res.status : 502;
  for (const item of items) {
    run.results[item.slot] = itemFailure(
      item.index,
      new ApiError(status, error.code, error.message, error.details),
    );
  }
}

/** Submits one item here (the owner of its shard) and records its result. */
async function runItem(run: BatchRun, item: Placed): Promise<void> {
  const { engine, versions, workflowId, view } = run;
  const { executionId, key, body, index } = item;
  try {
    const pinned = (version: number, path: string) => pinnedVersion(versions, workflowId, version, path);
    const { workflow, r } = await submitExecute(
      engine,
      versions,
      { workflowId, executionId, key },
      body,
      pinned,
    );
    if (!r.ok) {
      run.results[item.slot] = itemFailure(index, engineError(r.error));
      return;
    }
    const status = r.value.created ? 201 : 200;
    if (view === "id") {
      run.results[item.slot] = { status, executionId };
      return;
    }
    const state = await engine.view(executionId);
    run.results[item.slot] = {
      status,
      executionId,
      version: state?.version ?? workflow.version,
      // As the single execute answers: the old engine's `started` for a run not ended, else its end.
      executionStatus: !state || state.status === "running" ? "started" : state.status,
    };
  } catch (err) {
    run.results[item.slot] = itemFailure(index, err, run.log);
  }
}
