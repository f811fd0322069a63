/**
 * Why appends were refused: the append statement writes the appends that hold and
 * skips the others silently, so each refusal is explained after the fact from the
 * shard's epoch and the execution as they are now (and, for an append carrying a
 * schedule fire, its schedule and tick).
 *
 * @module
 */
import type { Kysely } from "npm:kysely@0.29.9";
import type { AppendRequest, AppendResult } from "../records.ts";
import { executionExists, sequenceConflict, staleEpoch, workflowChanged } from "../refusals.ts";
import { fireRefusals } from "./append_fire_statement.ts";
import { num, toExecution } from "./rows.ts";
import type { Database } from "./schema.ts";

/** Why each of `failed` (appends the statement did not write) was refused, read after the fact. */
export async function whyRefused(
  db: Kysely<Database>,
  failed: AppendRequest[],
): Promise<Map<AppendRequest, AppendResult>> {
  const shardRows = await db.selectFrom("shards").select(["shard", "epoch"])
    .where("shard", "in", [...new Set(failed.map((r) => r.fence.shard))]).execute();
  const epochs = new Map(shardRows.map((r) => [r.shard, num(r.epoch as string | number)]));
  const rows = await db.selectFrom("executions").selectAll()
    .where("execution_id", "in", failed.map((r) => r.executionId)).execute();
  const byId = new Map(rows.map((r) => [r.execution_id, toExecution(r)]));
  const byFire = await fireRefusals(db, failed);
  const why = new Map<AppendRequest, AppendResult>();
  for (const req of failed) {
    const epoch = epochs.get(req.fence.shard) ?? 0;
    const found = byId.get(req.executionId);
    if (epoch !== req.fence.epoch) why.set(req, staleEpoch(req, epoch));
    else if (req.expectedSeq === 0 && found) why.set(req, executionExists(req, found));
    else if (byFire.has(req)) why.set(req, byFire.get(req)!);
    else if (req.expectedSeq === 0 && req.requireLatestVersion) why.set(req, workflowChanged(req));
    else why.set(req, sequenceConflict(req, found?.lastSeq ?? 0, found?.lastSeq ?? "no execution"));
  }
  return why;
}
