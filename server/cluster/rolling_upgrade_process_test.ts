/**
 * A rolling restart under load, on a real 3-process cluster: three `deno run -A server/main.ts` members (n1,
 * n2, n3) on 127.0.0.1 sharing a fresh PostgreSQL database and one cluster secret. A load client in this
 * process submits a workflow with a 500 ms durable delay at 6 submissions a second, round-robin over the
 * members, each with an Idempotency-Key of its own, sending a submission a member does not answer (or answers
 * 503/504) again to the next member with the same key. Meanwhile each member in turn is stopped with SIGTERM
 * (a graceful leave: it hands its shards to the others) and started again with changed settings
 * (`--log-level info` instead of `warn`, `--max-active-executions` doubled) — n1 from this source tree, n2 and
 * n3 from a copy of it in a temporary directory (a new release unpacked beside the old one); the next member
 * goes once the restarted one is ready and the three own every shard again. Before each stop an execution
 * with a 4 s delay is started in the leaving member's shards. Then:
 *
 * - every stopped member exited 0, and its shards moved (each at a higher epoch);
 * - submissions were acknowledged while members were away (from a SIGTERM until the three were balanced);
 * - every submission was acknowledged (none refused, none given up), each key with its own execution;
 * - every acknowledged execution (and every long one) completed exactly once: one `ExecutionStarted`, one
 *   `NodeSucceeded` per node, contiguous sequence numbers, the exact records;
 * - the workflow has exactly as many executions as keys acknowledged (nothing lost, nothing doubled);
 * - at least one long execution was still running when its member had exited, so it was finished by another
 *   process;
 * - every restarted member runs with its new settings (it logs at `info`).
 */
import { executionIdFor, shardOf } from "../../core/ids.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { checkDelayChainExecution, delayChain } from "../../testing/delay_chain.ts";
import type { HttpTarget } from "../../testing/http.ts";
import { type KeyedLoadResult, startKeyedLoad, submitKeyed } from "../../testing/keyed_load.ts";
import { freePort } from "../../testing/net.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import { call, getRetrying, pool, ServerProcess, spawnServer, waitEnded } from "../../testing/process.ts";
import { sleep } from "../../testing/wait.ts";

const SECRET = "rolling-upgrade-cluster-secret";
const SHARDS = 16;
const WORKFLOW_ID = "wf-roll";
const LONG_WORKFLOW_ID = "wf-roll-long";
const DELAY_MS = 500;
const LONG_DELAY_MS = 4_000;
/** Submissions a second over the three members (2 per member). */
const PER_SECOND = 6;
const ASK_TIMEOUT_MS = 10_000;
const PAUSE_MS = 200;
/** Load on the restored cluster before the next member goes (and after the last). */
const SETTLE_MS = 1_000;
const IDS = ["n1", "n2", "n3"] as const;
/** The members restarted from the copy of the source tree (the others from this tree). */
const FROM_RELEASE = new Set(["n2", "n3"]);
/** The source the server needs (`deno info server/main.ts`), and its configuration. */
const RELEASE_PARTS = ["core", "server", "storage", "transport", "deno.json", "deno.lock"];
const ROOT = new URL("../../", import.meta.url);
const WORKFLOWS = [
  delayChain(WORKFLOW_ID, "rolling", DELAY_MS),
  delayChain(LONG_WORKFLOW_ID, "long", LONG_DELAY_MS),
];

/** `deno run` of the copy's server, with the copy's configuration (its import map, its lock file). */
function releaseCommand(release: string, port: number): string[] {
  return [
    "run",
    "-A",
    "--config",
    `${release}/deno.json`,
    `${release}/server/main.ts`,
    "--port",
    String(port),
  ];
}

/** A member's identity and ports. */
interface Spec {
  id: string;
  port: number;
  clusterPort: number;
}

/** A member's settings before and after its restart. */
const SETTINGS = {
  before: ["--log-level", "warn", "--max-active-executions", "10000"],
  after: ["--log-level", "info", "--max-active-executions", "20000"],
};

