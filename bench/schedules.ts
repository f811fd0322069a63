/**
 * 100,000 schedules on one node: a real node started in this process (`startNode`, on PostgreSQL in a fresh
 * temporary database, or on memory), its schedules made through the scheduler's own `create` (the path the
 * API takes: stored, then armed in the node's timer heap). Most tick far ahead (cron, fixed rate and fixed
 * delay, from tomorrow on); two bursts of `--burst` tick a few seconds ahead: one all at the same instant (a
 * whole second, as a thousand `0 * * * *` crons at the top of the hour), one spread evenly over one second.
 * It measures:
 *
 * - the heap (and resident memory) per armed schedule, after a full garbage collection (`--expose-gc`);
 * - the node's CPU while idle for `--idle` seconds with no schedule, then with all of them armed;
 * - each burst's fire lag, per run: the tick's fire time to the run's `ExecutionStarted` (its `at`), and to
 *   the run's creating append committed (what `schedule_fire_lag_seconds` observes), p50/p95/p99/max;
 * - on PostgreSQL, a restart: a second node on the same database loads every schedule (time to re-arm all).
 *
 *   deno run -A --v8-flags=--expose-gc bench/schedules.ts --storage postgres
 *   deno run -A --v8-flags=--expose-gc bench/schedules.ts --storage memory --count 100000 --burst 1000
 *
 * (`deno task bench:schedules --storage postgres`.) PostgreSQL: `ENGINE_TEST_DATABASE_URL`. `--profile FILE`
 * writes a CPU profile of the same-instant burst; `--trace` prints its storage calls (stderr);
 * `--fires-at-once N` overrides the scheduler's `maxConcurrentFires`.
 *
 * @module
 */
import process from "node:process";
import { Session } from "node:inspector/promises";
import type { ScheduleSpec } from "../core/schedule.ts";
import { SCHEDULE_DEFAULTS } from "../core/schedule.ts";
import type { StoredWorkflow } from "../storage/storage.ts";
import { withTempDatabase } from "../testing/pg.ts";
import { type RunningNode, startNode } from "../server/start.ts";
import { checkWorkflow } from "../server/runtime/workflows.ts";

const args = Deno.args;
const get = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const storageKind = get("storage", "postgres") as "postgres" | "memory";
const count = Number(get("count", "100000"));
const burst = Number(get("burst", "1000"));
const idleMs = Number(get("idle", "10")) * 1000;
const concurrency = Number(get("concurrency", "64"));
/** Writes a CPU profile of the burst (from just before its second until its last fire) to this file. */
const profileFile = get("profile", "");
/** Overrides the scheduler's `maxConcurrentFires` (experiments). */
const firesAtOnce = Number(get("fires-at-once", "0"));

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("run with --v8-flags=--expose-gc");
  Deno.exit(2);
}

/**
 * The workflow scheduled runs start: one node, so a run ends in the append that creates it (what is measured
 * is the scheduler's cost; a longer workflow adds its own appends, as any execution does).
 */
const WORKFLOW = {
  id: "bench-scheduled",
  name: "scheduled",
  nodes: [{ id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 2 } }],
  edges: [],
};

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** A spec with the defaults. */
function spec(partial: Partial<ScheduleSpec>): ScheduleSpec {
  return {
    ...SCHEDULE_DEFAULTS,
    kind: "fixed_rate",
    cronExpression: null,
    intervalMs: null,
    startAt: null,
    endAt: null,
    input: { bench: true },
    ...partial,
  };
}

/** The `i`-th far schedule: a third each cron (daily, 1,440 expressions), fixed rate (1 h) and fixed delay, from tomorrow. */
function farSpec(i: number, now: number): ScheduleSpec {
  const startAt = now + DAY_MS + (i % 3_600) * 1_000;
  switch (i % 3) {
    case 0:
      return spec({ kind: "cron", cronExpression: `${i % 60} ${Math.floor(i / 60) % 24} * * *`, startAt });
    case 1:
      return spec({ kind: "fixed_rate", intervalMs: HOUR_MS, startAt });
    default:
      return spec({ kind: "fixed_delay", intervalMs: HOUR_MS, startAt });
  }
}

