/**
 * The workload's sub-workflows and steering (issue 15): child workflows, the parents that run them
 * (`foreach`, a `workflow.run` nested once), and the clients that pause, resume and retry executions through
 * the API while the faults strike.
 *
 * The children are not all local (a durable delay, the fake http endpoint), so every item is a real child
 * execution, created by the runtime on the owner of the parent's shard. The children are registered before
 * the parents (creating a parent checks that the workflows it names exist).
 *
 * Steering: some acknowledged executions are paused 20–800 ms after their acknowledgement — the execution
 * itself or, for a parent, one of its first children (its id is fixed by `childExecutionId`) — and resumed
 * 200–2,500 ms later; a refusal (`already_paused`, `not_paused`, `execution_terminal`, a child not created
 * yet) is a normal outcome. The flaky `foreach` fails now and then (a child's http call fails, more than the
 * one failure it tolerates); its client looks at it after a few seconds and retries it once when it failed.
 * The held `foreach`'s children wait for a signal nobody sends: its client cancels it 0.3–2.5 s after the
 * acknowledgement, and the runtime must cancel its children (else they run on as orphans).
 * New pauses and retries are made in the fault phase only; a resume or a cancel is retried until it lands.
 *
 * @module
 */
import { childExecutionId } from "../core/ids.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import type { Random } from "./random.ts";
import type { Scheduler } from "./scheduler.ts";

/** One API answer as the clients see it; `undefined`: nobody answered in time. */
export type Answer = { status: number; json: Record<string, unknown> } | undefined;

/** A client's API call (to a random node). */
export type Call = (method: string, path: string, body: unknown) => Promise<Answer>;

/** The ids of the parent workflows (submitted like the rest of the mix). */
export const PARENT_WORKFLOWS = ["foreach", "subflow", "foreach-flaky", "foreach-held"] as const;

/** Items of each parent's `foreach` (the records of its source). */
const ITEMS: Record<string, number> = { "foreach": 4, "subflow": 1, "foreach-flaky": 4, "foreach-held": 3 };
/** The node of each parent that has children. */
const CHILDREN_NODE: Record<string, string> = {
  "foreach": "each",
  "subflow": "sub",
  "foreach-flaky": "each",
  "foreach-held": "each",
};

const src = (end: number) => ({
  id: "src",
  type: "source" as const,
  nodeType: "sequence.numbers",
  config: { end },
});
const collect = (id: string) => ({ id, type: "sink" as const, nodeType: "memory.collect", config: {} });

/**
 * The child workflows, in registration order (a child before the workflows that run it).
 *
 * - `sim-item`: `[100·k + input]` for k = 1, 2, after a 300 ms durable delay (the item is its input);
 * - `sim-call`: one call to the flaky endpoint, no retry (fails at the endpoint's rate, 20%);
 * - `sim-sub`: a `foreach` of `sim-item` over 1..3 (so `subflow` nests twice: parent → `sim-sub` → items);
 * - `sim-held`: waits for a signal nobody sends: it ends only when cancelled, as its parent's end must.
 *
 * @example
 * ```ts
 * import { childWorkflows } from "./steer_workload.ts";
 * const ids = childWorkflows().map((w) => w.id);
 * if (ids.indexOf("sim-item") > ids.indexOf("sim-sub")) throw new Error("a child is registered first");
 * ```
 */
export function childWorkflows(): WorkflowDefinition[] {
  return [
    {
      id: "sim-item",
      name: "Child: an item",
      nodes: [
        src(2),
        { id: "tag", type: "transform", nodeType: "map", config: { expression: "value * 100 + $input" } },
        { id: "wait", type: "control", nodeType: "delay", config: { durationMs: 300 } },
        collect("out"),
      ],
      edges: [{ source: "src", target: "tag" }, { source: "tag", target: "wait" }, {
        source: "wait",
        target: "out",
      }],
    },
    {
      id: "sim-call",
      name: "Child: a flaky call",
      nodes: [
        src(1),
        {
          id: "call",
          type: "control",
          nodeType: "http",
          config: { method: "POST", url: "http://fake.sim/flaky", idempotent: true },
          retry: { maxAttempts: 1 },
        },
        collect("out"),
      ],
      edges: [{ source: "src", target: "call" }, { source: "call", target: "out" }],
    },
    {
      id: "sim-held",
      name: "Child: held until cancelled",
      nodes: [
        src(1),
        { id: "gate", type: "control", nodeType: "signal.wait", config: { name: "never" } },
        collect("out"),
      ],
      edges: [{ source: "src", target: "gate" }, { source: "gate", target: "out" }],
    },
    {
      id: "sim-sub",
      name: "Child: a foreach of items",
      nodes: [
        src(3),
        {
          id: "each",
          type: "control",
          nodeType: "foreach",
          config: { workflow: "sim-item", maxConcurrency: 2 },
        },
        collect("out"),
      ],
      edges: [{ source: "src", target: "each" }, { source: "each", target: "out" }],
    },
  ];
}

