import { assert, assertEquals, assertNotEquals } from "../testing/assert.ts";
import { main } from "./main.ts";
import { Random } from "./random.ts";
import { runSimulation } from "./run.ts";
import { Scheduler } from "./scheduler.ts";
import { replayCommand, shrink } from "./swarm.ts";

// A run's virtual timers may outlive it (a finished run is simply dropped), so op sanitizers are off.
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("random: same seed same stream, forks independent", () => {
  const a = new Random(7), b = new Random(7);
  const xs = Array.from({ length: 5 }, () => a.next());
  assertEquals(xs, Array.from({ length: 5 }, () => b.next()));
  assertNotEquals(new Random(7).fork("x").next(), new Random(7).fork("y").next());
  assertEquals(new Random(7).fork("x").id(), new Random(7).fork("x").id());
});

Deno.test(
  "scheduler: (time, seq) order, promise chains finish between events, pauses defer",
  opts,
  async () => {
    const s = new Scheduler();
    const seen: string[] = [];
    s.after(10, () => {
      seen.push("a");
      Promise.resolve().then(() => Promise.resolve()).then(() => seen.push("a-chain"));
    });
    s.after(10, () => seen.push("b"));
    s.after(5, () => seen.push("c"), "n1");
    s.pause("n1", 20);
    await s.run(100);
    assertEquals(seen, ["a", "a-chain", "b", "c"]);
    assertEquals(s.now, 100);
    const clock = s.clock("n2", 50);
    let fired = false;
    clock.setTimer(10, () => fired = true);
    clock.kill();
    await s.run(200);
    assert(!fired, "a dead clock's timers never fire");
  },
);

Deno.test(
  "determinism: same seed twice gives the same report and trace hash; another seed differs",
  opts,
  async () => {
    const a = await runSimulation({ seed: 11, durationMs: 20_000 });
    const b = await runSimulation({ seed: 11, durationMs: 20_000 });
    const c = await runSimulation({ seed: 12, durationMs: 20_000 });
    assertEquals(a.traceHash, b.traceHash);
    assertEquals(a.events, b.events);
    const strip = (r: typeof a) => ({ ...r, wallMs: 0, simPerWall: 0 });
    assertEquals(strip(a), strip(b));
    assertNotEquals(a.traceHash, c.traceHash);
    assert(
      a.acknowledged > 50 && a.finished > 50,
      `a run does work: ${a.acknowledged} acked, ${a.finished} finished`,
    );
  },
);

Deno.test("invariants hold over 100 seeds (3 nodes, 20 s, every fault kind)", opts, async () => {
  const failures: string[] = [];
  let finished = 0, faults = 0, ticks = 0;
  const t0 = performance.now();
  for (let seed = 1; seed <= 100; seed++) {
    const r = await runSimulation({ seed, nodes: 3, durationMs: 20_000 });
    finished += r.finished;
    faults += Object.values(r.faultsInjected).reduce((x, y) => x + y, 0);
    ticks += (r.scheduleStats?.started ?? 0) + (r.scheduleStats?.skipped ?? 0);
    if (r.ok && r.scheduleStats === null) failures.push(`seed ${seed}: the schedules were not checked`);
    for (const v of r.violations) {
      failures.push(
        `seed ${seed}: [${v.invariant}] ${v.message}\n  ${
          replayCommand({ ...r, seed, faults: r.faultsAllowed as never, rate: 5 })
        }`,
      );
    }
  }
  console.log(
    `100 seeds in ${
      Math.round(performance.now() - t0)
    } ms: ${finished} executions finished, ${ticks} schedule ticks recorded, ${faults} faults`,
  );
  assertEquals(failures, []);
});

Deno.test(
  "schedules: clock skew (with crashes and partitions) causes no double fire over 20 seeds",
  opts,
  async () => {
    const failures: string[] = [];
    let skews = 0, started = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const r = await runSimulation({
        seed,
        nodes: 3,
        durationMs: 20_000,
        faults: ["skew", "crash", "partition"],
      });
      skews += r.faultsInjected.skew ?? 0;
      started += r.scheduleStats?.started ?? 0;
      for (const v of r.violations) failures.push(`seed ${seed}: [${v.invariant}] ${v.message}`);
    }
    assertEquals(failures, []);
    assert(skews >= 10 && started > 500, `skews injected: ${skews}; ticks started: ${started}`);
  },
);

Deno.test(
  "self-test: a planted double fire (runs started apart from their fires) is caught by invariant 6",
  opts,
  async () => {
    const o = { nodes: 3, durationMs: 20_000, faults: ["storage" as const] };
    let caught: number | null = null;
    for (let seed = 1; seed <= 20 && caught === null; seed++) {
      const r = await runSimulation({ ...o, seed, unsafeFireApart: true });
      if (r.violations.some((v) => v.invariant.startsWith("6"))) caught = seed;
    }
    assert(caught !== null, "no double fire caught in 20 seeds");
    const clean = await runSimulation({ ...o, seed: caught });
    assertEquals(clean.violations, [], `seed ${caught} without the planted bug`);
    assert((clean.scheduleStats?.started ?? 0) > 0);
  },
);

