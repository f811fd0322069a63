/**
 * A node assembled from its parts: storage, engine, workflow service and the
 * HTTP API. `startNode` is what `deno task serve` runs; tests start real nodes
 * on port 0 the same way.
 *
 * @module
 */
import { CommitGroup } from "../storage/commit_group.ts";
import { openEmbedded } from "../storage/embedded.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { openPostgres } from "../storage/postgres.ts";
import type { Storage } from "../storage/storage.ts";
import { Rpc } from "../transport/rpc.ts";
import { WebSocketTransport } from "../transport/websocket.ts";
import { createApi } from "./http/api.ts";
import { ClusterMember, DEFAULT_CLUSTER_OPTIONS, secretVerifier } from "./cluster/member.ts";
import { ShardRouting } from "./http/routing.ts";
import { type Clock, systemClock } from "./runtime/clock.ts";
import { DEFAULT_CONFIG, type EngineConfig, isClustered } from "./ops/config.ts";
import { RpcForwarder, serveForwarded } from "./http/forwarding.ts";
import { Engine } from "./runtime/engine.ts";
import { createLogger } from "./ops/log.ts";
import type { Logger } from "./runtime/logger.ts";
import { Metrics } from "./ops/metrics.ts";
import { executorFor } from "./executors/registry.ts";
import { realServices } from "./executors/services.ts";
import {
  combineApiObservers,
  combineEngineObservers,
  denoTracing,
  globalTracer,
  Tracing,
} from "./ops/tracing.ts";
import type { Tracer } from "@opentelemetry/api";
import { WorkflowService } from "./runtime/workflows.ts";

