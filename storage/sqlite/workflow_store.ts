/**
 * Workflow definitions in the SQLite store: versions in `workflows` (the definition as its JSON text), and
 * one head row per workflow in `workflow_heads` (the latest version, and whether it is deleted). A put is a
 * compare-and-set on the head, in one write transaction.
 *
 * @module
 */
import type { WorkflowDefinition } from "../../core/workflow.ts";
import type { Page, PutWorkflowResult, StoredWorkflow } from "../records.ts";
import type { WorkflowStore } from "../roles.ts";
import { decodeVersionCursor, encodeVersionCursor, type WorkflowVersionInfo } from "../workflow_versions.ts";
import type { SqliteContext } from "./context.ts";
import { toWorkflow, type WorkflowRow } from "./rows.ts";

const LATEST = `select w.id, w.version, w.definition, w.hash, w.created_at
  from workflow_heads h join workflows w on w.id = h.id and w.version = h.latest_version
  where h.deleted = 0`;

/** The `WorkflowStore` role over SQLite. */
export class SqliteWorkflowStore implements WorkflowStore {
  constructor(private readonly ctx: SqliteContext) {}

  putWorkflow(
    def: WorkflowDefinition,
    hash: string,
    expected: number,
    now: number,
  ): Promise<PutWorkflowResult> {
    return this.ctx.write((): PutWorkflowResult => {
      const db = this.ctx.db;
      const head = db.get<{ latest_version: number; deleted: number }>(
        "select latest_version, deleted from workflow_heads where id = ?",
        def.id,
      );
      const latest = head?.latest_version ?? 0;
      if (latest !== expected) {
        const current = head && head.deleted === 0 ? this.#version(def.id, latest) : undefined;
        return { ok: false, code: "version_conflict", current };
      }
      const version = expected + 1;
      db.run(
        "insert into workflows (id, version, definition, hash, created_at) values (?, ?, ?, ?, ?)",
        def.id,
        version,
        JSON.stringify(def),
        hash,
        now,
      );
      db.run(
        `insert into workflow_heads (id, latest_version, deleted) values (?, ?, 0)
          on conflict (id) do update set latest_version = excluded.latest_version, deleted = 0`,
        def.id,
        version,
      );
      return { ok: true, workflow: { id: def.id, version, definition: def, hash, createdAt: now } };
    });
  }

  #version(id: string, version: number): StoredWorkflow | undefined {
    const r = this.ctx.db.get<WorkflowRow>(
      "select * from workflows where id = ? and version = ?",
      id,
      version,
    );
    return r && toWorkflow(r);
  }

  getWorkflow(id: string, version?: number): Promise<StoredWorkflow | undefined> {
    return this.ctx.run(() => {
      if (version !== undefined) return this.#version(id, version);
      const r = this.ctx.db.get<WorkflowRow>(`${LATEST} and h.id = ?`, id);
      return r && toWorkflow(r);
    });
  }

  listWorkflows(limit: number, cursor?: string | null): Promise<Page<StoredWorkflow>> {
    return this.ctx.run(() => {
      const rows = (cursor == null
        ? this.ctx.db.all<WorkflowRow>(`${LATEST} order by h.id limit ?`, limit + 1)
        : this.ctx.db.all<WorkflowRow>(`${LATEST} and h.id > ? order by h.id limit ?`, cursor, limit + 1))
        .map(toWorkflow);
      const items = rows.slice(0, limit);
      return { items, next: rows.length > limit ? items.at(-1)!.id : null };
    });
  }

  deleteWorkflow(id: string): Promise<boolean> {
    return this.ctx.run(() =>
      this.ctx.db.run("update workflow_heads set deleted = 1 where id = ? and deleted = 0", id) > 0
    );
  }

  listWorkflowVersions(
    id: string,
    limit: number,
    cursor?: string | null,
  ): Promise<Page<WorkflowVersionInfo>> {
    return this.ctx.run(() => {
      const below = cursor == null ? 2 ** 31 + 1 : decodeVersionCursor(cursor);
      type Row = {
        id: string;
        version: number;
        hash: string;
        created_at: number;
        name: string;
        node_count: number;
        edge_count: number;
      };
      const rows = this.ctx.db.all<Row>(
        `select id, version, hash, created_at, json_extract(definition, '$.name') as name,
          json_array_length(definition, '$.nodes') as node_count,
          json_array_length(definition, '$.edges') as edge_count
          from workflows where id = ? and version < ? order by version desc limit ?`,
        id,
        below,
        limit + 1,
      );
      const items = rows.slice(0, limit).map((r): WorkflowVersionInfo => ({
        id: r.id,
        version: r.version,
        name: r.name,
        hash: r.hash,
        createdAt: r.created_at,
        nodeCount: Number(r.node_count),
        edgeCount: Number(r.edge_count),
      }));
      return { items, next: rows.length > limit ? encodeVersionCursor(items.at(-1)!.version) : null };
    });
  }

  latestVersion(id: string): Promise<number> {
    return this.ctx.run(() =>
      this.ctx.db.get<{ latest_version: number }>(
        "select latest_version from workflow_heads where id = ?",
        id,
      )
        ?.latest_version ?? 0
    );
  }
}
