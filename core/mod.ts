/**
 * flowmesh's pure core: workflow definitions and their validation, compiled plans, the execution decider
 * (commands → events → state), timers and views, execution ids and shards, the cluster's shard map, and
 * schedules (their validation, ticks and the decision of what a due tick does: `decideTicks`). It
 * does no I/O and pulls in no database driver, transport or metrics library: the runtime, storage backends,
 * transports and the simulator are their own entry points (`./server`, `./storage`, `./transport`, `./sim`).
 *
 * @example
 * ```ts
 * import { compilePlan, decide, initialState, validateWorkflow } from "./mod.ts";
 *
 * const definition = {
 *   id: "hello",
 *   name: "hello",
 *   nodes: [{ id: "one", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } }],
 *   edges: [],
 * };
 * const checked = validateWorkflow(definition);
 * if (!checked.ok) throw new Error(checked.problems[0].message);
 * const state = initialState("ex-1", compilePlan(checked.workflow, 1));
 * const d = decide(state, { type: "Start", input: null, idempotencyKey: null, timeoutMs: null }, 0);
 * if (!d.ok || d.events[0].type !== "ExecutionStarted") throw new Error("an execution starts");
 * ```
 *
 * @module
 */
export type {
  NodeCategory,
  RetryPolicy,
  WorkflowDefinition,
  WorkflowEdge,
  WorkflowNode,
  WorkflowSchedule,
} from "./workflow.ts";
export { NODE_CATEGORIES } from "./workflow.ts";
export type { Json } from "./json.ts";
export { canonicalJson } from "./json.ts";
export type { ConfigCheck, ConfigSchema, FieldSpec, FieldType, Problem } from "./schema.ts";
export type { NodeBehaviour, NodeKindSpec } from "./catalog.ts";
export { CATALOG, findKind } from "./catalog.ts";
export type { ProblemCode, ValidationResult, WorkflowLimits } from "./validate.ts";
export {
  DEFAULT_WORKFLOW_LIMITS,
  MAX_RETENTION_MS,
  MAX_TIMEOUT_MS,
  PROBLEM_CODES,
  validateWorkflow,
} from "./validate.ts";
export type { ChildrenSpec, Plan, PlanEdge, PlanNode } from "./plan.ts";
export {
  FOREACH_MAX_CONCURRENCY,
  FOREACH_MAX_ITEMS,
  MAX_WORKFLOW_DEPTH,
  SWITCH_DEFAULT,
  switchHandles,
} from "./catalog_control.ts";
export { compilePlan, DEFAULT_TARGET_HANDLE, planNode } from "./plan.ts";
export type * from "./events.ts";
export { EVENT_VERSION } from "./events.ts";
export type {
  ChildProgress,
  ExecutionState,
  ExecutionStatus,
  ExecutionViewStatus,
  NodeState,
  NodeStatus,
  PlanOf,
} from "./state.ts";
export {
  evolve,
  historyVersions,
  initialState,
  nodeDone,
  replay,
  signalRecords,
  TERMINAL_STATUSES,
} from "./state.ts";
export type {
  AdmitCommand,
  CancelCommand,
  ChildEndedCommand,
  Command,
  CompleteNodeCommand,
  Decision,
  FailNodeCommand,
  FireTimerCommand,
  MigrateCommand,
  PauseCommand,
  PlanChildrenCommand,
  Rejection,
  RerunCommand,
  ResumeCommand,
  RetryCommand,
  SignalCommand,
  StartCommand,
  StartNodeCommand,
} from "./decide.ts";
export { decide } from "./decide.ts";
export type { LiveChild, PendingWork, Timer, TimerKind } from "./timers.ts";
export { isOrphan, liveChildren, pendingTimers, pendingWork } from "./timers.ts";
export type { ExecutionSummary, ExecutionView, NodeView, NodeViewStatus } from "./view.ts";
export { executionSummary, executionView, NEVER_EXPIRES, retentionExpiry } from "./view.ts";
export {
  childExecutionId,
  DEFAULT_SHARD_COUNT,
  executionIdFor,
  hash128,
  keyedExecutionId,
  routingKey,
  shardOf,
} from "./ids.ts";
export { backoffMs, DEFAULT_RETRY_POLICY, retryPolicy } from "./policy.ts";
export { parseDuration } from "./duration.ts";
export type {
  CatchUpPolicy,
  ExecutionTrigger,
  FireOutcome,
  FireReason,
  NextTick,
  OverlapPolicy,
  Schedule,
  ScheduleFire,
  ScheduleKind,
  ScheduleSpec,
  ScheduleState,
  ScheduleStatus,
} from "./schedule.ts";
export {
  CATCH_UP_POLICIES,
  FIRES_KEPT,
  MAX_CATCH_UP,
  metadataScheduleId,
  MIN_INTERVAL_MS,
  OVERLAP_POLICIES,
  SCHEDULE_DEFAULTS,
  SCHEDULE_ID_PATTERN,
  SCHEDULE_KINDS,
  SCHEDULE_STATUSES,
  scheduledExecutionId,
  scheduleIdempotencyKey,
} from "./schedule.ts";
export type { CronCheck, ScheduleSpecResult } from "./schedule_spec.ts";
export { parseScheduleSpec, SCHEDULE_PROBLEM_CODES } from "./schedule_spec.ts";
export { fireTimeOf, jitterOf, LATE_GRACE_BASE_MS, nextTickAfter } from "./schedule_ticks.ts";
export type { TickDecision, TickStart } from "./schedule_decide.ts";
export {
  afterRunEnded,
  decideTicks,
  initialState as initialScheduleState,
  manualTrigger,
  nextFireTimes,
  respecState,
} from "./schedule_decide.ts";
export type {
  AllocationOptions,
  Member,
  MemberRecord,
  MembershipTimings,
  MemberStatus,
  Move,
  Role,
  ShardAssignment,
} from "./cluster.ts";
export {
  allocate,
  balanced,
  DEFAULT_ALLOCATION,
  DEFAULT_TIMINGS,
  eligible,
  holdsShards,
  leaderOf,
  members,
  memberStatus,
  ROLES,
} from "./cluster.ts";