/** The stats and the shard map as one member sees them. */
interface View {
  members: { id: string; status: string }[];
  shards: { shardId: number; location: string | null; epoch: number }[];
}

async function view(target: HttpTarget): Promise<View> {
  const stats = await getRetrying(target, "/api/v1/cluster/stats", PAUSE_MS);
  assertEquals(stats.status, 200, stats.text);
  const shards = await getRetrying(target, "/api/v1/cluster/shards", PAUSE_MS);
  assertEquals(shards.status, 200, shards.text);
  return { members: stats.body.members, shards: shards.body.shards };
}

/** Whether `v` shows the three members up, owning every shard between them, balanced within 1. */
function balanced(v: View): boolean {
  const up = v.members.filter((m) => m.status === "up").map((m) => m.id).sort();
  if (up.join() !== IDS.join()) return false;
  const load = new Map<string, number>(IDS.map((id) => [id, 0]));
  for (const s of v.shards) {
    if (s.location === null || !load.has(s.location)) return false;
    load.set(s.location, load.get(s.location)! + 1);
  }
  return Math.max(...load.values()) - Math.min(...load.values()) <= 1;
}

/** Polls `target` until the cluster is balanced over the three; fails with the last view after `timeoutMs`. */
async function waitBalanced(target: HttpTarget, timeoutMs: number): Promise<View> {
  const deadline = Date.now() + timeoutMs;
  let last: View | undefined;
  for (;;) {
    last = await view(target).catch(() => last);
    if (last && balanced(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`not balanced over ${IDS} after ${timeoutMs} ms: ${JSON.stringify(last?.members)}`);
    }
    await sleep(100);
  }
}

/** A key of the long workflow whose execution lands in a shard `owner` owns in `v`. */
function longKeyOwnedBy(v: View, owner: string, prefix: string): string {
  for (let i = 0; i < 10_000; i++) {
    const key = `${prefix}-${i}`;
    if (v.shards[shardOf(executionIdFor(LONG_WORKFLOW_ID, key), v.shards.length)].location === owner) {
      return key;
    }
  }
  throw new Error(`no key lands on ${owner}`);
}

/** Copies the server's source and configuration into a fresh temporary directory: a "new release". */
async function copyRelease(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-release-" });
  const copy = async (from: URL, to: string): Promise<void> => {
    const info = await Deno.stat(from);
    if (!info.isDirectory) return await Deno.copyFile(from, to);
    await Deno.mkdir(to);
    for await (const entry of Deno.readDir(from)) {
      await copy(new URL(`${entry.name}${entry.isDirectory ? "/" : ""}`, from), `${to}/${entry.name}`);
    }
  };
  for (const part of RELEASE_PARTS) {
    const isDir = (await Deno.stat(new URL(part, ROOT))).isDirectory;
    await copy(new URL(isDir ? `${part}/` : part, ROOT), `${dir}/${part}`);
  }
  return dir;
}

/** What the roll measured, for the printout. */
interface Step {
  id: string;
  exitMs: number;
  readyMs: number;
  balancedMs: number;
  ackedDuring: number;
  longRunningAtExit: boolean;
}

/** Waits for every execution to end, then checks each completed exactly once (events and records). */
async function checkAllCompleted(target: HttpTarget, executionIds: readonly string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  await pool(executionIds, 10, async (executionId) => {
    const ended = await waitEnded(target, executionId, deadline, PAUSE_MS);
    assertEquals(ended.status, "completed", JSON.stringify(ended));
    await checkDelayChainExecution(target, executionId, PAUSE_MS);
  });
}

/**
 * The roll's outcome: nothing refused, nothing lost, nothing doubled, everything completed exactly once, a
 * long execution handed over mid-run, the new settings in force.
 */