Deno.test(
  "steering: sub-workflows, pauses and retries under crashes, partitions and loss keep invariants 9–12",
  opts,
  async () => {
    const failures: string[] = [];
    const sum = {
      children: 0,
      childrenCancelled: 0,
      collected: 0,
      paused: 0,
      resumed: 0,
      reopened: 0,
      crashes: 0,
    };
    for (let seed = 1; seed <= 10; seed++) {
      const r = await runSimulation({
        seed,
        nodes: 3,
        durationMs: 20_000,
        faults: ["crash", "partition", "loss", "pause"],
      });
      for (
        const k of ["children", "childrenCancelled", "collected", "paused", "resumed", "reopened"] as const
      ) {
        sum[k] += r.steeringStats[k];
      }
      sum.crashes += r.faultsInjected.crash ?? 0;
      for (const v of r.violations) failures.push(`seed ${seed}: [${v.invariant}] ${v.message}`);
    }
    assertEquals(failures, []);
    assert(
      sum.children > 500 && sum.childrenCancelled > 50 && sum.collected > 200 && sum.paused > 50 &&
        sum.resumed > 50 && sum.reopened > 0 && sum.crashes > 3,
      `the run steers: ${JSON.stringify(sum)}`,
    );
  },
);

Deno.test(
  "self-test: a planted relaunch under a fresh child id is caught by invariant 9",
  opts,
  async () => {
    const o = { nodes: 3, durationMs: 20_000, faults: ["storage" as const] };
    let caught: number | null = null;
    for (let seed = 1; seed <= 10 && caught === null; seed++) {
      const r = await runSimulation({ ...o, seed, unsafeChildIds: true });
      if (r.violations.some((v) => v.invariant.startsWith("9"))) caught = seed;
    }
    assert(caught !== null, "no child started twice in 10 seeds");
    const clean = await runSimulation({ ...o, seed: caught });
    assertEquals(clean.violations.filter((v) => v.invariant.startsWith("9")), [], `seed ${caught} unplanted`);
    assert(clean.steeringStats.children > 0);
  },
);

Deno.test(
  "messaging: consumers racing crashes, leaves, partitions and storage faults keep invariant 13",
  opts,
  async () => {
    const failures: string[] = [];
    const sum = { acked: 0, released: 0, closed: 0, redelivered: 0, acksChecked: 0, crashes: 0 };
    for (let seed = 1; seed <= 20; seed++) {
      const r = await runSimulation({
        seed,
        nodes: 3,
        durationMs: 30_000,
        faults: ["crash", "leave", "partition", "storage"],
        rate: 10,
        schedules: false,
        steering: false,
      });
      for (const k of ["acked", "released", "closed", "redelivered", "acksChecked"] as const) {
        sum[k] += r.messagingStats[k];
      }
      sum.crashes += r.faultsInjected.crash ?? 0;
      for (const v of r.violations) failures.push(`seed ${seed}: [${v.invariant}] ${v.message}`);
    }
    assertEquals(failures, []);
    // Releases are heavy-tailed over seeds (a few with a thin queue give most): these 20 gave 128 when cluster
    // events were per shard, 33 since they are per round (the storage calls, so the random streams, changed);
    // over seeds 21..120 the two gave 552 and 511.
    assert(
      sum.acked > 1000 && sum.acksChecked > 300 && sum.released > 25 && sum.closed > 0 &&
        sum.redelivered > 20 && sum.crashes > 5,
      `the consumers race the faults: ${JSON.stringify(sum)}`,
    );
  },
);

Deno.test(
  "self-test: a planted early ack (at consume time, before the commit) is caught by invariant 13a",
  opts,
  async () => {
    const o = { nodes: 3, durationMs: 20_000, faults: ["crash" as const] };
    let caught: number | null = null;
    for (let seed = 1; seed <= 5 && caught === null; seed++) {
      const r = await runSimulation({ ...o, seed, unsafeEarlyAck: true });
      if (r.violations.some((v) => v.invariant.startsWith("13a"))) caught = seed;
    }
    assert(caught !== null, "no early ack caught in 5 seeds");
    const clean = await runSimulation({ ...o, seed: caught });
    assertEquals(clean.violations, [], `seed ${caught} without the planted bug`);
    assert(clean.messagingStats.acked > 0);
  },
);

Deno.test(
  "self-test: with fencing disabled in storage the simulator catches a violation within 50 seeds",
  opts,
  async () => {
    let caught: number | null = null;
    for (let seed = 1; seed <= 50 && caught === null; seed++) {
      const r = await runSimulation({ seed, nodes: 3, durationMs: 20_000, unsafeDisableFencing: true });
      if (r.violations.some((v) => !v.known && v.invariant.startsWith("2"))) caught = seed;
    }
    assert(caught !== null, "no fencing violation caught in 50 seeds");
  },
);

Deno.test("shrink: keeps a failing run failing while making it smaller", opts, async () => {
  const { DEFAULT_RUN } = await import("./run.ts");
  let seed = 1;
  while (seed < 50 && (await runSimulation({ seed, durationMs: 20_000, unsafeDisableFencing: true })).ok) {
    seed++;
  }
  const s = await shrink({ ...DEFAULT_RUN, seed, durationMs: 20_000, unsafeDisableFencing: true }, {
    any: true,
    maxRuns: 8,
  });
  assert(!s.report.ok);
  assert(s.options.durationMs <= 20_000 && s.options.nodes <= 3);
});

Deno.test("cli: prints the report fields", opts, async () => {
  const out: string[] = [];
  const code = await main([
    "--seed",
    "3",
    "--nodes",
    "3",
    "--duration",
    "10s",
    "--faults",
    "crash,partition,loss",
  ], (s) => out.push(s));
  const text = out.join("\n");
  for (
    const field of [
      "seed:",
      "executions:",
      "throughput:",
      "latency:",
      "failover detect:",
      "failover takeover:",
      "first progress:",
      "faults injected:",
      "messaging:",
      "simulated/wall:",
      "trace hash:",
    ]
  ) assert(text.includes(field), `missing ${field} in\n${text}`);
  assert(code === 0 || code === 1);
  const json: string[] = [];
  await main(["--seed", "3", "--duration", "10s", "--json"], (s) => json.push(s));
  assertEquals(JSON.parse(json[0]).seed, 3);
  assertEquals(await main(["--bogus"], () => {}), 2);
});
