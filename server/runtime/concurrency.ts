/**
 * Concurrency keys in the runtime: a workflow's `concurrency: {key, limit}` evaluated over a submission's
 * input ({@link concurrencyKeyOf}), and the admission of its runs ({@link ConcurrencyGate}): per shard,
 * workflow and key, the runs admitted and not ended and a queue of runs waiting, in order. The rule itself is
 * the core's (`core/concurrency.ts`); this module keeps one `KeyAdmission` per key and drives it:
 *
 * - a submission claims synchronously, before its creating append: admitted when the key has room and nothing
 *   waits, else it starts queued (`Start{queued: true}`); a creation that fails gives its claim back;
 * - a committed end (any terminal status) frees its slot (or its place) and admits the next runs, each by an
 *   `Admit` command to its actor; a reopened run (retry, rerun) waits again at the tail;
 * - a recovered shard rebuilds its keys from its running executions: admitted ones hold their slot, queued
 *   ones line up by when they started waiting (`ExecutionStarted`/`ExecutionReopened` `at`, then id); nothing
 *   of the shard is admitted until the whole shard is recovered;
 * - a shard given up forgets its keys (the next owner rebuilds them).
 *
 * A key's group is (shard, workflow, key): the API routes every run of a key to the key's shard
 * (`keyedExecutionId`), so they all share one queue; a schedule's runs live in the schedule's shard and a child
 * execution in its parent's, so those queue with the runs of that shard and key (docs/API.md, "Concurrency
 * keys").
 *
 * @module
 */
import { KeyAdmission } from "../../core/concurrency.ts";
import type { ConcurrencySlot, ExecutionEvent } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { Plan } from "../../core/plan.ts";
import type { ExecutionState } from "../../core/state.ts";
import { compileExpression, evaluateInput } from "../executors/expression.ts";

/** The longest concurrency key, in characters (a number's key is its decimal text). */
export const MAX_CONCURRENCY_KEY_CHARS = 256;

/** A key evaluated over an input, or why it could not be. */
export type KeyResult = { ok: true; key: string } | { ok: false; message: string };

/**
 * Evaluates a concurrency key expression over an execution's input. The JSONata input is `{input}` and
 * `$input` is bound to the input too (as a condition node binds it), so `input.customerId` and
 * `$input.customerId` both read the input's `customerId`. The result must be a non-empty string or a finite
 * number (its decimal text: `7` and `"7"` are one key) of at most {@link MAX_CONCURRENCY_KEY_CHARS} characters.
 *
 * @example
 * ```ts
 * import { concurrencyKeyOf } from "./concurrency.ts";
 * const a = await concurrencyKeyOf("input.customer", { customer: "acme" });
 * const b = await concurrencyKeyOf("$input.n * 2", { n: 21 });
 * const c = await concurrencyKeyOf("input.missing", { customer: "acme" });
 * if (!a.ok || a.key !== "acme" || !b.ok || b.key !== "42" || c.ok) throw new Error();
 * ```
 */
export async function concurrencyKeyOf(expression: string, input: Json): Promise<KeyResult> {
  let value: Json | undefined;
  try {
    value = await evaluateInput(compileExpression(expression), { input }, { input }, "the execution input");
  } catch (err) {
    return { ok: false, message: `the concurrency key failed: ${err instanceof Error ? err.message : err}` };
  }
  if (value === undefined || (typeof value !== "string" && typeof value !== "number")) {
    const got = value === undefined
      ? "nothing"
      : value === null
      ? "null"
      : Array.isArray(value)
      ? "an array"
      : typeof value;
    return {
      ok: false,
      message: `the concurrency key "${shorten(expression)}" must give a string or a number; it gave ${got}`,
    };
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    return { ok: false, message: `the concurrency key "${shorten(expression)}" gave ${value}` };
  }
  const key = String(value);
  if (key.length === 0 || key.length > MAX_CONCURRENCY_KEY_CHARS) {
    return {
      ok: false,
      message: `a concurrency key has 1 to ${MAX_CONCURRENCY_KEY_CHARS} characters; ` +
        `"${shorten(expression)}" gave ${key.length}`,
    };
  }
  return { ok: true, key };
}

/** The slot a run of `plan` with `input` takes: none when the workflow has no concurrency key. */
export async function concurrencySlot(
  plan: Plan,
  input: Json,
): Promise<{ ok: true; slot: ConcurrencySlot | undefined } | { ok: false; message: string }> {
  const c = plan.concurrency;
  if (c === null) return { ok: true, slot: undefined };
  const k = await concurrencyKeyOf(c.key, input);
  return k.ok ? { ok: true, slot: { key: k.key, limit: c.limit } } : k;
}

