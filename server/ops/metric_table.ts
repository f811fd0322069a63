/**
 * The metrics a node exports, as a table (one row per metric: its kind, name, help, labels, buckets, and
 * what a scrape reads), and `buildMetrics`, which makes them in a registry. The rows' order is the order of
 * the exposition text; docs/OBSERVABILITY.md lists every one.
 *
 * @module
 */
import { Counter, Gauge, Histogram, type Registry } from "npm:prom-client@15.1.3";
import type { CommitGroup } from "../../storage/commit_group.ts";
import type { Storage } from "../../storage/storage.ts";
import type { TransportStats } from "../../transport/transport.ts";
import type { ClusterMember } from "../cluster/member.ts";
import type { Engine } from "../runtime/engine.ts";
import { FastCounter, FastHistogram } from "./fast_metrics.ts";

/** What the scrape-time metrics read; bound once the node's parts exist (`Metrics.bind`). */
export interface MetricsSources {
  engine: Engine;
  cluster?: ClusterMember;
  commitGroup?: CommitGroup;
  /** The cluster transport (absent standalone). */
  transport?: { stats(): TransportStats } | null;
  /** Pinged at each scrape for `workflow_storage_up`. */
  storage?: Pick<Storage, "ping">;
  /** The scheduler, for `schedules_live`. */
  scheduler?: { readonly live: number };
  /** The HTTP workers (`--http-workers`; absent without), for `http_worker_*`: running totals by worker. */
  httpWorkers?: { requestCounts(): readonly number[]; restartCounts(): readonly number[] };
}

/** What a metric's scrape-time `collect` sees: the node's parts and a little state of its own node. */
export interface Scrape {
  /** The node's parts (`undefined` until `Metrics.bind`). */
  readonly sources: MetricsSources | undefined;
  /** The latest event-loop lag, ms (`null` before the first measure). */
  readonly lagMs: number | null;
  /** Pings storage, bounded in time: false when it failed or took too long. */
  ping(storage: Pick<Storage, "ping">): Promise<boolean>;
  /** Transport drops already counted (the transport reports a running total). */
  dropped: number;
}

/** Histogram buckets, seconds, for fast operations (requests, attempts, appends). */
const SECONDS_FAST = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Histogram buckets, seconds, for whole executions. */
const SECONDS_SLOW = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Histogram buckets, seconds, for a schedule's fire lag (its fire time to its run's creation). */
const SECONDS_LAG = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Histogram buckets for commit group batch sizes. */
const BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** Execution end statuses (pre-set to 0, so a rate over them exists before the first end). */
const END_STATUSES = ["completed", "failed", "cancelled", "timed_out"] as const;

/** Member statuses, each pre-set to 0 at a scrape. */
const MEMBER_STATUSES = ["joining", "up", "suspect", "down", "leaving"];

/** Sets a counter by worker to running totals kept elsewhere (they only grow). */
function totalsByWorker(counter: Counter, totals: readonly number[] | undefined): void {
  if (totals === undefined) return;
  counter.reset();
  totals.forEach((n, i) => counter.inc({ worker: String(i) }, n));
}

/** The columns every row has. */
interface RowBase {
  name: string;
  help: string;
  labels?: readonly string[];
}

/** One metric of the table; `kind` picks its class (the `fast_` ones are `./fast_metrics.ts`'s). */
export type MetricRow =
  | RowBase & { kind: "gauge"; collect?: (gauge: Gauge, scrape: Scrape) => void | Promise<void> }
  | RowBase & { kind: "counter"; collect?: (counter: Counter, scrape: Scrape) => void }
  | RowBase & { kind: "histogram"; buckets: readonly number[] }
  | RowBase & { kind: "fast_counter"; zeroes?: readonly string[] }
  | RowBase & { kind: "fast_histogram"; buckets: readonly number[] };

/** The class each kind of row makes. */
interface MetricClasses {
  gauge: Gauge;
  counter: Counter;
  histogram: Histogram;
  fast_counter: FastCounter;
  fast_histogram: FastHistogram;
}