async function checkOutcome(
  live: Map<string, ServerProcess>,
  result: KeyedLoadResult,
  steps: readonly Step[],
  longIds: readonly string[],
): Promise<void> {
  checkLoad(result);
  // The cluster kept acknowledging while members were away (stopping, stopped, restarting, rebalancing).
  assert(steps.some((s) => s.ackedDuring > 0), "no submission acknowledged while a member was away");
  const entry = live.get("n1")!;
  await checkAllCompleted(entry, [...result.acked.values(), ...longIds]);
  const counted = await getRetrying(entry, `/api/v1/workflows/${WORKFLOW_ID}/status`, PAUSE_MS);
  assertEquals(counted.body.executionCount, result.acked.size, counted.text);
  const countedLong = await getRetrying(entry, `/api/v1/workflows/${LONG_WORKFLOW_ID}/status`, PAUSE_MS);
  assertEquals(countedLong.body.executionCount, IDS.length, countedLong.text);
  assert(
    steps.some((s) => s.longRunningAtExit),
    "no long execution was still running when its member exited (nothing was handed over mid-run)",
  );
  // The restarted members run with their new settings: they log at info (the old ones, at warn, did not).
  for (const id of IDS) {
    assert(live.get(id)!.output.includes(`"level":"info"`), `${id} does not log at info`);
  }
}

/** A step for the printout. */
function describe(s: Step): string {
  return `${s.id} exited ${ms(s.exitMs)} after SIGTERM, restarted ready in ${ms(s.readyMs)}, balanced ` +
    `${ms(s.balancedMs)} later, ${s.ackedDuring} acked from SIGTERM to balanced, long execution ` +
    (s.longRunningAtExit ? "handed over running" : "done before the exit");
}

/** Asserts the load's outcome: every key acknowledged once, with the id its key determines, none refused. */
function checkLoad(load: KeyedLoadResult): void {
  assertEquals(Object.fromEntries(load.refused), {}, "submissions refused with a permanent error");
  assertEquals(Object.fromEntries(load.givenUp), {}, "submissions never acknowledged");
  assertEquals(load.acked.size, load.keys.length);
  for (const [key, executionId] of load.acked) assertEquals(executionId, executionIdFor(WORKFLOW_ID, key));
  assertEquals(new Set(load.acked.values()).size, load.keys.length, "one execution per key");
}

