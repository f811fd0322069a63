/**
 * The engine embedded in an application: `createEngine` starts a node in process (storage, engine, recovery,
 * the scheduler, a cluster member when asked) without opening a port, and answers in TypeScript what the HTTP
 * API answers: every call goes through the node's own API handler, so validation, idempotency, routing to
 * the shard's owner in a cluster and the error codes are the API's. `serve()` opens the same API on a port.
 *
 * @module
 */
import type { ExecutionEvent } from "../core/events.ts";
import { TERMINAL_STATUSES } from "../core/state.ts";
import type { Json } from "../core/json.ts";
import type { ExecutionView } from "../core/view.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import { deferredHttp, type ListenOptions } from "./deferred_http.ts";
import { ConfigError, configProblems, DEFAULT_CONFIG, type EngineConfig } from "./ops/config.ts";
import { readTls } from "./ops/tls.ts";
import { createLogger, type LogLevel } from "./ops/log.ts";
import type { Logger } from "./runtime/logger.ts";
import { type RunningNode, startNode } from "./start.ts";
import { type ApiCall, callApi, FlowmeshError } from "./embed/in_process.ts";
import { type NodeKind, runtimeKindOf } from "./embed/node_kind.ts";
import { followEvents, type SubscribeOptions } from "./embed/subscribe.ts";

/** Where an embedded engine keeps its executions. */
export type EngineStorageChoice =
  | "memory"
  | { embedded: string }
  | { postgres: string };

/** How an embedded engine joins a cluster (every member must define the same node kinds). */
export interface EmbeddedClusterOptions {
  /** This member's id (stable across restarts). */
  nodeId: string;
  /** The cluster transport's port. */
  port: number;
  /** Other members' cluster addresses (`host:port`). */
  seeds?: string[];
  /** The secret every member proves. */
  secret: string;
  /** The interface to listen on (default `127.0.0.1`). */
  host?: string;
}

/** What `createEngine` takes. */
export interface CreateEngineOptions {
  /** `"memory"` (nothing survives the process), `{embedded: dir}` (SQLite in `dir`), or `{postgres: url}`. */
  storage: EngineStorageChoice;
  /** Node kinds the workflows may use besides the built-in ones (`defineNodeKind`). */
  nodeKinds?: readonly NodeKind[];
  /** Join a cluster (PostgreSQL storage): executions are sharded over the members. */
  cluster?: EmbeddedClusterOptions;
  /** Any other node setting (docs/CONFIGURATION.md), e.g. `{maxOutputRecords: 10_000}`. */
  settings?: Partial<EngineConfig>;
  /** The engine's log: a level for lines on stderr (default `warn`), `"silent"`, or your own logger. */
  log?: LogLevel | "silent" | Logger;
}

/** What `execute` takes. */
export interface ExecuteOptions {
  /** The execution's input (source `execution.input` reads it). */
  input?: Json;
  /** Milliseconds to wait for the end (0, the default: answer once it is stored). At most 300,000. */
  wait?: number;
  /** The same key twice starts one execution (the second call answers the first's view). */
  idempotencyKey?: string;
  /** The version to run (default: the latest). */
  version?: number;
  /** The execution's own deadline, ms. */
  timeoutMs?: number;
}

/** A workflow as stored: its id and the version the call made. */
export interface StoredWorkflowRef {
  /** The workflow's id. */
  id: string;
  /** Its version (1 for a new workflow, one more on each change). */
  version: number;
}

/** A port the engine's HTTP API listens on. */
export interface ServedApi {
  /** The base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The port. */
  port: number;
}

