/**
 * The README's curl walk-through, run as written (against a real node on a free
 * port instead of 8080) with bash and curl, its schedule step included.
 */
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { startNode } from "./start.ts";
import { readmeWalkthrough } from "../testing/readme.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Step 5: the schedule was created with its first tick at its creation, fired it (a run of the workflow,
 * `<scheduleId>@<tick>`, triggered by the schedule), and was deleted.
 */
async function checkScheduleStep(url: string, parsed: Json[], stdout: string): Promise<void> {
  const created = parsed.find((p) => p.message === "schedule created");
  assert(created, stdout);
  const { scheduleId, schedule } = created;
  assertStrictEquals(schedule.workflowId, "big-numbers");
  assertStrictEquals(schedule.nextTickAt, schedule.createdAt, "a fixed rate's first tick is its creation");
  const detail = parsed.find((p) => p.scheduleId === scheduleId && Array.isArray(p.recentFires));
  assert(detail, stdout);
  const first = detail.recentFires.at(-1);
  assertStrictEquals(first.tickAt, schedule.createdAt, stdout);
  assertStrictEquals(first.outcome, "started", stdout);
  assertStrictEquals(first.executionId, `${scheduleId}@${first.tickAt}`, stdout);
  assert(detail.nextFireTimes.every((t: number) => (t - schedule.createdAt) % 5_000 === 0), stdout);
  assert(parsed.some((p) => p.message === "schedule deleted" && p.scheduleId === scheduleId), stdout);
  const gone = await fetch(`${url}/api/v1/schedules/${scheduleId}`);
  assertStrictEquals(gone.status, 404, await gone.text());
  const run = await fetch(`${url}/api/v1/executions/${encodeURIComponent(first.executionId)}`);
  const view = await run.json();
  assertStrictEquals(run.status, 200, JSON.stringify(view));
  assertEquals(view.trigger, { kind: "schedule", scheduleId, tickAt: first.tickAt });
}

Deno.test({
  name: "README: the curl walk-through works as written",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const node = await startNode({ port: 0, logLevel: "error", storage: "memory" });
    try {
      const script = readmeWalkthrough(await Deno.readTextFile(new URL("../README.md", import.meta.url)))
        .replaceAll("127.0.0.1:8080", `127.0.0.1:${node.port}`)
        .replaceAll(/^curl /gm, "echo; curl ");
      // The schedule step polls until its first fire: bounded here, so a schedule that never fires fails.
      const out = await new Deno.Command("bash", {
        args: ["-euo", "pipefail", "-c", script],
        signal: AbortSignal.timeout(60_000),
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assertStrictEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const lines = stdout.split("\n").filter((l) => l.startsWith("{"));
      const parsed = lines.map((l) => JSON.parse(l));
      assertStrictEquals(parsed[0].workflowId, "big-numbers");
      assertStrictEquals(parsed[1].status, "completed");
      assert(parsed.some((p) => JSON.stringify(p.records) === "[192,194,196,198,200]"), stdout);
      assert(parsed.some((p) => p.state === "completed" && p.executionCount === 1), stdout);
      await checkScheduleStep(node.url, parsed, stdout);
      // Step 6: the rerun reopened step 2's execution; double ran a second attempt, numbers did not.
      const rerun = parsed.find((p) => p.reopened === 1);
      assert(rerun, stdout);
      assertStrictEquals(rerun.executionId, parsed[1].executionId, stdout);
      const attempts = Object.fromEntries(rerun.nodes.map((n: Json) => [n.nodeId, n.attempts]));
      assertEquals([attempts.numbers, attempts.double], [1, 2], stdout);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "README: the call with a token works as written against a node with the README's tokens",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
    const tokens = [...readme.matchAll(/--api-token (viewer|operator|admin):(\S+)/g)].map((m) => ({
      role: m[1] as "viewer" | "operator" | "admin",
      token: m[2],
    }));
    assert(tokens.length >= 1, "the README starts a node with tokens");
    const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1])
      .find((b) => b.includes("Authorization: Bearer"));
    assert(block, "the README shows a call with a token");
    const node = await startNode({ port: 0, logLevel: "error", storage: "memory", apiTokens: tokens });
    try {
      const script = block.replaceAll("127.0.0.1:8090", `127.0.0.1:${node.port}`).replaceAll(
        /^curl /gm,
        "echo; curl ",
      );
      const out = await new Deno.Command("bash", { args: ["-euo", "pipefail", "-c", script] }).output();
      assertStrictEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const parsed = new TextDecoder().decode(out.stdout).split("\n").filter((l) => /^[{[]/.test(l))
        .map((l) => JSON.parse(l));
      assertStrictEquals(parsed[0].error.code, "unauthenticated");
      assertStrictEquals(JSON.stringify(parsed[1]), "[]");
    } finally {
      await node.close();
    }
  },
});
