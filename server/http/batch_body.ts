/**
 * The body of `POST /api/v1/workflows/:id/execute/batch`, checked: `{items: [...]}` with 1 to
 * {@link MAX_BATCH_ITEMS} items, each `{input?, timeoutMs?, version?, idempotencyKey?}` and checked like the
 * single execute's body. A fault of the whole body is thrown (400); a fault of one item is that item's result,
 * its paths under `$.items[i]`, and never fails the others.
 *
 * @module
 */
import { StorageUnavailable } from "../../storage/storage.ts";
import type { Logger } from "../runtime/logger.ts";
import { ApiError, type ErrorDetail } from "./errors.ts";
import { EXECUTE_KEYS, type ExecuteBody, executeBody, keyPath } from "./execute_body.ts";

/** The most items in one batch. */
export const MAX_BATCH_ITEMS = 1_000;
/** The largest batch body read: 4 MiB (a single execute's is 1 MiB). */
export const MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024;
/** The longest Idempotency-Key, as the single route's header. */
export const MAX_KEY_LENGTH = 255;

/** The keys a batch item may have. */
export const BATCH_ITEM_KEYS: readonly string[] = ["input", "timeoutMs", "version", "idempotencyKey"];

/** An error as a batch item's result carries it: the API's error body. */
export interface ItemError {
  code: string;
  message: string;
  details: ErrorDetail[];
}

/**
 * One item's result, in the order of the items: `status` 201 (started), 200 (the Idempotency-Key's execution,
 * already submitted) or the status the single execute would answer (4xx, 503); `executionId` on success;
 * `version` and `executionStatus` (`started` or its end) on success unless `?view=id`; `error` on failure.
 */
export interface BatchResult {
  status: number;
  executionId?: string;
  version?: number;
  executionStatus?: string;
  error?: ItemError;
}

/** A batch item that passed its checks. */
export interface BatchItem {
  /** The item as posted (forwarded as is to the owner of its shard). */
  raw: Record<string, unknown>;
  body: ExecuteBody;
  key: string | undefined;
}

function invalid(message: string, details: ErrorDetail[]): ApiError {
  return new ApiError(400, "validation_failed", message, details);
}

/**
 * The items of a batch body, or a 400: `validation_failed` when the body is not `{items: [...]}` (at `$` or
 * `$.<key>`) or has no item (at `$.items`), `batch_too_large` (at `$.items`) over {@link MAX_BATCH_ITEMS}.
 *
 * @example
 * ```ts
 * import { batchItems } from "./batch_body.ts";
 * if (batchItems({ items: [{}, { input: 1 }] }).length !== 2) throw new Error("two items");
 * let code = "";
 * try { batchItems({ items: new Array(1_001).fill({}) }); } catch (e) { code = (e as { code: string }).code; }
 * if (code !== "batch_too_large") throw new Error(code);
 * ```
 */
export function batchItems(body: unknown): unknown[] {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalid("the body must be an object {items: [...]}", [{
      path: "$",
      message: "expected an object",
    }]);
  }
  const unknown = Object.keys(body).filter((k) => k !== "items");
  if (unknown.length > 0) {
    throw invalid(
      `the body has ${unknown.length} unknown field(s); a batch body is {items: [...]}`,
      unknown.slice(0, 20).map((k) => ({
        path: keyPath(k),
        code: "unknown_field",
        message: "unknown field",
      })),
    );
  }
  const items = (body as { items?: unknown }).items;
  if (!Array.isArray(items) || items.length === 0) {
    throw invalid(`items must be an array of 1 to ${MAX_BATCH_ITEMS} execute bodies`, [
      { path: "$.items", message: Array.isArray(items) ? "empty" : `got ${typeof items}` },
    ]);
  }
  if (items.length > MAX_BATCH_ITEMS) {
    throw new ApiError(400, "batch_too_large", `a batch has at most ${MAX_BATCH_ITEMS} items`, [
      { path: "$.items", message: `got ${items.length} items` },
    ]);
  }
  return items;
}