/** The `i`-th burst schedule, ticking at `at`: half a 6-field daily cron, half a fixed rate (1 h) from `at`. */
function burstSpec(i: number, at: number): ScheduleSpec {
  if (i % 2 === 0 && at % 1_000 === 0) {
    const d = new Date(at);
    const cron = `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} * * *`;
    return spec({ kind: "cron", cronExpression: cron });
  }
  return spec({ kind: "fixed_rate", intervalMs: HOUR_MS, startAt: at });
}

/** A burst: `burst` schedules from index `from`, ticking from `second` on, spread over `spreadMs`. */
interface Burst {
  name: string;
  from: number;
  second: number;
  spreadMs: number;
}

/** The tick of the `j`-th schedule of a burst. */
function burstTick(b: Burst, j: number): number {
  return b.second + Math.floor((j * b.spreadMs) / burst);
}

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc!();
  return Deno.memoryUsage().heapUsed;
}

/** CPU ms (user + system) of this process so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Settling before an idle window: V8's memory reducer runs its collections some 10 – 15 s after a busy spell. */
const SETTLE_MS = 20_000;

/**
 * The node's CPU over `ms` of doing nothing, in ms of CPU per second, after `SETTLE_MS` (the garbage
 * collections that follow the schedules' creation, up to half a second of CPU, are not a cost of keeping them).
 */
async function idleCpu(ms: number): Promise<number> {
  await sleep(SETTLE_MS);
  const c0 = cpuMs(), t0 = performance.now();
  await sleep(ms);
  return +((cpuMs() - c0) / ((performance.now() - t0) / 1000)).toFixed(2);
}

/** p50/p95/p99/max of `xs` (ms). */
function percentiles(xs: number[]): Record<string, number> {
  if (xs.length === 0) return { n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  const r = (x: number) => +x.toFixed(1);
  return { n: s.length, min: r(s[0]), p50: r(at(0.5)), p95: r(at(0.95)), p99: r(at(0.99)), max: r(at(1)) };
}

/** Makes schedules `from`..`to-1` through the scheduler, `concurrency` at a time; returns the time taken. */
async function createMany(
  node: RunningNode,
  from: number,
  to: number,
  specOf: (i: number) => ScheduleSpec,
): Promise<number> {
  let next = from;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < to) {
      const i = next++;
      const r = await node.scheduler.create({
        id: `bench-${i}`,
        workflowId: WORKFLOW.id,
        spec: specOf(i),
        source: "api",
        status: "active",
      });
      if (!r.ok) throw new Error(`create bench-${i}: ${r.error.code} ${r.error.message}`);
    }
  }));
  return performance.now() - t0;
}

/** Starts a node (and waits until it owns every shard and its scheduler has loaded them). */
async function nodeOn(databaseUrl: string | undefined): Promise<RunningNode> {
  const node = await startNode({
    port: 0,
    host: "127.0.0.1",
    logLevel: "error",
    storage: storageKind,
    ...(databaseUrl ? { databaseUrl } : {}),
  });
  await until(
    "the shards",
    () => node.engine.ready && node.engine.ownedShards.size >= node.engine.shardCount && node.scheduler.idle,
  );
  if (firesAtOnce > 0) node.scheduler.limits.maxConcurrentFires = firesAtOnce;
  return node;
}

async function storeWorkflow(node: RunningNode): Promise<StoredWorkflow> {
  const checked = checkWorkflow(WORKFLOW);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await node.storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error("could not store the workflow");
  return put.workflow;
}

