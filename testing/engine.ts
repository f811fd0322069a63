/**
 * An engine for tests: real executors and services, the system clock, a quiet
 * logger and no periodic sweep. Imported only by tests and benches.
 *
 * @module
 */
import type { Storage } from "../storage/storage.ts";
import { systemClock } from "../server/runtime/clock.ts";
import { Engine, type EngineLimits } from "../server/runtime/engine.ts";
import { silentLogger } from "../server/runtime/logger.ts";
import { executorFor } from "../server/executors/registry.ts";
import { realServices } from "../server/executors/services.ts";

/** What the engine is built from (its constructor's options). */
type EngineWiring = ConstructorParameters<typeof Engine>[0];

/** Options of {@link testEngine}: a name and shard count, and the parts a test may supply itself (a clock too). */
export interface TestEngineOptions
  extends Partial<Pick<EngineWiring, "services" | "appender" | "observer" | "clock">> {
  /** Default `node-a`. */
  nodeName?: string;
  /** Default 8. */
  shardCount?: number;
}

/**
 * An engine over `storage` (not started), with `limits` over the defaults; new real services
 * unless `opts.services` (which the caller then closes); the system clock unless `opts.clock`.
 */
export function testEngine(
  storage: Storage,
  limits: Partial<EngineLimits> = {},
  opts: TestEngineOptions = {},
): Engine {
  const { nodeName, shardCount, services, ...wiring } = opts;
  return new Engine({
    storage,
    clock: systemClock,
    newId: () => crypto.randomUUID(),
    executorFor,
    services: services ?? realServices(),
    nodeName: nodeName ?? "node-a",
    log: silentLogger,
    shardCount: shardCount ?? 8,
    limits: { sweepIntervalMs: 3_600_000, ...limits },
    ...wiring,
  });
}
