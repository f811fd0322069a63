/**
 * The node catalog: every node kind the engine runs, with its config schema, its
 * inputs and output handles, and how the execution decider treats it. Pure data;
 * the executors that give the kinds their effects live in `server/nodes/`.
 *
 * @module
 */
import type { NodeCategory } from "./workflow.ts";
import type { ConfigCheck, ConfigSchema, Problem } from "./schema.ts";
import { parseDuration } from "./duration.ts";
import { isSecretRef } from "./secret_ref.ts";
import { httpTemplateProblems } from "./http_placeholders.ts";
import { CONTROL_KINDS } from "./catalog_control.ts";
import { MYSQL_KINDS, postgresUrlCheck } from "./catalog_mysql.ts";
import { MESSAGING_KINDS } from "./catalog_messaging.ts";

/**
 * How the decider treats a node kind:
 * - `task`: the runtime runs an executor and reports its records;
 * - `condition`: a task that also names the output handle taken (`true` or `false`);
 * - `delay`: a durable timer inside the core; its output is its input;
 * - `signal`: waits inside the core for a named signal; its output is its payload's records, or its input;
 * - `terminate`: ends the execution when it starts;
 * - `children`: runs child executions (`workflow.run`, `foreach`) and emits their outputs.
 */
export type NodeBehaviour = "task" | "condition" | "delay" | "signal" | "terminate" | "children";

/** One node kind. */
export interface NodeKindSpec {
  type: NodeCategory;
  nodeType: string;
  displayName: string;
  icon: string;
  description: string;
  behaviour: NodeBehaviour;
  /**
   * The kind's executor has no effect outside the execution (no I/O, no services): it reads its inputs and
   * returns records. The runtime may run such a node inside the commit that starts it, so a chain of local
   * nodes costs one append instead of one per node. Re-running one (after a crash before the commit) is
   * harmless, since nothing of it was visible.
   */
  local?: true;
  /** Whether the kind takes incoming edges. */
  acceptsInput: boolean;
  /** Output handles; empty for sinks. The first one is the default handle. */
  outputs: readonly string[];
  /** Output handles that depend on the config (a switch's cases); `outputs` otherwise. */
  outputsOf?: (config: Record<string, unknown>) => readonly string[];
  config: ConfigSchema;
  /** Checks across fields that a schema cannot express. */
  check?: (config: Record<string, unknown>, path: string) => Problem[];
  parseConfig?: (config: unknown, path: string) => ConfigCheck; // in place of `config`: defineNodeKind's
  /** The JSON Schema of a config `parseConfig` checks (the catalog route shows it). */
  configJsonSchema?: Readonly<Record<string, unknown>>;
  /** A kind the embedding application added (`defineNodeKind`), not one of the engine's own. */
  custom?: true;
}

const OUT = ["out"] as const;

/** A node's own `timeoutMs` for one call or query (the http node, the sql.query transform). */
const TIMEOUT_FIELD = {
  type: "integer",
  default: 10000,
  coerce: true,
  min: 1,
  max: 600000,
  label: "Timeout (ms)",
} as const;
const NONE: readonly string[] = [];

const connection = {
  type: "string",
  label: "Connection",
  description:
    "the name of a connection the operator declared (--sql-connection NAME=URL); default: `default`",
} as const;

const connectionUrl = {
  type: "string",
  label: "Connection URL",
  description: "an inline postgres:// URL, refused unless the node allows inline connections",
} as const;

function oneOf(keys: string[]) {
  return (config: Record<string, unknown>, path: string): Problem[] =>
    keys.some((k) => config[k] !== undefined)
      ? []
      : [{ path, code: "config_missing", message: `one of ${keys.join(", ")} is required` }];
}

/** A field that names one column or a list of them. */
function namesCheck(key: string) {
  return (config: Record<string, unknown>, path: string): Problem[] => {
    const v = config[key];
    if (v === undefined) return [];
    const ok = typeof v === "string" ? v !== "" : Array.isArray(v) && v.length > 0 &&
      v.every((x) => typeof x === "string" && x !== "");
    return ok ? [] : [{
      path: `${path}.${key}`,
      code: "config_type",
      message: `${key} must be a field name or a non-empty list of field names`,
    }];
  };
}

