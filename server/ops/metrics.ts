/**
 * Prometheus metrics of one node, served at `GET /metrics` (docs/OBSERVABILITY.md lists every one).
 *
 * Each node has a registry of its own (never prom-client's global default), so several nodes run in one
 * process (the tests do). Events are counted where they happen, through small hooks — the engine's
 * `EngineObserver`, the API's `ApiObserver`, the commit group's `CommitGroupObserver`, the cluster member's
 * `onEvent`, a `Forwarder` wrapper — each O(1): a cached child's `inc`/`observe`, no JSON, no allocation
 * beyond a label key. What is a level rather than an event (live executions, members, shards, queues, timers,
 * memory) is read when Prometheus scrapes. Labels are bounded: node kinds (the catalog), statuses, route
 * patterns, shard numbers, member ids; never an execution or workflow id.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CommitGroup, CommitGroupObserver } from "../../storage/commit_group.ts";
import { FastCounter, FastHistogram } from "./fast_metrics.ts";
import type { Storage } from "../../storage/storage.ts";
import type { TransportStats } from "../../transport/transport.ts";
import type { ApiObserver } from "../http/api.ts";
import type { ClusterMember } from "../cluster/member.ts";
import type { AttemptOutcome, Engine, EngineObserver } from "../runtime/engine.ts";
import type { Forwarder } from "../http/routing.ts";

/** What the scrape-time metrics read; bound once the node's parts exist (`Metrics.bind`). */
export interface MetricsSources {
  engine: Engine;
  cluster?: ClusterMember;
  commitGroup?: CommitGroup;
  /** The cluster transport (absent standalone). */
  transport?: { stats(): TransportStats } | null;
  /** Pinged at each scrape for `workflow_storage_up`. */
  storage?: Pick<Storage, "ping">;
}

/** Options of `Metrics`. */
export interface MetricsOptions {
  /** How often the event-loop lag is measured, ms (default 500). */
  lagIntervalMs?: number;
  /** How long the scrape-time storage ping may take before it counts as down, ms (default 2,000). */
  pingTimeoutMs?: number;
}

const SECONDS_FAST = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SECONDS_SLOW = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** Execution end statuses (pre-set to 0, so a rate over them exists before the first end). */
const END_STATUSES = ["completed", "failed", "cancelled", "timed_out"] as const;

