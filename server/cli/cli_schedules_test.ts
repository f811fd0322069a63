/**
 * `deno task cli` against a real node (in process, memory storage), run as a real process: the cluster and
 * schedule commands, and a node with API tokens (`--token`, `ENGINE_TOKEN`), each in human and `--json`
 * output, with their exit codes.
 */
import { assert, assertEquals, assertMatch, assertStrictEquals } from "../../testing/assert.ts";
import { cli } from "../../testing/cli.ts";
import {
  createWorkflow,
  n,
  startTestNode,
  through,
  waitForExecution,
  withNode,
} from "../../testing/server.ts";
import { EXIT } from "./errors.ts";

const NUMBERS = through("numbers", [1, 2, 3], n("double", "transform/map", { expression: "value * 2" }));

Deno.test("cli: cluster status and shards", async () => {
  await withNode(async (node) => {
    const url = node.url;
    const status = await cli(["cluster", "status"], { url });
    assertStrictEquals(status.code, EXIT.ok, status.stderr);
    const lines = status.stdout.trimEnd().split("\n");
    assertMatch(
      lines[0],
      /^cluster flowmesh: 1 member\(s\) up, leader (\S+), 128\/128 shards owned, 0 running/,
    );
    assertMatch(lines[2], /^MEMBER +STATUS +ROLES +ADDRESS +HTTP +SHARDS +RUNNING +HEARTBEAT$/);
    assertMatch(lines[3], /^\S+ \(leader\) \* +up +\S+ +\S+ +\S+ +128 +0 +/);
    const statusJson = await cli(["cluster", "status", "--json"], { url });
    assertEquals([statusJson.json().nodeCount, statusJson.json().sharding.totalShards], [1, 128]);

    const shards = await cli(["cluster", "shards"], { url });
    assertStrictEquals(shards.code, EXIT.ok, shards.stderr);
    const shardLines = shards.stdout.trimEnd().split("\n");
    assertMatch(shardLines[0], /^128\/128 shards owned: \S+ 128$/);
    assertMatch(shardLines[2], /^SHARD +OWNER +EPOCH +RUNNING$/);
    assertStrictEquals(shardLines.length, 3 + 128);
    const shardsJson = await cli(["cluster", "shards", "--json"], { url });
    assertStrictEquals(shardsJson.json().shards.length, 128);
  });
});