async function scenario(url: string): Promise<void> {
  const specs: Spec[] = IDS.map((id) => ({ id, port: freePort(), clusterPort: freePort() }));
  const flags = (spec: Spec, settings: readonly string[]) => [
    ...["--node-id", spec.id, "--cluster-port", String(spec.clusterPort)],
    "--seeds",
    specs.filter((s) => s !== spec).map((s) => `127.0.0.1:${s.clusterPort}`).join(","),
    ...["--cluster-secret", SECRET, "--database-url", url, "--shards", String(SHARDS)],
    ...["--ask-timeout", `${ASK_TIMEOUT_MS}ms`, "--database-pool-max", "5"],
    ...settings,
  ];
  const release = await copyRelease();
  const all: ServerProcess[] = [];
  const live = new Map<string, ServerProcess>();
  const start = (spec: Spec, upgraded: boolean): ServerProcess => {
    const args = flags(spec, upgraded ? SETTINGS.after : SETTINGS.before);
    const p = upgraded && FROM_RELEASE.has(spec.id)
      ? new ServerProcess([...releaseCommand(release, spec.port), ...args], spec.port)
      : spawnServer(spec.port, args);
    all.push(p);
    live.set(spec.id, p);
    return p;
  };
  const t0 = performance.now();
  let load: ReturnType<typeof startKeyedLoad> | undefined;
  try {
    for (const spec of specs) start(spec, false);
    await Promise.all([...live.values()].map((p) => p.waitReady(60_000)));
    await waitBalanced(live.get("n1")!, 30_000);
    for (const wf of WORKFLOWS) {
      const created = await call(live.get("n1")!, "POST", "/api/v1/workflows", { json: wf });
      assertEquals(created.status, 201, created.text);
    }
    const formedMs = performance.now() - t0;

    // ---- load through the whole roll; a second of it before the first stop
    load = startKeyedLoad({
      targets: () => specs.map((s) => live.get(s.id)),
      workflowId: WORKFLOW_ID,
      perSecond: PER_SECOND,
      keyPrefix: "roll",
      attemptTimeoutMs: ASK_TIMEOUT_MS + 5_000,
      giveUpAfterMs: 45_000,
      retryPauseMs: 100,
    });
    await sleep(1_000);

    const steps: Step[] = [];
    const longIds: string[] = [];
    for (const spec of specs) {
      steps.push(await rollOne(spec, { live, start, load, longIds }));
      await sleep(SETTLE_MS); // the restarted member takes its share of the load before the next one goes
    }
    const result = await load.stop();
    load = undefined;
    const rolledMs = performance.now() - t0 - formedMs;
    await checkOutcome(live, result, steps, longIds);
    console.log(
      `[rolling] cluster formed in ${ms(formedMs)}; roll under load in ${ms(rolledMs)}: ` +
        steps.map(describe).join("; "),
    );
    console.log(
      `[rolling] ${result.keys.length} keys submitted, all acknowledged (${result.ackedAfterRetry} after a ` +
        `retry; retried attempts ${JSON.stringify(Object.fromEntries(result.retried))}), ` +
        `${result.acked.size} + ${longIds.length} executions completed exactly once; ` +
        `total ${ms(performance.now() - t0)}`,
    );
  } catch (err) {
    const tail = all.map((s) => `--- ${s.args.slice(0, 12).join(" ")}:\n${s.output.slice(-3000)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  } finally {
    await load?.stop();
    await Promise.all(all.map((s) => s.close()));
    await Deno.remove(release, { recursive: true }).catch(() => {});
  }
}

/** What a roll step works with. */
interface Roll {
  live: Map<string, ServerProcess>;
  start: (spec: Spec, upgraded: boolean) => ServerProcess;
  load: ReturnType<typeof startKeyedLoad>;
  longIds: string[];
}

/**
 * One step of the roll: starts a long execution in `spec`'s shards, stops the member with SIGTERM (exit 0, its
 * shards moved on at higher epochs), restarts it upgraded, and waits until it is ready and the three are
 * balanced again.
 */
async function rollOne(spec: Spec, roll: Roll): Promise<Step> {
  const { live } = roll;
  const old = live.get(spec.id)!;
  const other = live.get(IDS.find((id) => id !== spec.id)!)!;
  const before = await view(other);
  const key = longKeyOwnedBy(before, spec.id, `long-${spec.id}`);
  const long = await submitKeyed(other, LONG_WORKFLOW_ID, key, ASK_TIMEOUT_MS + 5_000);
  assertEquals(long.kind, "acked", JSON.stringify(long));
  const longId = (long as { executionId: string }).executionId;
  roll.longIds.push(longId);
  const ackedBefore = roll.load.ackedCount;

  const stopAt = performance.now();
  const exit = await old.kill("SIGTERM");
  const exitMs = performance.now() - stopAt;
  assertEquals(exit.code, 0, `${spec.id} after SIGTERM: ${JSON.stringify(exit)}\n${old.output.slice(-3000)}`);
  const atExit = await getRetrying(other, `/api/v1/executions/${longId}`, PAUSE_MS);
  assertEquals(atExit.status, 200, atExit.text);

  const fresh = roll.start(spec, true);
  const readyMs = await fresh.waitReady(60_000);
  const balancedAt = performance.now();
  const after = await waitBalanced(fresh, 30_000);
  const balancedMs = performance.now() - balancedAt;
  for (const s of before.shards.filter((x) => x.location === spec.id)) {
    const now = after.shards[s.shardId].epoch;
    assert(now > s.epoch, `shard ${s.shardId} of ${spec.id}: epoch ${now} not above ${s.epoch}`);
  }
  return {
    id: spec.id,
    exitMs,
    readyMs,
    balancedMs,
    ackedDuring: roll.load.ackedCount - ackedBefore,
    longRunningAtExit: atExit.body.status === "running",
  };
}

const ms = (x: number) => `${Math.round(x)} ms`;

pgTest(
  "rolling upgrade: 3 real members restarted one by one (new settings, new release dir) under keyed load",
  (_t) => withTempDatabase(scenario),
);
