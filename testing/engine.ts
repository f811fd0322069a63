/**
 * An engine for tests: real executors and services, the system clock, a quiet
 * logger and no periodic sweep. Imported only by `*_test.ts` files.
 *
 * @module
 */
import type { Storage } from "../storage/storage.ts";
import { systemClock } from "../server/runtime/clock.ts";
import { Engine, type EngineLimits } from "../server/runtime/engine.ts";
import { silentLogger } from "../server/runtime/logger.ts";
import { executorFor } from "../server/executors/registry.ts";
import { realServices } from "../server/executors/services.ts";

/** An engine over `storage` (not started), with `limits` over the defaults. */
export function testEngine(
  storage: Storage,
  limits: Partial<EngineLimits> = {},
  opts: { nodeName?: string; shardCount?: number } = {},
): Engine {
  return new Engine({
    storage,
    clock: systemClock,
    newId: () => crypto.randomUUID(),
    executorFor,
    services: realServices(),
    nodeName: opts.nodeName ?? "node-a",
    log: silentLogger,
    shardCount: opts.shardCount ?? 8,
    limits: { sweepIntervalMs: 3_600_000, ...limits },
  });
}