/** A running node. */
export interface RunningNode {
  /** The base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  engine: Engine;
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
}

function unavailable(code: string, message: string): Response {
  return Response.json({ error: { code, message, details: [] } }, {
    status: 503,
    headers: { "retry-after": "1" },
  });
}

/** The storage a configuration names: `auto` is PostgreSQL with a database URL, the embedded store without. */
export function storageKind(config: EngineConfig): "memory" | "embedded" | "postgres" {
  return config.storage === "auto" ? (config.databaseUrl ? "postgres" : "embedded") : config.storage;
}

/** The commit group's linger on the embedded store, which blocks the event loop while it writes. */
const EMBEDDED_LINGER_MS = 2;

/**
 * Opens the storage a configuration names: `auto` is PostgreSQL when a database
 * URL is set and the embedded store under the data directory otherwise.
 */
export async function openStorage(config: EngineConfig, now: () => number = Date.now): Promise<Storage> {
  switch (storageKind(config)) {
    case "memory":
      return new MemoryStorage();
    case "embedded":
      return await openEmbedded({ dataDir: config.dataDir, now });
    case "postgres":
      if (!config.databaseUrl) throw new Error("storage postgres needs --database-url (ENGINE_DATABASE_URL)");
      return await openPostgres({ url: config.databaseUrl, poolMax: config.databasePoolMax, now });
  }
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
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ??
    createLogger({ level: config.logLevel, format: config.logFormat }, { node: config.nodeId });
  const storage = overrides.storage ?? await openStorage(config, () => clock.now());
  const metrics = new Metrics();
  const tracer = overrides.tracer ?? globalTracer();
  const tracing = tracer
    ? new Tracing(tracer, config.nodeId, {
      httpTraceparent: overrides.tracer !== undefined || !denoTracing(),
    })
    : undefined;
  const lingerMs = !overrides.storage && storageKind(config) === "embedded" ? EMBEDDED_LINGER_MS : 0;
  const commitGroup = new CommitGroup(storage, { lingerMs }, metrics.commitGroupObserver);
  const services = realServices({
    databaseUrl: config.databaseUrl,
    log: (line, fields) => log.info(line, fields),
  });
  const engine = new Engine({
    storage,
    clock,
    newId: () => crypto.randomUUID(),
    executorFor,
    services,
    nodeName: config.nodeId,
    log,
    shardCount: config.shards,
    limits: {
      maxRecords: config.maxOutputRecords,
      maxBytes: config.maxOutputBytes,
      maxActiveExecutions: config.maxActiveExecutions,
      retentionMs: config.retentionMs,
    },
    appender: commitGroup,
    observer: combineEngineObservers(metrics.engineObserver, tracing?.engineObserver),
  });
  const workflows = new WorkflowService(storage, () => clock.now());
  try {
    await engine.start({ claimAllShards: false });
  } catch (err) {
    metrics.close();
    await services.close();
    await storage.close();
    throw err;
  }
  const handler: { api?: (req: Request) => Promise<Response> } = {};
  const gateway = config.roles.includes("api-gateway");
  const server = Deno.serve(
    { hostname: config.host, port: config.port, onListen: () => {} },
    (req) => {
      const api = handler.api;
      if (!api) return Promise.resolve(unavailable("not_ready", "the node is starting"));
      const path = gateway ? "" : new URL(req.url).pathname; // a gateway serves every route
      if (!gateway && !path.startsWith("/health") && path !== "/metrics") {
        return Promise.resolve(
          unavailable("not_a_gateway", "this node has no api-gateway role; call another"),
        );
      }
      return api(req);
    },
  );
  const port = server.addr.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  const clustered = isClustered(config);
  const transport = clustered
    ? new WebSocketTransport({
      self: config.nodeId,
      secret: config.clusterSecret!,
      hostname: config.host,
      port: config.clusterPort,
      logger: { warn: (message, fields) => log.warn(message, fields) },
    })
    : null;
  const rpc = transport ? new Rpc(transport, { logger: { warn: (m, f) => log.warn(m, f) } }) : null;
  const cluster = new ClusterMember(
    {
      ...DEFAULT_CLUSTER_OPTIONS,
      nodeId: config.nodeId,
      address: transport ? `${host === "0.0.0.0" ? "127.0.0.1" : host}:${transport.port}` : "",
      httpAddress: url.slice("http://".length),
      roles: config.roles,
      shardCount: config.shards,
      secretVerifier: config.clusterSecret ? await secretVerifier(config.clusterSecret) : undefined,
      onMembers: transport
        ? (ms) => {
          for (const m of ms) {
            if (m.id === config.nodeId) continue;
            // A member that is down is forgotten (no redialing it with a growing backoff); when it heartbeats
            // again it is added back and dialed at once, not up to 5 s (the backoff's cap) after it got shards.
            if (m.status === "down") transport.removePeer(m.id);
            else if (m.address !== "") transport.addPeer({ id: m.id, address: m.address });
          }
        }
        : undefined,
      onEvent: (type) => metrics.clusterEvent(type),
    },
    storage,
    engine,
    clock,
    log,
  );
  const rpcForwarder = rpc && transport
    ? new RpcForwarder(rpc, (peer) => transport.connectedPeers().includes(peer))
    : null;
  const routing = new ShardRouting(
    engine,
    cluster,
    rpcForwarder && metrics.forwarder(tracing ? tracing.forwarder(rpcForwarder) : rpcForwarder),
    clock,
    config.askTimeoutMs,
  );
  const api = handler.api = createApi({
    engine,
    workflows,
    storage,
    log,
    storageHealthy: () => storage.ping(),
    cluster,
    routing,
    observer: combineApiObservers(metrics.apiObserver, tracing?.apiObserver),
    metrics: () => metrics.render(),
    runtime: () => ({ eventLoopLagMs: metrics.eventLoopLagMs }),
  });
  metrics.bind({ engine, cluster, commitGroup, transport, storage });
  if (rpc) serveForwarded(rpc, api);
  const closeAll = async () => {
    await cluster.stop();
    await server.shutdown();
    rpc?.close();
    await transport?.close();
    await engine.stop();
    metrics.close();
    await services.close();
    await storage.close();
  };
  try {
    await cluster.start();
  } catch (err) {
    await closeAll();
    throw err;
  }
  log.info("listening", {
    url,
    storage: storage.kind,
    cluster: transport ? cluster.opts.address : "standalone",
  });
  return {
    url,
    port,
    engine,
    storage,
    commitGroup,
    log,
    cluster,
    clustered,
    metrics,
    tracing,
    async leave(timeoutMs = 10_000) {
      if (clustered) await cluster.leave(timeoutMs);
      await closeAll();
    },
    close: closeAll,
  };
}
