/**
 * The worker of the `transform/sql.query` node: loads the records it is sent into
 * an in-memory SQLite table `input`, runs the one read-only statement and posts
 * back the rows. It runs in a Worker so that the node can be stopped (terminated)
 * on its timeout or a cancel, whatever the query does.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { constants, DatabaseSync } from "node:sqlite";
import type { SqlTransformReply, SqlTransformRequest } from "./sql_transform_core.ts";
import { runSqlTransform } from "./sql_transform_core.ts";

self.onmessage = (e: MessageEvent<SqlTransformRequest>) => {
  let reply: SqlTransformReply;
  try {
    reply = runSqlTransform(e.data, (path, options) => new DatabaseSync(path, options as never), constants);
  } catch (err) {
    reply = { error: { code: "sql_error", message: err instanceof Error ? err.message : String(err) } };
  }
  self.postMessage(reply);
};
