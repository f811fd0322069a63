/**
 * A node started in the bench's own process, for the in-process benches
 * (`engine_throughput.ts`, `idle_memory.ts`): on memory storage, or on PostgreSQL
 * in a fresh temporary database; with one workflow stored.
 *
 * @module
 */
import type { StoredWorkflow } from "../storage/storage.ts";
import { withTempDatabase } from "../testing/pg.ts";
import { type RunningNode, startNode } from "../server/start.ts";
import { checkWorkflow } from "../server/runtime/workflows.ts";

/** Runs `fn` with the node and the stored workflow; closes the node (and drops the database) after. */
export async function withInProcessNode(
  storage: "memory" | "postgres",
  definition: unknown,
  fn: (node: RunningNode, workflow: StoredWorkflow) => Promise<void>,
): Promise<void> {
  const run = async (databaseUrl?: string) => {
    const node = await startNode({
      port: 0,
      host: "127.0.0.1",
      logLevel: "error",
      storage,
      ...(databaseUrl ? { databaseUrl } : {}),
    });
    try {
      const checked = checkWorkflow(definition);
      if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
      const put = await node.storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
      if (!put.ok) throw new Error("could not store the workflow");
      await fn(node, put.workflow);
    } finally {
      await node.close();
    }
  };
  if (storage === "postgres") await withTempDatabase(run);
  else await run();
}
