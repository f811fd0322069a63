/**
 * The member runtime: `startNode` assembles a member — storage, the engine, the scheduler, the cluster member,
 * the HTTP API, metrics and traces — from an `EngineConfig`; `Engine` is the runtime alone (submit, read, steer
 * executions) for embedding, and `Scheduler` the owner-side scheduler over it (the `ScheduleService` the API
 * calls; `RunningNode.scheduler` is a node's); the executor types let a host write node kinds of its own;
 * `loadConfig` reads flags, `ENGINE_*` variables and a config file.
 *
 * @example
 * ```ts
 * import { startNode } from "./mod.ts";
 *
 * const node = await startNode({ port: 0, storage: "memory", logLevel: "error" });
 * try {
 *   const res = await fetch(`${node.url}/health/live`);
 *   if ((await res.json()).status !== "ok") throw new Error("the node is live");
 * } finally {
 *   await node.close();
 * }
 * ```
 *
 * @module
 */
export { type NodeOverrides, openStorage, type RunningNode, startNode, storageKind } from "./start.ts";
export {
  DEFAULT_ENGINE_LIMITS,
  Engine,
  type EngineError,
  type EngineLimits,
  type EngineObserver,
  type EngineOptions,
  type EngineStorage,
  type ObservedAttempt,
  type ObservedExecution,
  type Result,
  type Submission,
} from "./runtime/engine.ts";
export type { AttemptOutcome } from "./runtime/observer.ts";
export {
  cachedCronNext,
  DEFAULT_SCHEDULER_LIMITS,
  Scheduler,
  type SchedulerLimits,
  type SchedulerOptions,
} from "./runtime/scheduler.ts";
export type {
  NewSchedule,
  ScheduleDetail,
  ScheduleError,
  ScheduleResult,
  ScheduleService,
} from "./runtime/schedule_service.ts";
export {
  type ScheduledRunEnd,
  ScheduledRunEnds,
  type ScheduleEventType,
  type SchedulerObserver,
} from "./runtime/schedule_observer.ts";
export type { LatestWorkflows, SchedulerEngine } from "./runtime/schedule_firing.ts";
export { cronCheck, cronNextTick } from "./runtime/cron.ts";
export { type Clock, systemClock, type TimerHandle } from "./runtime/clock.ts";
export { type Logger, silentLogger } from "./runtime/logger.ts";
export { createLogger, type LoggerOptions, type LogLevel } from "./ops/log.ts";
export {
  ConfigError,
  DEFAULT_CONFIG,
  type EngineConfig,
  isClustered,
  loadConfig,
  SETTINGS,
  usage,
  validateConfig,
} from "./ops/config.ts";
export {
  type Executor,
  fromSync,
  type NodeContext,
  NodeError,
  type NodeInputs,
  type NodeResult,
  type NodeServices,
  type OutputLimits,
  type SqlClient,
} from "./executors/executor.ts";
export { executorFor, EXECUTORS } from "./executors/registry.ts";
export { type RealServices, realServices, type RealServicesOptions } from "./executors/services.ts";
export { loadSecrets, SecretsError, type SecretSource, secretSource } from "./executors/secrets.ts";
