/**
 * A node assembled from its parts: storage, engine, workflow service and the
 * HTTP API. `startNode` is what `deno task serve` runs; tests start real nodes
 * on port 0 the same way.
 *
 * @module
 */
import { join } from "node:path";
import { CommitGroup } from "../storage/commit_group.ts";
import type { Storage } from "../storage/storage.ts";
import { AuditRecorder } from "./http/audit.ts";
import { Authenticator } from "./http/auth.ts";
import { StoredTokens } from "./http/stored_tokens.ts";
import { withCors } from "./http/cors.ts";
import { RateLimiter } from "./http/rate_limit.ts";
import { createApi } from "./http/api.ts";
import { ClusterMember, DEFAULT_CLUSTER_OPTIONS, secretVerifier } from "./cluster/member.ts";
import { ShardRouting } from "./http/routing.ts";
import { type Clock, systemClock } from "./runtime/clock.ts";
import {
  checkExposure,
  ConfigError,
  DEFAULT_CONFIG,
  type EngineConfig,
  isClustered,
  isLoopback,
} from "./ops/config.ts";
import { clearTokensWarning, readTls } from "./ops/tls.ts";
import { RpcForwarder, serveForwarded } from "./http/forwarding.ts";
import { Engine } from "./runtime/engine.ts";
import { createLogger } from "./ops/log.ts";
import type { Logger } from "./runtime/logger.ts";
import { Metrics } from "./ops/metrics.ts";
import { executorFor } from "./executors/registry.ts";
import type { Executor } from "./executors/executor.ts";
import type { NodeKindSpec } from "../core/catalog.ts";
import { type Catalog, catalogWith } from "../core/catalog_set.ts";
import { type RealServices, realServices } from "./executors/services.ts";
import { loadSecrets, SecretsError, type SecretSource } from "./executors/secrets.ts";
import {
  combineApiObservers,
  combineEngineObservers,
  denoTracing,
  globalTracer,
  Tracing,
} from "./ops/tracing.ts";
import type { Tracer } from "npm:@opentelemetry/api@1.10.0";
import { WorkflowService } from "./runtime/workflows.ts";
import { Scheduler } from "./runtime/scheduler.ts";
import { ScheduledRunEnds } from "./runtime/schedule_observer.ts";
import { ScheduleEvents } from "./ops/schedule_events.ts";
import { definitionGrantCheck } from "./executors/grant_checks.ts";
import { isMysqlUrl } from "./executors/mysql_support.ts";
import {
  type ApiHandler,
  checkHttpWorkers,
  type ClusterLink,
  followMembers,
  type HttpListener,
  serveHttp,
  serveHttpWorkers,
  startTransport,
} from "./listeners.ts";
import { commitLingerMs, openStorage } from "./storage_choice.ts";

export { openStorage, storageKind } from "./storage_choice.ts";

/** A running node. */
export interface RunningNode {
  /** The base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  engine: Engine;
  /** The owner-side scheduler (fires the schedules of the shards the engine owns). */
  scheduler: Scheduler;
  storage: Storage;
  commitGroup: CommitGroup;
  cluster: ClusterMember;
  /** A member of a cluster (rather than a standalone node). */
  clustered: boolean;
  log: Logger;
  /** This node's metrics (its own registry), served at `GET /metrics`. */
  metrics: Metrics;
  /** This node's spans, when a tracer provider is registered (`OTEL_DENO=true`) or a tracer was given. */
  tracing: Tracing | undefined;
  /** Graceful leave: hands this node's shards to the others first (a cluster member), then closes. */
  leave(timeoutMs?: number): Promise<void>;
  /**
   * Answers a request with this node's API in process, as if it came over HTTP (tokens, routing to the
   * shard's owner, errors): what an embedded engine calls.
   */
  fetch(req: Request): Promise<Response>;
  /** Stops serving, then the engine, then storage. */
  close(): Promise<void>;
}

/** Overrides for tests: a clock, a logger, a storage, a tracer. */
export interface NodeOverrides {
  clock?: Clock;
  log?: Logger;
  storage?: Storage;
  /** Spans go here (default: the global provider's tracer when one is registered, else no tracing). */
  tracer?: Tracer;
  /** The secrets `{"$secret": "NAME"}` reads (default: `ENGINE_SECRET_<NAME>` variables and `secretsFile`). */
  secrets?: SecretSource;
  /** Node kinds the application adds to the built-in ones (`defineNodeKind`), with their executors. */
  nodeKinds?: readonly RuntimeNodeKind[];
  /** An HTTP listener to serve through instead of opening the configured port now (`deferredHttp`). */
  http?: HttpListener;
}