/** Each metric's kind, by the field `Metrics` exposes it as (the table below must match it, key for key). */
interface MetricKinds {
  entityCount: "gauge";
  routingLatency: "histogram";
  failovers: "counter";
  rebalances: "counter";
  created: "fast_counter";
  executions: "fast_counter";
  executionDuration: "fast_histogram";
  httpRequests: "fast_counter";
  httpDuration: "fast_histogram";
  httpWorkerRequests: "counter";
  httpWorkerRestarts: "counter";
  memberCount: "gauge";
  shardCount: "gauge";
  attempts: "fast_counter";
  retries: "counter";
  nodeFailures: "counter";
  nodeDuration: "fast_histogram";
  appendDuration: "fast_histogram";
  eventsAppended: "fast_counter";
  storageDuration: "fast_histogram";
  flushes: "fast_counter";
  batchSize: "fast_histogram";
  commitQueue: "gauge";
  commitRefused: "counter";
  auditEventsLost: "fast_counter";
  auditUnauthenticated: "fast_counter";
  storageUp: "gauge";
  scheduleFires: "fast_counter";
  scheduleFireLag: "fast_histogram";
  schedulesLive: "gauge";
  clusterEvents: "counter";
  transportQueue: "gauge";
  transportDropped: "counter";
  timersPending: "gauge";
  memory: "gauge";
  eventLoopLag: "gauge";
}

/** A row of the table of the kind `K`. */
type RowOf<K extends MetricRow["kind"]> = Extract<MetricRow, { kind: K }>;

