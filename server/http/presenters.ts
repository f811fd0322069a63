/**
 * The API's JSON bodies: pure projections of stored workflows, executions, views
 * and cluster snapshots into the shapes docs/API.md describes.
 *
 * @module
 */
import { BUILTIN_CATALOG, type Catalog } from "../../core/catalog_set.ts";
import type { ExecutionView } from "../../core/view.ts";
import { NODE_CATEGORIES } from "../../core/workflow.ts";
import type { StoredExecution, StoredWorkflow } from "../../storage/storage.ts";
import type { ClusterSnapshot } from "../cluster/member.ts";
import { redactText } from "./redaction.ts";

/** A workflow in a list: its identity and size. */
export function workflowSummary(w: StoredWorkflow) {
  const d = w.definition;
  return {
    id: w.id,
    name: redactText(d.name),
    description: redactText(d.description ?? ""),
    version: w.version,
    tags: (d.tags ?? []).map(redactText),
    nodeCount: d.nodes.length,
    edgeCount: d.edges.length,
    createdAt: w.createdAt,
  };
}

/** An execution in a list, from the execution index. */
export function executionRow(e: StoredExecution) {
  return {
    executionId: e.executionId,
    workflowId: e.workflowId,
    version: e.version,
    status: e.status,
    startTime: e.startTime,
    endTime: e.endTime,
    duration: e.endTime === null ? null : e.endTime - e.startTime,
    logsCount: e.lastSeq,
  };
}

/** A workflow's state: the execution running now and the last one that ended (`idle` with neither). */
export function workflowStatusBody(
  workflowId: string,
  executionCount: number,
  running: StoredExecution | null,
  recent: readonly StoredExecution[],
) {
  const last = recent.find((e) => e.status !== "running") ?? null;
  return {
    workflowId,
    state: running ? "running" : last ? last.status : "idle",
    executionCount,
    currentExecution: running && executionRow(running),
    lastExecution: last && executionRow(last),
  };
}

/** An execution as the old engine's `/api/history` routes show it. */
export function historyExecution(view: ExecutionView, workflowName: string) {
  return {
    executionId: view.executionId,
    workflowName: redactText(workflowName),
    startTime: view.startTime,
    endTime: view.endTime,
    status: view.status,
    duration: view.duration,
    error: view.error,
    nodes: view.nodes.map((n) => ({
      nodeId: n.nodeId,
      nodeType: n.nodeType,
      startTime: n.startTime,
      endTime: n.endTime,
      duration: n.duration,
      status: n.status,
      recordsProcessed: n.recordsProcessed,
      error: n.error?.message ?? null,
    })),
  };
}

/** An execution's timeline, as `/api/history/:workflowId/timeline` shows it. */
export function historyTimeline(view: ExecutionView, workflowName: string) {
  const h = historyExecution(view, workflowName);
  return {
    executionId: h.executionId,
    startTime: h.startTime,
    endTime: h.endTime,
    duration: h.duration,
    nodes: h.nodes,
  };
}

/**
 * The node palette: per category, every node kind with its config schema. A kind the embedding application
 * added (`defineNodeKind`) says so (`custom: true`) and gives its config as a JSON Schema (`configSchema`).
 */
export function nodeTypes(catalog: Catalog = BUILTIN_CATALOG) {
  const out: Record<string, unknown[]> = {};
  for (const category of NODE_CATEGORIES) out[category] = [];
  for (const k of catalog.kinds) {
    out[k.type].push({
      type: k.nodeType,
      category: k.type,
      displayName: k.displayName,
      icon: k.icon,
      description: k.description,
      acceptsInput: k.acceptsInput,
      outputs: k.outputs,
      // Every field says whether it is required, as the old engine's palette did.
      config: Object.fromEntries(
        Object.entries(k.config).map(([key, spec]) => [key, { ...spec, required: spec.required === true }]),
      ),
      ...(k.custom && { custom: true, configSchema: k.configJsonSchema ?? { type: "object" } }),
    });
  }
  return out;
}

/** What this member tells of itself in the cluster's stats. */
export interface SelfStats {
  /** Its node id. */
  id: string;
  /** Its cluster address (its HTTP address without one). */
  address: string;
  /** Its roles. */
  roles: readonly string[];
  /** Its status in the snapshot (`unknown` when absent). */
  status: string;
  /** How many shards its engine owns. */
  shards: number;
  /** How many executions its engine runs. */
  liveExecutions: number;
}

/** The cluster's members and shards, with the running executions per member (`running`: per shard). */
export function clusterStatsBody(
  snap: ClusterSnapshot,
  running: ReadonlyMap<number, number>,
  self: SelfStats,
) {
  const byOwner = new Map<string, { shards: number; executions: number }>();
  for (const s of snap.shards) {
    if (s.owner === null) continue;
    const o = byOwner.get(s.owner) ?? { shards: 0, executions: 0 };
    o.shards++;
    o.executions += running.get(s.shard) ?? 0;
    byOwner.set(s.owner, o);
  }
  return {
    clusterName: "flowmesh",
    nodeCount: snap.members.filter((m) => m.status !== "down").length,
    leader: snap.leader,
    selfAddress: self.address,
    selfId: self.id,
    selfRoles: self.roles,
    members: snap.members.map((m) => ({
      id: m.id,
      address: m.address,
      httpAddress: m.httpAddress,
      status: m.status,
      roles: m.roles,
      lastHeartbeat: m.heartbeatAt,
      shardCount: byOwner.get(m.id)?.shards ?? 0,
      liveExecutions: byOwner.get(m.id)?.executions ?? 0,
    })),
    sharding: {
      totalShards: snap.shards.length,
      activeShards: snap.shards.filter((s) => s.owner !== null).length,
      totalEntities: [...running.values()].reduce((a, b) => a + b, 0),
      selfShards: self.shards,
      selfLiveExecutions: self.liveExecutions,
      selfStatus: self.status,
    },
    at: snap.at,
  };
}

/** Every shard with its owner, epoch and running executions (`running`: per shard). */
export function clusterShardsBody(snap: ClusterSnapshot, running: ReadonlyMap<number, number>) {
  return {
    entityType: "execution",
    totalShards: snap.shards.length,
    activeShards: snap.shards.filter((s) => s.owner !== null).length,
    shards: snap.shards.map((s) => ({
      shardId: s.shard,
      location: s.owner,
      epoch: s.epoch,
      entityCount: running.get(s.shard) ?? 0,
    })),
  };
}

/** Where an execution lives: its shard, the shard's owner in `snap` and the owner's HTTP address. */
export function executionLocation(snap: ClusterSnapshot, executionId: string, shard: number) {
  const a = snap.shards[shard];
  const owner = a?.owner ?? null;
  const member = owner === null ? undefined : snap.members.find((m) => m.id === owner);
  return {
    executionId,
    shardId: shard,
    owner,
    nodeAddress: member?.httpAddress ?? null,
    epoch: a?.epoch ?? 0,
  };
}
