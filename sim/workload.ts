/**
 * The simulated clients: they register a mix of workflows, then submit
 * executions at a configurable rate through random nodes' API handlers (no
 * sockets), retrying failed or unanswered submissions with the same
 * Idempotency-Key, and post the signals that signal workflows wait for. Every
 * acknowledgement (a 2xx answer) is recorded for the invariants. Also the fake
 * `fetch` the http node calls: it fails with a 503 at a seeded rate.
 *
 * @module
 */
import type { WorkflowDefinition } from "../core/workflow.ts";
import { messagingWorkflows } from "./messaging_workload.ts";
import type { Random } from "./random.ts";
import { type SimSchedule, simSchedules } from "./schedule_workload.ts";
import { childWorkflows, parentWorkflows, SteerClients } from "./steer_workload.ts";
import { customKindWorkflow } from "./custom_kinds.ts";
import type { Scheduler } from "./scheduler.ts";
import type { SimNode } from "./node.ts";

/**
 * The workflows of the mix, by id; with `steering`, also the parents of child executions
 * (`steer_workload.ts`); with `messaging`, the producers and consumers (`messaging_workload.ts`).
 */
export function workflowMix(steering = true, messaging = true): WorkflowDefinition[] {
  const src = { id: "src", type: "source" as const, nodeType: "sequence.numbers", config: { end: 5 } };
  const collect = (id: string) => ({ id, type: "sink" as const, nodeType: "memory.collect", config: {} });
  const map = (id: string, expression: string) => ({
    id,
    type: "transform" as const,
    nodeType: "map",
    config: { expression },
  });
  return [
    {
      id: "linear",
      name: "Linear",
      nodes: [src, map("double", "value * 2"), collect("out")],
      edges: [{ source: "src", target: "double" }, { source: "double", target: "out" }],
    },
    {
      id: "fanout",
      name: "Fan-out, fan-in",
      nodes: [src, map("a", "value + 1"), map("b", "value + 2"), map("c", "value + 3"), collect("join")],
      edges: [
        { source: "src", target: "a" },
        { source: "src", target: "b" },
        { source: "src", target: "c" },
        { source: "a", target: "join" },
        { source: "b", target: "join" },
        { source: "c", target: "join" },
      ],
    },
    {
      id: "delayed",
      name: "Delay",
      nodes: [
        src,
        { id: "wait", type: "control", nodeType: "delay", config: { durationMs: 2_000 } },
        collect("out"),
      ],
      edges: [{ source: "src", target: "wait" }, { source: "wait", target: "out" }],
    },
    {
      id: "retrying",
      name: "HTTP with retries",
      nodes: [
        src,
        {
          id: "call",
          type: "control",
          nodeType: "http",
          config: { method: "POST", url: "http://fake.sim/flaky", idempotent: true },
          retry: { maxAttempts: 5, initialIntervalMs: 200, backoffCoefficient: 2, maxIntervalMs: 2_000 },
        },
        collect("out"),
      ],
      edges: [{ source: "src", target: "call" }, { source: "call", target: "out" }],
    },
    {
      id: "branching",
      name: "Condition",
      nodes: [
        src,
        { id: "even", type: "control", nodeType: "condition", config: { condition: "value % 2 = 0" } },
        collect("yes"),
        collect("no"),
      ],
      edges: [
        { source: "src", target: "even" },
        { source: "even", target: "yes", sourceHandle: "true" },
        { source: "even", target: "no", sourceHandle: "false" },
      ],
    },
    {
      id: "signalled",
      name: "Signal",
      nodes: [
        src,
        { id: "gate", type: "control", nodeType: "signal.wait", config: { name: "go" } },
        collect("out"),
      ],
      edges: [{ source: "src", target: "gate" }, { source: "gate", target: "out" }],
    },
    customKindWorkflow(),
    ...(steering ? parentWorkflows() : []),
    ...(messaging ? messagingWorkflows() : []),
  ];
}

/**
 * A deterministic fake `fetch`: answers after `latency()` ms of virtual time
 * with a 503 at rate `failRate`, else 200 and a JSON body.
 */
export function fakeFetch(scheduler: Scheduler, rng: Random, failRate: number): typeof fetch {
  return ((_input: unknown, init?: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      const fail = rng.chance(failRate);
      const delay = rng.int(1, 20);
      const signal = init?.signal;
      scheduler.after(delay, () => {
        if (signal?.aborted) return reject(signal.reason);
        resolve(
          fail
            ? new Response("busy", { status: 503 })
            : new Response(JSON.stringify({ ok: true }), { headers: { "content-type": "application/json" } }),
        );
      });
    })) as typeof fetch;
}

