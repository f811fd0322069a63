/**
 * TEST-ONLY planted bugs the simulator's self-tests must catch. Never used outside the simulator.
 *
 * `fireApart`: the engine as a broken scheduler would use it — each tick's run is started on its own (an id
 * of its own, no fire on its creating append, no Idempotency-Key) and its fire and the schedule's state are
 * written afterwards by a separate fenced write. That is the non-atomic design schedules must not have: when
 * the second write fails (a storage fault, a crash between the two), the tick is still due, and the next
 * evaluation starts it again — a double fire, which invariant 6 must catch.
 *
 * `freshChildIds`: child executions without fixed ids — the first creation of a child uses its fixed id, and
 * every later one (a relaunch: after a creation whose acknowledgement was lost, or a recovery that found no
 * child) a fresh id. That is the design the fixed `childExecutionId` exists to avoid: when the first
 * creation did take effect, the item runs twice, which invariant 9 must catch.
 *
 * `earlyAck`: a consumer that acknowledges what it took at once, before the runtime recorded it — the
 * at-most-once design the runtime's commit-after-append exists to avoid: a crash (or a failed append) after
 * the ack and before the consumer's output is in the history loses the messages. Invariant 13a catches the
 * ack at the moment it is made (the acking attempt's output is not in storage yet).
 *
 * @module
 */
import { shardOf } from "../core/ids.ts";
import type { BrokerClient } from "../server/executors/broker.ts";
import type { Engine } from "../server/runtime/engine.ts";
import type { SchedulerEngine } from "../server/runtime/schedule_firing.ts";
import type { ScheduleStore } from "../storage/storage.ts";

/**
 * Makes `engine` create a child under a fresh id when the child's id was submitted before, by any engine of
 * the run (`seen` is shared by them all; see the module's text).
 *
 * @example
 * ```ts ignore
 * if (world.unsafeFreshChildIds) freshChildIds(engine, world.childIdsSubmitted);
 * ```
 */
export function freshChildIds(engine: Engine, seen: Set<string>): void {
  const submit = engine.submit.bind(engine);
  let n = 0;
  engine.submit = (workflow, sub) => {
    const id = sub.executionId;
    if (sub.parent === undefined || id === undefined) return submit(workflow, sub);
    if (!seen.has(id)) {
      seen.add(id);
      return submit(workflow, sub);
    }
    return submit(workflow, { ...sub, executionId: `${id}.again${++n}` }); // still routed by the parent
  };
}

/**
 * Wraps `engine` so that scheduled runs start apart from their fire (see the module's text).
 *
 * @example
 * ```ts ignore
 * const scheduler = new Scheduler({ engine: fireApart(engine, storage), store: storage, ... });
 * ```
 */
export function fireApart(engine: Engine, store: ScheduleStore): SchedulerEngine {
  let n = 0;
  return {
    get shardCount() {
      return engine.shardCount;
    },
    get ready() {
      return engine.ready;
    },
    onShards: (listener) => engine.onShards(listener),
    releaseShard: (shard) => engine.releaseShard(shard),
    runState: (id) => engine.runState(id),
    cancel: (id, reason) => engine.cancel(id, reason),
    submit: async (workflow, sub) => {
      const write = sub.scheduleFire;
      if (write === undefined) return await engine.submit(workflow, sub);
      const { scheduleFire: _fire, idempotencyKey: _key, ...rest } = sub;
      const executionId = `${sub.executionId}.apart${++n}`; // still routed by the schedule id
      const r = await engine.submit(workflow, { ...rest, executionId });
      if (!r.ok) return r;
      const shard = shardOf(write.fire.scheduleId, engine.shardCount);
      const epoch = engine.ownedShards.get(shard);
      const failed = (message: string) => ({
        ok: false as const,
        error: { code: "overloaded" as const, message },
      });
      if (epoch === undefined) return failed(`shard ${shard} is gone`);
      try {
        const w = await store.recordScheduleState({
          scheduleId: write.fire.scheduleId,
          fence: { shard, epoch },
          expectedVersion: write.expectedVersion,
          fires: [{ ...write.fire, executionId }],
          state: { ...write.state, lastExecutionId: executionId },
          status: write.status,
        });
        if (!w.ok) return failed(w.error.message);
      } catch (err) {
        return failed(String(err));
      }
      return r;
    },
  };
}

/**
 * A broker client whose consumes are acknowledged as soon as they return (see the module's text); the runtime's
 * later commit or release of the batch does nothing.
 *
 * @example
 * ```ts
 * import { earlyAck } from "./planted.ts";
 * const calls: string[] = [];
 * const inner = {
 *   produce: () => Promise.resolve(),
 *   consume: () => Promise.resolve({ messages: [], delivery: {
 *     commit: async () => void calls.push("commit"), release: async () => void calls.push("release"),
 *   } }),
 * };
 * const b = await earlyAck(inner).consume({} as never);
 * await b.delivery.release();
 * if (calls.join() !== "commit") throw new Error(calls.join());
 * ```
 */
export function earlyAck(client: BrokerClient): BrokerClient {
  const done = () => Promise.resolve();
  return {
    produce: (request) => client.produce(request),
    consume: async (request) => {
      const batch = await client.consume(request);
      await batch.delivery.commit();
      return { messages: batch.messages, delivery: { commit: done, release: done } };
    },
  };
}