/**
 * Starts an engine in process: opens the storage, recovers the executions it holds, and runs them.
 *
 * @example
 * ```ts
 * import { createEngine, defineNodeKind } from "../mod.ts";
 *
 * const upper = defineNodeKind({
 *   type: "transform",
 *   name: "text.upper",
 *   run: (_ctx, input) => input.map((r) => String(r).toUpperCase()),
 * });
 * const engine = await createEngine({ storage: "memory", nodeKinds: [upper], log: "silent" });
 * await engine.putWorkflow({
 *   id: "hello", name: "hello",
 *   nodes: [
 *     { id: "s", type: "source", nodeType: "memory.collection", config: { data: ["a", "b"] } },
 *     { id: "u", type: "transform", nodeType: "text.upper", config: {} },
 *     { id: "k", type: "sink", nodeType: "memory.collect", config: {} },
 *   ],
 *   edges: [{ source: "s", target: "u" }, { source: "u", target: "k" }],
 * });
 * const run = await engine.execute("hello", { wait: 5000 });
 * const records = await engine.output(run.executionId, "k");
 * await engine.close();
 * if (run.status !== "completed" || records.join() !== "A,B") throw new Error(`${run.status} ${records}`);
 * ```
 */
export async function createEngine(options: CreateEngineOptions): Promise<EmbeddedEngine> {
  const config = configOf(options);
  const tempDir = config.dataDir === "" ? await Deno.makeTempDir({ prefix: "flowmesh-" }) : undefined;
  if (tempDir) config.dataDir = tempDir;
  const http = deferredHttp(config, readTls(config));
  try {
    const node = await startNode(config, {
      nodeKinds: (options.nodeKinds ?? []).map(runtimeKindOf),
      http,
      log: loggerOf(options.log ?? options.settings?.logLevel),
    });
    const token = config.apiTokens.find((t) => t.role === "admin")?.token;
    return new EmbeddedEngine(node, http.listen.bind(http), tempDir, token);
  } catch (err) {
    if (tempDir) await Deno.remove(tempDir, { recursive: true }).catch(() => {});
    throw err;
  }
}

/** An engine running in this process (`createEngine`). Every method answers what the HTTP API answers. */
export class EmbeddedEngine {
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Aborted by `close()`: wakes every `subscribe` loop at once. */
  #stop = new AbortController();

  /** @internal Made by `createEngine`. */
  constructor(
    private readonly node: RunningNode,
    private readonly listen: (opts?: ListenOptions) => ServedApi,
    private readonly tempDir: string | undefined,
    private readonly token: string | undefined,
  ) {}

  /** Creates the workflow, or stores a new version of it when it exists. Throws `validation_failed` with paths. */
  async putWorkflow(definition: WorkflowDefinition | Record<string, unknown>): Promise<StoredWorkflowRef> {
    const id = String((definition as { id?: unknown }).id ?? "");
    type Stored = { id?: string; workflowId?: string; version: number };
    const post = { method: "POST", path: "/api/v1/workflows", body: definition } as const;
    const put = {
      method: "PUT",
      path: `/api/v1/workflows/${encodeURIComponent(id)}`,
      body: definition,
    } as const;
    for (let attempt = 1;; attempt++) { // create, else update: a concurrent create or delete moves it on
      try {
        const answer = await this.#call<Stored>(post);
        return { id: answer.workflowId ?? answer.id ?? id, version: answer.version };
      } catch (err) {
        if (!(err instanceof FlowmeshError) || err.code !== "workflow_exists" || id === "") throw err;
      }
      try {
        const answer = await this.#call<Stored>(put);
        return { id: answer.workflowId ?? answer.id ?? id, version: answer.version };
      } catch (err) {
        if (!(err instanceof FlowmeshError) || err.code !== "workflow_not_found" || attempt >= 3) throw err;
      }
    }
  }

