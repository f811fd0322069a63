/**
 * Node kinds an application adds to the engine (`defineNodeKind`): a name, a config schema from any schema
 * library that implements Standard Schema (zod 4, valibot, arktype) and gives the config its static type, and
 * the function that runs an attempt. The schema checks every node's config when a workflow is created (the
 * problems carry the path of the fault, like the built-in kinds'); `run` gets the records flowing in and
 * returns the records flowing out.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import type { NodeKindSpec } from "../../core/catalog.ts";
import type { Json } from "../../core/json.ts";
import type { ConfigCheck, Problem } from "../../core/schema.ts";
import { type Executor, type NodeContext, NodeError } from "../executors/executor.ts";
import { attemptSpan, type NodeSpan } from "./node_span.ts";

export { NodeError };
export type { NodeSpan };

/** The Standard Schema interface (standardschema.dev) a config schema implements: zod, valibot, arktype… */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The schema's standard properties. */
  readonly "~standard": {
    /** The Standard Schema version (1). */
    readonly version: 1;
    /** The library's name (`zod`, `valibot`…). */
    readonly vendor: string;
    /** Checks a value: its output, or its issues. */
    readonly validate: (
      value: unknown,
    ) => StandardResult<Output> | Promise<StandardResult<Output>>;
    /** The static types, for inference only. */
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** What a Standard Schema's `validate` answers. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
    readonly issues: ReadonlyArray<{
      readonly message: string;
      readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
    }>;
  };

/** The config type a schema gives (its output). */
export type ConfigOf<S> = S extends StandardSchemaV1<unknown, infer O> ? O : Record<string, never>;

/** A logger bound to one attempt: each line carries the execution, node and attempt. */
export interface NodeLogger {
  /** A debug line. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** An info line. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** A warning. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** An error line (the attempt goes on unless `run` throws). */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What `run` is told about the attempt it runs. */
export interface NodeKindContext<Config> {
  /** The node's config, as the schema parsed it when the workflow was created. */
  config: Config;
  /** The execution this attempt belongs to. */
  executionId: string;
  /** The execution's workflow. */
  workflowId: string;
  /** The node's id in the workflow. */
  nodeId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /**
   * Stable across the attempts of this node in this execution (`${executionId}:${nodeId}`): pass it to the
   * services you call so a retried attempt does not do its effect twice.
   */
  idempotencyKey: string;
  /** Aborted when the attempt times out or the execution is cancelled: stop, and pass it to `fetch`. */
  signal: AbortSignal;
  /** The records of each parent node, by its id (`input` is all of them, in edge order). */
  inputsByParent: Record<string, Json[]>;
  /** The execution's input (`execute(id, {input})`). */
  executionInput: Json;
  /** Lines to the engine's log. */
  log: NodeLogger;
  /** A span of this attempt (a child of the engine's attempt span when tracing is on; a no-op otherwise). */
  span: NodeSpan;
}

/** What `defineNodeKind` takes. */
export interface NodeKindDefinition<S extends StandardSchemaV1 | undefined> {
  /** The kind's category: what a workflow's node says in `type`. */
  type: "source" | "transform" | "sink";
  /** The kind's name: what a node says in `nodeType` (letters, digits, `.`, `_`, `-`). */
  name: string;
  /** The config's schema (Standard Schema: zod 4, valibot…); none: the config must be an empty object. */
  configSchema?: S;
  /** A label for the catalog (default: the name). */
  displayName?: string;
  /** One line for the catalog. */
  description?: string;
  /**
   * `run` has no effect outside the execution (no I/O, no clock): the engine may run it inside the commit that
   * starts it, so a chain of local nodes costs one append.
   */
  local?: boolean;
  /**
   * Runs one attempt: the records flowing in (every parent's, in edge order; none for a source), and returns
   * the records flowing out (a sink's are kept as its output, like `memory.collect`'s). Throw a
   * `NodeError(code, message, false)` to fail the node at once; anything else thrown is retried under the
   * node's retry policy.
   */
  run(ctx: NodeKindContext<ConfigOf<S>>, input: Json[]): Json[] | Promise<Json[]>;
}

/** A node kind made by `defineNodeKind`, ready for `createEngine({nodeKinds})`. */
export interface NodeKind {
  /** Its category (a node's `type`). */
  readonly type: "source" | "transform" | "sink";
  /** Its name (a node's `nodeType`). */
  readonly name: string;
}

/** What the runtime needs of a kind: its catalog entry and its executor. */
export interface RuntimeKind {
  /** Its catalog entry. */
  readonly spec: NodeKindSpec;
  /** The executor the runtime calls. */
  readonly executor: Executor;
}

const RUNTIME = new WeakMap<NodeKind, RuntimeKind>();

/** The catalog entry and executor of a kind `defineNodeKind` made; throws for anything else. */
export function runtimeKindOf(kind: NodeKind): RuntimeKind {
  const found = RUNTIME.get(kind);
  if (!found) throw new TypeError(`node kind ${String(kind?.name)} was not made by defineNodeKind`);
  return found;
}

const NAME = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;

/**
 * Defines a node kind. The schema checks each node's config when a workflow is created: a fault is a
 * `validation_failed` problem with its path (`$.nodes[1].config.factor`) and code `config_invalid`.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { defineNodeKind, runtimeKindOf } from "./node_kind.ts";
 *
 * const scale = defineNodeKind({
 *   type: "transform",
 *   name: "math.scale",
 *   configSchema: z.object({ factor: z.number().default(2) }),
 *   run: (ctx, input) => input.map((n) => Number(n) * ctx.config.factor),
 * });
 * const { spec } = runtimeKindOf(scale);
 * const ok = spec.parseConfig!({}, "$.config");
 * if (ok.problems.length > 0 || ok.config.factor !== 2) throw new Error("defaults filled");
 * const bad = spec.parseConfig!({ factor: "x" }, "$.config");
 * if (bad.problems[0].path !== "$.config.factor") throw new Error(bad.problems[0].path);
 * ```
 */
export function defineNodeKind<S extends StandardSchemaV1 | undefined = undefined>(
  def: NodeKindDefinition<S>,
): NodeKind {
  if (!NAME.test(def.name)) {
    throw new TypeError(
      `node kind name ${JSON.stringify(def.name)}: letters, digits, ., _ and - (at most 100)`,
    );
  }
  if (!["source", "transform", "sink"].includes(def.type)) {
    throw new TypeError(`node kind ${def.name}: type must be source, transform or sink, got ${def.type}`);
  }
  const schema = def.configSchema ?? EMPTY_CONFIG;
  const spec: NodeKindSpec = {
    type: def.type,
    nodeType: def.name,
    displayName: def.displayName ?? def.name,
    icon: "puzzle",
    description: def.description ?? "",
    behaviour: "task",
    acceptsInput: def.type !== "source",
    outputs: def.type === "sink" ? [] : ["out"],
    config: {},
    parseConfig: (config, path) => parseWith(schema, config, path),
    configJsonSchema: jsonSchemaOf(schema),
    custom: true,
    ...(def.local && { local: true }),
  };
  const kind: NodeKind = Object.freeze({ type: def.type, name: def.name });
  RUNTIME.set(kind, { spec, executor: executorOf(def) });
  return kind;
}

/** The schema of a kind without one: an empty object. */
const EMPTY_CONFIG = z.object({}).strict();

/** A config checked by a Standard Schema: the problems with their paths under `path`. */
function parseWith(schema: StandardSchemaV1, config: unknown, path: string): ConfigCheck {
  const refused = (message: string, at = path): ConfigCheck => ({
    config: {},
    problems: [{ path: at, code: "config_invalid", message }],
  });
  let result: ReturnType<StandardSchemaV1["~standard"]["validate"]>;
  try {
    result = schema["~standard"].validate(config);
  } catch (err) { // a schema that throws (a transform, say) refuses the config, never the request
    return refused(`the config schema threw: ${(err as Error)?.message ?? String(err)}`);
  }
  if (result instanceof Promise) {
    result.catch(() => {}); // zod answers a promise when its synchronous pass threw: never left unhandled
    return refused("the config schema needs async validation; use a synchronous one");
  }
  if (result.issues) {
    const problems: Problem[] = result.issues.map((issue) => ({
      path: path + (issue.path ?? []).map((seg) => segment(typeof seg === "object" ? seg.key : seg)).join(""),
      code: "config_invalid",
      message: issue.message,
    }));
    return { config: {}, problems };
  }
  const value = result.value;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { config: {}, problems: [{ path, code: "config_type", message: "the config must be an object" }] };
  }
  if (!isJson(value)) return refused("the config schema's output must be JSON (it is stored as JSON)");
  return { config: value as Record<string, unknown>, problems: [] };
}

