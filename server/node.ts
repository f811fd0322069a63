/**
 * A node assembled from its parts: storage, engine, workflow service and the
 * HTTP API. `startNode` is what `deno task serve` runs; tests start real nodes
 * on port 0 the same way.
 *
 * @module
 */
import { MemoryStorage } from "../storage/memory.ts";
import type { Storage } from "../storage/storage.ts";
import { createApi } from "./api.ts";
import { type Clock, systemClock } from "./clock.ts";
import { DEFAULT_CONFIG, type EngineConfig } from "./config.ts";
import { Engine } from "./engine.ts";
import { createLogger, type Logger } from "./log.ts";
import { executorFor } from "./nodes/registry.ts";
import { realServices } from "./nodes/services.ts";
import { WorkflowService } from "./workflows.ts";

/** A running node. */
export interface RunningNode {
  /** The base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  engine: Engine;
  storage: Storage;
  log: Logger;
  /** Stops serving, then the engine, then storage. */
  close(): Promise<void>;
}

/** Overrides for tests: a clock, a logger, a storage. */
export interface NodeOverrides {
  clock?: Clock;
  log?: Logger;
  storage?: Storage;
}

/** Opens the storage a configuration names. */
export function openStorage(config: EngineConfig): Storage {
  switch (config.storage) {
    case "memory":
      return new MemoryStorage();
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
    createLogger({ level: config.logLevel, format: config.logFormat }, { node: config.nodeName });
  const storage = overrides.storage ?? openStorage(config);
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
    nodeName: config.nodeName,
    log,
    shardCount: config.shards,
    limits: {
      maxRecords: config.maxOutputRecords,
      maxBytes: config.maxOutputBytes,
      maxActiveExecutions: config.maxActiveExecutions,
    },
  });
  const workflows = new WorkflowService(storage, () => clock.now());
  const handler = createApi({ engine, workflows, storage, log });
  await engine.start();
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: () => {},
  }, handler);
  const port = server.addr.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  log.info("listening", { url, storage: storage.kind });
  return {
    url,
    port,
    engine,
    storage,
    log,
    async close() {
      await server.shutdown();
      await engine.stop();
      await services.close();
      await storage.close();
    },
  };
}