/** Every metric of a node, by the field `Metrics` exposes it as. */
export const METRIC_TABLE: { readonly [F in keyof MetricKinds]: RowOf<MetricKinds[F]> } = {
  // ---- the old engine's names
  entityCount: {
    kind: "gauge",
    name: "workflow_entity_count",
    help: "Executions live on this node (being run by it), by shard.",
    labels: ["shard"],
    collect(gauge, { sources }) {
      const engine = sources?.engine;
      if (!engine) return;
      gauge.reset();
      for (const shard of engine.ownedShards.keys()) gauge.set({ shard: String(shard) }, 0);
      for (const [shard, n] of engine.liveByShard()) gauge.set({ shard: String(shard) }, n);
    },
  },
  routingLatency: {
    kind: "histogram",
    name: "workflow_routing_latency_seconds",
    help: "API calls forwarded to the shard's owner over the cluster transport: time until its answer, " +
      "by outcome (ok, timeout, unreachable, refused, error).",
    labels: ["outcome"],
    buckets: SECONDS_FAST,
  },
  failovers: {
    kind: "counter",
    name: "workflow_failover_total",
    help: "Shards this node took over from a member that was down (the shards its workflow_failover " +
      "cluster events list).",
  },
  rebalances: {
    kind: "counter",
    name: "workflow_rebalance_total",
    help: "Shard moves this node made as the leader (the moves its shard_rebalance cluster events list).",
  },
  created: {
    kind: "fast_counter",
    name: "workflow_created_total",
    help: "Executions created on this node (submitted and their first events committed).",
  },
  executions: {
    kind: "fast_counter",
    name: "workflow_execution_total",
    help: "Executions that ended on this node (their terminal event committed here), by status.",
    labels: ["status"],
    zeroes: END_STATUSES,
  },
  executionDuration: {
    kind: "fast_histogram",
    name: "workflow_execution_duration_seconds",
    help: "Executions from submission to their end, by end status (counted by the node that ended them).",
    labels: ["status"],
    buckets: SECONDS_SLOW,
  },
  httpRequests: {
    kind: "fast_counter",
    name: "http_requests_total",
    help: "HTTP API requests answered by this node, by method, route pattern and status code.",
    labels: ["method", "route", "status"],
  },
  httpDuration: {
    kind: "fast_histogram",
    name: "http_request_duration_seconds",
    help: "HTTP API request handling time, by method, route pattern and status code.",
    labels: ["method", "route", "status"],
    buckets: SECONDS_FAST,
  },
  httpWorkerRequests: {
    kind: "counter",
    name: "http_worker_requests_total",
    help: "Requests each HTTP worker (--http-workers; its place 0 to N-1) handed to the engine's thread; " +
      "none without workers.",
    labels: ["worker"],
    collect(counter, { sources }) {
      totalsByWorker(counter, sources?.httpWorkers?.requestCounts());
    },
  },
  httpWorkerRestarts: {
    kind: "counter",
    name: "http_worker_restarts_total",
    help: "HTTP workers that crashed and were replaced, by place (0 to N-1); none without workers.",
    labels: ["worker"],
    collect(counter, { sources }) {
      totalsByWorker(counter, sources?.httpWorkers?.restartCounts());
    },
  },
  memberCount: {
    kind: "gauge",
    name: "cluster_member_count",
    help: "Cluster members as this node last saw them, by status (joining, up, suspect, down, leaving).",
    labels: ["status"],
    collect(gauge, { sources }) {
      const cluster = sources?.cluster;
      if (!cluster) return;
      gauge.reset();
      for (const status of MEMBER_STATUSES) gauge.set({ status }, 0);
      for (const m of cluster.snapshot.members) gauge.inc({ status: m.status });
    },
  },
  shardCount: {
    kind: "gauge",
    name: "shard_count",
    help: "Shards owned by each member, as this node last saw the shard map (node: the owner's id).",
    labels: ["node"],
    collect(gauge, { sources }) {
      const cluster = sources?.cluster;
      if (!cluster) return;
      gauge.reset();
      for (const m of cluster.snapshot.members) gauge.set({ node: m.id }, 0);
      for (const s of cluster.snapshot.shards) if (s.owner !== null) gauge.inc({ node: s.owner });
    },
  },
  // ---- node attempts
  attempts: {
    kind: "fast_counter",
    name: "workflow_node_attempts_total",
    help: "Node attempts started on this node, by node kind (type/nodeType).",
    labels: ["kind"],
  },
  retries: {
    kind: "counter",
    name: "workflow_node_retries_total",
    help: "Failed node attempts scheduled for a retry, by node kind.",
    labels: ["kind"],
  },
  nodeFailures: {
    kind: "counter",
    name: "workflow_node_failures_total",
    help: "Failed node attempts (an error or a timeout, as committed; a retry may follow), by node kind.",
    labels: ["kind"],
  },
  nodeDuration: {
    kind: "fast_histogram",
    name: "workflow_node_duration_seconds",
    help: "Node attempt run time (the executor), by node kind and outcome (completed, failed, aborted).",
    labels: ["kind", "outcome"],
    buckets: SECONDS_FAST,
  },
  // ---- storage
  appendDuration: {
    kind: "fast_histogram",
    name: "workflow_append_duration_seconds",
    help: "An execution's append as the engine waits for it: queueing in the commit group plus the " +
      "storage call.",
    buckets: SECONDS_FAST,
  },
  eventsAppended: {
    kind: "fast_counter",
    name: "workflow_events_appended_total",
    help: "Execution events committed to storage by this node.",
  },
  storageDuration: {
    kind: "fast_histogram",
    name: "workflow_storage_append_duration_seconds",
    help: "Storage append latency: one storage call (a commit group flush, one transaction), by outcome " +
      "(ok, error).",
    labels: ["outcome"],
    buckets: SECONDS_FAST,
  },
  flushes: {
    kind: "fast_counter",
    name: "workflow_commit_group_flushes_total",
    help: "Commit group flushes (storage calls), by outcome (ok, error).",
    labels: ["outcome"],
    zeroes: ["ok", "error"],
  },
  batchSize: {
    kind: "fast_histogram",
    name: "workflow_commit_group_batch_size",
    help: "Appends per commit group flush.",
    buckets: BATCH_SIZES,
  },
  commitQueue: {
    kind: "gauge",
    name: "workflow_commit_group_queue_depth",
    help: "Appends waiting for a commit group flush.",
    collect(gauge, { sources }) {
      const group = sources?.commitGroup;
      if (group) gauge.set(group.queued);
    },
  },
  commitRefused: {
    kind: "counter",
    name: "workflow_commit_group_refused_total",
    help: "Appends refused at once because the commit queue was full.",
  },
  auditEventsLost: {
    kind: "fast_counter",
    name: "workflow_audit_events_lost_total",
    help: "Audit events not stored (each is in the log): the append failed (storage) or the queue was full.",
    labels: ["reason"],
    zeroes: ["storage", "queue_full"],
  },
  auditUnauthenticated: {
    kind: "fast_counter",
    name: "workflow_audit_unauthenticated_total",
    help:
      "State-changing API calls without a known caller (401, or a failed token lookup): logged as audit " +
      "lines, not stored.",
  },
  storageUp: {
    kind: "gauge",
    name: "workflow_storage_up",
    help: "1 when this node's storage answered a ping at the scrape, else 0.",
    async collect(gauge, scrape) {
      const storage = scrape.sources?.storage;
      if (storage) gauge.set((await scrape.ping(storage)) ? 1 : 0);
    },
  },
  // ---- schedules
  scheduleFires: {
    kind: "fast_counter",
    name: "schedule_fires_total",
    help: "Schedule ticks this node recorded, by outcome (started, skipped, buffered).",
    labels: ["outcome"],
    zeroes: ["started", "skipped", "buffered"],
  },
  scheduleFireLag: {
    kind: "fast_histogram",
    name: "schedule_fire_lag_seconds",
    help: "A scheduled tick's fire time (tick + jitter) to its run's creation (buffered runs and manual " +
      "triggers not counted).",
    buckets: SECONDS_LAG,
  },
  schedulesLive: {
    kind: "gauge",
    name: "schedules_live",
    help:
      "Active schedules of the shards this node owns: armed in its timer heap, or waiting for a run to end.",
    collect(gauge, { sources }) {
      const scheduler = sources?.scheduler;
      if (scheduler) gauge.set(scheduler.live);
    },
  },
  // ---- cluster, transport, runtime
  clusterEvents: {
    kind: "counter",
    name: "workflow_cluster_events_total",
    help: "Cluster events this node recorded, by type (one shard_rebalance, shard_started, shard_stopped " +
      "or workflow_failover event lists a round's moves or shards).",
    labels: ["type"],
  },
  transportQueue: {
    kind: "gauge",
    name: "workflow_transport_queue_depth",
    help: "Envelopes queued in the cluster transport, not yet on the network (0 standalone).",
    collect(gauge, { sources }) {
      gauge.set(sources?.transport?.stats().queued ?? 0);
    },
  },
  transportDropped: {
    kind: "counter",
    name: "workflow_transport_dropped_total",
    help: "Envelopes the cluster transport refused (unknown peer, full queue, too large, closed).",
    collect(counter, scrape) {
      const dropped = scrape.sources?.transport?.stats().dropped;
      if (dropped !== undefined && dropped > scrape.dropped) {
        counter.inc(dropped - scrape.dropped);
        scrape.dropped = dropped;
      }
    },
  },
  timersPending: {
    kind: "gauge",
    name: "workflow_timers_pending",
    help: "Durable timers armed on this node (node timeouts, delays, retries, execution timeouts).",
    collect(gauge, { sources }) {
      const engine = sources?.engine;
      if (engine) gauge.set(engine.pendingTimers);
    },
  },
  memory: {
    kind: "gauge",
    name: "process_memory_bytes",
    help: "Memory of this process (Deno.memoryUsage), by type (rss, heap_total, heap_used, external).",
    labels: ["type"],
    collect(gauge) {
      const m = Deno.memoryUsage();
      gauge.set({ type: "rss" }, m.rss);
      gauge.set({ type: "heap_total" }, m.heapTotal);
      gauge.set({ type: "heap_used" }, m.heapUsed);
      gauge.set({ type: "external" }, m.external);
    },
  },
  eventLoopLag: {
    kind: "gauge",
    name: "process_event_loop_lag_seconds",
    help: "Event-loop lag: how late the latest periodic timer fired.",
    collect(gauge, { lagMs }) {
      if (lagMs !== null) gauge.set(lagMs / 1000);
    },
  },
};

