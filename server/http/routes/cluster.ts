/**
 * The cluster routes, mounted at `/api/v1`: the cluster's members and shards,
 * where an execution (or a workflow's latest one) lives, and the cluster's events.
 *
 * @module
 */
import { metadataScheduleId } from "../../../core/schedule.ts";
import { shardOf } from "../../../core/ids.ts";
import type { ClusterEventLog, ExecutionIndex } from "../../../storage/storage.ts";
import type { ClusterMember } from "../../cluster/member.ts";
import type { Engine } from "../../runtime/engine.ts";
import type { WorkflowService } from "../../runtime/workflows.ts";
import { json } from "../errors.ts";
import { clusterShardsBody, clusterStatsBody, executionLocation } from "../presenters.ts";
import { viewOr404, workflowOr404 } from "../route_helpers.ts";
import { Router } from "../router.ts";
import {
  clusterEventsSpec,
  clusterShardsSpec,
  clusterStatsSpec,
  executionLocationSpec,
  workflowLocationSpec,
} from "../specs/system.ts";

/** What the cluster routes use. */
export interface ClusterRoutesDeps {
  engine: Engine;
  workflows: WorkflowService;
  storage: ExecutionIndex & ClusterEventLog;
  cluster: ClusterMember;
}

/** The cluster sub-app (paths under `/api/v1`). */
export function clusterRoutes(deps: ClusterRoutesDeps): Router {
  const { engine, workflows, storage, cluster } = deps;
  const location = (executionId: string) =>
    executionLocation(cluster.snapshot, executionId, shardOf(executionId, engine.shardCount));
  return new Router()
    .get("/cluster/stats", () => stats(deps), clusterStatsSpec)
    .get("/cluster/shards", async () => {
      const snap = cluster.snapshot;
      return json(clusterShardsBody(snap, await storage.countRunningByShard()));
    }, clusterShardsSpec)
    .get("/cluster/executions/:executionId/location", async ({ params }) => {
      await viewOr404(engine, params.executionId);
      return json(location(params.executionId));
    }, executionLocationSpec)
    .get("/cluster/workflow/:id/location", async ({ params }) => {
      await workflowOr404(workflows, params.id);
      const latest = await storage.listExecutions({ workflowId: params.id, limit: 1 });
      if (latest.items.length === 0) {
        // Never run: the shard of the workflow itself (where its `metadata.schedule` lives), as the old
        // engine answered the shard of the workflow's entity.
        const { executionId: _, ...where } = location(metadataScheduleId(params.id));
        return json({ workflowId: params.id, ...where });
      }
      return json({ workflowId: params.id, ...location(latest.items[0].executionId) });
    }, workflowLocationSpec)
    .get(
      "/events",
      async ({ query }) => json({ events: await storage.listClusterEvents(query.limit, query.type) }),
      clusterEventsSpec,
    );
}

/** `GET /api/v1/cluster/stats`: the members with their shards and running executions, and this member. */
async function stats({ engine, storage, cluster }: ClusterRoutesDeps): Promise<Response> {
  const snap = cluster.snapshot;
  const running = await storage.countRunningByShard();
  const { nodeId, address, httpAddress, roles } = cluster.opts;
  return json(clusterStatsBody(snap, running, {
    id: nodeId,
    address: address || httpAddress,
    roles,
    status: cluster.member(nodeId)?.status ?? "unknown",
    shards: engine.ownedShards.size,
    liveExecutions: engine.activeExecutions,
  }));
}