/** A node kind the runtime runs: its catalog entry and its executor. */
export interface RuntimeNodeKind {
  spec: NodeKindSpec;
  executor: Executor;
}

/** What the engine is built on: the parts made before it. */
interface EngineParts {
  storage: Storage;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  tracing: Tracing | undefined;
  /** The commit group's linger, ms. */
  lingerMs: number;
  /** What `{"$secret": "NAME"}` references resolve to. */
  secrets: SecretSource;
  /** The node kinds workflows may use. */
  catalog: Catalog;
  /** The executor of a node kind: the application's kinds', then the built-in ones. */
  executorFor(type: string, nodeType: string): Executor | undefined;
}

/** The catalog and executors of the built-in kinds plus `extra` (throws on a duplicate kind). */
function kindsOf(extra: readonly RuntimeNodeKind[]): Pick<EngineParts, "catalog" | "executorFor"> {
  const catalog = catalogWith(extra.map((k) => k.spec));
  if (extra.length === 0) return { catalog, executorFor };
  const own = new Map(extra.map((k) => [`${k.spec.type}/${k.spec.nodeType}`, k.executor]));
  return {
    catalog,
    executorFor: (type, nodeType) => own.get(`${type}/${nodeType}`) ?? executorFor(type, nodeType),
  };
}

/** A started engine with the commit group it appends through and the services its executors use. */
interface StartedEngine {
  engine: Engine;
  commitGroup: CommitGroup;
  services: RealServices;
  /** The workflow definitions (the API's, and the latest versions the scheduler starts). */
  workflows: WorkflowService;
  /** The owner-side scheduler, following the engine's shards. */
  scheduler: Scheduler;
  /** Its cluster events (flushed at close). */
  scheduleEvents: ScheduleEvents;
}

/** The parts of a member once its engine runs and it listens: what the cluster member and API are built on. */
interface MemberParts extends EngineParts, StartedEngine {
  config: EngineConfig;
  http: HttpListener;
  /** The link to the other members (none standalone). */
  link: ClusterLink | null;
  /** The audit log's recorder (flushed at close). */
  audit: AuditRecorder;
}

/**
 * Starts a node: opens storage, starts the engine (recovering running
 * executions), then serves HTTP.
 *
 * @example
 * ```ts ignore
 * const node = await startNode({ ...DEFAULT_CONFIG, port: 0 });
 * await fetch(`${node.url}/health`);
 * await node.close();
 * ```
 */
export async function startNode(
  partial: Partial<EngineConfig> = {},
  overrides: NodeOverrides = {},
): Promise<RunningNode> {
  const config: EngineConfig = { ...DEFAULT_CONFIG, ...partial };
  if (!overrides.http) checkExposure(config); // a deferred listener checks its own host when it opens
  checkHttpWorkers(config);
  const tls = readTls(config); // before anything opens: a bad file stops here with one line
  const secrets = overrides.secrets ?? configuredSecrets(config); // likewise, never showing a value
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ??
    createLogger({ level: config.logLevel, format: config.logFormat }, { node: config.nodeId });
  const kinds = kindsOf(overrides.nodeKinds ?? []); // before anything opens: a duplicate kind stops here
  const storage = overrides.storage ?? await openStorage(config, () => clock.now());
  const metrics = new Metrics();
  const tracing = nodeTracing(config.nodeId, overrides.tracer);
  const lingerMs = commitLingerMs(config, overrides.storage !== undefined);
  const base: EngineParts = { storage, clock, log, metrics, tracing, lingerMs, secrets, ...kinds };
  const started = await startEngine(config, base);
  const warning = clearTokensWarning(config, isLoopback(config.host));
  if (warning) log.warn(warning);
  const clustered = isClustered(config);
  let http: HttpListener | undefined;
  let link: ClusterLink | null = null;
  let parts: MemberParts, cluster: ClusterMember, api: ApiHandler;
  try {
    http = overrides.http ??
      (config.httpWorkers > 0 ? await serveHttpWorkers(config, log, tls) : serveHttp(config, tls));
    link = clustered ? startTransport(config, log, tls) : null;
    const audit = new AuditRecorder(storage, log, {
      lost: (n, reason) => metrics.auditLost(n, reason),
      unauthenticated: () => metrics.auditUnauthenticated.inc(),
    });
    parts = { ...base, ...started, config, http, link, audit };
    cluster = await createClusterMember(parts);
    api = createNodeApi(parts, cluster);
  } catch (err) { // a port taken, say: nothing started may outlive the failed start
    await abandon(base, started, http, link);
    throw err;
  }
  http.serve(api);
  metrics.bind({
    engine: started.engine,
    cluster,
    commitGroup: started.commitGroup,
    transport: link?.transport ?? null,
    storage,
    scheduler: started.scheduler,
    httpWorkers: http.workers,
  });
  if (link) serveForwarded(link.rpc, api, tls ? "https" : "http");
  const closeAll = closer(parts, cluster);
  try {
    await cluster.start();
  } catch (err) {
    await closeAll();
    throw err;
  }
  log.info("listening", {
    url: http.url,
    storage: storage.kind,
    cluster: link ? cluster.opts.address : "standalone",
  });
  return {
    url: http.url,
    port: http.port,
    engine: started.engine,
    scheduler: started.scheduler,
    storage,
    commitGroup: started.commitGroup,
    log,
    cluster,
    clustered,
    metrics,
    tracing,
    fetch: api,
    async leave(timeoutMs = 10_000) {
      if (clustered) await cluster.leave(timeoutMs);
      await closeAll();
    },
    close: closeAll,
  };
}