/** Warm-up: plans, the firing path (manual triggers of one schedule), the create path. */
async function warmUp(node: RunningNode, workflow: StoredWorkflow): Promise<void> {
  for (let i = 0; i < 20; i++) await node.engine.submit(workflow, { input: null });
  const r = await node.scheduler.create({
    id: "bench-warm",
    workflowId: WORKFLOW.id,
    spec: spec({ kind: "fixed_rate", intervalMs: HOUR_MS, startAt: Date.now() + 2 * DAY_MS }),
    source: "api",
    status: "active",
  });
  if (!r.ok) throw new Error(`warm-up: ${r.error.code} ${r.error.message}`);
  for (let i = 0; i < 5; i++) {
    const t = await node.scheduler.trigger("bench-warm");
    if (!t.ok) throw new Error(`warm-up trigger: ${t.error.code}`);
  }
  await until("the warm-up", () => node.scheduler.idle);
}

/** Storage calls during the burst (`--trace`): each `appendMany`'s size and time, and each `getSchedule`'s time. */
function tapStorage(node: RunningNode): { flushes: number[][]; reads: number[] } {
  const t = { flushes: [] as number[][], reads: [] as number[] };
  const s = node.storage;
  const append = s.appendMany.bind(s), getSchedule = s.getSchedule.bind(s);
  s.appendMany = async (reqs) => {
    const t0 = performance.now();
    try {
      return await append(reqs);
    } finally {
      const fires = reqs.filter((r) => r.scheduleFire !== undefined).length;
      const creates = reqs.filter((r) => r.expectedSeq === 0).length;
      t.flushes.push([Date.now(), reqs.length, +(performance.now() - t0).toFixed(1), fires, creates]);
    }
  };
  s.getSchedule = async (id) => {
    const t0 = performance.now();
    try {
      return await getSchedule(id);
    } finally {
      t.reads.push(performance.now() - t0);
    }
  };
  return t;
}

/** Lags (ms) the node's `schedule_fire_lag_seconds` histogram observes, as they come. */
function tapFireLag(node: RunningNode): number[] {
  const seen: number[] = [];
  const h = (node.metrics as unknown as { scheduleFireLag: { observe(v: number): void } }).scheduleFireLag;
  const observe = h.observe.bind(h);
  h.observe = (v: number) => {
    seen.push(v * 1000);
    observe(v);
  };
  return seen;
}

/** A burst's runs as stored: each one's `ExecutionStarted.at` minus its tick (jitter 0: the fire time). */
async function startLags(node: RunningNode, b: Burst): Promise<number[]> {
  const lags: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < burst) {
      const j = next++;
      const tick = burstTick(b, j);
      const view = await node.engine.view(`bench-${b.from + j}@${tick}`);
      if (!view?.startTime) throw new Error(`no run of bench-${b.from + j} at ${tick}`);
      lags.push(view.startTime - tick);
    }
  }));
  return lags;
}

/** Starts the CPU profiler at `at` (epoch ms); the function returned stops it and writes `--profile`. */
async function startProfile(at: number): Promise<() => Promise<void>> {
  await sleep(Math.max(0, at - Date.now()));
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    await Deno.writeTextFile(profileFile, JSON.stringify(profile));
    session.disconnect();
  };
}

/** Waits for a burst's fires; its fire lags (to the run's start and to its commit) and the CPU meanwhile. */
async function fireBurst(
  node: RunningNode,
  b: Burst,
  committed: number[],
  traceIt: boolean,
): Promise<Record<string, unknown>> {
  committed.length = 0;
  const traced = traceIt && args.includes("--trace") ? tapStorage(node) : undefined;
  const profiler = traceIt && profileFile ? await startProfile(b.second - 200) : undefined;
  await sleep(Math.max(0, b.second - 500 - Date.now()));
  const cpu0 = cpuMs();
  await until(`the ${b.name} fires`, () => committed.length >= burst, b.second - Date.now() + 120_000);
  const cpu = cpuMs() - cpu0;
  if (profiler) await profiler();
  if (traced) {
    console.error(JSON.stringify({
      flushes: traced.flushes.map(([at, ...rest]) => [at - b.second, ...rest]),
      reads: percentiles(traced.reads),
    }));
  }
  return {
    spreadMs: b.spreadMs,
    fireLagToStartedMs: percentiles(await startLags(node, b)),
    fireLagToCommittedMs: percentiles(committed),
    cpuMs: Math.round(cpu),
  };
}