Deno.test("cli: schedules create, list, get, pause, resume, trigger, update, stop, delete, templates", async () => {
  await withNode(async (node) => {
    const url = node.url;
    await createWorkflow(node, NUMBERS);
    const body = { id: "numbers-hourly", workflowId: "numbers", scheduleType: "fixed_rate", interval: "1h" };
    const created = await cli(["schedules", "create", "-f", JSON.stringify(body)], { url });
    assertStrictEquals(created.code, EXIT.ok, created.stderr);
    assertMatch(
      created.stdout,
      /^schedule created: numbers-hourly \(numbers, every 1h, active, next (just now|in .*)\)\n$/,
    );
    const dir = await Deno.makeTempDir({ prefix: "flowmesh-cli-" });
    try {
      await Deno.writeTextFile(
        `${dir}/cron.json`,
        JSON.stringify({
          id: "numbers-nightly",
          workflowId: "numbers",
          kind: "cron",
          cronExpression: "0 2 * * *",
        }),
      );
      const fromFile = await cli(["schedules", "create", "-f", `${dir}/cron.json`, "--json"], { url });
      assertStrictEquals(fromFile.code, EXIT.ok, fromFile.stderr);
      assertStrictEquals(fromFile.json().schedule.kind, "cron");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }

    const list = await cli(["schedules", "list"], { url });
    assertStrictEquals(list.code, EXIT.ok, list.stderr);
    const rows = list.stdout.trimEnd().split("\n");
    assertMatch(rows[0], /^SCHEDULE +WORKFLOW +WHEN +STATUS +NEXT +RUNS +LAST RUN$/);
    assertMatch(rows[1], /^numbers-hourly +numbers +every 1h +active +/);
    assertMatch(rows[2], /^numbers-nightly +numbers +cron 0 2 \* \* \* \(UTC\) +active +in /);
    const listJson = await cli(["schedules", "list", "--workflow", "numbers", "--json"], { url });
    assertEquals(listJson.json().map((s: { scheduleId: string }) => s.scheduleId), [
      "numbers-hourly",
      "numbers-nightly",
    ]);

    // A fixed rate's first tick is at its creation: one run, seen by get.
    const hourly = listJson.json()[0];
    await waitForExecution(node, `numbers-hourly@${hourly.createdAt}`, (v) => v.status === "completed");
    const get = await cli(["schedules", "get", "numbers-hourly"], { url });
    assertStrictEquals(get.code, EXIT.ok, get.stderr);
    assertMatch(get.stdout, /^schedule +numbers-hourly\nworkflow +numbers\nwhen +every 1h\nstatus +active\n/);
    assertMatch(
      get.stdout,
      /\nTICK +FIRED +OUTCOME +REASON +EXECUTION\n\S+ +(just now|\d+s ago) +started +on_time +numbers-hourly@\d+\n/,
    );

    // Only an id as tables shorten it is looked up: a prefix that is not one is the API's 404, never another
    // schedule (a second `delete nightly` must not delete `nightly-report`).
    const prefix = await cli(["schedules", "pause", "numbers-ho"], { url });
    assertStrictEquals(prefix.code, EXIT.refused, prefix.stderr);
    assertMatch(prefix.stderr + prefix.stdout, /schedule_not_found/);
    const paused = await cli(["schedules", "pause", "numbers-hourly"], { url });
    assertStrictEquals(paused.code, EXIT.ok, paused.stderr);
    assertMatch(paused.stdout, /^schedule paused: numbers-hourly \(numbers, every 1h, paused, /);
    const resumed = await cli(["schedules", "resume", "numbers-hourly", "--json"], { url });
    assertEquals([resumed.json().message, resumed.json().status], ["schedule resumed", "active"]);

    const triggered = await cli(["schedules", "trigger", "numbers-hourly", "--input", '{"batch": "now"}'], {
      url,
    });
    assertStrictEquals(triggered.code, EXIT.ok, triggered.stderr);
    const executionId = /started execution (\S+)\n$/.exec(triggered.stdout)?.[1];
    assert(executionId, triggered.stdout);
    const run = await cli(["executions", "get", executionId, "--wait", "--json"], { url });
    assertStrictEquals(run.code, EXIT.ok, run.stderr);
    assertEquals(run.json().trigger.scheduleId, "numbers-hourly");

    const updated = await cli(["schedules", "update", "numbers-hourly", "-f", '{"interval": "2h"}'], { url });
    assertStrictEquals(updated.code, EXIT.ok, updated.stderr);
    assertMatch(updated.stdout, /^schedule updated: numbers-hourly \(numbers, every 2h, active, /);
    const badCron = await cli([
      "schedules",
      "update",
      "numbers-nightly",
      "-f",
      '{"cronExpression": "0 25 * * *"}',
    ], {
      url,
    });
    assertStrictEquals(badCron.code, EXIT.refused);
    assertMatch(badCron.stderr, /\n {2}at \$\.cronExpression \[cron_invalid\]: /);

    const stopped = await cli(["schedules", "stop", "numbers-hourly"], { url });
    assertStrictEquals(stopped.code, EXIT.ok, stopped.stderr);
    const terminal = await cli(["schedules", "resume", "numbers-hourly"], { url });
    assertStrictEquals(terminal.code, EXIT.refused);
    assertMatch(terminal.stderr, /^error: schedule_terminal \(409\)/);
    for (const id of ["numbers-hourly", "numbers-nightly"]) {
      const deleted = await cli(["schedules", "delete", id], { url });
      assertEquals([deleted.code, deleted.stdout], [EXIT.ok, `schedule deleted: ${id}\n`]);
    }
    const gone = await cli(["schedules", "get", "numbers-hourly", "--json"], { url });
    assertStrictEquals(gone.code, EXIT.refused);
    assertStrictEquals(gone.json().error.code, "schedule_not_found");

    const templates = await cli(["schedules", "templates", "--json"], { url });
    assert(templates.json().some((t: { name: string }) => t.name === "hourly"), templates.stdout);
  });
});

Deno.test("cli: a node with API tokens: --token and ENGINE_TOKEN, roles, never printed", async () => {
  const ADMIN = "admin-token-for-the-cli-test-0123456789";
  const VIEWER = "viewer-token-for-the-cli-test-0123456789";
  const node = await startTestNode({}, {
    apiTokens: [{ role: "admin", token: ADMIN }, { role: "viewer", token: VIEWER }],
  });
  try {
    const url = node.url;
    const none = await cli(["workflows", "list"], { url });
    assertStrictEquals(none.code, EXIT.refused);
    assertMatch(
      none.stderr,
      /^error: unauthenticated \(401\): [^\n]+\n( {2}at [^\n]+\n)*hint: this node needs an API token: --token, or ENGINE_TOKEN\n$/,
    );

    const created = await cli(["workflows", "create", "-f", JSON.stringify(NUMBERS), "--token", ADMIN], {
      url,
    });
    assertStrictEquals(created.code, EXIT.ok, created.stderr);
    const listed = await cli(["workflows", "list", "--json"], { url, token: VIEWER });
    assertStrictEquals(listed.code, EXIT.ok, listed.stderr);
    assertEquals(listed.json().map((w: { id: string }) => w.id), ["numbers"]);

    const forbidden = await cli(["run", "numbers", "--json"], { url, token: VIEWER });
    assertStrictEquals(forbidden.code, EXIT.refused);
    assertStrictEquals(forbidden.json().error.code, "forbidden");
    const wrong = await cli(["workflows", "list", "--token", `${VIEWER}-not`], { url });
    assertStrictEquals(wrong.code, EXIT.refused);
    assertMatch(wrong.stderr, /^error: unauthenticated \(401\)/);
    const ran = await cli(["run", "numbers"], { url, token: ADMIN });
    assertStrictEquals(ran.code, EXIT.ok, ran.stderr);
    // --token wins over ENGINE_TOKEN.
    const wins = await cli(["run", "numbers", "--token", VIEWER], { url, token: ADMIN });
    assertStrictEquals(wins.code, EXIT.refused);

    for (const r of [none, created, listed, forbidden, wrong, ran, wins]) {
      for (const token of [ADMIN, VIEWER]) {
        assert(
          !r.stdout.includes(token) && !r.stderr.includes(token),
          `a token was printed:\n${r.stdout}${r.stderr}`,
        );
      }
    }
  } finally {
    await node.close();
  }
});