/**
 * The parent workflows of the mix: `foreach` (4 items, 2 at once), `subflow` (a `workflow.run` of
 * `sim-sub`), `foreach-flaky` (4 calls at once, one failure tolerated) and `foreach-held` (3 children that
 * wait until cancelled; its client cancels it).
 *
 * @example
 * ```ts
 * import { parentWorkflows, PARENT_WORKFLOWS } from "./steer_workload.ts";
 * if (parentWorkflows().map((w) => w.id).join() !== PARENT_WORKFLOWS.join()) throw new Error("ids");
 * ```
 */
export function parentWorkflows(): WorkflowDefinition[] {
  const parent = (
    id: string,
    name: string,
    node: { nodeType: string; config: Record<string, unknown> },
  ): WorkflowDefinition => ({
    id,
    name,
    nodes: [src(ITEMS[id]), { id: CHILDREN_NODE[id], type: "control", ...node }, collect("out")],
    edges: [{ source: "src", target: CHILDREN_NODE[id] }, { source: CHILDREN_NODE[id], target: "out" }],
  });
  return [
    parent("foreach", "For each item", {
      nodeType: "foreach",
      config: { workflow: "sim-item", maxConcurrency: 2 },
    }),
    parent("subflow", "Sub-workflow", { nodeType: "workflow.run", config: { workflow: "sim-sub" } }),
    parent("foreach-flaky", "For each call", {
      nodeType: "foreach",
      config: {
        workflow: "sim-call",
        maxConcurrency: 4,
        failurePolicy: "continue",
        toleratedFailureCount: 1,
      },
    }),
    parent("foreach-held", "For each, held", {
      nodeType: "foreach",
      config: { workflow: "sim-held", maxConcurrency: 3 },
    }),
  ];
}

/** What the steering clients did. */
export interface SteerLog {
  pauses: number;
  resumes: number;
  retries: number;
  /** `foreach-held` runs cancelled by their client. */
  cancels: number;
  /** Executions whose resume (after a pause that landed) was answered `not_paused` (checked at the end). */
  resumeNotPaused: Set<string>;
  /** Refusals that are normal outcomes, by code (`already_paused`, `execution_terminal`, …). */
  refused: Record<string, number>;
}

/** Executions worth pausing (they run long enough to be caught running). */
const PAUSABLE = new Set(["delayed", "signalled", ...PARENT_WORKFLOWS]);

/**
 * The steering clients.
 *
 * @example
 * ```ts
 * import { SteerClients } from "./steer_workload.ts";
 * import { Random } from "./random.ts";
 * import { Scheduler } from "./scheduler.ts";
 * const s = new Scheduler();
 * const calls: string[] = [];
 * const ok = (method: string, path: string) => {
 *   calls.push(`${method} ${path}`);
 *   return Promise.resolve({ status: 200, json: {} });
 * };
 * const none = () => Promise.resolve();
 * const clients = new SteerClients(s, new Random(1), ok, none, () => false, () => {}, () => {});
 * clients.acked("ex-1", "foreach-held");
 * await s.run(3_000);
 * if (!calls.includes("POST /api/v1/executions/ex-1/cancel")) throw new Error("a held parent is cancelled");
 * ```
 */