/** Measures one node: memory and idle CPU with `count` schedules armed, then the bursts' fire lag. */
async function measure(node: RunningNode): Promise<Record<string, unknown>> {
  const workflow = await storeWorkflow(node);
  await warmUp(node, workflow);
  const live0 = node.scheduler.live;
  const heap0 = heapAfterGc(), rss0 = Deno.memoryUsage().rss;
  const idleEmpty = await idleCpu(idleMs);

  const far = count - 2 * burst;
  const farMs = await createMany(node, 0, far, (i) => farSpec(i, Date.now()));
  await until("the far schedules", () => node.scheduler.idle);
  // The bursts' seconds: after their creation (at the rate just seen), the heap's measure and the idle window.
  const perMs = farMs / Math.max(1, far);
  const second = Math.ceil((Date.now() + 2 * burst * perMs * 2 + SETTLE_MS + idleMs + 4_000) / 1_000) * 1_000;
  const bursts: Burst[] = [
    { name: "sameInstant", from: far, second, spreadMs: 0 },
    { name: "overOneSecond", from: far + burst, second: second + 5_000, spreadMs: 1_000 },
  ];
  for (const b of bursts) {
    await createMany(node, b.from, b.from + burst, (i) => burstSpec(i, burstTick(b, i - b.from)));
  }
  await until("the bursts' schedules", () => node.scheduler.idle);
  const armed = node.scheduler.live - live0;
  const heap1 = heapAfterGc(), rss1 = Deno.memoryUsage().rss;
  const idleStart = Date.now();
  const idleArmed = await idleCpu(idleMs);
  const idleRoom = second - Date.now();
  if (idleRoom < 200) throw new Error(`the idle window ran into the burst (${idleRoom} ms before it)`);
  const fired: Record<string, unknown> = {};
  const committed = tapFireLag(node);
  for (const b of bursts) fired[b.name] = await fireBurst(node, b, committed, b.spreadMs === 0);
  return {
    schedules: armed,
    createPerSecond: Math.round(far / (farMs / 1000)),
    heapBytesPerSchedule: Math.round((heap1 - heap0) / armed),
    rssBytesPerSchedule: Math.round((rss1 - rss0) / armed),
    heapMiB: { before: +(heap0 / 1048576).toFixed(1), after: +(heap1 / 1048576).toFixed(1) },
    rssMiB: { before: +(rss0 / 1048576).toFixed(1), after: +(rss1 / 1048576).toFixed(1) },
    idleCpuMsPerSecond: { noSchedules: idleEmpty, armed: idleArmed },
    idleWindowEndedMsBeforeBurst: second - idleStart - idleMs,
    maxConcurrentFires: node.scheduler.limits.maxConcurrentFires,
    bursts: fired,
  };
}

/** A second node on the same database: the time it takes to load and arm every schedule again. */
async function reload(databaseUrl: string, expected: number): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const node = await nodeOn(databaseUrl);
  try {
    await until("the reload", () => node.scheduler.live >= expected && node.scheduler.idle);
    return { schedulesLoaded: node.scheduler.live, seconds: +((performance.now() - t0) / 1000).toFixed(2) };
  } finally {
    await node.close();
  }
}

async function main(): Promise<void> {
  const run = async (databaseUrl?: string) => {
    const node = await nodeOn(databaseUrl);
    let result: Record<string, unknown>;
    let live: number;
    try {
      result = await measure(node);
      live = node.scheduler.live;
    } finally {
      await node.close();
    }
    const restart = databaseUrl ? await reload(databaseUrl, live) : undefined;
    console.log(JSON.stringify({ storage: storageKind, ...result, ...(restart ? { restart } : {}) }));
  };
  if (storageKind === "postgres") await withTempDatabase(run);
  else await run();
}

await main();