/** One acknowledged submission. */
export interface Ack {
  key: string;
  workflowId: string;
  executionId: string;
  submittedAt: number;
  ackedAt: number;
  attempts: number;
}

/** Workload settings. */
export interface WorkloadOptions {
  /** Submissions per simulated second. */
  rate: number;
  /** How long a client waits for an answer. */
  clientTimeoutMs: number;
  /** Create the schedules of `simSchedules()` when registering. */
  schedules: boolean;
  /** Sub-workflows in the mix, and clients that pause, resume and retry (`steer_workload.ts`). */
  steering: boolean;
  /** Producers and consumers on the fake broker in the mix (`messaging_workload.ts`). */
  messaging: boolean;
}

/** The default workload: 5 submissions a second, 10 s client timeout, the schedules, steering, messaging. */
export const DEFAULT_WORKLOAD: Readonly<WorkloadOptions> = Object.freeze({
  rate: 5,
  clientTimeoutMs: 10_000,
  schedules: true,
  steering: true,
  messaging: true,
});

/** What the clients observed. */
export interface WorkloadLog {
  submitted: number;
  acks: Map<string, Ack>;
  /** Execution ids returned per key (idempotency: must stay one). */
  idsByKey: Map<string, Set<string>>;
  clientRetries: number;
  signalsSent: number;
  /** Answers that no correct cluster gives (4xx other than the expected ones). */
  unexpected: string[];
  /** Schedules whose creation was acknowledged (201, or 409 `schedule_exists` after a retry). */
  schedules: SimSchedule[];
}

