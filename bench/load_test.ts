/**
 * `bench:load` end to end, as a real process (`deno run -A bench/load.ts`, which starts real nodes): its JSON
 * report has the figures it promises, on memory storage and on PostgreSQL with the ceiling of the same run.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { pgTest } from "../testing/pg.ts";

/** The parts of the report the tests read. */
interface Report {
  storage: string;
  workload: string;
  mode: string;
  concurrency: number;
  completed: number;
  failed: number;
  executionsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  cpuMsPerExecution: { server: number; generator: number; postgresBackends: number | null };
  memory: { serverRssMiB: { after: number }; serverPeakRssMiB: number };
  postgres?: {
    commitsPerExecution: number;
    executionRowsPerExecution: number;
    eventRowsPerExecution: number;
    outputRowsPerExecution: number;
  };
  ceiling?: { kind: string; concurrency: number; pool: number; executionsPerSecond: number };
  fractionOfCeiling?: number;
}

/** Runs the harness with `args` (a short run), and returns the report it wrote to `--json <file>`. */
async function runHarness(args: string[]): Promise<Report> {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-load-test-" });
  try {
    const file = `${dir}/report.json`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "bench/load.ts", ...args, "--json", file],
      cwd: new URL("..", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert(out.success, stderr);
    const printed = JSON.parse(new TextDecoder().decode(out.stdout));
    const written = JSON.parse(await Deno.readTextFile(file));
    assertEquals(printed, written);
    assert(stderr.includes(`report written to ${file}`), stderr);
    return written;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A short closed-loop run. */
const SHORT = ["--duration", "1s", "--warmup", "200ms", "--concurrency", "8"];

/** The figures every closed-loop report has. */
function assertEngineFigures(r: Report): void {
  assert(r.completed > 0 && r.executionsPerSecond > 0 && r.failed === 0, JSON.stringify(r));
  const l = r.latencyMs;
  assert(l.p50 > 0 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
  assert(r.cpuMsPerExecution.server > 0 && r.cpuMsPerExecution.generator > 0, JSON.stringify(r));
  assert(r.memory.serverRssMiB.after > 0 && r.memory.serverPeakRssMiB >= r.memory.serverRssMiB.after);
}

Deno.test({
  name: "bench:load on memory storage reports throughput, latency, CPU and memory per execution",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = await runHarness(["--start", "memory", ...SHORT]);
    assertEquals([r.storage, r.workload, r.mode, r.concurrency], ["memory", "standard", "closed", 8]);
    assertEngineFigures(r);
    assertEquals([r.postgres, r.ceiling, r.cpuMsPerExecution.postgresBackends], [undefined, undefined, null]);
  },
});

pgTest("bench:load on PostgreSQL reports rows per execution and the ceiling of the same run", async () => {
  const r = await runHarness(["--start", "postgres", ...SHORT]);
  assertEngineFigures(r);
  const pg = r.postgres!;
  assert(pg.commitsPerExecution > 0, JSON.stringify(pg));
  assertEquals([pg.executionRowsPerExecution, pg.eventRowsPerExecution, pg.outputRowsPerExecution], [
    1,
    1,
    5,
  ]);
  assert(r.cpuMsPerExecution.postgresBackends! > 0, JSON.stringify(r.cpuMsPerExecution));
  const ceiling = r.ceiling!;
  assertEquals([ceiling.kind, ceiling.concurrency, ceiling.pool], ["ceiling", 8, 2]);
  assert(ceiling.executionsPerSecond > 0);
  assertEquals(r.fractionOfCeiling, +(r.executionsPerSecond / ceiling.executionsPerSecond).toFixed(3));
});