export class SteerClients {
  readonly log: SteerLog = {
    pauses: 0,
    resumes: 0,
    retries: 0,
    cancels: 0,
    resumeNotPaused: new Set(),
    refused: {},
  };
  #steering = true;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: Random,
    private readonly call: Call,
    private readonly backoff: (attempt: number) => Promise<void>,
    private readonly stopped: () => boolean,
    private readonly unexpected: (what: string) => void,
    private readonly trace: (line: string) => void,
  ) {}

  /** No new pauses or retries (the heal phase); resumes go on. */
  stopSteering(): void {
    this.#steering = false;
  }

  /** An execution of `workflowId` was acknowledged: maybe pause it (or a child of it), maybe watch it. */
  acked(executionId: string, workflowId: string): void {
    if (PAUSABLE.has(workflowId) && this.rng.chance(0.35)) {
      let target = executionId;
      let child = false;
      const node = CHILDREN_NODE[workflowId];
      if (node !== undefined && this.rng.chance(0.3)) {
        target = childExecutionId(executionId, node, 1, this.rng.int(0, ITEMS[workflowId] - 1));
        child = true;
      }
      const pauseAfter = this.rng.int(20, 800);
      const holdFor = this.rng.int(200, 2_500);
      this.scheduler.after(pauseAfter, () => void this.#pauseResume(target, child, holdFor));
    }
    if (workflowId === "foreach-flaky") {
      this.scheduler.after(3_000, () => void this.#retryIfFailed(executionId));
    }
    if (workflowId === "foreach-held") {
      this.scheduler.after(this.rng.int(300, 2_500), () => void this.#cancel(executionId));
    }
  }

  /** Cancels a held parent (retried until it lands, in the heal phase too: nothing else ends it). */
  async #cancel(executionId: string): Promise<void> {
    const r = await this.#steer(`/api/v1/executions/${executionId}/cancel`, ["execution_terminal"], {
      reason: "sim",
    });
    if (r === true) this.log.cancels++;
    this.trace(`client cancelled ${executionId} ${r}`);
  }

  #refused(code: string): void {
    this.log.refused[code] = (this.log.refused[code] ?? 0) + 1;
  }

  /** POSTs `path` until it is answered: 200 → true, a normal refusal (in `normal`) → its code; else false. */
  async #steer(path: string, normal: readonly string[], body: unknown = {}): Promise<true | string | false> {
    for (let attempt = 1; !this.stopped(); attempt++) {
      const r = await this.call("POST", path, body);
      if (r && r.status === 200) return true;
      const code = (r?.json.error as { code?: string } | undefined)?.code;
      if (r && code !== undefined && normal.includes(code)) {
        this.#refused(code);
        return code;
      }
      // 409 conflict: the execution changed under the command (a reload after a sequence conflict); retry.
      if (r && r.status < 500 && code !== "conflict") {
        this.unexpected(`${path}: ${r.status} ${JSON.stringify(r.json)}`);
        return false;
      }
      await this.backoff(attempt);
    }
    return false;
  }

  async #pauseResume(target: string, child: boolean, holdFor: number): Promise<void> {
    if (!this.#steering) return;
    const base = `/api/v1/executions/${target}`;
    // A child may not be created yet (404), or may be created only after this call was refused.
    const normal = child
      ? ["already_paused", "execution_terminal", "execution_not_found"]
      : ["already_paused", "execution_terminal"];
    const paused = await this.#steer(`${base}/pause`, normal, { reason: "sim" });
    if (paused === true) this.log.pauses++;
    if (paused !== true && paused !== "already_paused") return;
    this.trace(`client paused ${target}`);
    await new Promise<void>((r) => this.scheduler.after(holdFor, r));
    const resumed = await this.#steer(`${base}/resume`, ["not_paused", "execution_terminal"]);
    if (resumed === true) this.log.resumes++;
    if (resumed === "not_paused") this.log.resumeNotPaused.add(target);
    this.trace(`client resumed ${target} ${resumed}`);
  }

  /** Looks at a flaky run every 2 s until it ended; retries it once when it failed (fault phase only). */
  async #retryIfFailed(executionId: string): Promise<void> {
    for (let look = 0; look < 20 && this.#steering && !this.stopped(); look++) {
      const r = await this.call("GET", `/api/v1/executions/${executionId}`, undefined);
      const status = r?.status === 200 ? r.json.status : undefined;
      if (status === "completed" || status === "cancelled" || status === "timed_out") return;
      if (status === "failed") {
        const retried = await this.#steer(`/api/v1/executions/${executionId}/retry`, [
          "execution_running",
          "execution_not_failed",
        ]);
        if (retried === true) this.log.retries++;
        this.trace(`client retried ${executionId} ${retried}`);
        return;
      }
      await new Promise<void>((res) => this.scheduler.after(2_000, res));
    }
  }
}
