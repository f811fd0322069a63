/**
 * Schedules through a failover, on a real 3-process cluster: three `deno run -A server/main.ts` members (n1,
 * n2, n3) on 127.0.0.1 sharing one fresh PostgreSQL database and one cluster secret. Two `fixed_rate`
 * schedules with a 1 s interval (one `catchUp: run_all`, one `catchUp: skip`) are added through n1 with ids
 * in the shards of n2, so n2 fires them. Once each has started a few ticks, n2 is killed with SIGKILL; the
 * survivors take its shards over, load the schedules and fire again. When a few more ticks have passed, both
 * schedules are paused (through n1, forwarded to their new owner) and the stored fires and executions are read
 * from PostgreSQL:
 *
 * - every tick from the first (the creation time: a fixed rate without `startAt` fires first at creation) to
 *   the last is recorded exactly once, 1 s apart, none missing;
 * - `run_all` started every one of them (`on_time`, or `catch_up` for the ticks missed during the takeover);
 *   `skip` started the on-time ones and recorded the missed ones skipped (`catch_up_skip`), nothing else;
 * - the executions of the workflow are exactly the started fires' runs, one per tick, each `<scheduleId>@<tick>`
 *   with the Idempotency-Key `schedule:<scheduleId>:<tick>`, and each ran to completion;
 * - ticks after the kill were started by a survivor (the stored `schedule_fired` events name it), and the
 *   schedules' shards moved to survivors at higher epochs.
 */
import { shardOf } from "../../core/ids.ts";
import { quickWorkflow } from "../../testing/schedules.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import { call, getRetrying, type ServerProcess, spawnServer } from "../../testing/process.ts";
import type { HttpTarget, Reply } from "../../testing/http.ts";
import { freePort } from "../../testing/net.ts";
import { sleep } from "../../testing/wait.ts";
import postgres from "npm:postgres@3.4.9";

const SECRET = "schedule-failover-cluster-secret";
const SHARDS = 16;
const WORKFLOW_ID = "wf-ticks";
const INTERVAL_MS = 1_000;
/** Ticks started before the kill, and ticks past the first fire after it, before the schedules are paused. */
const TICKS_BEFORE = 3;
const TICKS_AFTER = 3;
/** The member whose shards the schedules are put in, and who is killed. */
const VICTIM = "n2";
const POLL_MS = 100;

// deno-lint-ignore no-explicit-any
type Json = any;

/** A member's identity and ports. */
interface Spec {
  id: string;
  port: number;
  clusterPort: number;
}

/** A shard as `GET /api/v1/cluster/shards` shows it. */
interface Shard {
  shardId: number;
  location: string | null;
  epoch: number;
}

/** A fire as stored (`schedule_fires`). */
interface StoredFire {
  tickAt: number;
  firedAt: number;
  outcome: string;
  reason: string;
  executionId: string | null;
}

const get = (target: HttpTarget, path: string): Promise<Reply> => getRetrying(target, path, 200);

async function shards(target: HttpTarget): Promise<Shard[]> {
  const r = await get(target, "/api/v1/cluster/shards");
  assertEquals(r.status, 200, r.text);
  return r.body.shards;
}

