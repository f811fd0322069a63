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
import { Registry } from "npm:prom-client@15.1.3";
import type { CommitGroupObserver } from "../../storage/commit_group.ts";
import type { Storage } from "../../storage/storage.ts";
import type { ApiObserver } from "../http/api.ts";
import type { Forwarder } from "../http/routing.ts";
import type { AttemptOutcome, EngineObserver } from "../runtime/observer.ts";
import type { SchedulerObserver } from "../runtime/schedule_observer.ts";
import { buildMetrics, type MetricSet, type MetricsSources, type Scrape } from "./metric_table.ts";

export type { MetricsSources } from "./metric_table.ts";

/** Options of `Metrics`. */
export interface MetricsOptions {
  /** How often the event-loop lag is measured, ms (default 500). */
  lagIntervalMs?: number;
  /** How long the scrape-time storage ping may take before it counts as down, ms (default 2,000). */
  pingTimeoutMs?: number;
}

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
  "schedule_fired",
  "schedule_skipped",
  "schedule_catch_up",
]);

/** How many entries a collapsed cluster event lists (an array's length), 1 for an event of one. */
const listed = (list: unknown): number => Array.isArray(list) ? list.length : 1;

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

/** A labelled metric whose children `Children` caches. */
type Labelled<T> = { labels(...values: string[]): T };

/** A cache of `metric`'s children. */
function childrenOf<T>(metric: Labelled<T>): Children<T> {
  return new Children((values) => metric.labels(...values));
}

/** The metrics of one node, each as a field named after its row of `METRIC_TABLE` (`./metric_table.ts`). */
export interface Metrics extends MetricSet {}

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
  #fireOutcomes: Children<Inc>;

  constructor(options: MetricsOptions = {}) {
    this.#options = { lagIntervalMs: 500, pingTimeoutMs: 2_000, ...options };
    // deno-lint-ignore no-this-alias
    const self = this;
    const scrape: Scrape = {
      get sources() {
        return self.#sources;
      },
      get lagMs() {
        return self.#lagMs;
      },
      ping: (storage) => this.#ping(storage),
      dropped: 0,
    };
    Object.assign(this, buildMetrics(this.registry, scrape));

    this.#executionsBy = childrenOf(this.executions);
    this.#durationBy = childrenOf(this.executionDuration);
    this.#httpCount = childrenOf(this.httpRequests);
    this.#httpTime = childrenOf(this.httpDuration);
    this.#attemptsBy = childrenOf(this.attempts);
    this.#retriesBy = childrenOf(this.retries);
    this.#failuresBy = childrenOf(this.nodeFailures);
    this.#nodeTime = childrenOf(this.nodeDuration);
    this.#routingBy = childrenOf(this.routingLatency);
    this.#storageTime = childrenOf(this.storageDuration);
    this.#flushesBy = childrenOf(this.flushes);
    this.#clusterEventsBy = childrenOf(this.clusterEvents);
    this.#fireOutcomes = childrenOf(this.scheduleFires);

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

  /** The scheduler's hooks: ticks recorded by outcome, and the fire lag of started ones. */
  readonly schedulerObserver: SchedulerObserver = {
    fire: (fire, lagMs) => {
      this.#fireOutcomes.get(fire.outcome, [fire.outcome]).inc();
      if (lagMs !== null) this.scheduleFireLag.observe(Math.max(0, lagMs) / 1000);
    },
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

  /**
   * A cluster event this member recorded (`ClusterOptions.onEvent`): failovers and rebalances count the
   * shards and moves an event lists (`details.shards`, `details.moves`), one if it lists none.
   */
  clusterEvent(type: string, details?: Record<string, unknown>): void {
    if (type === "workflow_failover") this.failovers.inc(listed(details?.shards));
    else if (type === "shard_rebalance") this.rebalances.inc(listed(details?.moves));
    const t = CLUSTER_EVENTS.has(type) ? type : "other";
    this.#clusterEventsBy.get(t, [t]).inc();
  }

  /** Audit events not stored, by reason (`AuditOptions.lost`). */
  auditLost(count: number, reason: "storage" | "queue_full"): void {
    this.auditEventsLost.labels(reason).inc(count);
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