/**
 * The secrets of this node: its `ENGINE_SECRET_<NAME>` environment variables over its secrets file.
 * Throws a one-line `ConfigError` (naming the file, variable or key, never a value) when one is unusable.
 */
function configuredSecrets(config: EngineConfig): SecretSource {
  let env: Record<string, string> = {};
  try {
    env = Deno.env.toObject();
  } catch { /* no permission to read the environment: the file's secrets only */ }
  try {
    return loadSecrets({ env, file: config.secretsFile });
  } catch (err) {
    throw err instanceof SecretsError ? new ConfigError(err.message) : err;
  }
}

/**
 * This node's tracing: spans to the given tracer, else to the global provider's when one is registered,
 * else none. HTTP requests carry a traceparent unless Deno's own tracing already propagates it.
 */
function nodeTracing(nodeId: string, given: Tracer | undefined): Tracing | undefined {
  const tracer = given ?? globalTracer();
  return tracer
    ? new Tracing(tracer, nodeId, {
      httpTraceparent: given !== undefined || !denoTracing(),
    })
    : undefined;
}

/**
 * Builds the engine over a commit group and the executors' services, and starts it (recovering running
 * executions, claiming no shard yet). When it fails to start, closes the metrics, services and storage.
 */
async function startEngine(config: EngineConfig, parts: EngineParts): Promise<StartedEngine> {
  const { storage, clock, log, metrics, tracing } = parts;
  const commitGroup = new CommitGroup(storage, { lingerMs: parts.lingerMs }, metrics.commitGroupObserver);
  const runEnds = new ScheduledRunEnds();
  const filesRoot = config.filesRoot ?? join(config.dataDir, "files");
  await Deno.mkdir(filesRoot, { recursive: true });
  const services = realServices({
    sqlConnections: config.sqlConnections,
    brokers: config.brokers,
    allowInlineConnections: config.allowInlineConnections,
    log: (line, fields) => logAt(log, fields?.level)(line, fields),
    filesRoot,
    httpAllow: config.httpAllow,
  });
  const engine = new Engine({
    storage,
    clock,
    newId: () => crypto.randomUUID(),
    executorFor: parts.executorFor,
    catalog: parts.catalog,
    services,
    secrets: parts.secrets,
    nodeName: config.nodeId,
    log,
    shardCount: config.shards,
    limits: {
      maxRecords: config.maxOutputRecords,
      maxBytes: config.maxOutputBytes,
      maxActiveExecutions: config.maxActiveExecutions,
      maxHistoryEvents: config.maxHistoryEvents,
      retentionMs: config.retentionMs,
    },
    appender: commitGroup,
    observer: combineEngineObservers(metrics.engineObserver, tracing?.engineObserver, runEnds),
  });
  const workflows = nodeWorkflows(config, parts);
  const scheduleEvents = new ScheduleEvents(storage, {
    node: config.nodeId,
    now: () => clock.now(),
    log,
    count: (type) => metrics.clusterEvent(type),
  });
  const scheduler = new Scheduler({
    engine,
    store: storage,
    workflows,
    clock,
    log,
    runEnds,
    observer: {
      ...metrics.schedulerObserver,
      event: (type, details) => scheduleEvents.record(type, details),
    },
  });
  scheduler.start();
  try {
    await engine.start({ claimAllShards: false });
  } catch (err) {
    await scheduler.stop();
    metrics.close();
    await services.close();
    await storage.close();
    throw err;
  }
  return { engine, commitGroup, services, workflows, scheduler, scheduleEvents };
}

