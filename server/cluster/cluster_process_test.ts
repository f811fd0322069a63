/**
 * A real 3-process cluster on one machine: three `deno run -A server/main.ts`
 * members (n1, n2, n3) on 127.0.0.1 sharing one fresh PostgreSQL database and one
 * cluster secret. 300 keyed submissions of a five-node workflow with a durable
 * delay go through n1; once half are acknowledged, the member owning most of them
 * is killed with SIGKILL while their delays are pending. Then:
 *
 * - every acknowledged execution completes exactly once (one NodeSucceeded per
 *   node, the exact records), unacknowledged keys being re-submitted;
 * - calls through a survivor for the dead member's shards wait for their new
 *   owner (never a 504), and the survivors keep heartbeating through the
 *   takeover (none ever looks down to another, none answers storage_unavailable);
 * - the dead member's shards have new owners at higher epochs, and an append
 *   fenced with an old epoch is refused (`stale_epoch`);
 * - the takeover time (kill → first failover on a survivor) and the downtime the
 *   failover events report are printed;
 * - the killed member, restarted with the same command, rejoins, is reachable
 *   for forwarded calls at once, and receives shards back by rebalance;
 * - a member with a wrong cluster secret (or another shard count) exits
 *   non-zero naming it, and the cluster keeps working;
 * - a member stopped with SIGTERM leaves gracefully: it exits 0, its shards move
 *   to the others, and an execution running on it completes.
 */
import { executionIdFor, shardOf } from "../../core/ids.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import { openPostgres } from "../../storage/postgres.ts";
import {
  call,
  getRetrying,
  pool,
  type ServerProcess,
  spawnServer,
  waitEnded,
} from "../../testing/process.ts";
import { checkDelayChainExecution, delayChain } from "../../testing/delay_chain.ts";
import type { HttpTarget, Reply } from "../../testing/http.ts";
import { freePort } from "../../testing/net.ts";
import { sleep } from "../../testing/wait.ts";

const SUBMISSIONS = 300;
const IN_FLIGHT = 20;
/** Kill the busiest member once this many submissions were acknowledged. */
const KILL_AFTER_ACKS = 150;
const DELAY_MS = 1_500;
const SECRET = "process-test-cluster-secret";
const ASK_TIMEOUT_MS = 10_000;
const WORKFLOW_ID = "wf-cluster";

const WORKFLOW = delayChain(WORKFLOW_ID, "cluster process test", DELAY_MS);

/** A member's identity and ports. */
interface Spec {
  id: string;
  port: number;
  clusterPort: number;
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** The stats and the shard map as one node sees them. */
interface View {
  stats: Json;
  shards: { shardId: number; location: string | null; epoch: number }[];
}

/** Between retries and polls of the process helpers, in ms. */
const PAUSE_MS = 200;

/** GET with a few retries on connection errors and timeouts. */
const get = (target: HttpTarget, path: string): Promise<Reply> => getRetrying(target, path, PAUSE_MS);

async function view(target: HttpTarget): Promise<View> {
  const stats = await get(target, "/api/v1/cluster/stats");
  assertEquals(stats.status, 200, stats.text);
  const shards = await get(target, "/api/v1/cluster/shards");
  assertEquals(shards.status, 200, shards.text);
  return { stats: stats.body, shards: shards.body.shards };
}

/**
 * Whether `v` shows exactly `ids` up (every other member not up), owning every
 * shard between them, balanced within 1.
 */
function balancedOver(v: View, ids: readonly string[]): boolean {
  const up = v.stats.members.filter((m: Json) => m.status === "up").map((m: Json) => m.id).sort();
  if (JSON.stringify(up) !== JSON.stringify([...ids].sort())) return false;
  const load = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const s of v.shards) {
    if (s.location === null || !load.has(s.location)) return false;
    load.set(s.location, load.get(s.location)! + 1);
  }
  const counts = [...load.values()];
  return Math.max(...counts) - Math.min(...counts) <= 1;
}

/** Polls `target`'s view until `ok`; returns it and how long it took. Fails with the last view after `timeoutMs`. */
async function waitView(
  target: HttpTarget,
  what: string,
  timeoutMs: number,
  ok: (v: View) => boolean,
): Promise<{ view: View; ms: number }> {
  const started = performance.now();
  let last: View | undefined;
  for (;;) {
    last = await view(target).catch(() => last);
    if (last && ok(last)) return { view: last, ms: performance.now() - started };
    if (performance.now() - started > timeoutMs) {
      const members = last?.stats.members.map((m: Json) => `${m.id}:${m.status}:${m.shardCount}`);
      throw new Error(`${what}: not after ${timeoutMs} ms (members ${JSON.stringify(members)})`);
    }
    await sleep(100);
  }
}

