/**
 * Helpers of the backup-and-restore tests (`storage/backup_restore_pg_test.ts`,
 * `storage/backup_restore_sqlite_test.ts`): the commands of docs/DEPLOYMENT.md's "Backup and restore" section
 * (the tests run exactly those lines), a shell to run them in, the client tools they need (missing: a warning
 * locally, a failure under CI=true), and the live executions a backup is taken under — delays, executions
 * waiting for a signal, and a steady load of short ones — with the checks that they all finish on the
 * restored store. Imported only by tests.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { checkDelayChainExecution, delayChain } from "./delay_chain.ts";
import type { HttpTarget } from "./http.ts";
import { call, pool, waitEnded } from "./process.ts";

const ROOT = new URL("..", import.meta.url);
const SECTION = "## Backup and restore";

/** The shell lines of the code blocks of docs/DEPLOYMENT.md's "Backup and restore" section (no comments). */
export async function backupDocCommands(): Promise<string[]> {
  const doc = await Deno.readTextFile(new URL("docs/DEPLOYMENT.md", ROOT));
  const start = doc.indexOf(`\n${SECTION}\n`);
  assert(start >= 0, `docs/DEPLOYMENT.md has no "${SECTION}" section`);
  const next = doc.indexOf("\n## ", start + SECTION.length + 1);
  const lines = doc.slice(start, next < 0 ? undefined : next).split("\n");
  const commands: string[] = [];
  let inCode = false;
  for (const line of lines) {
    if (line.startsWith("```")) inCode = !inCode && line.trim() === "```sh";
    else if (inCode && line.trim() !== "" && !line.trimStart().startsWith("#")) commands.push(line.trim());
  }
  return commands;
}

/** The one command of the section that starts with `prefix`. */
export async function backupDocCommand(prefix: string): Promise<string> {
  const found = (await backupDocCommands()).filter((c) => c.startsWith(prefix));
  assertEquals(
    found.length,
    1,
    `one command starting with ${JSON.stringify(prefix)}: ${JSON.stringify(found)}`,
  );
  return found[0];
}

/** What a shell command did. */
export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one line with `sh -c` in the repository's root, with `vars` added to this process's environment and
 * Deno's directory first on PATH (for `deno task`); asserts it exited 0 unless `allowFailure`.
 */