  /** The latest version of a workflow (`undefined` when there is none). */
  async getWorkflow(id: string): Promise<WorkflowDefinition | undefined> {
    try {
      return await this.#call<WorkflowDefinition>({
        method: "GET",
        path: `/api/v1/workflows/${encodeURIComponent(id)}`,
      });
    } catch (err) {
      if (err instanceof FlowmeshError && err.code === "workflow_not_found") return undefined;
      throw err;
    }
  }

  /** Deletes a workflow (its executions run on to their end). */
  async deleteWorkflow(id: string): Promise<void> {
    await this.#call({ method: "DELETE", path: `/api/v1/workflows/${encodeURIComponent(id)}` });
  }

  /** Starts an execution of a workflow; with `wait`, answers its view once it ended or the wait ran out. */
  execute(workflowId: string, opts: ExecuteOptions = {}): Promise<ExecutionView> {
    const query = new URLSearchParams();
    if (opts.wait) query.set("wait", String(opts.wait));
    if (opts.version !== undefined) query.set("version", String(opts.version));
    const body: Record<string, unknown> = {};
    if (opts.input !== undefined) body.input = opts.input;
    if (opts.timeoutMs !== undefined) body.timeoutMs = opts.timeoutMs;
    return this.#call<ExecutionView>({
      method: "POST",
      path: `/api/v1/workflows/${encodeURIComponent(workflowId)}/execute${query.size ? `?${query}` : ""}`,
      body,
      headers: opts.idempotencyKey ? { "idempotency-key": opts.idempotencyKey } : undefined,
    });
  }

  /** An execution's view: its status and every node's. */
  get(executionId: string): Promise<ExecutionView> {
    return this.#call<ExecutionView>({ method: "GET", path: this.#execution(executionId) });
  }

  /** Waits up to `ms` for an execution to end and answers its view (ended or not). */
  async wait(executionId: string, ms: number): Promise<ExecutionView> {
    const deadline = Date.now() + ms;
    for (;;) {
      const view = await this.get(executionId);
      if (TERMINAL_STATUSES.has(view.status) || Date.now() >= deadline) return view;
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, deadline - Date.now()))));
    }
  }

  /**
   * The records a completed node emitted, all of them, or the page `{offset, limit}` (limit ≤ 10,000).
   * Throws `output_not_ready` while the node has not completed.
   */
  async output(
    executionId: string,
    nodeId: string,
    page?: { offset?: number; limit?: number },
  ): Promise<Json[]> {
    const base = `${this.#execution(executionId)}/nodes/${encodeURIComponent(nodeId)}/output`;
    type Page = { total: number; records: Json[] };
    if (page) {
      const q = new URLSearchParams({ offset: String(page.offset ?? 0), limit: String(page.limit ?? 1000) });
      return (await this.#call<Page>({ method: "GET", path: `${base}?${q}` })).records;
    }
    const records: Json[] = [];
    for (let total = 1; records.length < total;) {
      const got = await this.#call<Page>({
        method: "GET",
        path: `${base}?offset=${records.length}&limit=10000`,
      });
      total = got.total;
      if (got.records.length === 0) break;
      records.push(...got.records);
    }
    return records;
  }

  /** Sends a signal to an execution (a `signal.wait` node waiting for `name` takes `payload`). */
  signal(executionId: string, name: string, payload: Json = null): Promise<ExecutionView> {
    const path = `${this.#execution(executionId)}/signals/${encodeURIComponent(name)}`;
    return this.#call<ExecutionView>({ method: "POST", path, body: { payload } });
  }

  /** Cancels a running execution. */
  cancel(executionId: string, reason?: string): Promise<ExecutionView> {
    const body = reason === undefined ? {} : { reason };
    return this.#call<ExecutionView>({
      method: "POST",
      path: `${this.#execution(executionId)}/cancel`,
      body,
    });
  }

  /** Pauses a running execution (`resume` goes on). */
  pause(executionId: string, reason?: string): Promise<ExecutionView> {
    const body = reason === undefined ? {} : { reason };
    return this.#call<ExecutionView>({ method: "POST", path: `${this.#execution(executionId)}/pause`, body });
  }

  /** Resumes a paused execution. */
  resume(executionId: string): Promise<ExecutionView> {
    return this.#call<ExecutionView>({
      method: "POST",
      path: `${this.#execution(executionId)}/resume`,
      body: {},
    });
  }

  /** Runs a failed, cancelled or timed-out execution's failed nodes again, and what follows them. */
  retry(executionId: string): Promise<ExecutionView> {
    return this.#call<ExecutionView>({
      method: "POST",
      path: `${this.#execution(executionId)}/retry`,
      body: {},
    });
  }

  /**
   * An execution's events as they are stored, oldest first (each with its `seq`), until it ends (or `signal`
   * aborts, or the loop breaks).
   */
  subscribe(executionId: string, opts: SubscribeOptions = {}): AsyncIterableIterator<ExecutionEvent> {
    return followEvents({
      events: (after) =>
        this.#call<{ events: ExecutionEvent[] }>({
          method: "GET",
          path: `${this.#execution(executionId)}/events?after=${after}`,
        }).then((r) => r.events),
      ended: async () => TERMINAL_STATUSES.has((await this.get(executionId)).status),
      closed: () => this.#closed,
    }, {
      ...opts,
      signal: opts.signal ? AbortSignal.any([opts.signal, this.#stop.signal]) : this.#stop.signal,
    });
  }

  /** Any route of the HTTP API, in process (docs/API.md): its JSON answer, or a thrown `FlowmeshError`. */
  request<T = unknown>(method: ApiCall["method"], path: string, body?: unknown): Promise<T> {
    return this.#call<T>({ method, path, body });
  }

  /**
   * Opens the HTTP API (and the web console) of this engine on a port (default: the `port` setting, else any
   * free one), with the node's TLS settings; once per engine. A host that is not loopback needs API tokens.
   */
  serve(opts: ListenOptions = {}): ServedApi {
    this.#open();
    return this.listen(opts);
  }

  /** Stops: the cluster member leaves (handing its shards over), then the engine and its storage close. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#stop.abort();
      try {
        await this.node.leave();
      } finally {
        if (this.tempDir) await Deno.remove(this.tempDir, { recursive: true }).catch(() => {});
      }
    })();
    return this.#closing;
  }

  #execution(id: string): string {
    return `/api/v1/executions/${encodeURIComponent(id)}`;
  }

  #open(): void {
    if (this.#closed) throw new FlowmeshError(503, "engine_closed", "the engine is closed", []);
  }

  async #call<T>(call: ApiCall): Promise<T> {
    this.#open();
    return await callApi<T>(this.node.fetch, call, this.token);
  }
}

/**
 * The node's settings for the options, checked as `deno task serve` checks its own (every problem at once, a
 * `ConfigError`); `dataDir` is `""` when a temporary one is to be made.
 */
