/**
 * The execution log over SQL: appends of several executions (a commit group) go
 * in one statement, one round trip and one commit (append_statement.ts); each is
 * fenced by its shard's epoch, read `for share` in that statement so that a
 * concurrent claim (an `update` of the shard row) waits for the commit, or commits
 * first and makes the append fail. Events are stored as one row per append. A creating
 * append carrying a schedule fire goes through the fire statement instead
 * (append_fire_statement.ts), with its fire and its schedule's state.
 *
 * @module
 */
import type { ExecutionEvent } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { AppendRequest, AppendResult } from "../records.ts";
import type { ExecutionLog } from "../roles.ts";
import type { Kysely } from "npm:kysely@0.29.9";
import { assertFireAppend } from "../schedule_rules.ts";
import { appendFireRound, fireWaves } from "./append_fire_statement.ts";
import { whyRefused } from "./append_refusals.ts";
import { appendRound, encodeAppend, type EncodedAppend, STATEMENT_BYTES } from "./append_statement.ts";
import type { SqlContext } from "./context.ts";
import type { Database } from "./schema.ts";

/** The `ExecutionLog` role over SQL. */
export class SqlExecutionLog implements ExecutionLog {
  constructor(private readonly ctx: SqlContext) {}

  append(request: AppendRequest): Promise<AppendResult> {
    return this.appendMany([request]).then((r) => r[0]);
  }

  appendMany(requests: AppendRequest[]): Promise<AppendResult[]> {
    if (requests.length === 0) return Promise.resolve([]);
    requests.forEach(assertFireAppend);
    return this.ctx.run(async () => {
      // Round k holds the k-th append of each execution in this group: one statement never writes an
      // execution twice, and a later append of an execution sees the earlier one applied.
      const rounds: number[][] = [];
      const seen = new Map<string, number>();
      requests.forEach((req, i) => {
        const k = seen.get(req.executionId) ?? 0;
        seen.set(req.executionId, k + 1);
        (rounds[k] ??= []).push(i);
      });
      const results: AppendResult[] = new Array(requests.length);
      for (const round of rounds) {
        // Appends carrying a schedule fire go through the fire statement, one fire of a schedule at a time.
        const plain = round.filter((i) => requests[i].scheduleFire === undefined);
        await this.#statements(plain, requests, results, appendRound);
        if (plain.length === round.length) continue;
        const fires = round.filter((i) => requests[i].scheduleFire !== undefined);
        for (const wave of fireWaves(fires, requests)) {
          await this.#statements(wave, requests, results, appendFireRound);
        }
      }
      return results;
    });
  }

  /** Writes the appends `indices` of `requests` by `write`, in statements of at most STATEMENT_BYTES. */
  async #statements(
    indices: number[],
    requests: AppendRequest[],
    results: AppendResult[],
    write: (db: Kysely<Database>, batch: EncodedAppend[]) => Promise<Set<string>>,
  ): Promise<void> {
    // A statement carries at most STATEMENT_BYTES of documents (an append bigger than that goes alone).
    const encoded = indices.map((i) => ({ index: i, ...encodeAppend(requests[i]) }));
    for (let at = 0; at < encoded.length;) {
      let end = at + 1, bytes = encoded[at].bytes;
      while (end < encoded.length && bytes + encoded[end].bytes <= STATEMENT_BYTES) {
        bytes += encoded[end++].bytes;
      }
      const batch = encoded.slice(at, end);
      const written = await write(this.ctx.db, batch);
      const failed = batch.filter((e) => !written.has(e.request.executionId)).map((e) => e.request);
      const why = failed.length === 0 ? undefined : await whyRefused(this.ctx.db, failed);
      for (const e of batch) {
        results[e.index] = written.has(e.request.executionId) ? { ok: true } : why!.get(e.request)!;
      }
      at = end;
    }
  }

  readEvents(executionId: string, afterSeq = 0): Promise<ExecutionEvent[]> {
    return this.ctx.run(async () => {
      const rows = await this.ctx.db.selectFrom("event_batches").select("events")
        .where("execution_id", "=", executionId).where("last_seq", ">", afterSeq).orderBy("first_seq")
        .execute();
      const events: ExecutionEvent[] = [];
      for (const r of rows) {
        for (const e of r.events as ExecutionEvent[]) if (e.seq > afterSeq) events.push(e);
      }
      return events;
    });
  }

  getOutput(executionId: string, ref: string): Promise<Json[] | undefined> {
    return this.ctx.run(async () => {
      const r = await this.ctx.db.selectFrom("outputs").select("body").where("execution_id", "=", executionId)
        .where("ref", "=", ref).executeTakeFirst();
      return r ? (r.body as { records: Json[] }).records : undefined;
    });
  }
}