/** The workflow definitions of a node, checked against its grants (files, SQL, egress). */
function nodeWorkflows(config: EngineConfig, parts: EngineParts): WorkflowService {
  const { storage, clock } = parts;
  return new WorkflowService(
    storage,
    () => clock.now(),
    definitionGrantCheck({
      filesRoot: config.filesRoot ?? join(config.dataDir, "files"),
      sqlConnections: Object.keys(config.sqlConnections),
      mysqlConnections: Object.keys(config.sqlConnections).filter((n) =>
        isMysqlUrl(config.sqlConnections[n])
      ),
      brokers: config.brokers,
      allowInlineConnections: config.allowInlineConnections,
      httpAllow: config.httpAllow,
    }),
    parts.catalog,
    { maxNodes: config.maxWorkflowNodes, maxEdges: 5 * config.maxWorkflowNodes },
  );
}

/** This node's cluster member (not started): its addresses and roles, dialing the members it learns of. */
async function createClusterMember(parts: MemberParts): Promise<ClusterMember> {
  const { config, http, link, storage, engine, clock, log, metrics } = parts;
  return new ClusterMember(
    {
      ...DEFAULT_CLUSTER_OPTIONS,
      nodeId: config.nodeId,
      address: link ? `${http.host}:${link.transport.port}` : "",
      httpAddress: http.address,
      roles: config.roles,
      shardCount: config.shards,
      secretVerifier: config.clusterSecret ? await secretVerifier(config.clusterSecret) : undefined,
      onMembers: link ? followMembers(link.transport, config.nodeId) : undefined,
      onEvent: (type, details) => metrics.clusterEvent(type, details),
    },
    storage,
    engine,
    clock,
    log,
  );
}

/** This node's HTTP API, routing each execution's requests to its shard's owner (over RPC in a cluster). */
function createNodeApi(parts: MemberParts, cluster: ClusterMember): ApiHandler {
  const { config, link, storage, engine, clock, log, metrics, tracing } = parts;
  const rpcForwarder = link
    ? new RpcForwarder(link.rpc, (peer) => link.transport.connectedPeers().includes(peer))
    : null;
  const routing = new ShardRouting(
    engine,
    cluster,
    rpcForwarder && metrics.forwarder(tracing ? tracing.forwarder(rpcForwarder) : rpcForwarder),
    clock,
    config.askTimeoutMs,
  );
  return withCors(
    config.corsOrigins,
    createApi({
      auth: {
        authenticator: new Authenticator(config.apiTokens, new StoredTokens(storage, () => clock.now())),
        metricsPublic: config.metricsPublic,
        limiter: config.rateLimit > 0 ? new RateLimiter(config.rateLimit, 2 * config.rateLimit) : undefined,
      },
      engine,
      workflows: parts.workflows,
      schedules: parts.scheduler,
      storage,
      log,
      storageHealthy: () => storage.ping(),
      cluster,
      routing,
      observer: combineApiObservers(metrics.apiObserver, tracing?.apiObserver),
      metrics: () => metrics.render(),
      runtime: () => ({ eventLoopLagMs: metrics.eventLoopLagMs }),
      audit: { recorder: parts.audit, node: config.nodeId, now: () => clock.now() },
    }),
  );
}

/** The logger's method for a node's line: its `level` field (`defineNodeKind`'s `ctx.log`), else info. */
function logAt(log: Logger, level: unknown): Logger["info"] {
  return level === "debug" || level === "warn" || level === "error" ? log[level] : log.info;
}

/** Stops what a start that failed half way had started: the listeners, the engine, then the rest. */
async function abandon(
  base: EngineParts,
  started: StartedEngine,
  http: HttpListener | undefined,
  link: ClusterLink | null,
): Promise<void> {
  await http?.server.shutdown().catch(() => {});
  link?.rpc.close();
  await link?.transport.close().catch(() => {});
  await started.scheduler.stop();
  await started.engine.stop();
  base.metrics.close();
  await started.services.close();
  await base.storage.close();
}

/** Closes a member in order: the cluster member, the HTTP server, the transport, the engine, then the rest. */
function closer(parts: MemberParts, cluster: ClusterMember): () => Promise<void> {
  const { http, link, engine, metrics, services, storage, audit, scheduler, scheduleEvents } = parts;
  return async () => {
    await cluster.stop();
    await http.server.shutdown();
    await audit.flush();
    link?.rpc.close();
    await link?.transport.close();
    await scheduler.stop();
    await engine.stop();
    await scheduleEvents.flush();
    metrics.close();
    await services.close();
    await storage.close();
  };
}
