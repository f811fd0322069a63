/**
 * A cluster member for tests: an engine and its `ClusterMember` over a storage that several
 * members share, with fast heartbeats and short membership timings. Imported only by tests and
 * benches.
 *
 * @module
 */
import { ROLES } from "../core/cluster.ts";
import type { Storage } from "../storage/storage.ts";
import { systemClock } from "../server/runtime/clock.ts";
import type { Engine } from "../server/runtime/engine.ts";
import { silentLogger } from "../server/runtime/logger.ts";
import { ClusterMember, type ClusterOptions, DEFAULT_CLUSTER_OPTIONS } from "../server/cluster/member.ts";
import { testEngine, type TestEngineOptions } from "./engine.ts";

/** The membership timings of test members: suspect after 150 ms, down after 300 ms, no joining period. */
export const TEST_MEMBER_TIMINGS = Object.freeze({ suspectAfterMs: 150, downAfterMs: 300, joiningForMs: 0 });

/** Options of {@link startTestMember}. */
export interface TestMemberOptions {
  shardCount: number;
  /** The engine's services, shared by the members (the caller closes them). */
  services: NonNullable<TestEngineOptions["services"]>;
  /** More engine parts (an appender, an observer). */
  engine?: Omit<TestEngineOptions, "nodeName" | "shardCount" | "services">;
  /** Cluster options over the test defaults. */
  cluster?: Partial<ClusterOptions>;
}

/**
 * Member `id` over `storage`: its engine started owning no shard, and its cluster member built
 * (heartbeat 50 ms, poll 25 ms, {@link TEST_MEMBER_TIMINGS}) but not started yet.
 */
export async function startTestMember(
  storage: Storage,
  id: string,
  opts: TestMemberOptions,
): Promise<{ engine: Engine; member: ClusterMember }> {
  const engine = testEngine(storage, {}, {
    ...opts.engine,
    nodeName: id,
    shardCount: opts.shardCount,
    services: opts.services,
  });
  await engine.start({ claimAllShards: false });
  const member = new ClusterMember(
    {
      ...DEFAULT_CLUSTER_OPTIONS,
      nodeId: id,
      address: "",
      httpAddress: `${id}.test:8080`,
      roles: ROLES,
      shardCount: opts.shardCount,
      heartbeatMs: 50,
      pollMs: 25,
      timings: TEST_MEMBER_TIMINGS,
      ...opts.cluster,
    },
    storage,
    engine,
    systemClock,
    silentLogger,
  );
  return { engine, member };
}
