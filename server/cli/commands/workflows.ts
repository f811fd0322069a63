/**
 * `workflows list|get|create|update|delete`: workflow definitions.
 *
 * @module
 */
import { apiPath } from "../client.ts";
import type { Command, Context } from "../command.ts";
import { opt, printJson } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago, table } from "../format.ts";
import { parseIntOption, readJson } from "../input.ts";
import { PAGE_OPTIONS, readList } from "./lists.ts";

/** A workflow in the list. */
interface WorkflowSummary {
  id: string;
  name: string;
  version: number;
  nodeCount: number;
  edgeCount: number;
  tags: string[];
  createdAt: number;
}

/** A stored definition, as far as the CLI reads it. */
interface Definition {
  id: string;
  name: string;
  description?: string;
  nodes: { id: string; type: string; nodeType: string; label?: string }[];
  edges: { source: string; target: string; sourceHandle?: string }[];
  metadata?: { schedule?: unknown };
  concurrency?: { key: string; limit: number };
  timeoutMs?: number;
}

/** What create and update answer. */
interface WriteAnswer {
  message: string;
  workflowId: string;
  version: number;
  scheduleStatus: string;
}

const FILE_OPTION = {
  file: {
    type: "string" as const,
    short: "f",
    value: "FILE|JSON",
    help: "the definition: a JSON file, - for standard input, or inline JSON",
  },
};

/** Prints a create or update answer. */
function printWrite(ctx: Context, a: WriteAnswer): void {
  if (ctx.json) return printJson(ctx.io, a);
  const schedule = a.scheduleStatus === "none" ? "" : ` (schedule: ${a.scheduleStatus})`;
  ctx.io.out(`${a.message}: ${a.workflowId} version ${a.version}${schedule}`);
}

/** The definition file of `-f`, required. */
async function definitionFile(ctx: Context): Promise<Record<string, unknown>> {
  const file = opt(ctx, "file");
  if (file === undefined) throw usageError("--file (-f) is required");
  const d = await readJson(file, "--file", true);
  if (d === null || typeof d !== "object" || Array.isArray(d)) {
    throw usageError(`--file: ${file} is not a JSON object (a workflow definition)`);
  }
  return d as Record<string, unknown>;
}

/** The human view of a definition. */
function definitionLines(d: Definition, version: string | null): string[] {
  const lines = [`${d.id}  ${d.name}${version ? `  (version ${version})` : ""}`];
  if (d.description) lines.push(d.description);
  if (d.timeoutMs) lines.push(`execution timeout: ${d.timeoutMs} ms`);
  if (d.concurrency) lines.push(`concurrency: key ${d.concurrency.key}, limit ${d.concurrency.limit}`);
  if (d.metadata?.schedule) lines.push(`metadata.schedule: ${JSON.stringify(d.metadata.schedule)}`);
  const inputs = (id: string) => d.edges.filter((e) => e.target === id).map((e) => e.source).join(", ");
  lines.push(
    "",
    ...table(
      ["NODE", "TYPE", "KIND", "INPUTS"],
      d.nodes.map((n) => [n.id, n.type, n.nodeType, inputs(n.id)]),
    ),
  );
  return lines;
}

/** The workflow commands. */
export const workflowCommands: Command[] = [
  {
    name: "workflows list",
    summary: "List the workflows, by id",
    options: {
      search: {
        type: "string",
        value: "TEXT",
        help: "only those whose id or name contains TEXT (case ignored)",
      },
      ...PAGE_OPTIONS,
    },
    examples: ["workflows list", "workflows list --search numbers --json"],
    async run(ctx) {
      const items = await readList<WorkflowSummary>(ctx, apiPath("workflows"), { q: opt(ctx, "search") });
      if (ctx.json) {
        printJson(ctx.io, items);
        return 0;
      }
      if (items.length === 0) {
        ctx.io.out("no workflows");
        return 0;
      }
      const now = ctx.io.now();
      for (
        const l of table(
          ["ID", "NAME", "VERSION", "NODES", "EDGES", "UPDATED"],
          items.map((
            w,
          ) => [
            w.id,
            w.name,
            String(w.version),
            String(w.nodeCount),
            String(w.edgeCount),
            ago(w.createdAt, now),
          ]),
          ["left", "left", "right", "right", "right", "left"],
        )
      ) ctx.io.out(l);
      return 0;
    },
  },
  {
    name: "workflows get",
    summary: "Show a workflow's definition",
    args: [{ name: "workflowId", help: "the workflow's id" }],
    options: { version: { type: "string", value: "N", help: "that version instead of the latest" } },
    examples: [
      "workflows get big-numbers",
      "workflows get big-numbers --version 1 --json > big-numbers.json",
    ],
    async run(ctx) {
      const v = opt(ctx, "version");
      const version = v === undefined ? undefined : parseIntOption(v, "--version", 1, 2 ** 31);
      const a = await ctx.client.request<Definition>("GET", apiPath("workflows", ctx.args[0]), {
        query: { version },
      });
      if (ctx.json) {
        printJson(ctx.io, a.body);
        return 0;
      }
      for (const l of definitionLines(a.body, a.headers.get("x-workflow-version"))) ctx.io.out(l);
      return 0;
    },
  },
  {
    name: "workflows create",
    summary: "Create a workflow from a definition",
    options: FILE_OPTION,
    details: ["A workflow with the same id and another definition is refused (workflow_exists): use update."],
    examples: ["workflows create -f big-numbers.json"],
    async run(ctx) {
      const body = await definitionFile(ctx);
      const a = await ctx.client.request<WriteAnswer>("POST", apiPath("workflows"), { body });
      printWrite(ctx, a.body);
      return 0;
    },
  },
  {
    name: "workflows update",
    summary: "Store a new version of a workflow",
    args: [{ name: "workflowId", help: "the workflow's id (default: the file's id)", optional: true }],
    options: FILE_OPTION,
    examples: ["workflows update -f big-numbers.json"],
    async run(ctx) {
      const body = await definitionFile(ctx);
      const id = ctx.args[0] ?? (typeof body.id === "string" ? body.id : undefined);
      if (id === undefined) throw usageError("workflows update: give <workflowId> or an id in the file");
      const a = await ctx.client.request<WriteAnswer>("PUT", apiPath("workflows", id), { body });
      printWrite(ctx, a.body);
      return 0;
    },
  },
  {
    name: "workflows delete",
    summary: "Delete a workflow (its executions stay readable)",
    args: [{ name: "workflowId", help: "the workflow's id" }],
    examples: ["workflows delete big-numbers"],
    async run(ctx) {
      const a = await ctx.client.request<{ message: string; workflowId: string }>(
        "DELETE",
        apiPath("workflows", ctx.args[0]),
      );
      if (ctx.json) {
        printJson(ctx.io, a.body);
        return 0;
      }
      ctx.io.out(`${a.body.message}: ${a.body.workflowId}`);
      return 0;
    },
  },
];