/** The clients. */
export class Workload {
  readonly log: WorkloadLog = {
    submitted: 0,
    acks: new Map(),
    idsByKey: new Map(),
    clientRetries: 0,
    signalsSent: 0,
    unexpected: [],
    schedules: [],
  };
  #stopSubmitting = false;
  #stopped = false;
  /** The workflows submitted. */
  readonly workflows: WorkflowDefinition[];
  /** The workflows registered (children before the workflows that run them). */
  readonly registered: WorkflowDefinition[];
  /** The pause/resume/retry clients; null without steering. */
  readonly steer: SteerClients | null;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly nodes: readonly SimNode[],
    private readonly rng: Random,
    private readonly opts: WorkloadOptions,
    private readonly trace: (line: string) => void,
  ) {
    this.workflows = workflowMix(opts.steering, opts.messaging);
    this.registered = [...(opts.steering ? childWorkflows() : []), ...this.workflows];
    this.steer = opts.steering
      ? new SteerClients(
        scheduler,
        rng.fork("steer"),
        (method, path, body) => this.call(method, path, body),
        (attempt) => this.#backoff(attempt),
        () => this.#stopped,
        (what) => this.log.unexpected.push(what),
        trace,
      )
      : null;
  }

  /** One HTTP call to a random node; `undefined` when nobody answered in time. */
  call(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: Record<string, unknown> } | undefined> {
    const node = this.rng.pick(this.nodes);
    const s = this.scheduler;
    const lat = () => this.rng.int(1, 3);
    return new Promise((resolve) => {
      let done = false;
      const finish = (v: { status: number; json: Record<string, unknown> } | undefined) => {
        if (done) return;
        done = true;
        s.cancel(timer);
        resolve(v);
      };
      const timer = s.after(this.opts.clientTimeoutMs, () => finish(undefined));
      s.after(lat(), () => {
        const req = new Request(`http://${node.id}${path}`, {
          method,
          headers: { "content-type": "application/json", ...headers },
          ...(method !== "GET" && { body: JSON.stringify(body) }),
        });
        node.handle(req).then(async (res) => {
          if (!res) return s.after(lat(), () => finish(undefined));
          const text = await res.text();
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text);
          } catch { /* not JSON */ }
          s.after(lat(), () => finish({ status: res.status, json }));
        });
      });
    });
  }

  /** Registers every workflow of the mix (retrying until storage takes them). */
  async register(): Promise<void> {
    for (const wf of this.registered) {
      for (let attempt = 0;; attempt++) {
        const r = await this.call("POST", "/api/v1/workflows", wf);
        if (r && (r.status === 201 || r.status === 200 || r.status === 409)) break;
        if (attempt > 50) throw new Error(`could not register ${wf.id}: ${JSON.stringify(r)}`);
        await new Promise<void>((res) => this.scheduler.after(200, res));
      }
    }
    if (this.opts.schedules) { for (const s of simSchedules()) await this.#addSchedule(s); }
  }

  /** Creates a schedule through the API (retrying until it is made). */
  async #addSchedule(s: SimSchedule): Promise<void> {
    for (let attempt = 0;; attempt++) {
      const r = await this.call("POST", "/api/v1/schedules/add", s.body);
      const code = (r?.json.error as { code?: string } | undefined)?.code;
      if (r && (r.status === 201 || (r.status === 409 && code === "schedule_exists"))) {
        this.log.schedules.push(s);
        this.trace(`client schedule ${s.id} ${r.status}`);
        return;
      }
      if (r && r.status < 500) {
        this.log.unexpected.push(`schedule ${s.id}: ${r.status} ${JSON.stringify(r.json)}`);
        return;
      }
      if (attempt > 50) throw new Error(`could not add schedule ${s.id}: ${JSON.stringify(r)}`);
      await new Promise<void>((res) => this.scheduler.after(200, res));
    }
  }

  /** Submits at the configured rate from `from` until `until` (virtual ms). */
  start(from: number, until: number): void {
    const gap = 1_000 / this.opts.rate;
    let t = from;
    let i = 0;
    while (t < until) {
      const n = i++;
      const at = t;
      this.scheduler.at(at, () => {
        if (!this.#stopSubmitting) void this.#submit(n);
      });
      t += gap * (0.5 + this.rng.next());
    }
  }

  /** No new submissions (the heal phase); retries and signals go on. */
  stopSubmitting(): void {
    this.#stopSubmitting = true;
    this.steer?.stopSteering();
  }

  /** Everything stops (the end of the run). */
  stop(): void {
    this.#stopped = true;
  }

  async #submit(n: number): Promise<void> {
    const wf = this.rng.pick(this.workflows);
    const key = `key-${n}`;
    const submittedAt = this.scheduler.now;
    this.log.submitted++;
    this.trace(`client submit ${key} ${wf.id}`);
    for (let attempt = 1; !this.#stopped; attempt++) {
      if (attempt > 1) this.log.clientRetries++;
      const r = await this.call("POST", `/api/v1/workflows/${wf.id}/execute`, { input: { n } }, {
        "idempotency-key": key,
      });
      if (r && (r.status === 200 || r.status === 202)) {
        const executionId = String(r.json.executionId);
        const ids = this.log.idsByKey.get(key) ?? new Set();
        ids.add(executionId);
        this.log.idsByKey.set(key, ids);
        if (!this.log.acks.has(key)) {
          this.log.acks.set(key, {
            key,
            workflowId: wf.id,
            executionId,
            submittedAt,
            ackedAt: this.scheduler.now,
            attempts: attempt,
          });
          this.trace(`client ack ${key} ${executionId} after ${attempt}`);
          if (wf.id === "signalled") void this.#signal(executionId);
          this.steer?.acked(executionId, wf.id);
        }
        return;
      }
      if (r && r.status < 500 && r.status !== 409) {
        this.log.unexpected.push(`submit ${key}: ${r.status} ${JSON.stringify(r.json)}`);
        return;
      }
      await this.#backoff(attempt);
    }
  }

  async #signal(executionId: string): Promise<void> {
    await new Promise<void>((r) => this.scheduler.after(this.rng.int(300, 3_000), r));
    for (let attempt = 1; !this.#stopped; attempt++) {
      const r = await this.call("POST", `/api/v1/executions/${executionId}/signals/go`, { payload: 1 });
      if (r && r.status >= 200 && r.status < 300) {
        this.log.signalsSent++;
        this.trace(`client signalled ${executionId}`);
        return;
      }
      if (
        r && r.status === 409 && r.json?.error &&
        (r.json.error as { code?: string }).code === "execution_terminal"
      ) {
        return;
      }
      if (r && r.status < 500 && r.status !== 409) {
        this.log.unexpected.push(`signal ${executionId}: ${r.status} ${JSON.stringify(r.json)}`);
        return;
      }
      await this.#backoff(attempt);
    }
  }

  #backoff(attempt: number): Promise<void> {
    const ms = Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + this.rng.next());
    return new Promise((r) => this.scheduler.after(ms, r));
  }
}