function shorten(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

/**
 * When a run started waiting for its slot: the time of its last `ExecutionStarted` or `ExecutionReopened`
 * (a reopened run waits again from its reopening); undefined without either.
 *
 * @example
 * ```ts
 * import { waitingSince } from "./concurrency.ts";
 * const events = [{ type: "ExecutionStarted", at: 5 }, { type: "ExecutionFailed", at: 9 },
 *   { type: "ExecutionReopened", at: 12 }] as unknown as Parameters<typeof waitingSince>[0];
 * if (waitingSince(events) !== 12) throw new Error();
 * ```
 */
export function waitingSince(events: readonly ExecutionEvent[]): number | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.type === "ExecutionStarted" || e.type === "ExecutionReopened") return e.at;
  }
  return undefined;
}

/** One key's group on this engine. */
interface Group {
  shard: number;
  admission: KeyAdmission;
  /** When the limit in force was set (the newest run's limit wins). */
  limitAt: number;
}

/** What the gate knows of one group, for tests and debugging. */
export interface GroupSnapshot {
  shard: number;
  workflowId: string;
  key: string;
  limit: number;
  admitted: string[];
  waiting: string[];
}

/**
 * The admission of keyed runs on one engine. `admit` is called with each run admitted out of its queue; it
 * must deliver an `Admit` command to the run's actor (a run not live here any more is given back with
 * {@link ConcurrencyGate.forget} or dropped with its shard).
 *
 * @example
 * ```ts
 * import { ConcurrencyGate } from "./concurrency.ts";
 * const admitted: string[] = [];
 * const gate = new ConcurrencyGate((id) => admitted.push(id));
 * const slot = { key: "acme", limit: 1 };
 * if (gate.claim("e1", 0, "wf", slot, 1) || !gate.claim("e2", 0, "wf", slot, 2)) throw new Error("e2 waits");
 * gate.forget("e1"); // e1's creation failed: its slot goes to e2
 * if (admitted.join() !== "e2") throw new Error(admitted.join());
 * ```
 */
export class ConcurrencyGate {
  readonly #groups = new Map<string, Group>();
  /** The group of each run the gate knows. */
  readonly #runs = new Map<string, string>();
  /** Shards recovering: their groups admit nothing until every hold is let go. */
  readonly #held = new Map<number, Set<symbol>>();
  /** Groups of held shards with something to sort or admit when the hold ends. */
  readonly #pending = new Set<string>();

  constructor(private readonly admit: (executionId: string) => void) {}

  /** Runs known (admitted or waiting), for bounds checks and tests. */
  get size(): number {
    return this.#runs.size;
  }

  /** Whether the gate counts `executionId` (admitted or waiting). */
  has(executionId: string): boolean {
    return this.#runs.has(executionId);
  }

  /**
   * A new run claims a slot of its key before its creating append: returns whether it must start queued
   * (the key is full, a run waits before it, or its shard is still recovering). A run known already (a
   * duplicate submission) keeps its place and status: only a claim that added the run may be forgotten.
   */
  claim(executionId: string, shard: number, workflowId: string, slot: ConcurrencySlot, at: number): boolean {
    const id = groupId(shard, workflowId, slot.key);
    const group = this.#group(id, shard, slot.limit, at);
    this.#runs.set(executionId, id);
    if (this.#held.has(shard)) {
      group.admission.enqueue(executionId, at);
      this.#pending.add(id);
      return true;
    }
    // A newer version may have raised the limit: the runs waiting go first.
    for (const run of group.admission.admit()) this.admit(run);
    return group.admission.submit(executionId, at) === "queued";
  }

  /** A claimed run was not created after all (its creating append failed or was refused): its claim goes. */
  forget(executionId: string): void {
    this.#end(executionId);
  }

