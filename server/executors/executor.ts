/**
 * The contract between the runtime and the node kinds' effects. An executor gets
 * its inputs and normalised config and returns the node's records; it reaches the
 * outside world only through `services`, so the simulator can inject every effect.
 *
 * @module
 */

import type { Json } from "../../core/json.ts";
import type { BrokerClient, BrokerTarget, Delivery } from "./broker.ts";
import type { MysqlClient, MysqlTarget } from "./mysql_support.ts";

/** A record: any JSON value. */
export type { Json };

/** The records flowing into one node. */
export interface NodeInputs {
  /** Every live parent's records, concatenated in edge order. */
  records: Json[];
  /** Each live parent's records by parent node id. */
  byParent: Record<string, Json[]>;
  /** Records by target handle (edges without one use `in`), in edge order. */
  byHandle: Record<string, Json[]>;
}

/** Bounds on what one node may emit. Exceeding one fails the node; nothing is truncated. */
export interface OutputLimits {
  maxRecords: number;
  maxBytes: number;
}

/** Effects an executor may use. The runtime provides real ones; the simulator, fakes. */
export interface NodeServices {
  /** `fetch` for the http node. */
  fetch: typeof fetch;
  /** Files for the file.* nodes. */
  readTextFile(path: string): Promise<string>;
  /** Writes a whole file atomically: a temp file beside it, then a rename. */
  writeFileAtomic(path: string, text: string): Promise<void>;
  /**
   * A PostgreSQL client for the sql.* nodes: the connection the node names (declared by the operator), or its
   * inline URL where inline connections are allowed; else a `connection_not_granted` NodeError.
   */
  sql(target: SqlTarget): SqlClient;
  /** A MySQL / MariaDB client for the mysql.* nodes, under the same grants as `sql` (`mysql_support.ts`). */
  mysql?(target: MysqlTarget): MysqlClient;
  /**
   * A broker for the messaging nodes: the connection the node names (`--broker NAME=URL`), or its inline
   * address where inline connections are allowed; else a `connection_not_granted` NodeError (`brokers/`).
   */
  broker?(target: BrokerTarget): BrokerClient;
  /** A log line from a node (console.log writes here). */
  log(line: string, fields: Record<string, unknown>): void;
  /** A signal aborted after `ms` (the http node's timeout); injected so the simulator can use virtual time. */
  timeout(ms: number): AbortSignal;
}

/** What a sql.* node names: a declared connection (`connection`), or an inline `connectionUrl`. */
export interface SqlTarget {
  connection?: string;
  connectionUrl?: string;
}

/** The little of a SQL client the sql.* nodes need. */
export interface SqlClient {
  /** Runs one statement with positional parameters and returns its rows. */
  query(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs `fn` inside one transaction. */
  transaction<T>(fn: (tx: Pick<SqlClient, "query">) => Promise<T>): Promise<T>;
}

/** Everything an executor is told about one attempt. */
export interface NodeContext {
  executionId: string;
  workflowId: string;
  nodeId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Stable across attempts of this node in this execution: `${executionId}:${nodeId}`. */
  idempotencyKey: string;
  /** The normalised config (defaults filled, numeric strings coerced). */
  config: Record<string, unknown>;
  inputs: NodeInputs;
  /** The execution's input (`POST .../execute {input}`). */
  executionInput: Json;
  limits: OutputLimits;
  /** Aborted when the attempt times out or the execution is cancelled. */
  signal: AbortSignal;
  services: NodeServices;
  /** The node's definition gives it a `retry` policy: it asks for retries even of a non-idempotent call. */
  retryDeclared?: boolean;
  /** The W3C `traceparent` of this attempt's span, when tracing is on (the http node sends it). */
  traceparent?: string;
}

/** What an attempt produced. */
export interface NodeResult {
  records: Json[];
  /** For condition nodes: the output handle taken. */
  handle?: string;
  /** Records processed, when it differs from the number emitted (a sink emits none, say). */
  recordsProcessed?: number;
  /**
   * What a consumer took and holds: the runtime commits it once this result's output is durably in the
   * history, and releases it when it will not be (see `Delivery`).
   */
  delivery?: Delivery;
}

/** Runs one attempt of one node kind. Throws `NodeError` (or anything) to fail the attempt. */
export type Executor = (ctx: NodeContext) => Promise<NodeResult>;

/** A failed attempt, with a stable code. `retryable: false` fails the node at once. */
export class NodeError extends Error {
  /**
   * A failed attempt.
   *
   * @param code a stable code (shown as the node's error code)
   * @param message what went wrong
   * @param retryable `false` fails the node at once, whatever its retry policy
   */
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = true,
  ) {
    super(message);
    this.name = "NodeError";
  }
}

/**
 * An executor from a synchronous function: a throw becomes a rejected promise, so
 * callers never see an executor throw synchronously.
 */
export function fromSync(fn: (ctx: NodeContext) => NodeResult): Executor {
  return (ctx) => new Promise((resolve) => resolve(fn(ctx)));
}