/** HTTP methods kept as label values; any other is `other` (labels stay bounded whatever clients send). */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Forward failures kept as outcome labels (the RPC's codes); anything else is `error`. */
const FORWARD_FAILURES = new Set(["timeout", "unreachable", "refused"]);

/** Cluster event types counted by type; anything else is `other`. */
const CLUSTER_EVENTS = new Set([
  "member_event",
  "leader_changed",
  "unreachable_member",
  "reachable_member",
  "shard_rebalance",
  "shard_started",
  "shard_stopped",
  "workflow_failover",
]);

/** A cache of a metric's label children: `labels()` hashes its arguments on every call, a Map lookup is O(1). */
class Children<T> {
  #children = new Map<string, T>();
  constructor(private readonly make: (values: string[]) => T) {}
  get(key: string, values: string[]): T {
    let child = this.#children.get(key);
    if (child === undefined) {
      child = this.make(values);
      this.#children.set(key, child);
    }
    return child;
  }
}

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/**
 * The metrics of one node.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * metrics.engineObserver.executionEnded?.("completed", 1200, undefined);
 * const { text } = await metrics.render();
 * if (!text.includes('workflow_execution_total{status="completed"} 1')) throw new Error(text);
 * metrics.close();
 * ```
 */
export class Metrics {
  /** This node's registry. */
  readonly registry: Registry = new Registry();
  readonly #options: Required<MetricsOptions>;
  #sources: MetricsSources | undefined;
  #lagTimer: ReturnType<typeof setTimeout> | undefined;
  #lagMs: number | null = null;

  // ---- the old engine's names
  readonly entityCount: Gauge;
  readonly routingLatency: Histogram;
  readonly failovers: Counter;
  readonly rebalances: Counter;
  readonly created: FastCounter;
  readonly executions: FastCounter;
  readonly executionDuration: FastHistogram;
  readonly httpRequests: FastCounter;
  readonly httpDuration: FastHistogram;
  readonly memberCount: Gauge;
  readonly shardCount: Gauge;
  // ---- node attempts
  readonly attempts: FastCounter;
  readonly retries: Counter;
  readonly nodeFailures: Counter;
  readonly nodeDuration: FastHistogram;
  // ---- storage
  readonly appendDuration: FastHistogram;
  readonly eventsAppended: FastCounter;
  readonly storageDuration: FastHistogram;
  readonly flushes: FastCounter;
  readonly batchSize: FastHistogram;
  readonly commitQueue: Gauge;
  readonly commitRefused: Counter;
  readonly storageUp: Gauge;
  // ---- cluster, transport, runtime
  readonly clusterEvents: Counter;
  readonly transportQueue: Gauge;
  readonly transportDropped: Counter;
  readonly timersPending: Gauge;
  readonly memory: Gauge;
  readonly eventLoopLag: Gauge;

  #executionsBy: Children<Inc>;
  #durationBy: Children<Observe>;
  #httpCount: Children<Inc>;
  #httpTime: Children<Observe>;
  #attemptsBy: Children<Inc>;
  #retriesBy: Children<Inc>;
  #failuresBy: Children<Inc>;
  #nodeTime: Children<Observe>;
  #routingBy: Children<Observe>;
  #storageTime: Children<Observe>;
  #flushesBy: Children<Inc>;
  #clusterEventsBy: Children<Inc>;
  #dropped = 0;

  constructor(options: MetricsOptions = {}) {
    this.#options = { lagIntervalMs: 500, pingTimeoutMs: 2_000, ...options };
    const registers = [this.registry];
    // deno-lint-ignore no-this-alias
    const self = this;

    this.entityCount = new Gauge({
      name: "workflow_entity_count",
      help: "Executions live on this node (being run by it), by shard.",
      labelNames: ["shard"],
      registers,
      collect() {
        const engine = self.#sources?.engine;
        if (!engine) return;
        this.reset();
        for (const shard of engine.ownedShards.keys()) this.set({ shard: String(shard) }, 0);
        for (const [shard, n] of engine.liveByShard()) this.set({ shard: String(shard) }, n);
      },
    });
    this.routingLatency = new Histogram({
      name: "workflow_routing_latency_seconds",
      help: "API calls forwarded to the shard's owner over the cluster transport: time until its answer, " +
        "by outcome (ok, timeout, unreachable, refused, error).",
      labelNames: ["outcome"],
      buckets: SECONDS_FAST,
      registers,
    });
    this.failovers = new Counter({
      name: "workflow_failover_total",
      help: "Shards this node took over from a member that was down (workflow_failover cluster events).",
      registers,
    });
    this.rebalances = new Counter({
      name: "workflow_rebalance_total",
      help: "Shard moves this node made as the leader (shard_rebalance cluster events).",
      registers,
    });
    this.created = new FastCounter({
      name: "workflow_created_total",
      help: "Executions created on this node (submitted and their first events committed).",
      registers,
    });
    this.executions = new FastCounter({
      name: "workflow_execution_total",
      help: "Executions that ended on this node (their terminal event committed here), by status.",
      labelNames: ["status"],
      registers,
    });
    this.executionDuration = new FastHistogram({
      name: "workflow_execution_duration_seconds",
      help: "Executions from submission to their end, by end status (counted by the node that ended them).",
      labelNames: ["status"],
      buckets: SECONDS_SLOW,
      registers,
    });
    this.httpRequests = new FastCounter({
      name: "http_requests_total",
      help: "HTTP API requests answered by this node, by method, route pattern and status code.",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.httpDuration = new FastHistogram({
      name: "http_request_duration_seconds",
      help: "HTTP API request handling time, by method, route pattern and status code.",
      labelNames: ["method", "route", "status"],
      buckets: SECONDS_FAST,
      registers,
    });
    this.memberCount = new Gauge({
      name: "cluster_member_count",
      help: "Cluster members as this node last saw them, by status (joining, up, suspect, down, leaving).",
      labelNames: ["status"],
      registers,
      collect() {
        const cluster = self.#sources?.cluster;
        if (!cluster) return;
        this.reset();
        for (const status of ["joining", "up", "suspect", "down", "leaving"]) this.set({ status }, 0);
        for (const m of cluster.snapshot.members) this.inc({ status: m.status });
      },
    });
    this.shardCount = new Gauge({
      name: "shard_count",
      help: "Shards owned by each member, as this node last saw the shard map (node: the owner's id).",
      labelNames: ["node"],
      registers,
      collect() {
        const cluster = self.#sources?.cluster;
        if (!cluster) return;
        this.reset();
        for (const m of cluster.snapshot.members) this.set({ node: m.id }, 0);
        for (const s of cluster.snapshot.shards) if (s.owner !== null) this.inc({ node: s.owner });
      },
    });

    this.attempts = new FastCounter({
      name: "workflow_node_attempts_total",
      help: "Node attempts started on this node, by node kind (type/nodeType).",
      labelNames: ["kind"],
      registers,
    });
    this.retries = new Counter({
      name: "workflow_node_retries_total",
      help: "Failed node attempts scheduled for a retry, by node kind.",
      labelNames: ["kind"],
      registers,
    });
    this.nodeFailures = new Counter({
      name: "workflow_node_failures_total",
      help: "Failed node attempts (an error or a timeout, as committed; a retry may follow), by node kind.",
      labelNames: ["kind"],
      registers,
    });
    this.nodeDuration = new FastHistogram({
      name: "workflow_node_duration_seconds",
      help: "Node attempt run time (the executor), by node kind and outcome (completed, failed, aborted).",
      labelNames: ["kind", "outcome"],
      buckets: SECONDS_FAST,
      registers,
    });

    this.appendDuration = new FastHistogram({
      name: "workflow_append_duration_seconds",
      help: "An execution's append as the engine waits for it: queueing in the commit group plus the " +
        "storage call.",
      buckets: SECONDS_FAST,
      registers,
    });
    this.eventsAppended = new FastCounter({
      name: "workflow_events_appended_total",
      help: "Execution events committed to storage by this node.",
      registers,
    });
    this.storageDuration = new FastHistogram({
      name: "workflow_storage_append_duration_seconds",
      help: "Storage append latency: one storage call (a commit group flush, one transaction), by outcome " +
        "(ok, error).",
      labelNames: ["outcome"],
      buckets: SECONDS_FAST,
      registers,
    });
    this.flushes = new FastCounter({
      name: "workflow_commit_group_flushes_total",
      help: "Commit group flushes (storage calls), by outcome (ok, error).",
      labelNames: ["outcome"],
      registers,
    });
    this.batchSize = new FastHistogram({
      name: "workflow_commit_group_batch_size",
      help: "Appends per commit group flush.",
      buckets: BATCH_SIZES,
      registers,
    });
    this.commitQueue = new Gauge({
      name: "workflow_commit_group_queue_depth",
      help: "Appends waiting for a commit group flush.",
      registers,
      collect() {
        const group = self.#sources?.commitGroup;
        if (group) this.set(group.queued);
      },
    });
    this.commitRefused = new Counter({
      name: "workflow_commit_group_refused_total",
      help: "Appends refused at once because the commit queue was full.",
      registers,
    });
    this.storageUp = new Gauge({
      name: "workflow_storage_up",
      help: "1 when this node's storage answered a ping at the scrape, else 0.",
      registers,
      async collect() {
        const storage = self.#sources?.storage;
        if (storage) this.set((await self.#ping(storage)) ? 1 : 0);
      },
    });

    this.clusterEvents = new Counter({
      name: "workflow_cluster_events_total",
      help: "Cluster events this node recorded, by type.",
      labelNames: ["type"],
      registers,
    });
    this.transportQueue = new Gauge({
      name: "workflow_transport_queue_depth",
      help: "Envelopes queued in the cluster transport, not yet on the network (0 standalone).",
      registers,
      collect() {
        this.set(self.#sources?.transport?.stats().queued ?? 0);
      },
    });
    this.transportDropped = new Counter({
      name: "workflow_transport_dropped_total",
      help: "Envelopes the cluster transport refused (unknown peer, full queue, too large, closed).",
      registers,
      collect() {
        const dropped = self.#sources?.transport?.stats().dropped;
        if (dropped !== undefined && dropped > self.#dropped) {
          this.inc(dropped - self.#dropped);
          self.#dropped = dropped;
        }
      },
    });
    this.timersPending = new Gauge({
      name: "workflow_timers_pending",
      help: "Durable timers armed on this node (node timeouts, delays, retries, execution timeouts).",
      registers,
      collect() {
        const engine = self.#sources?.engine;
        if (engine) this.set(engine.pendingTimers);
      },
    });
    this.memory = new Gauge({
      name: "process_memory_bytes",
      help: "Memory of this process (Deno.memoryUsage), by type (rss, heap_total, heap_used, external).",
      labelNames: ["type"],
      registers,
      collect() {
        const m = Deno.memoryUsage();
        this.set({ type: "rss" }, m.rss);
        this.set({ type: "heap_total" }, m.heapTotal);
        this.set({ type: "heap_used" }, m.heapUsed);
        this.set({ type: "external" }, m.external);
      },
    });
    this.eventLoopLag = new Gauge({
      name: "process_event_loop_lag_seconds",
      help: "Event-loop lag: how late the latest periodic timer fired.",
      registers,
      collect() {
        if (self.#lagMs !== null) this.set(self.#lagMs / 1000);
      },
    });

    for (const status of END_STATUSES) this.executions.labels(status).inc(0);
    for (const outcome of ["ok", "error"]) this.flushes.labels(outcome).inc(0);

    this.#executionsBy = new Children(([status]) => this.executions.labels(status));
    this.#durationBy = new Children(([status]) => this.executionDuration.labels(status));
    this.#httpCount = new Children((v) => this.httpRequests.labels(...v));
    this.#httpTime = new Children((v) => this.httpDuration.labels(...v));
    this.#attemptsBy = new Children(([kind]) => this.attempts.labels(kind));
    this.#retriesBy = new Children(([kind]) => this.retries.labels(kind));
    this.#failuresBy = new Children(([kind]) => this.nodeFailures.labels(kind));
    this.#nodeTime = new Children((v) => this.nodeDuration.labels(...v));
    this.#routingBy = new Children(([outcome]) => this.routingLatency.labels(outcome));
    this.#storageTime = new Children(([outcome]) => this.storageDuration.labels(outcome));
    this.#flushesBy = new Children(([outcome]) => this.flushes.labels(outcome));
    this.#clusterEventsBy = new Children(([type]) => this.clusterEvents.labels(type));

    this.#startLagMonitor();
  }

  /** Gives the scrape-time metrics their sources (once the node's parts exist). */
  bind(sources: MetricsSources): void {
    this.#sources = sources;
  }

  /** The latest event-loop lag, ms (`null` before the first measure). */
  get eventLoopLagMs(): number | null {
    return this.#lagMs;
  }

  /** The exposition text and its content type (`GET /metrics`). */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  /** Stops the event-loop lag timer. */
  close(): void {
    if (this.#lagTimer !== undefined) clearTimeout(this.#lagTimer);
    this.#lagTimer = undefined;
  }

  /** The engine's hooks: executions, attempts, retries, failures, appends. */
  readonly engineObserver: EngineObserver = {
    executionCreated: () => this.created.inc(),
    executionEnded: (status, durationMs) => {
      this.#executionsBy.get(status, [status]).inc();
      this.#durationBy.get(status, [status]).observe(durationMs / 1000);
    },
    attemptStarted: (kind) => {
      this.#attemptsBy.get(kind, [kind]).inc();
      return undefined;
    },
    attemptEnded: (kind: string, outcome: AttemptOutcome, durationMs: number) => {
      this.#nodeTime.get(`${kind} ${outcome}`, [kind, outcome]).observe(durationMs / 1000);
    },
    retryScheduled: (kind) => this.#retriesBy.get(kind, [kind]).inc(),
    nodeFailed: (kind) => this.#failuresBy.get(kind, [kind]).inc(),
    appendCommitted: (ms, events) => {
      this.appendDuration.observe(ms / 1000);
      this.eventsAppended.inc(events);
    },
    appendFailed: (ms) => this.appendDuration.observe(ms / 1000),
  };

  /** The commit group's hooks: storage latency, batch sizes, flushes. */
  readonly commitGroupObserver: CommitGroupObserver = {
    flushed: (batch, ms, ok) => {
      const outcome = ok ? "ok" : "error";
      this.#storageTime.get(outcome, [outcome]).observe(ms / 1000);
      this.#flushesBy.get(outcome, [outcome]).inc();
      this.batchSize.observe(batch);
    },
    refused: () => this.commitRefused.inc(),
  };

  /** The API's hooks: requests by method, route pattern and status. */
  readonly apiObserver: ApiObserver = {
    requestEnded: (method, route, status, ms) => {
      const m = METHODS.has(method) ? method : "other";
      const key = `${m} ${route} ${status}`;
      const values = [m, route, String(status)];
      this.#httpCount.get(key, values).inc();
      this.#httpTime.get(key, values).observe(ms / 1000);
    },
  };

  /** A cluster event this member recorded (`ClusterOptions.onEvent`). */
  clusterEvent(type: string): void {
    if (type === "workflow_failover") this.failovers.inc();
    else if (type === "shard_rebalance") this.rebalances.inc();
    const t = CLUSTER_EVENTS.has(type) ? type : "other";
    this.#clusterEventsBy.get(t, [t]).inc();
  }

  /** Wraps a forwarder: each forward call is timed into `workflow_routing_latency_seconds`. */
  forwarder(inner: Forwarder): Forwarder {
    return {
      forward: async (to, request, timeoutMs) => {
        const t0 = performance.now();
        let outcome = "error";
        try {
          const r = await inner.forward(to, request, timeoutMs);
          outcome = r.ok ? "ok" : FORWARD_FAILURES.has(r.code) ? r.code : "error";
          return r;
        } finally {
          this.#routingBy.get(outcome, [outcome]).observe((performance.now() - t0) / 1000);
        }
      },
    };
  }

  async #ping(storage: Pick<Storage, "ping">): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        storage.ping().catch(() => false),
        new Promise<boolean>((resolve) =>
          timer = setTimeout(() => resolve(false), this.#options.pingTimeoutMs)
        ),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Measures the event-loop lag: a timer due every interval; how late it fires is the lag. */
  #startLagMonitor(): void {
    const interval = this.#options.lagIntervalMs;
    let due = performance.now() + interval;
    const tick = () => {
      const now = performance.now();
      this.#lagMs = Math.max(0, now - due);
      due = now + interval;
      const timer = setTimeout(tick, interval);
      Deno.unrefTimer(timer);
      this.#lagTimer = timer;
    };
    const timer = setTimeout(tick, interval);
    Deno.unrefTimer(timer);
    this.#lagTimer = timer;
  }
}
