/**
 * The audit log of the API: every state-changing call (`POST`, `PUT`, `PATCH`, `DELETE` under `/api`),
 * refused ones included, as one structured log line (`audit`, at info level) and, when its caller is known
 * (a configured or stored token, or any caller of a node without auth), one event in storage with the time,
 * the node, the caller's token id and role (never the token), the method, the route pattern, the path, the
 * status and outcome, and the request's `x-request-id`. A call without a known caller (a 401, or a token
 * lookup that failed) gets its log line and is counted (`unauthenticated`), but is not stored: whoever
 * reaches the port could otherwise flood the stored log, pushing real events out.
 *
 * Appends run off the request's path: the recorder queues events (at most 10,000) and appends them in
 * batches (of up to 500) one batch at a time. Nothing is lost silently: an append that fails, and an event
 * the full queue cannot take, is logged and counted (`lost`, which the node's metrics count); the log line
 * of each event was written already. Every 1,000 appended events it trims the log to the newest 100,000.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "../../storage/memory.ts";
 * import { silentLogger } from "../runtime/logger.ts";
 * import { AuditRecorder, auditEventOf } from "./audit.ts";
 *
 * const storage = new MemoryStorage();
 * const audit = new AuditRecorder(storage, silentLogger);
 * const req = new Request("http://x/api/v1/workflows/w1", { method: "DELETE" });
 * const caller = { role: "viewer" as const, tokenId: "1a2b3c4d" };
 * audit.record(auditEventOf(req, "/api/v1/workflows/:id", 403, caller, "node-1", 1_000)!);
 * await audit.flush();
 * const [event] = (await storage.listAudit(10)).items;
 * if (event.outcome !== "denied" || event.tokenId !== "1a2b3c4d") throw new Error(JSON.stringify(event));
 * ```
 *
 * @module
 */
import type { AuditEvent, AuditOutcome } from "../../storage/access_records.ts";
import type { AuditLog } from "../../storage/roles.ts";
import type { Logger } from "../runtime/logger.ts";
import type { Caller } from "./auth.ts";

/** The audit events kept: the newest 100,000 (older ones are trimmed). */
export const AUDIT_KEEP = 100_000;
/** The most events waiting to be appended. */
export const AUDIT_QUEUE_MAX = 10_000;
/** The most events in one append. */
export const AUDIT_BATCH_MAX = 500;
/** The log is trimmed after this many appended events (by this node). */
export const AUDIT_TRIM_EVERY = 1_000;

/** Why audit events were not stored: the append failed, or the queue was full. */
export type AuditLoss = "storage" | "queue_full";

/** Options of `AuditRecorder`. */
export interface AuditOptions {
  /** Events not stored, by reason (each is in the log already). */
  lost?: (count: number, reason: AuditLoss) => void;
  /** A state-changing call without a known caller (logged, not stored). */
  unauthenticated?: () => void;
  /** How many events to keep (default `AUDIT_KEEP`). */
  keep?: number;
}

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** A usable `x-request-id`: 1 to 128 visible ASCII characters. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
/** The longest path kept. */
const MAX_PATH = 1_024;

/** The outcome of a status: `ok` below 400; `denied` for 401, 403, 429; otherwise `failed`. */
export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return "ok";
  return status === 401 || status === 403 || status === 429 ? "denied" : "failed";
}

/** The audit event of an answered request, or undefined when it is not audited (a read, or not `/api`). */
export function auditEventOf(
  req: Request,
  route: string,
  status: number,
  caller: Caller | undefined,
  node: string,
  at: number,
): AuditEvent | undefined {
  if (!CHANGES.has(req.method)) return undefined;
  const path = new URL(req.url).pathname;
  if (path !== "/api" && !path.startsWith("/api/")) return undefined;
  const requestId = req.headers.get("x-request-id");
  return {
    at,
    node,
    tokenId: caller?.tokenId ?? null,
    role: caller?.role ?? null,
    method: req.method,
    route,
    path: path.slice(0, MAX_PATH),
    status,
    outcome: outcomeOf(status),
    requestId: requestId !== null && REQUEST_ID.test(requestId) ? requestId : null,
  };
}

/** Logs and records audit events, appending them to storage in the background. */
export class AuditRecorder {
  #queue: AuditEvent[] = [];
  #draining: Promise<void> | undefined;
  #sinceTrim = 0;
  readonly #keep: number;

  constructor(
    private readonly store: AuditLog,
    private readonly log: Logger,
    private readonly opts: AuditOptions = {},
  ) {
    this.#keep = opts.keep ?? AUDIT_KEEP;
  }

  /** Logs an event (one line) and queues it for storage; never throws, never waits. */
  record(event: AuditEvent): void {
    this.#logLine(event);
    if (this.#queue.length >= AUDIT_QUEUE_MAX) {
      this.log.error("audit event not stored: the queue is full", {
        route: event.route,
        status: event.status,
      });
      this.opts.lost?.(1, "queue_full");
      return;
    }
    this.#queue.push(event);
    this.#draining ??= this.#drain();
  }

  /**
   * Logs the event of a call without a known caller (one line, as `record` does) and counts it, without
   * storing it; never throws, never waits.
   */
  recordUnauthenticated(event: AuditEvent): void {
    this.#logLine(event);
    this.opts.unauthenticated?.();
  }

  #logLine(event: AuditEvent): void {
    const { at: _at, node: _node, ...fields } = event;
    this.log.info("audit", fields);
  }

  /** Resolves once every event recorded so far was appended (or its append failed). */
  async flush(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, AUDIT_BATCH_MAX);
        try {
          await this.store.appendAudit(batch);
        } catch (err) {
          this.log.error("audit events not stored", { events: batch.length, error: String(err) });
          this.opts.lost?.(batch.length, "storage");
          continue;
        }
        this.#sinceTrim += batch.length;
        if (this.#sinceTrim >= AUDIT_TRIM_EVERY) {
          this.#sinceTrim = 0;
          await this.store.trimAudit(this.#keep).catch((err) =>
            this.log.warn("audit trim failed", { error: String(err) })
          );
        }
      }
    } finally {
      this.#draining = undefined;
    }
  }
}