/** How members looked to each other while watched: per member, its oldest heartbeat seen and worst status. */
interface Watch {
  stop(): Promise<Map<string, { maxAgeMs: number; worst: string }>>;
}

const SEVERITY = ["joining", "up", "leaving", "suspect", "down"];

/** Polls every target's /api/v1/cluster/stats until stopped. */
function watchMembers(targets: readonly HttpTarget[]): Watch {
  const seen = new Map<string, { maxAgeMs: number; worst: string }>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(targets.map(async (t) => {
        const r = await call(t, "GET", "/api/v1/cluster/stats", { timeoutMs: 2_000 }).catch(() => undefined);
        if (r?.status !== 200) return;
        for (const m of r.body.members) {
          const s = seen.get(m.id) ?? { maxAgeMs: 0, worst: "up" };
          s.maxAgeMs = Math.max(s.maxAgeMs, r.body.at - m.lastHeartbeat);
          if (SEVERITY.indexOf(m.status) > SEVERITY.indexOf(s.worst)) s.worst = m.status;
          seen.set(m.id, s);
        }
      }));
      await sleep(100);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

/** POST .../execute with an Idempotency-Key: the execution id when acknowledged (202/200), else why not. */
async function submit(
  target: HttpTarget,
  key: string,
  query = "",
): Promise<{ ok: true; executionId: string; body: Json } | { ok: false; why: string }> {
  let r: Reply;
  try {
    r = await call(target, "POST", `/api/v1/workflows/${WORKFLOW_ID}/execute${query}`, {
      json: { input: { key } },
      headers: { "idempotency-key": key },
      timeoutMs: 15_000,
    });
  } catch (err) {
    return { ok: false, why: (err as Error).name === "TimeoutError" ? "timeout" : "connection" };
  }
  if (r.status !== 202 && r.status !== 200) return { ok: false, why: `${r.status} ${r.body?.error?.code}` };
  assertEquals(typeof r.body.executionId, "string", r.text);
  assertEquals(r.body.executionId, executionIdFor(WORKFLOW_ID, key));
  return { ok: true, executionId: r.body.executionId, body: r.body };
}

/** Cluster events of a type, newest first. */
async function clusterEvents(target: HttpTarget, type: string): Promise<Json[]> {
  const r = await get(target, `/api/v1/events?limit=1000&type=${type}`);
  assertEquals(r.status, 200, r.text);
  return r.body.events;
}

/**
 * The entries of collapsed cluster events (`moves` of `shard_rebalance`, `shards` of `shard_started`,
 * `shard_stopped`, `workflow_failover`), each with its event's `at`, `node` and other details.
 */
function listedIn(events: readonly Json[], key: "moves" | "shards"): Json[] {
  return events.flatMap((e) => {
    const { [key]: list, ...rest } = e.details;
    assert(Array.isArray(list), JSON.stringify(e));
    assertEquals(rest.count, list.length, JSON.stringify(e));
    return list.map((entry: Json) => ({ ...rest, ...entry, at: e.at, node: e.node }));
  });
}

/** A key whose execution lands in a shard `owner` owns in `v`. */
function keyOwnedBy(v: View, owner: string, prefix: string): string {
  for (let i = 0; i < 10_000; i++) {
    const key = `${prefix}-${i}`;
    const shard = shardOf(executionIdFor(WORKFLOW_ID, key), v.shards.length);
    if (v.shards[shard].location === owner) return key;
  }
  throw new Error(`no key lands on ${owner}`);
}

const ms = (x: number) => `${Math.round(x)} ms`;

async function scenario(url: string): Promise<void> {
  const specs: Spec[] = ["n1", "n2", "n3"].map((id) => ({ id, port: freePort(), clusterPort: freePort() }));
  const flags = (spec: Spec, secret = SECRET) => [
    "--node-id",
    spec.id,
    "--cluster-port",
    String(spec.clusterPort),
    "--seeds",
    specs.filter((s) => s !== spec).map((s) => `127.0.0.1:${s.clusterPort}`).join(","),
    "--cluster-secret",
    secret,
    "--database-url",
    url,
    "--log-level",
    "warn",
    // Room for a slow takeover on a loaded machine: a call waits this long for a shard's next owner.
    "--ask-timeout",
    `${ASK_TIMEOUT_MS}ms`,
    // Five processes at most share the test server's connections with other suites.
    "--database-pool-max",
    "5",
  ];
  const all: ServerProcess[] = [];
  const live = new Map<string, ServerProcess>();
  const start = (spec: Spec) => {
    const p = spawnServer(spec.port, flags(spec));
    all.push(p);
    live.set(spec.id, p);
    return p;
  };
  const timings: string[] = [];
  const t0 = performance.now();
  let watch: Watch | undefined;
  try {
    // ---- three members, up and balanced
    for (const spec of specs) start(spec);
    const readyMs = await Promise.all([...live.values()].map((p) => p.waitReady(60_000)));
    const n1 = live.get("n1")!;
    const formed = await waitView(
      n1,
      "3 members up, balanced",
      30_000,
      (v) => balancedOver(v, ["n1", "n2", "n3"]),
    );
    timings.push(`ready in ${readyMs.map(ms).join("/")}, balanced ${ms(formed.ms)} later`);
    const created = await call(n1, "POST", "/api/v1/workflows", { json: WORKFLOW });
    assertEquals(created.status, 201, created.text);

    // ---- 300 submissions through n1; kill -9 the busiest member half-way (if that is n1, the rest go
    // through a survivor); calls to the dead member's shards wait for their new owner
    const keys = Array.from({ length: SUBMISSIONS }, (_, i) => `key-${i}`);
    const acked = new Map<string, string>();
    const notAcked = new Map<string, number>();
    let before: View | undefined;
    let victim: Spec | undefined;
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    let ackedAfterKill = 0;
    const submitStart = performance.now();
    let slowestAfterKill = 0;
    let through: ServerProcess = n1;
    await pool(keys, IN_FLIGHT, async (key) => {
      const sent = performance.now();
      const r = await submit(through, key);
      if (!r.ok) {
        notAcked.set(r.why, (notAcked.get(r.why) ?? 0) + 1);
        return;
      }
      acked.set(key, r.executionId);
      if (killedAt > 0) {
        ackedAfterKill++;
        slowestAfterKill = Math.max(slowestAfterKill, performance.now() - sent);
      }
      if (acked.size >= KILL_AFTER_ACKS && !killing) {
        killing = (async () => {
          before = await view(n1);
          const owners = new Map<string, number>();
          for (const id of acked.values()) {
            const owner = before.shards[shardOf(id, before.shards.length)].location!;
            owners.set(owner, (owners.get(owner) ?? 0) + 1);
          }
          const busiest = [...owners].sort((a, b) => b[1] - a[1])[0][0];
          victim = specs.find((s) => s.id === busiest)!;
          killedAt = Date.now();
          live.get(victim.id)!.child.kill("SIGKILL");
          watch = watchMembers([...live.values()].filter((p) => p !== live.get(victim!.id)));
          if (victim.id === "n1") through = live.get("n2")!;
        })();
      }
    });
    await killing;
    assert(victim && before, `nobody was killed (${acked.size} acknowledged)`);
    const dead = live.get(victim.id)!;
    const status = await dead.kill();
    assertEquals(status.signal, "SIGKILL", `exit: ${JSON.stringify(status)}`);
    live.delete(victim.id);
    const survivors = [...live.keys()];
    const entry = live.get(survivors[0])!;
    const ackedAtKill = acked.size - ackedAfterKill;
    timings.push(
      `submitted in ${ms(performance.now() - submitStart)}: killed ${victim.id} after ${ackedAtKill} acks, ` +
        `${ackedAfterKill} acked after the kill (slowest ${ms(slowestAfterKill)}), not acked ` +
        JSON.stringify(Object.fromEntries(notAcked)),
    );
    // A call is never held for a dead owner until the ask timeout (504): it waits for the next owner.
    assert(![...notAcked.keys()].some((why) => why.startsWith("504")), JSON.stringify([...notAcked]));

    // Re-submit every key not acknowledged through a survivor (idempotency keys make it safe).
    const resubmitted = keys.filter((k) => !acked.has(k));
    await pool(resubmitted, IN_FLIGHT, async (key) => {
      for (let attempt = 0;; attempt++) {
        const r = await submit(entry, key);
        if (r.ok) return void acked.set(key, r.executionId);
        if (attempt >= 60) throw new Error(`${key} never acknowledged after the kill: ${r.why}`);
        await sleep(250);
      }
    });
    assertEquals(acked.size, SUBMISSIONS);

    // ---- every acknowledged execution completes, exactly once
    const victimShards = before.shards.filter((s) => s.location === victim!.id);
    const victimShardIds = new Set(victimShards.map((s) => s.shardId));
    const deadline = Date.now() + 60_000;
    let inFlightAtKill = 0;
    await pool([...acked.values()], IN_FLIGHT, async (executionId) => {
      const ended = await waitEnded(entry, executionId, deadline, PAUSE_MS);
      assertEquals(ended.status, "completed", JSON.stringify(ended));
      const endedAt = await checkDelayChainExecution(entry, executionId, PAUSE_MS);
      if (victimShardIds.has(shardOf(executionId, before!.shards.length)) && endedAt >= killedAt) {
        inFlightAtKill++;
      }
    });
    timings.push(`all ${SUBMISSIONS} completed ${ms(Date.now() - killedAt)} after the kill`);
    // The survivors kept heartbeating through the takeover: none ever looked down to another, and none
    // believed itself cut off from storage (which answers 503 storage_unavailable).
    const seen = await watch!.stop();
    const looks = survivors.map((id) =>
      `${id}: oldest heartbeat ${ms(seen.get(id)?.maxAgeMs ?? NaN)}, worst ${seen.get(id)?.worst}`
    );
    console.log(`[cluster] survivors during the takeover: ${looks.join("; ")}`);
    for (const id of survivors) assert(seen.get(id)?.worst !== "down", looks.join("; "));
    assert(
      ![...notAcked.keys()].some((why) => why.includes("storage_unavailable")),
      JSON.stringify([...notAcked]),
    );
    assert(inFlightAtKill > 0, `no execution of ${victim.id}'s shards was in flight at the kill`);
    // One execution per key.
    const listed = await get(entry, `/api/v1/workflows/${WORKFLOW_ID}/status`);
    assertEquals(listed.body.executionCount, SUBMISSIONS, listed.text);

    // ---- the dead member's shards have new owners at higher epochs
    const after = (await waitView(entry, "survivors own every shard", 15_000, (v) =>
      balancedOver(v, survivors)))
      .view;
    for (const s of victimShards) {
      const now = after.shards[s.shardId];
      assert(survivors.includes(now.location!), `shard ${s.shardId} now on ${now.location}`);
      assert(now.epoch > s.epoch, `shard ${s.shardId}: epoch ${now.epoch} not above ${s.epoch}`);
    }
    for (const s of before.shards.filter((x) => x.location !== victim!.id)) {
      assertEquals(after.shards[s.shardId].location, s.location, `shard ${s.shardId} of a survivor moved`);
    }

    // ---- the takeover, as the cluster log recorded it
    // Each event lists a round's shards (moves): its time is the end of that round's claims and recoveries.
    const failoverEvents = (await clusterEvents(entry, "workflow_failover"))
      .filter((e) => e.details.from === victim!.id && e.at >= killedAt);
    const failovers = listedIn(failoverEvents, "shards");
    assert(failovers.length > 0, "no workflow_failover event");
    for (const e of failovers) {
      assert(survivors.includes(e.node) && e.to === e.node, JSON.stringify(e));
      assert(victimShardIds.has(e.shard), JSON.stringify(e));
    }
    const started = listedIn(await clusterEvents(entry, "shard_started"), "shards")
      .filter((e) => e.node !== victim!.id && e.at >= killedAt && victimShardIds.has(e.shard));
    const orphaned = listedIn(await clusterEvents(entry, "shard_rebalance"), "moves")
      .filter((e) => e.from === victim!.id && e.reason === "orphaned" && e.at >= killedAt);
    assertEquals(new Set(orphaned.map((e) => e.shard)), victimShardIds, "orphaned shards reassigned");
    const firstFailover = Math.min(...failovers.map((e) => e.at)) - killedAt;
    const firstStarted = Math.min(...started.map((e) => e.at)) - killedAt;
    const lastStarted = Math.max(...started.map((e) => e.at)) - killedAt;
    const downtimes = failovers.map((e) => e.downtimeMs as number).sort((a, b) => a - b);
    const detected = orphaned.map((e) => e.detectedAfterMs as number);
    const recovered = failovers.reduce((n, e) => n + e.recovered, 0);
    const takeover = [
      `${victim.id} killed (SIGKILL)`,
      `first shard_started on a survivor ${ms(firstStarted)} after the kill`,
      `first workflow_failover ${ms(firstFailover)}`,
      `last shard_started ${ms(lastStarted)}`,
      `${failovers.length}/${victimShards.length} shards failed over (${failoverEvents.length} workflow_failover events)`,
      `${recovered} running executions recovered`,
    ];
    console.log(`[cluster] takeover: ${takeover.join(", ")}`);
    const downtime = [
      `min ${ms(downtimes[0])}`,
      `median ${ms(downtimes[downtimes.length >> 1])}`,
      `max ${ms(downtimes.at(-1)!)}`,
      `leader reassigned after ${ms(Math.min(...detected))}–${ms(Math.max(...detected))} without a heartbeat`,
    ];
    console.log(
      `[cluster] downtime reported by workflow_failover (last heartbeat → recovered): ${downtime.join(", ")}`,
    );

    // ---- a direct append with the old epoch is refused
    const fenced = [...acked.values()].find((id) => victimShardIds.has(shardOf(id, before!.shards.length)))!;
    const shard = shardOf(fenced, before.shards.length);
    const oldEpoch = before.shards[shard].epoch;
    const storage = await openPostgres({ url, poolMax: 1 });
    try {
      const stored = (await storage.getExecution(fenced))!;
      const history = await storage.readEvents(fenced);
      const r = await storage.append({
        executionId: fenced,
        expectedSeq: stored.lastSeq,
        fence: { shard, epoch: oldEpoch },
        events: [{ ...history.at(-1)!, seq: stored.lastSeq + 1, at: Date.now() }],
        summary: {
          executionId: fenced,
          workflowId: stored.workflowId,
          version: stored.version,
          status: stored.status,
          startTime: stored.startTime,
          endTime: stored.endTime,
        },
      });
      assert(!r.ok, "an append with the old epoch was accepted");
      assertEquals(r.error.code, "stale_epoch", JSON.stringify(r.error));
      const current = (await storage.getShards()).find((s) => s.shard === shard)!;
      assertEquals((r.error as { currentEpoch: number }).currentEpoch, current.epoch);
      assert(current.epoch > oldEpoch);
      assertEquals((await storage.readEvents(fenced)).length, history.length, "the refused append wrote");
      console.log(
        `[cluster] fencing: append to shard ${shard} at old epoch ${oldEpoch} refused (stale_epoch; ` +
          `now ${current.epoch} on ${current.owner})`,
      );
    } finally {
      await storage.close();
    }

    // ---- the killed member restarts with the same command and receives shards back
    const restartAt = performance.now();
    const restartAtMs = Date.now();
    const restarted = start(victim);
    const restartReadyMs = await restarted.waitReady(60_000);
    // A call forwarded to the rejoined member as soon as it owns a shard (from a member that dials it, when
    // there is one: the lower id of a pair dials).
    const via = live.get(survivors.find((id) => id < victim!.id) ?? survivors[0])!;
    const firstBack = await waitView(
      via,
      `${victim.id} owns a shard`,
      30_000,
      (v) => v.shards.some((s) => s.location === victim!.id),
    );
    const forwardedAt = performance.now();
    const forwarded = await submit(via, keyOwnedBy(firstBack.view, victim.id, "rejoined"));
    const forwardedMs = performance.now() - forwardedAt;
    assert(forwarded.ok, `a call forwarded to the rejoined ${victim.id}: ${!forwarded.ok && forwarded.why}`);
    // Its peers dial it as soon as they see it up again (not after the reconnect backoff of its absence).
    assert(forwardedMs < 3_000, `the call forwarded to the rejoined ${victim.id} took ${ms(forwardedMs)}`);
    const rejoined = await waitView(
      entry,
      `${victim.id} rejoined and balanced`,
      30_000,
      (v) =>
        balancedOver(v, ["n1", "n2", "n3"]) &&
        v.shards.filter((s) => s.location === victim!.id).length >= 1,
    );
    const moves = listedIn(await clusterEvents(entry, "shard_rebalance"), "moves")
      .filter((e) => e.to === victim!.id && e.reason === "rebalance" && e.at >= restartAtMs);
    const back = rejoined.view.shards.filter((s) => s.location === victim!.id).length;
    console.log(
      `[cluster] rejoin: ${victim.id} restarted, ready in ${ms(restartReadyMs)}, balanced again ` +
        `${ms(performance.now() - restartAt)} after the restart (${back} shards back, ${moves.length} ` +
        `rebalance moves); a call forwarded to it right after it got its first shard took ${ms(forwardedMs)}`,
    );

    // ---- a member with a wrong secret, or another shard count, is refused and exits non-zero
    const refusedAtStart = async (id: string, extra: string[], secret: string, expected: RegExp) => {
      const p = spawnServer(freePort(), [
        ...flags({ id, port: 0, clusterPort: freePort() }, secret),
        ...extra,
      ]);
      all.push(p);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exitedInTime = await Promise.race([
        p.child.status.then(() => true),
        new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 60_000)),
      ]);
      clearTimeout(timer);
      assert(exitedInTime, `${id} did not exit:\n${p.output}`);
      const status = await p.kill();
      assert(status.code !== 0, `${id} exit ${JSON.stringify(status)}`);
      assert(expected.test(p.output), p.output);
      return `${id} exited ${status.code}: ${p.output.trim().split("\n").at(-1)}`;
    };
    const refusals = await Promise.all([
      refusedAtStart("n4", [], "not-the-cluster-secret", /^start-up failed: wrong cluster secret/m),
      refusedAtStart("n5", ["--shards", "64"], SECRET, /^start-up failed: shard count mismatch/m),
    ]);
    const one = await submit(entry, "after-intruder", "?wait=20000");
    assert(one.ok, `submission after the intruders: ${!one.ok && one.why}`);
    assertEquals(one.body.status, "completed", JSON.stringify(one.body));
    await checkDelayChainExecution(entry, one.executionId, PAUSE_MS);
    const members = (await view(entry)).stats.members.map((m: Json) => m.id);
    assert(!members.includes("n4") && !members.includes("n5"), `an intruder became a member: ${members}`);
    console.log(`[cluster] refused at start: ${refusals.join("; ")}; the cluster kept working`);

    // ---- graceful leave: SIGTERM a member while an execution runs on it
    const leaverId = survivors.find((id) => id !== "n1") ?? survivors[0];
    const leaver = live.get(leaverId)!;
    const stayers = ["n1", "n2", "n3"].filter((id) => id !== leaverId);
    const gateway = live.get(stayers[0])!;
    const beforeLeave = await view(gateway);
    const key = keyOwnedBy(beforeLeave, leaverId, "leave");
    const running = await submit(gateway, key);
    assert(running.ok, `submission to ${leaverId}: ${!running.ok && running.why}`);
    assertEquals(running.body.status, "started", JSON.stringify(running.body));
    const leaveAt = performance.now();
    const leaveAtMs = Date.now();
    const stopped = await leaver.kill("SIGTERM");
    const leftMs = performance.now() - leaveAt;
    live.delete(leaverId);
    assertEquals(stopped.code, 0, `SIGTERM exit: ${JSON.stringify(stopped)}\n${leaver.output}`);
    const afterLeave = await waitView(gateway, `${leaverId} left`, 15_000, (v) => balancedOver(v, stayers));
    for (const s of beforeLeave.shards.filter((x) => x.location === leaverId)) {
      assert(afterLeave.view.shards[s.shardId].epoch > s.epoch, `shard ${s.shardId} epoch did not rise`);
    }
    const finished = await waitEnded(gateway, running.executionId, Date.now() + 30_000, PAUSE_MS);
    assertEquals(finished.status, "completed", JSON.stringify(finished));
    const endedAt = await checkDelayChainExecution(gateway, running.executionId, PAUSE_MS);
    assert(endedAt >= leaveAtMs, "the execution finished before the leave began");
    const handedOff = beforeLeave.shards.filter((x) => x.location === leaverId).length;
    console.log(
      `[cluster] graceful leave: ${leaverId} exited 0 ${ms(leftMs)} after SIGTERM, ${handedOff} shards ` +
        `handed to ${stayers.join("+")}; its running execution completed ${ms(endedAt - leaveAtMs)} after`,
    );
    timings.push(`total ${ms(performance.now() - t0)}`);
    console.log(`[cluster] ${timings.join("; ")}`);
  } catch (err) {
    const tail = all.map((s) => `--- ${s.args.join(" ").slice(0, 80)}:\n${s.output.slice(-3000)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  } finally {
    await watch?.stop();
    await Promise.all(all.map((s) => s.close()));
  }
}

pgTest(
  "cluster process: 3 real members; kill -9 one mid-flight, takeover, fencing, rejoin, wrong secret, leave",
  (_t) => withTempDatabase(scenario),
);