  /**
   * A batch of `executionId` committed, taking it from `before` to `after` (the pump calls this for every
   * commit): an end frees its slot and admits the next runs; a reopened keyed run waits again, at the tail; a
   * keyed run created without a claim (another path) is counted as its state says.
   */
  committed(
    executionId: string,
    shard: number,
    before: ExecutionState,
    after: ExecutionState,
    at: number,
  ): void {
    const slot = after.concurrency;
    if (slot === null) return;
    if (after.status !== "running") {
      if (before.status === "running" || this.#runs.has(executionId)) this.#end(executionId);
      return;
    }
    const reopened = before.status !== null && before.status !== "running";
    if (!reopened && this.#runs.has(executionId)) return;
    this.#sync(executionId, shard, after, at, "");
  }

  /**
   * A running execution was loaded from storage (a restart, a failover, a reload): the gate counts it as its
   * state says. `since` orders a waiting one (see {@link waitingSince}); ties go by id.
   */
  recovered(executionId: string, shard: number, state: ExecutionState, since: number | undefined): void {
    if (state.concurrency === null || state.status !== "running") return;
    this.#sync(executionId, shard, state, since ?? state.startedAt ?? 0, executionId);
  }

  /**
   * Holds admissions of `shards` while their executions are recovered (claims queue meanwhile); the function
   * returned lets go (once), then each key of those shards is put in order and admitted as far as it has room.
   */
  recovering(shards: Iterable<number>): () => void {
    const token = Symbol("recovering");
    const held = [...shards];
    for (const shard of held) {
      let tokens = this.#held.get(shard);
      if (tokens === undefined) this.#held.set(shard, tokens = new Set());
      tokens.add(token);
    }
    return () => {
      for (const shard of held) {
        const tokens = this.#held.get(shard);
        if (tokens?.delete(token) && tokens.size === 0) this.#held.delete(shard);
      }
      for (const id of [...this.#pending]) {
        const group = this.#groups.get(id);
        if (group === undefined) this.#pending.delete(id);
        else if (!this.#held.has(group.shard)) {
          this.#pending.delete(id);
          group.admission.order();
          this.#admitGroup(id, group);
        }
      }
    };
  }

  /** A shard was given up: its keys are forgotten here (its next owner rebuilds them from storage). */
  dropShard(shard: number): void {
    for (const [id, group] of this.#groups) {
      if (group.shard !== shard) continue;
      for (const run of [...group.admission.admitted(), ...group.admission.waiting()]) this.#runs.delete(run);
      this.#groups.delete(id);
      this.#pending.delete(id);
    }
  }

  /** Forgets everything (the engine stopped). */
  clear(): void {
    this.#groups.clear();
    this.#runs.clear();
    this.#pending.clear();
    this.#held.clear();
  }

  /** Every key known, with its admitted and waiting runs (waiting in order). */
  snapshot(): GroupSnapshot[] {
    return [...this.#groups].map(([id, g]) => {
      const [, workflowId, key] = id.split("\u0000");
      return {
        shard: g.shard,
        workflowId,
        key,
        limit: g.admission.limit,
        admitted: g.admission.admitted(),
        waiting: g.admission.waiting(),
      };
    });
  }

  /** Counts a run as its state says: waiting (queued at `at`, `tie`) or admitted. */
  #sync(executionId: string, shard: number, state: ExecutionState, at: number, tie: string): void {
    const slot = state.concurrency!;
    const id = groupId(shard, state.plan.workflowId, slot.key);
    const previous = this.#runs.get(executionId);
    if (previous !== undefined && previous !== id) this.#end(executionId);
    const group = this.#group(id, shard, slot.limit, at);
    this.#runs.set(executionId, id);
    const known = group.admission.statusOf(executionId);
    if (!state.queued) {
      if (known !== "admitted") group.admission.hold(executionId);
      return;
    }
    if (known === "admitted") {
      this.admit(executionId); // admitted here, not in storage yet (a reload lost its Admit): again
      return;
    }
    if (known === undefined) group.admission.enqueue(executionId, at, tie);
    if (this.#held.has(shard)) this.#pending.add(id);
    else {
      if (tie !== "") group.admission.order();
      this.#admitGroup(id, group);
    }
  }

  #end(executionId: string): void {
    const id = this.#runs.get(executionId);
    if (id === undefined) return;
    this.#runs.delete(executionId);
    const group = this.#groups.get(id);
    if (group === undefined) return;
    group.admission.end(executionId);
    if (this.#held.has(group.shard)) this.#pending.add(id);
    else this.#admitGroup(id, group);
  }

  #admitGroup(id: string, group: Group): void {
    for (const run of group.admission.admit()) this.admit(run);
    if (group.admission.idle) this.#groups.delete(id);
  }

  #group(id: string, shard: number, limit: number, at: number): Group {
    let group = this.#groups.get(id);
    if (group === undefined) {
      group = { shard, admission: new KeyAdmission(limit), limitAt: at };
      this.#groups.set(id, group);
    } else if (at >= group.limitAt) {
      group.admission.limit = limit;
      group.limitAt = at;
    }
    return group;
  }
}

function groupId(shard: number, workflowId: string, key: string): string {
  return `${shard}\u0000${workflowId}\u0000${key}`;
}
