/**
 * The health routes (`/health`, `/health/live`, `/health/ready`) and the Prometheus
 * exposition at `/metrics`, mounted at the root.
 *
 * @module
 */
import type { StorageLifecycle } from "../../../storage/storage.ts";
import type { ClusterMember } from "../../cluster/member.ts";
import type { Engine } from "../../runtime/engine.ts";
import { json } from "../errors.ts";
import { Router } from "../router.ts";
import { healthSpec, liveSpec, metricsSpec, readySpec } from "../specs/system.ts";

/** Measures of the process for `/health`. */
export interface RuntimeHealth {
  /** The event loop's latest lag (a periodic timer's drift), in ms; `null` before the first measure. */
  eventLoopLagMs: number | null;
}

/** Above this event-loop lag, `/health` says `degraded` (still 200: the node works, slowly). */
export const EVENT_LOOP_SLOW_MS = 1_000;

/** What the health routes read. */
export interface HealthDeps {
  engine: Engine;
  storage: StorageLifecycle;
  cluster: ClusterMember;
  /** Is storage reachable right now (for /health/ready)? */
  storageHealthy?: () => Promise<boolean>;
  /** The Prometheus exposition `GET /metrics` serves; without it there is no /metrics route. */
  metrics?: () => Promise<{ contentType: string; text: string }>;
  /** Event-loop lag for `/health` (without it: `null`). */
  runtime?: () => RuntimeHealth;
}

/** The health sub-app (paths from the root): `/health`, `/health/live`, `/health/ready` and `/metrics`. */
export function healthRoutes(deps: HealthDeps): Router {
  const app = new Router()
    .get("/health", () => health(deps), healthSpec)
    .get("/health/live", () => json({ status: "ok" }), liveSpec)
    .get("/health/ready", () => ready(deps), readySpec);
  const metrics = deps.metrics;
  if (metrics) {
    app.get("/metrics", async () => {
      const { contentType, text } = await metrics();
      return new Response(text, { headers: { "content-type": contentType } });
    }, metricsSpec);
  }
  return app;
}

/** `GET /health`: each part's check, the process's memory; 503 when a part is down. */
async function health(deps: HealthDeps): Promise<Response> {
  const { engine, storage, cluster } = deps;
  const t0 = performance.now();
  const storageUp = deps.storageHealthy ? await deps.storageHealthy() : true;
  const storageMs = performance.now() - t0;
  const engineUp = engine.ready;
  const clusterUp = cluster.ready;
  const lagMs = deps.runtime?.().eventLoopLagMs ?? null;
  const slow = lagMs !== null && lagMs > EVENT_LOOP_SLOW_MS;
  const healthy = storageUp && engineUp && clusterUp;
  const members: Record<string, number> = {};
  for (const m of cluster.snapshot.members) members[m.status] = (members[m.status] ?? 0) + 1;
  const memory = Deno.memoryUsage();
  return json({
    status: !healthy ? "unhealthy" : slow ? "degraded" : "ok",
    storage: storage.kind,
    ready: healthy,
    node: cluster.opts.nodeId,
    checks: {
      storage: { status: storageUp ? "up" : "down", kind: storage.kind, pingMs: round(storageMs) },
      engine: {
        status: engineUp ? "up" : "down",
        shards: engine.ownedShards.size,
        liveExecutions: engine.activeExecutions,
        pendingTimers: engine.pendingTimers,
      },
      cluster: {
        status: clusterUp ? "up" : "down",
        cutOff: cluster.cutOff,
        leader: cluster.snapshot.leader,
        members,
      },
      eventLoop: { status: slow ? "slow" : "ok", lagMs: lagMs === null ? null : round(lagMs) },
    },
    memory: {
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
    },
  }, healthy ? 200 : 503);
}

/** `GET /health/ready`: whether engine, cluster and storage are all ready (503 when not). */
async function ready(deps: HealthDeps): Promise<Response> {
  const { engine, cluster } = deps;
  const storageUp = deps.storageHealthy ? await deps.storageHealthy() : true;
  const isReady = engine.ready && cluster.ready && storageUp;
  return json(
    {
      status: isReady ? "ready" : "not_ready",
      engine: engine.ready,
      cluster: cluster.ready,
      storage: storageUp,
      shards: engine.ownedShards.size,
    },
    isReady ? 200 : 503,
  );
}

/** `x` to 0.1. */
function round(x: number): number {
  return Math.round(x * 10) / 10;
}