/**
 * Checks item `index` of a batch like a single execute's body (with `?version=` as `fromQuery`), plus its
 * `idempotencyKey` (a string of 1 to 255 characters); a fault is the item's 400 result, paths under
 * `$.items[index]`.
 *
 * @example
 * ```ts
 * import { batchItem } from "./batch_body.ts";
 * const ok = batchItem({ input: 1, idempotencyKey: "k" }, 0, undefined);
 * if (!ok.ok || ok.item.key !== "k") throw new Error("checked");
 * const bad = batchItem({ timeoutMs: -1 }, 3, undefined);
 * if (bad.ok || bad.result.error?.details[0].path !== "$.items[3].timeoutMs") throw new Error("path");
 * ```
 */
export function batchItem(
  raw: unknown,
  index: number,
  fromQuery: number | undefined,
): { ok: true; item: BatchItem } | { ok: false; result: BatchResult } {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return {
      ok: false,
      result: itemFailure(
        index,
        invalid("an item must be an object {input?, timeoutMs?, version?, idempotencyKey?}", [
          { path: "$", message: "expected an object" },
        ]),
      ),
    };
  }
  const { idempotencyKey: key, ...rest } = raw as Record<string, unknown>;
  if (key !== undefined && (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
    const got = typeof key === "string" ? `length ${key.length}` : `got ${typeof key}`;
    return {
      ok: false,
      result: itemFailure(
        index,
        invalid(`idempotencyKey must be a string of 1 to ${MAX_KEY_LENGTH} characters`, [
          { path: "$.idempotencyKey", message: got },
        ]),
      ),
    };
  }
  try {
    return {
      ok: true,
      item: { raw: raw as Record<string, unknown>, body: executeBody(rest, fromQuery), key },
    };
  } catch (err) {
    const unknownKeys = err instanceof ApiError && err.details.some((d) => d.code === "unknown_field");
    const named = unknownKeys
      ? invalid(
        `the item has ${
          Object.keys(rest).filter((k) => !EXECUTE_KEYS.includes(k)).length
        } unknown field(s); ` +
          "a batch item is {input?, timeoutMs?, version?, idempotencyKey?}",
        (err as ApiError).details,
      )
      : err;
    return { ok: false, result: itemFailure(index, named) };
  }
}

/**
 * A detail's path in item `index` of a batch: a body path `$…` goes under `$.items[index]`, the single
 * route's `headers.Idempotency-Key` is the item's `idempotencyKey`; any other (`?version`, `shard`) stays.
 *
 * @example
 * ```ts
 * import { itemPath } from "./batch_body.ts";
 * if (itemPath("$.input", 3) !== "$.items[3].input" || itemPath("$", 0) !== "$.items[0]") throw new Error();
 * if (itemPath("headers.Idempotency-Key", 1) !== "$.items[1].idempotencyKey") throw new Error();
 * ```
 */
export function itemPath(path: string, index: number): string {
  if (path === "headers.Idempotency-Key") return `$.items[${index}].idempotencyKey`;
  return path.startsWith("$") ? `$.items[${index}]${path.slice(1)}` : path;
}

/**
 * Item `index`'s failed result of what its submission threw: an `ApiError` as its status and error (paths
 * under the item), storage being unreachable as 503 `storage_unavailable`, anything else as a 500
 * `internal` (logged to `log`).
 *
 * @example
 * ```ts
 * import { itemFailure } from "./batch_body.ts";
 * import { ApiError } from "./errors.ts";
 * const r = itemFailure(2, new ApiError(404, "version_not_found", "no", [{ path: "$.version", message: "no" }]));
 * if (r.status !== 404 || r.error?.details[0].path !== "$.items[2].version") throw new Error(JSON.stringify(r));
 * ```
 */
export function itemFailure(index: number, err: unknown, log?: Logger): BatchResult {
  if (err instanceof ApiError) {
    const details = err.details.map((d) => ({ ...d, path: itemPath(d.path, index) }));
    return { status: err.status, error: { code: err.code, message: err.message, details } };
  }
  if (err instanceof StorageUnavailable) {
    return { status: 503, error: { code: "storage_unavailable", message: err.message, details: [] } };
  }
  log?.error("batch item failed", { item: index, error: String(err), stack: (err as Error)?.stack });
  return {
    status: 500,
    error: { code: "internal", message: "internal error; see the server log", details: [] },
  };
}