/** Whether a value survives JSON unchanged: plain objects, arrays, strings, finite numbers, booleans, null. */
function isJson(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJson(v, depth + 1));
  if (typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value as Record<string, unknown>).every((v) =>
    v !== undefined && isJson(v, depth + 1)
  );
}

function segment(key: PropertyKey): string {
  if (typeof key === "number") return `[${key}]`;
  const name = String(key);
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/** The config's JSON Schema when the library can tell it (Standard JSON Schema, or zod's), else any object. */
function jsonSchemaOf(schema: StandardSchemaV1): Record<string, unknown> {
  try {
    const standard = (schema["~standard"] as {
      jsonSchema?: { input?: (opts: { target: string }) => Record<string, unknown> };
    }).jsonSchema;
    if (standard?.input) return standard.input({ target: "draft-2020-12" });
    if (schema instanceof z.ZodType || "_zod" in schema) {
      return z.toJSONSchema(schema as z.ZodType, { io: "input", unrepresentable: "any" }) as Record<
        string,
        unknown
      >;
    }
  } catch { /* a schema JSON Schema cannot express */ }
  return { type: "object" };
}

/** The executor of a defined kind: `run` with the attempt's context, its result checked. */
function executorOf<S extends StandardSchemaV1 | undefined>(def: NodeKindDefinition<S>): Executor {
  return async (ctx: NodeContext) => {
    const span = attemptSpan(def.name, ctx.traceparent);
    try {
      const records = await def.run(contextOf<S>(ctx, span), ctx.inputs.records);
      if (!Array.isArray(records)) {
        throw new NodeError("invalid_output", `${def.name} must return an array of records`, false);
      }
      span.end();
      return { records };
    } catch (err) {
      span.fail(err);
      throw err;
    }
  };
}

function contextOf<S extends StandardSchemaV1 | undefined>(
  ctx: NodeContext,
  span: NodeSpan,
): NodeKindContext<ConfigOf<S>> {
  const bound = { execution: ctx.executionId, node: ctx.nodeId, attempt: ctx.attempt };
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    ctx.services.log(message, { ...bound, level, ...fields });
  return {
    config: ctx.config as ConfigOf<S>,
    executionId: ctx.executionId,
    workflowId: ctx.workflowId,
    nodeId: ctx.nodeId,
    attempt: ctx.attempt,
    idempotencyKey: ctx.idempotencyKey,
    signal: ctx.signal,
    inputsByParent: ctx.inputs.byParent,
    executionInput: ctx.executionInput,
    log: { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") },
    span,
  };
}