const aggregateCheck = (config: Record<string, unknown>, path: string): Problem[] => [
  ...namesCheck("groupBy")(config, path),
  ...(config.op !== "count" && config.op !== undefined && config.field === undefined
    ? [{ path: `${path}.field`, code: "config_missing", message: `field is required for op ${config.op}` }]
    : []),
];

const csvDelimiterCheck = (config: Record<string, unknown>, path: string): Problem[] =>
  typeof config.delimiter === "string" && /^["\r\n]$/.test(config.delimiter)
    ? [{
      path: `${path}.delimiter`,
      code: "config_range",
      message: "delimiter must not be a quote or a line break",
    }]
    : [];

function httpCheck(config: Record<string, unknown>, path: string): Problem[] {
  const problems: Problem[] = httpTemplateProblems(config, path);
  if (config.body !== undefined && (config.method === "GET" || config.method === "HEAD")) {
    problems.push({
      path: `${path}.body`,
      code: "config_range",
      message: `a ${config.method} request has no body`,
    });
  }
  if (config.headers && typeof config.headers === "object") {
    for (const [name, value] of Object.entries(config.headers as Record<string, unknown>)) {
      if (!["string", "number", "boolean"].includes(typeof value) && !isSecretRef(value)) {
        problems.push({
          path: `${path}.headers.${name}`,
          code: "config_type",
          message: `header ${name} must be a string, number, boolean or secret reference`,
        });
      }
    }
  }
  return problems;
}

/** Every node kind, in palette order. */
const BASE_KINDS: readonly NodeKindSpec[] = [
  // ---- sources
  {
    type: "source",
    nodeType: "sequence.numbers",
    displayName: "Number sequence",
    icon: "list-ordered",
    description: "Emits numbers from start to end inclusive, by step.",
    behaviour: "task",
    local: true,
    acceptsInput: false,
    outputs: OUT,
    config: {
      start: { type: "number", default: 1, coerce: true, label: "Start" },
      end: { type: "number", default: 100, coerce: true, label: "End (inclusive)" },
      step: { type: "number", default: 1, coerce: true, label: "Step" },
    },
    check: (c, path) =>
      c.step === 0 ? [{ path: `${path}.step`, code: "config_range", message: "step must not be 0" }] : [],
  },
  {
    type: "source",
    nodeType: "random.numbers",
    displayName: "Random numbers",
    icon: "dice",
    description: "Emits count random integers between min and max inclusive; reproducible with a seed.",
    behaviour: "task",
    local: true,
    acceptsInput: false,
    outputs: OUT,
    config: {
      count: { type: "integer", default: 100, coerce: true, min: 0, label: "Count" },
      min: { type: "number", default: 1, coerce: true, label: "Minimum" },
      max: { type: "number", default: 100, coerce: true, label: "Maximum" },
      seed: { type: "integer", coerce: true, label: "Seed", description: "same seed, same numbers" },
    },
    check: (c, path) =>
      (c.min as number) > (c.max as number)
        ? [{ path: `${path}.min`, code: "config_range", message: "min must be ≤ max" }]
        : [],
  },
  {
    type: "source",
    nodeType: "execution.input",
    displayName: "Execution input",
    icon: "log-in",
    description:
      "Emits the execution's input as records: an array's items, else the input itself (none for null); a foreach child's item.",
    behaviour: "task",
    local: true,
    acceptsInput: false,
    outputs: OUT,
    config: {},
  },
  {
    type: "source",
    nodeType: "memory.collection",
    displayName: "In-memory collection",
    icon: "database",
    description: "Emits the records of the data array.",
    behaviour: "task",
    local: true,
    acceptsInput: false,
    outputs: OUT,
    config: { data: { type: "array", required: true, label: "Data" } },
  },
  {
    type: "source",
    nodeType: "file.text",
    displayName: "Text file",
    icon: "file-text",
    description: "Emits each line of a text file as a string record.",
    behaviour: "task",
    acceptsInput: false,
    outputs: OUT,
    config: {
      path: { type: "string", required: true, label: "Path" },
      skipEmpty: { type: "boolean", default: false, label: "Skip empty lines" },
    },
  },
  {
    type: "source",
    nodeType: "file.csv",
    displayName: "CSV file",
    icon: "file-spreadsheet",
    description: "Emits each row of a CSV file; with a header row, rows become objects.",
    behaviour: "task",
    acceptsInput: false,
    outputs: OUT,
    config: {
      path: { type: "string", required: true, label: "Path" },
      delimiter: { type: "string", default: ",", maxLength: 1, label: "Delimiter" },
      header: { type: "boolean", default: true, label: "First row is a header" },
    },
    check: csvDelimiterCheck,
  },
  {
    type: "source",
    nodeType: "sql.query",
    displayName: "SQL query",
    icon: "database-search",
    description: "Runs a SQL query against PostgreSQL and emits each row as an object.",
    behaviour: "task",
    acceptsInput: false,
    outputs: OUT,
    config: {
      sql: { type: "string", required: true, label: "SQL" },
      params: { type: "array", label: "Parameters", description: "values for $1, $2, ..." },
      connection,
      connectionUrl,
    },
    check: postgresUrlCheck,
  },
  // ---- transforms
  {
    type: "transform",
    nodeType: "sql.query",
    displayName: "SQL over records",
    icon: "database-search",
    description:
      "Runs a read-only SQLite query over the incoming records, loaded into an in-memory table `input`; emits its rows.",
    behaviour: "task",
    acceptsInput: true,
    outputs: OUT,
    config: {
      sql: { type: "string", required: true, label: "SQL", description: "one SELECT over the table `input`" },
      timeoutMs: TIMEOUT_FIELD,
    },
  },
  {
    type: "transform",
    nodeType: "filter",
    displayName: "Filter",
    icon: "filter",
    description: "Keeps the records for which the condition is true.",
    behaviour: "task",
    local: true,
    acceptsInput: true,
    outputs: OUT,
    config: { condition: { type: "string", required: true, expression: true, label: "Condition" } },
  },
  {
    type: "transform",
    nodeType: "map",
    displayName: "Map",
    icon: "shuffle",
    description: "Replaces each record by an expression's value, or by an object of field expressions.",
    behaviour: "task",
    local: true,
    acceptsInput: true,
    outputs: OUT,
    config: {
      expression: { type: "string", expression: true, label: "Expression" },
      fields: { type: "object", label: "Fields", description: "{name: expression}" },
    },
    check: oneOf(["expression", "fields"]),
  },
  {
    type: "transform",
    nodeType: "distinct",
    displayName: "Distinct",
    icon: "fingerprint",
    description: "Drops records equal to an earlier one, or with an equal key.",
    behaviour: "task",
    local: true,
    acceptsInput: true,
    outputs: OUT,
    config: { key: { type: "string", expression: true, label: "Key expression" } },
  },
  {
    type: "transform",
    nodeType: "batch",
    displayName: "Batch",
    icon: "layers",
    description: "Groups records into arrays of batchSize (the last one may be shorter).",
    behaviour: "task",
    local: true,
    acceptsInput: true,
    outputs: OUT,
    config: { batchSize: { type: "integer", default: 10, coerce: true, min: 1, label: "Batch size" } },
  },
  {
    type: "transform",
    nodeType: "aggregate",
    displayName: "Aggregate",
    icon: "sigma",
    description: "Groups records by fields and computes count, sum, avg, min or max.",
    behaviour: "task",
    local: true,
    acceptsInput: true,
    outputs: OUT,
    config: {
      groupBy: { type: "any", label: "Group by", description: "a field name or a list of them" },
      op: {
        type: "string",
        default: "count",
        enum: ["count", "sum", "avg", "min", "max"],
        label: "Operation",
      },
      field: { type: "string", label: "Field", description: "the field aggregated; `value` for bare values" },
    },
    check: aggregateCheck,
  },
  {
    type: "transform",
    nodeType: "aggregate.count",
    displayName: "Count",
    icon: "hash",
    description: "Counts records, by group when groupBy is set (the old engine's name).",
    behaviour: "task",
    local: true,
    acceptsInput: true,
    outputs: OUT,
    config: { groupBy: { type: "any", label: "Group by" } },
    check: namesCheck("groupBy"),
  },
  {
    type: "transform",
    nodeType: "sort",
    displayName: "Sort",
    icon: "arrow-down-up",
    description: "Sorts records by a key expression (the record itself by default); stable.",
    behaviour: "task",
    local: true,
    acceptsInput: true,
    outputs: OUT,
    config: {
      by: { type: "string", expression: true, label: "Key expression" },
      order: { type: "string", default: "asc", enum: ["asc", "desc"], label: "Order" },
    },
  },
  {
    type: "transform",
    nodeType: "limit",
    displayName: "Limit",
    icon: "scissors",
    description: "Keeps the first count records.",
    behaviour: "task",
    local: true,
    acceptsInput: true,
    outputs: OUT,
    config: { count: { type: "integer", required: true, coerce: true, min: 0, label: "Count" } },
  },
  // ---- sinks
  {
    type: "sink",
    nodeType: "console.log",
    displayName: "Console",
    icon: "terminal",
    description: "Prints up to limit records to the engine's log.",
    behaviour: "task",
    acceptsInput: true,
    outputs: NONE,
    config: { limit: { type: "integer", default: 100, coerce: true, min: 0, label: "Limit" } },
  },
  {
    type: "sink",
    nodeType: "file.text",
    displayName: "Text file",
    icon: "file-text",
    description: "Writes one line per record to a file, atomically (temp file + rename).",
    behaviour: "task",
    acceptsInput: true,
    outputs: NONE,
    config: { path: { type: "string", required: true, label: "Path" } },
  },
  {
    type: "sink",
    nodeType: "file.csv",
    displayName: "CSV file",
    icon: "file-spreadsheet",
    description: "Writes records as CSV rows, atomically; object records get a header row.",
    behaviour: "task",
    acceptsInput: true,
    outputs: NONE,
    config: {
      path: { type: "string", required: true, label: "Path" },
      delimiter: { type: "string", default: ",", maxLength: 1, label: "Delimiter" },
      header: { type: "boolean", default: true, label: "Write a header row" },
    },
    check: csvDelimiterCheck,
  },
  {
    type: "sink",
    nodeType: "file.jsonl",
    displayName: "JSON lines file",
    icon: "braces",
    description: "Writes one JSON document per line, atomically.",
    behaviour: "task",
    acceptsInput: true,
    outputs: NONE,
    config: { path: { type: "string", required: true, label: "Path" } },
  },
  {
    type: "sink",
    nodeType: "memory.collect",
    displayName: "Collect",
    icon: "inbox",
    description: "Keeps the records with the execution; read them at .../nodes/{nodeId}/output.",
    behaviour: "task",
    local: true,
    acceptsInput: true,
    outputs: NONE,
    config: {},
  },
  {
    type: "sink",
    nodeType: "sql.insert",
    displayName: "SQL insert",
    icon: "database-plus",
    description: "Inserts object records into a PostgreSQL table; upserts on a key; idempotent on retry.",
    behaviour: "task",
    acceptsInput: true,
    outputs: NONE,
    config: {
      table: { type: "string", required: true, label: "Table" },
      upsertKey: { type: "any", label: "Upsert key", description: "a column or a list of them" },
      connection,
      connectionUrl,
    },
    check: (c, path) => [...namesCheck("upsertKey")(c, path), ...postgresUrlCheck(c, path)],
  },
  // ---- control
  {
    type: "control",
    nodeType: "http",
    displayName: "HTTP call",
    icon: "globe",
    description:
      "Calls a templated URL, once or once per record; non-2xx fails the attempt; emits {status, headers, body}.",
    behaviour: "task",
    acceptsInput: true,
    outputs: OUT,
    config: {
      method: {
        type: "string",
        default: "GET",
        enum: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
        label: "Method",
      },
      url: {
        type: "string",
        required: true,
        label: "URL",
        description: "may hold placeholders such as {{input.customer.id}} or {{record.id}}, URL-encoded",
      },
      headers: { type: "object", default: {}, label: "Headers", description: "values may hold placeholders" },
      body: {
        type: "any",
        label: "Body template",
        description: "{{records}}, {{record}}, {{input}}, {{executionId}}, {{nodeId}}, with .paths",
      },
      timeoutMs: TIMEOUT_FIELD,
      perRecord: {
        type: "boolean",
        default: false,
        label: "One call per record",
        description: "responses in input order",
      },
      concurrency: {
        type: "integer",
        default: 4,
        coerce: true,
        min: 1,
        max: 32,
        label: "Calls at once",
        description: "with perRecord",
      },
      maxCalls: {
        type: "integer",
        default: 1000,
        coerce: true,
        min: 1,
        max: 10000,
        label: "Most calls",
        description: "with perRecord: more input records fail the node (http_too_many_calls)",
      },
      idempotent: {
        type: "boolean",
        default: false,
        label: "Target honours Idempotency-Key",
        description: "lets a failed POST or PATCH that may have reached the target be retried",
      },
    },
    check: httpCheck,
  },
  {
    type: "control",
    nodeType: "delay",
    displayName: "Delay",
    icon: "timer",
    description: "Waits on a durable timer, then passes its input on.",
    behaviour: "delay",
    acceptsInput: true,
    outputs: OUT,
    config: {
      durationMs: { type: "integer", coerce: true, min: 0, label: "Duration (ms)" },
      duration: { type: "string", label: "Duration", description: "such as 30s, 5m, 1h, 1d" },
    },
    check: (c, path) => {
      if (c.durationMs === undefined && c.duration === undefined) {
        return oneOf(["durationMs", "duration"])(c, path);
      }
      if (c.duration !== undefined && parseDuration(c.duration as string) === undefined) {
        return [{ path: `${path}.duration`, code: "config_type", message: `not a duration: ${c.duration}` }];
      }
      return [];
    },
  },
  {
    type: "control",
    nodeType: "condition",
    displayName: "Condition",
    icon: "git-branch",
    description: "Evaluates a condition over its input; routes it to the true or the false handle.",
    behaviour: "condition",
    local: true,
    acceptsInput: true,
    outputs: ["true", "false"],
    config: { condition: { type: "string", required: true, expression: true, label: "Condition" } },
  },
  {
    type: "control",
    nodeType: "signal.wait",
    displayName: "Wait for signal",
    icon: "bell",
    description: "Waits for POST .../signals/{name}, then passes its input on.",
    behaviour: "signal",
    acceptsInput: true,
    outputs: OUT,
    config: { name: { type: "string", required: true, maxLength: 200, label: "Signal name" } },
  },
];

/** Every node kind, in palette order. */
export const CATALOG: readonly NodeKindSpec[] = [
  ...BASE_KINDS,
  ...MYSQL_KINDS,
  ...MESSAGING_KINDS,
  ...CONTROL_KINDS,
];

const BY_KIND = new Map(CATALOG.map((k) => [`${k.type}/${k.nodeType}`, k]));

/** Finds a built-in node kind by its (type, nodeType) pair (an engine's own kinds: `Catalog.find`). */
export function findKind(type: string, nodeType: string): NodeKindSpec | undefined {
  return BY_KIND.get(`${type}/${nodeType}`);
}

/** The delay of a delay node's normalised config, in milliseconds. */
export function delayMs(config: Record<string, unknown>): number {
  if (typeof config.durationMs === "number") return config.durationMs;
  return parseDuration(String(config.duration)) ?? 0;
}
