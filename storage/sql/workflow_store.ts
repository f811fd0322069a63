/**
 * Workflow definitions over SQL: versions in `workflows`, and one head row per
 * workflow in `workflow_heads` (the latest version, and whether it is deleted),
 * locked `for update` by a put.
 *
 * @module
 */
import { type Kysely, sql, type Transaction } from "npm:kysely@0.29.9";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import type { Page, PutWorkflowResult, StoredWorkflow } from "../records.ts";
import type { WorkflowStore } from "../roles.ts";
import type { SqlContext } from "./context.ts";
import { toWorkflow } from "./rows.ts";
import type { Database } from "./schema.ts";
import { decodeVersionCursor, encodeVersionCursor, type WorkflowVersionInfo } from "../workflow_versions.ts";

/** The `WorkflowStore` role over SQL. */
export class SqlWorkflowStore implements WorkflowStore {
  constructor(private readonly ctx: SqlContext) {}

  putWorkflow(
    def: WorkflowDefinition,
    hash: string,
    expected: number,
    now: number,
  ): Promise<PutWorkflowResult> {
    return this.ctx.run(() =>
      this.ctx.db.transaction().execute(async (trx): Promise<PutWorkflowResult> => {
        const head = await trx.selectFrom("workflow_heads").selectAll().where("id", "=", def.id).forUpdate()
          .executeTakeFirst();
        const latest = head?.latest_version ?? 0;
        if (latest !== expected) {
          const current = head && !head.deleted ? await this.#version(trx, def.id, latest) : undefined;
          return { ok: false, code: "version_conflict", current };
        }
        const version = expected + 1;
        // Without a head row there is nothing to lock: a concurrent first put may have stored this version.
        const inserted = await trx.insertInto("workflows").values({
          id: def.id,
          version,
          definition: def,
          hash,
          created_at: now,
        }).onConflict((oc) => oc.columns(["id", "version"]).doNothing()).returning("version")
          .executeTakeFirst();
        if (!inserted) {
          return { ok: false, code: "version_conflict", current: await this.#version(trx, def.id, version) };
        }
        await trx.insertInto("workflow_heads").values({ id: def.id, latest_version: version, deleted: false })
          .onConflict((oc) => oc.column("id").doUpdateSet({ latest_version: version, deleted: false }))
          .execute();
        return { ok: true, workflow: { id: def.id, version, definition: def, hash, createdAt: now } };
      })
    );
  }

  async #version(db: Kysely<Database> | Transaction<Database>, id: string, version: number) {
    const r = await db.selectFrom("workflows").selectAll().where("id", "=", id).where("version", "=", version)
      .executeTakeFirst();
    return r && toWorkflow(r);
  }

  getWorkflow(id: string, version?: number): Promise<StoredWorkflow | undefined> {
    return this.ctx.run(async () => {
      if (version !== undefined) return await this.#version(this.ctx.db, id, version);
      const r = await this.ctx.db.selectFrom("workflow_heads as h")
        .innerJoin(
          "workflows as w",
          (j) => j.onRef("w.id", "=", "h.id").onRef("w.version", "=", "h.latest_version"),
        )
        .select(["w.id", "w.version", "w.definition", "w.hash", "w.created_at"])
        .where("h.id", "=", id).where("h.deleted", "=", false)
        .executeTakeFirst();
      return r && toWorkflow(r);
    });
  }

  listWorkflows(limit: number, cursor?: string | null): Promise<Page<StoredWorkflow>> {
    return this.ctx.run(async () => {
      let q = this.ctx.db.selectFrom("workflow_heads as h")
        .innerJoin(
          "workflows as w",
          (j) => j.onRef("w.id", "=", "h.id").onRef("w.version", "=", "h.latest_version"),
        )
        .select(["w.id", "w.version", "w.definition", "w.hash", "w.created_at"])
        .where("h.deleted", "=", false)
        .orderBy("h.id")
        .limit(limit + 1);
      if (cursor != null) q = q.where("h.id", ">", cursor);
      const rows = (await q.execute()).map(toWorkflow);
      const items = rows.slice(0, limit);
      return { items, next: rows.length > limit ? items.at(-1)!.id : null };
    });
  }

  deleteWorkflow(id: string): Promise<boolean> {
    return this.ctx.run(async () => {
      const r = await this.ctx.db.updateTable("workflow_heads").set({ deleted: true })
        .where("id", "=", id).where("deleted", "=", false).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    });
  }

  listWorkflowVersions(
    id: string,
    limit: number,
    cursor?: string | null,
  ): Promise<Page<WorkflowVersionInfo>> {
    return this.ctx.run(async () => {
      const below = cursor == null ? undefined : decodeVersionCursor(cursor);
      let q = this.ctx.db.selectFrom("workflows")
        .select([
          "id",
          "version",
          "hash",
          "created_at",
          sql<string>`definition->>'name'`.as("name"),
          sql<number>`json_array_length(definition->'nodes')`.as("node_count"),
          sql<number>`json_array_length(definition->'edges')`.as("edge_count"),
        ])
        .where("id", "=", id)
        .orderBy("version", "desc")
        .limit(limit + 1);
      if (below !== undefined) q = q.where("version", "<", below);
      const rows = await q.execute();
      const items = rows.slice(0, limit).map((r): WorkflowVersionInfo => ({
        id: r.id,
        version: r.version,
        name: r.name,
        hash: r.hash,
        createdAt: Number(r.created_at),
        nodeCount: Number(r.node_count),
        edgeCount: Number(r.edge_count),
      }));
      return { items, next: rows.length > limit ? encodeVersionCursor(items.at(-1)!.version) : null };
    });
  }

  latestVersion(id: string): Promise<number> {
    return this.ctx.run(async () => {
      const r = await this.ctx.db.selectFrom("workflow_heads").select("latest_version").where("id", "=", id)
        .executeTakeFirst();
      return r?.latest_version ?? 0;
    });
  }
}