/** Polls `probe` every {@link POLL_MS} until it answers a value; fails naming `what` after `timeoutMs`. */
async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms (${String(last ?? "")})`);
    await sleep(POLL_MS);
  }
}

/** Whether every shard is owned by one of `ids`, each owning some, and every one of `ids` is up. */
async function ownedBy(target: HttpTarget, ids: readonly string[]): Promise<Shard[] | undefined> {
  const stats = await get(target, "/api/v1/cluster/stats");
  const up = stats.body.members.filter((m: Json) => m.status === "up").map((m: Json) => m.id).sort();
  if (JSON.stringify(up) !== JSON.stringify([...ids].sort())) return undefined;
  const map = await shards(target);
  if (map.some((s) => s.location === null || !ids.includes(s.location))) return undefined;
  return ids.every((id) => map.some((s) => s.location === id)) ? map : undefined;
}

/** A schedule id with `prefix` whose shard `owner` owns in `map`. */
function idOwnedBy(map: Shard[], owner: string, prefix: string): string {
  for (let i = 0; i < 10_000; i++) {
    const id = `${prefix}-${i}`;
    if (map[shardOf(id, map.length)].location === owner) return id;
  }
  throw new Error(`no id lands on ${owner}`);
}

/** `GET /api/v1/schedules/{id}`: the schedule with its latest fires, newest first. */
async function detail(target: HttpTarget, id: string): Promise<Json> {
  const r = await get(target, `/api/v1/schedules/${id}`);
  assertEquals(r.status, 200, r.text);
  return r.body;
}

/**
 * Checks one schedule's stored fires: every tick from its creation to the last, 1 s apart, once each, with
 * the outcomes and reasons `policy` allows. Answers the fires, oldest first.
 */
function checkFires(id: string, policy: "run_all" | "skip", createdAt: number, fires: StoredFire[]) {
  const shown = (f: StoredFire) => `${f.tickAt - createdAt}:${f.outcome}/${f.reason}`;
  const all = fires.map(shown).join(" ");
  assert(fires.length > 0, `${id}: no fires`);
  assertEquals(fires[0].tickAt, createdAt, `${id}: the first tick is the creation (${all})`);
  for (let i = 1; i < fires.length; i++) {
    assertEquals(
      fires[i].tickAt - fires[i - 1].tickAt,
      INTERVAL_MS,
      `${id}: a tick missing or twice: ${all}`,
    );
  }
  for (const f of fires) {
    if (f.outcome === "started") {
      const allowed = policy === "run_all" ? ["on_time", "catch_up"] : ["on_time"];
      assert(allowed.includes(f.reason), `${id}: started for ${f.reason} (${all})`);
      assertEquals(f.executionId, `${id}@${f.tickAt}`, `${id}: run of ${f.tickAt}`);
    } else {
      assert(policy === "skip", `${id}: ${policy} recorded ${shown(f)} (${all})`);
      assertEquals([f.outcome, f.reason, f.executionId], ["skipped", "catch_up_skip", null], shown(f));
    }
  }
}

async function scenario(url: string): Promise<void> {
  const specs: Spec[] = ["n1", "n2", "n3"].map((id) => ({ id, port: freePort(), clusterPort: freePort() }));
  const flags = (spec: Spec) => [
    ...["--node-id", spec.id, "--cluster-port", String(spec.clusterPort)],
    ...["--seeds", specs.filter((s) => s !== spec).map((s) => `127.0.0.1:${s.clusterPort}`).join(",")],
    ...["--cluster-secret", SECRET, "--database-url", url, "--shards", String(SHARDS)],
    ...["--log-level", "warn", "--ask-timeout", "10s", "--database-pool-max", "4"],
  ];
  const members = new Map<string, ServerProcess>(specs.map((s) => [s.id, spawnServer(s.port, flags(s))]));
  const all = [...members];
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const timings: string[] = [];
  try {
    // ---- three members, every shard owned; a workflow whose runs end at once
    await Promise.all([...members.values()].map((p) => p.waitReady(60_000)));
    const n1 = members.get("n1")!;
    const before = await poll(
      "3 members up, owning every shard",
      30_000,
      () => ownedBy(n1, ["n1", "n2", "n3"]),
    );
    const created = await call(n1, "POST", "/api/v1/workflows", { json: quickWorkflow(WORKFLOW_ID) });
    assertEquals(created.status, 201, created.text);

    // ---- two 1 s schedules in the victim's shards, added through n1 (forwarded to their owner)
    const ids = {
      run_all: idOwnedBy(before, VICTIM, "sch-run-all"),
      skip: idOwnedBy(before, VICTIM, "sch-skip"),
    } as const;
    for (const [policy, id] of Object.entries(ids)) {
      const r = await call(n1, "POST", "/api/v1/schedules/add", {
        json: { id, workflowId: WORKFLOW_ID, scheduleType: "fixed_rate", interval: "1s", catchUp: policy },
      });
      assertEquals(r.status, 201, r.text);
      assertEquals(r.body.schedule.nextTickAt, r.body.schedule.createdAt, "a fixed rate's first tick");
    }
    const victimShards = new Set(Object.values(ids).map((id) => shardOf(id, SHARDS)));
    const owners = await shards(n1);
    for (const s of victimShards) {
      assertEquals(owners[s].location, VICTIM, `shard ${s} moved before the kill`);
    }

    // ---- a few ticks started by the victim, then kill -9 it
    const startedTicks = async (id: string, after = -Infinity) =>
      (await detail(n1, id)).recentFires.filter((f: Json) => f.outcome === "started" && f.tickAt > after);
    for (const id of Object.values(ids)) {
      await poll(
        `${id}: ${TICKS_BEFORE} ticks started`,
        20_000,
        async () => (await startedTicks(id)).length >= TICKS_BEFORE ? true : undefined,
      );
    }
    const killedAt = Date.now();
    const status = await members.get(VICTIM)!.kill("SIGKILL");
    assertEquals(status.signal, "SIGKILL", JSON.stringify(status));
    members.delete(VICTIM);

    // ---- the survivors take the shards over and fire again; a few more ticks pass
    const tookOver = await poll("a survivor fires both schedules", 60_000, async () => {
      const firsts: number[] = [];
      for (const id of Object.values(ids)) {
        const f = (await detail(n1, id)).recentFires.find((f: Json) => f.firedAt > killedAt);
        if (!f) return undefined;
        firsts.push(f.firedAt);
      }
      return Math.max(...firsts);
    });
    timings.push(`killed ${VICTIM}; first fire on a survivor ${tookOver - killedAt} ms later`);
    const lastFirst = (await Promise.all(
      Object.values(ids).map(async (id) =>
        (await detail(n1, id)).recentFires.filter((f: Json) => f.firedAt > killedAt).at(-1).tickAt
      ),
    )).reduce((a, b) => Math.max(a, b));
    for (const id of Object.values(ids)) {
      await poll(
        `${id}: ${TICKS_AFTER} ticks after the takeover`,
        20_000,
        async () =>
          (await startedTicks(id, lastFirst + (TICKS_AFTER - 1) * INTERVAL_MS)).length > 0 ? true : undefined,
      );
      const paused = await call(n1, "POST", `/api/v1/schedules/${id}/pause`);
      assertEquals(paused.status, 200, paused.text);
    }
    const after = await shards(n1);
    for (const s of victimShards) {
      assert(
        after[s].location !== VICTIM && after[s].location !== null,
        `shard ${s} on ${after[s].location}`,
      );
      assert(
        after[s].epoch > before[s].epoch,
        `shard ${s}: epoch ${after[s].epoch} not above ${before[s].epoch}`,
      );
    }

    // ---- the stored fires: every tick once, none missing beyond the policy
    for (const [policy, id] of Object.entries(ids) as ["run_all" | "skip", string][]) {
      const schedule = await detail(n1, id);
      assertEquals(schedule.status, "paused");
      const rows = await sql`select tick_at, fired_at, outcome, reason, execution_id from schedule_fires
        where schedule_id = ${id} order by tick_at`;
      const fires: StoredFire[] = rows.map((r) => ({
        tickAt: Number(r.tick_at),
        firedAt: Number(r.fired_at),
        outcome: r.outcome,
        reason: r.reason,
        executionId: r.execution_id,
      }));
      checkFires(id, policy, schedule.createdAt, fires);
      const started = fires.filter((f) => f.outcome === "started");
      assert(
        started.some((f) => f.tickAt > killedAt),
        `${id}: no tick after the kill started`,
      );
      assert(fires.some((f) => f.tickAt < killedAt - INTERVAL_MS), `${id}: no tick before the kill`);
      assertEquals(schedule.lastTickAt, fires.at(-1)!.tickAt, `${id}: lastTickAt`);
      assertEquals(schedule.runs, started.length, `${id}: runs`);
      const count = (reason: string) => fires.filter((f) => f.reason === reason).length;
      timings.push(
        `${id} (${policy}): ${fires.length} ticks, ${count("on_time")} on time, ${
          count("catch_up")
        } caught up, ` +
          `${count("catch_up_skip")} skipped`,
      );

      // ---- the executions: exactly the started fires' runs, one per tick, each completed
      const runs = await poll(`${id}: every run ended`, 30_000, async () => {
        const rs = await sql`select execution_id, idempotency_key, status from executions
          where workflow_id = ${WORKFLOW_ID} and execution_id like ${id + "@%"} order by execution_id`;
        return rs.every((r) => r.status !== "running") ? rs : undefined;
      });
      assertEquals(
        runs.map((r) => r.execution_id).sort(),
        started.map((f) => f.executionId).sort(),
        `${id}: executions and started fires`,
      );
      for (const r of runs) {
        const tick = Number(r.execution_id.slice(id.length + 1));
        assertEquals(r.idempotency_key, `schedule:${id}:${tick}`, r.execution_id);
        assertEquals(r.status, "completed", r.execution_id);
      }
      const view = await get(n1, `/api/v1/executions/${encodeURIComponent(started.at(-1)!.executionId!)}`);
      assertEquals(view.status, 200, view.text);
      assertEquals(view.body.trigger, { kind: "schedule", scheduleId: id, tickAt: started.at(-1)!.tickAt });

      // Ticks after the kill were fired by a survivor (the stored schedule_fired events name the node).
      const events = await sql`select node, details from cluster_events where type = 'schedule_fired'`;
      const firedBy = new Map<number, string>(
        events.filter((e) => e.details.scheduleId === id).map((e) => [Number(e.details.tickAt), e.node]),
      );
      const later = started.filter((f) => f.firedAt > killedAt && firedBy.has(f.tickAt));
      assert(later.length > 0, `${id}: no schedule_fired event after the kill`);
      for (const f of later) {
        assert(firedBy.get(f.tickAt) !== VICTIM, `${id}: ${f.tickAt} fired by the victim`);
      }
    }
    // Every execution of the workflow is one of the schedules' runs.
    const [{ n }] = await sql`select count(*)::int as n from executions where workflow_id = ${WORKFLOW_ID}
      and execution_id not like ${ids.run_all + "@%"} and execution_id not like ${ids.skip + "@%"}`;
    assertEquals(n, 0, "executions that are no tick's run");
    console.log(`[schedule failover] ${timings.join("; ")}`);
  } catch (err) {
    const tail = all.map(([id, p]) => `--- ${id}:\n${p.output.slice(-3000)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  } finally {
    await sql.end({ timeout: 2 });
    await Promise.all(all.map(([, p]) => p.close()));
  }
}

pgTest(
  "schedule failover process: kill -9 the owner of two 1 s schedules; every tick recorded once, none lost beyond the policy",
  (_t) => withTempDatabase(scenario),
);