function configOf(options: CreateEngineOptions): EngineConfig {
  const settings: Partial<EngineConfig> = { ...options.settings };
  const s = options.storage;
  if (s === "memory") settings.storage = "memory";
  else if (typeof s === "object" && "embedded" in s) {
    Object.assign(settings, { storage: "embedded", dataDir: s.embedded });
  } else if (typeof s === "object" && "postgres" in s) {
    Object.assign(settings, { storage: "postgres", databaseUrl: s.postgres });
  } else throw new TypeError(`storage must be "memory", {embedded: dir} or {postgres: url}`);
  const c = options.cluster;
  if (c) {
    Object.assign(settings, {
      nodeId: c.nodeId,
      clusterPort: c.port,
      seeds: c.seeds ?? [],
      clusterSecret: c.secret,
      host: c.host ?? settings.host ?? "127.0.0.1",
    });
  }
  const config: EngineConfig = { ...DEFAULT_CONFIG, port: 0, ...settings, dataDir: settings.dataDir ?? "" };
  // The HTTP port opens on serve(), which checks its host then: the exposure rule is not checked here.
  const problems = configProblems({ ...config, host: "127.0.0.1" });
  if (config.apiTokens.length > 0 && !config.apiTokens.some((t) => t.role === "admin")) {
    problems.push("api-token: an embedded engine's API tokens need an admin one (its own calls use it)");
  }
  if (problems.length > 0) throw new ConfigError(problems.join("\n"), problems);
  return config;
}

function loggerOf(log: CreateEngineOptions["log"]): Logger {
  if (log !== undefined && typeof log === "object") return log;
  const level = log === undefined ? "warn" : log === "silent" ? "error" : log;
  return createLogger({
    level,
    format: "pretty",
    write: log === "silent" ? () => {} : undefined,
  });
}