/** The metrics `buildMetrics` makes, by field: each row's class. */
export type MetricSet = {
  readonly [F in keyof MetricKinds]: MetricClasses[MetricKinds[F]];
};

/**
 * Makes every metric of `METRIC_TABLE`, registered in `registry` in the table's order; the scrape-time ones
 * read `scrape`.
 *
 * @example
 * ```ts
 * import { Registry } from "npm:prom-client@15.1.3";
 * import { buildMetrics } from "./metric_table.ts";
 * const registry = new Registry();
 * const scrape = { sources: undefined, lagMs: null, ping: () => Promise.resolve(true), dropped: 0 };
 * const metrics = buildMetrics(registry, scrape);
 * metrics.created.inc();
 * if (!(await registry.metrics()).includes("workflow_created_total 1")) throw new Error("counted");
 * ```
 */
export function buildMetrics(registry: Registry, scrape: Scrape): MetricSet {
  const built: Record<string, unknown> = {};
  for (const [field, row] of Object.entries(METRIC_TABLE)) {
    built[field] = buildMetric(row, [registry], scrape);
  }
  return built as MetricSet;
}

/** Makes the metric of one row. */
function buildMetric(
  row: MetricRow,
  registers: Registry[],
  scrape: Scrape,
): MetricClasses[MetricRow["kind"]] {
  const config = { name: row.name, help: row.help, labelNames: row.labels ?? [], registers };
  switch (row.kind) {
    case "gauge": {
      const collect = row.collect;
      return new Gauge({
        ...config,
        collect: collect && function () {
          return collect(this, scrape);
        },
      });
    }
    case "counter": {
      const collect = row.collect;
      return new Counter({
        ...config,
        collect: collect && function () {
          return collect(this, scrape);
        },
      });
    }
    case "histogram":
      return new Histogram({ ...config, buckets: [...row.buckets] });
    case "fast_counter": {
      const counter = new FastCounter(config);
      for (const value of row.zeroes ?? []) counter.labels(value).inc(0);
      return counter;
    }
    case "fast_histogram":
      return new FastHistogram({ ...config, buckets: row.buckets });
  }
}