export async function runShell(
  line: string,
  vars: Record<string, string>,
  allowFailure = false,
): Promise<ShellResult> {
  const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", line],
    cwd: ROOT,
    env: { ...vars, NO_COLOR: "1", PATH: `${denoDir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}` },
    stdin: "null",
  }).output();
  const result = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (!allowFailure) {
    assertEquals(result.code, 0, `${line}\nexit ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

/** Whether `name` is an executable on PATH. */
export async function onPath(name: string): Promise<boolean> {
  const r = await new Deno.Command("/bin/sh", {
    args: ["-c", `command -v ${name}`],
    stdout: "null",
    stderr: "null",
  })
    .output();
  return r.success;
}

/**
 * Whether every tool is installed. A missing one fails under CI=true (never a silent skip); locally the
 * caller skips, with a warning line.
 */
export async function requireTools(names: readonly string[]): Promise<boolean> {
  const missing = [];
  for (const name of names) if (!await onPath(name)) missing.push(name);
  if (missing.length === 0) return true;
  const what = `${missing.join(", ")} not installed (Debian: apt-get install postgresql-client)`;
  if (Deno.env.get("CI") === "true") throw new Error(`${what} (CI=true: this must not skip)`);
  console.warn(`skipped locally: ${what}`);
  return false;
}

// ---- the executions a backup is taken under

/** How long the live executions' delay lasts (ms). */
export const LIVE_DELAY_MS = 3_000;
const DELAYED = "wf-backup-delay";
const WAITING = "wf-backup-signal";
const QUICK = "wf-backup-quick";
const SIGNAL = "go";

/** src(1..3) → signal.wait("go") → value * 10 → collect: its records are the signal's payload, times 10. */
const WAITING_WORKFLOW = {
  id: WAITING,
  name: "backup: waits for a signal",
  nodes: [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
    { id: "wait", type: "control", nodeType: "signal.wait", config: { name: SIGNAL } },
    { id: "times", type: "transform", nodeType: "map", config: { expression: "value * 10" } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [
    { source: "src", target: "wait" },
    { source: "wait", target: "times" },
    { source: "times", target: "out" },
  ],
};

/** src(1..4) → value + 1 → collect [2, 3, 4, 5], all local: one append. */
const QUICK_WORKFLOW = {
  id: QUICK,
  name: "backup: quick",
  nodes: [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 4 } },
    { id: "inc", type: "transform", nodeType: "map", config: { expression: "value + 1" } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "src", target: "inc" }, { source: "inc", target: "out" }],
};

/** The executions started before a backup. */
export interface LiveExecutions {
  /** Delay chains (delayChain of testing/delay_chain.ts), mid-delay when started. */
  delayed: string[];
  /** Executions waiting for the signal, each with the payload it will be sent. */
  waiting: Map<string, number[]>;
  /** Executions that completed before the backup. */
  finished: string[];
}

/** POST .../execute without waiting; the execution id (asserts 202). */
async function start(target: HttpTarget, workflowId: string, key: string): Promise<string> {
  const r = await call(target, "POST", `/api/v1/workflows/${workflowId}/execute`, {
    json: {},
    headers: { "idempotency-key": key },
  });
  assertEquals(r.status, 202, r.text);
  return r.body.executionId;
}

/** Creates the workflows and starts `count` delay chains and `count` waiting executions, after 3 finished. */
export async function startLive(target: HttpTarget, count: number): Promise<LiveExecutions> {
  for (const def of [delayChain(DELAYED, "backup: delay", LIVE_DELAY_MS), WAITING_WORKFLOW, QUICK_WORKFLOW]) {
    const r = await call(target, "POST", "/api/v1/workflows", { json: def });
    assertEquals(r.status, 201, r.text);
  }
  const finished: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await call(target, "POST", `/api/v1/workflows/${QUICK}/execute?wait=5000`, { json: {} });
    assertEquals(r.body?.status, "completed", r.text);
    finished.push(r.body.executionId);
  }
  const keys = Array.from({ length: count }, (_, i) => i);
  const delayed: string[] = [];
  const waiting = new Map<string, number[]>();
  await pool(keys, 8, async (i) => {
    delayed.push(await start(target, DELAYED, `delay-${i}`));
    waiting.set(await start(target, WAITING, `signal-${i}`), [i, i + 1]);
  });
  return { delayed, waiting, finished };
}

/**
 * A steady load of short executions until `stop()`: `acked` holds every execution whose answer arrived, with
 * when (`performance.now()`), so a test knows which were acknowledged before its backup began.
 */
export function steadyLoad(target: HttpTarget): { acked: Map<string, number>; stop(): Promise<void> } {
  const acked = new Map<string, number>();
  let stopping = false;
  const loop = async () => {
    while (!stopping) {
      const r = await call(target, "POST", `/api/v1/workflows/${QUICK}/execute?wait=5000`, {
        json: {},
        timeoutMs: 5_000,
      }).catch(() => undefined);
      if (r?.status === 200 && r.body.status === "completed") {
        acked.set(r.body.executionId, performance.now());
      }
    }
  };
  const loops = Promise.all([loop(), loop()]);
  return {
    acked,
    stop: async () => {
      stopping = true;
      await loops;
    },
  };
}

/** The ids of `acked` answered before `at`. */
export function ackedBefore(acked: Map<string, number>, at: number): string[] {
  return [...acked].filter(([, when]) => when < at).map(([id]) => id);
}

/**
 * Checks the statuses read from a restored store before any node runs on it (execution id → status): every
 * execution of `live` and of `present` is there, the finished ones and `present` completed, the waiting ones
 * running (they cannot end without their signal). Returns how many of `live` were running in the backup.
 */
export function checkRestoredStatuses(
  statuses: ReadonlyMap<string, string>,
  live: LiveExecutions,
  present: readonly string[],
): number {
  for (const id of [...live.finished, ...present]) {
    assertEquals(statuses.get(id), "completed", `${id}, acknowledged before the backup, is in it`);
  }
  for (const id of live.waiting.keys()) {
    assertEquals(statuses.get(id), "running", `${id} waits in the backup`);
  }
  for (const id of live.delayed) {
    assert(["running", "completed"].includes(statuses.get(id) ?? ""), `${id} is in the backup`);
  }
  return [...live.delayed, ...live.waiting.keys()].filter((id) => statuses.get(id) === "running").length;
}

/**
 * On a node started on the restored store: every execution of `present` and `live.finished` is there,
 * completed; the waiting ones get their signal; every one of `live` completes with its records.
 */
export async function finishRestored(
  target: HttpTarget,
  live: LiveExecutions,
  present: readonly string[],
): Promise<void> {
  for (const id of [...live.finished, ...present]) {
    const r = await call(target, "GET", `/api/v1/executions/${id}`);
    assertEquals(r.status, 200, `${id} is in the restored store: ${r.text}`);
    assertEquals(r.body.status, "completed", r.text);
  }
  await pool([...live.waiting], 8, async ([id, payload]) => {
    const r = await call(target, "POST", `/api/v1/executions/${id}/signals/${SIGNAL}`, { json: { payload } });
    assertEquals(r.status, 200, `signal ${id}: ${r.text}`);
  });
  const deadline = Date.now() + 20_000;
  await pool(live.delayed, 8, async (id) => {
    const view = await waitEnded(target, id, deadline);
    assertEquals(view.status, "completed", JSON.stringify(view));
    await checkDelayChainExecution(target, id);
  });
  await pool([...live.waiting], 8, async ([id, payload]) => {
    const view = await waitEnded(target, id, deadline);
    assertEquals(view.status, "completed", JSON.stringify(view));
    const out = await call(target, "GET", `/api/v1/executions/${id}/nodes/out/output`);
    assertEquals(out.status, 200, out.text);
    assertEquals(out.body.records, payload.map((v) => v * 10), `the records of ${id}`);
  });
}

/** Every execution of `live`. */
export function allIds(live: LiveExecutions): string[] {
  return [...live.finished, ...live.delayed, ...live.waiting.keys()];
}

/** Asserts every shard's epoch in `after` is its epoch in `before` plus one (shard → epoch, all shards). */
export function assertEpochsBumped(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
): void {
  assert(before.size > 0, "the backup holds the shards");
  assertEquals([...after.keys()].sort((a, b) => a - b), [...before.keys()].sort((a, b) => a - b));
  for (const [shard, epoch] of before) assertEquals(after.get(shard), epoch + 1, `shard ${shard}'s epoch`);
}
