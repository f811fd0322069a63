/**
 * The schedule routes and a workflow's `metadata.schedule`, over real HTTP against a real node's engine,
 * storage and cluster member, with the API's side of the contract checked against a test double of the
 * scheduler (testing/schedule_service_fake.ts): shapes, validation codes and paths, roles, and that every
 * write goes through shard routing keyed by the schedule's shard.
 */
import { shardOf } from "../../core/ids.ts";
import { parseScheduleSpec } from "../../core/schedule_spec.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { type Reply, request } from "../../testing/http.ts";
import { FakeScheduleService } from "../../testing/schedule_service_fake.ts";
import {
  assertApiError,
  getJson,
  postJson,
  putJson,
  sampleWorkflow,
  startTestNode,
} from "../../testing/server.ts";
import type { RunningNode } from "../start.ts";
import { systemClock } from "../runtime/clock.ts";
import { cronCheck } from "../runtime/cron.ts";
import { WorkflowService } from "../runtime/workflows.ts";
import { createApi } from "./api.ts";
import { type ApiToken, Authenticator } from "./auth.ts";
import { type ForwardedRequest, ShardRouting } from "./routing.ts";

/** Shard routing that notes the shard of every routed call. */
class SpyRouting extends ShardRouting {
  readonly shards: number[] = [];
  override route(shard: number, req: ForwardedRequest, forwarded: boolean, local: () => Promise<Response>) {
    this.shards.push(shard);
    return super.route(shard, req, forwarded, local);
  }
}

/** An API on a real node, with the scheduler double (or none). */
interface Harness {
  url: string;
  node: RunningNode;
  fake: FakeScheduleService;
  routing: SpyRouting;
}

async function withApi(
  fn: (h: Harness) => Promise<void>,
  opts: { scheduler?: boolean; tokens?: ApiToken[] } = {},
): Promise<void> {
  const node = await startTestNode();
  const workflows = new WorkflowService(node.storage, () => Date.now());
  const fake = new FakeScheduleService(
    () => Date.now(),
    async (id) => (await workflows.get(id)) !== undefined,
  );
  const routing = new SpyRouting(node.engine, node.cluster, null, systemClock);
  const handler = createApi({
    engine: node.engine,
    workflows,
    schedules: opts.scheduler === false ? undefined : fake,
    storage: node.storage,
    log: node.log,
    cluster: node.cluster,
    routing,
    auth: opts.tokens && { authenticator: new Authenticator(opts.tokens), metricsPublic: false },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    await fn({ url: `http://127.0.0.1:${server.addr.port}`, node, fake, routing });
  } finally {
    await server.shutdown();
    await node.close();
  }
}

/** The [path, code] of each detail of a 400 `validation_failed`. */
function problemsOf(r: Reply): string[][] {
  assertApiError(r, 400, "validation_failed");
  return r.body.error.details.map((d: { path: string; code: string }) => [d.path, d.code]);
}

/** A workflow without a schedule. */
function plainWorkflow(id: string) {
  const w = sampleWorkflow(id, { scheduled: true }) as { metadata: Record<string, unknown> };
  return { ...w, metadata: { createdAt: "2024-11-15T10:00:00Z" } };
}

Deno.test("schedules: add (the old shape), read, list, templates", async () => {
  await withApi(async ({ url, fake, routing, node }) => {
    await postJson({ url }, "/api/v1/workflows", plainWorkflow("wf-s"));
    const added = await postJson({ url }, "/api/v1/schedules/add", {
      id: "sch-hourly",
      workflowId: "wf-s",
      scheduleType: "fixed_rate",
      interval: "1h",
      enabled: true,
      input: { region: "eu" },
    });
    assertEquals(added.status, 201, added.text);
    assertEquals(added.headers.get("location"), "/api/v1/schedules/sch-hourly");
    assertEquals([added.body.message, added.body.scheduleId], ["schedule created", "sch-hourly"]);
    const s = added.body.schedule;
    assertEquals([s.kind, s.scheduleType, s.interval, s.intervalMs, s.enabled, s.status], [
      "fixed_rate",
      "fixed_rate",
      "1h",
      3_600_000,
      true,
      "active",
    ]);
    assertEquals([s.source, s.overlap, s.catchUp, s.maxCatchUp, s.input], ["api", "allow", "run_once", 100, {
      region: "eu",
    }]);
    assertEquals(routing.shards, [shardOf("sch-hourly", node.engine.shardCount)], "created on the owner");
    const detail = await getJson({ url }, "/api/v1/schedules/sch-hourly");
    assertEquals(detail.status, 200, detail.text);
    assertEquals(detail.body.nextFireTimes.length, 5);
    assertEquals(detail.body.nextFireTimes[1] - detail.body.nextFireTimes[0], 3_600_000);
    assertEquals(detail.body.recentFires, []);
    const generated = await postJson({ url }, "/api/v1/schedules/add", {
      workflowId: "wf-s",
      kind: "cron",
      cronExpression: "0 2 * * *",
      timezone: "Europe/Berlin",
    });
    assertEquals(generated.status, 201, generated.text);
    assert(/^sch-[0-9a-f-]{36}$/.test(generated.body.scheduleId), generated.body.scheduleId);
    assertEquals(fake.schedules.size, 2);
    const list = await getJson({ url }, "/api/v1/schedules?limit=1");
    assertEquals([list.status, list.body.length], [200, 1]);
    assert(list.headers.get("x-next-cursor") !== null, "a next page");
    const mine = await getJson({ url }, "/api/v1/schedules?workflowId=wf-s");
    assertEquals(mine.body.length, 2);
    assertEquals((await getJson({ url }, "/api/v1/schedules?workflowId=other")).body, []);
    const templates = await getJson({ url }, "/api/v1/schedules/templates");
    assertEquals(templates.status, 200);
    assert(templates.body.length >= 5);
    for (const t of templates.body) {
      const r = parseScheduleSpec(t.schedule, "$", Date.now(), cronCheck);
      assert(r.ok, `template ${t.name} is valid: ${JSON.stringify(r)}`);
    }
  });
});

Deno.test("schedules: bad input is 400 validation_failed with each problem's path, never a 5xx", async () => {
  await withApi(async ({ url, fake }) => {
    await postJson({ url }, "/api/v1/workflows", plainWorkflow("wf-v"));
    const add = (body: unknown) => postJson({ url }, "/api/v1/schedules/add", body);
    const base = { workflowId: "wf-v" };
    assertEquals(problemsOf(await add({ ...base, scheduleType: "cron", cronExpression: "not a cron" })), [
      ["$.cronExpression", "cron_invalid"],
    ]);
    assertEquals(
      problemsOf(await add({ ...base, kind: "cron", cronExpression: "0 * * * *", timezone: "Mars/Olympus" })),
      [["$.timezone", "timezone_unknown"]],
    );
    assertEquals(problemsOf(await add({ ...base, kind: "fixed_rate", interval: "500ms" })), [
      ["$.interval", "interval_too_short"],
    ]);
    assertEquals(
      problemsOf(
        await add({ ...base, kind: "immediate", startAt: "2027-01-02T00:00:00Z", endAt: "2027-01-01" }),
      ),
      [["$.endAt", "end_before_start"]],
    );
    assertEquals(problemsOf(await add({ ...base, kind: "immediate", overlap: "queue" })), [
      ["$.overlap", "policy_unknown"],
    ]);
    assertEquals(problemsOf(await add({ kind: "immediate" })), [["$.workflowId", "schedule_invalid"]]);
    assertEquals(problemsOf(await add({ ...base, kind: "immediate", id: "wf:wf-v" })), [[
      "$.id",
      "id_format",
    ]]);
    assertEquals(problemsOf(await add({ ...base, kind: "immediate", id: "a b" })), [["$.id", "id_format"]]);
    assertEquals(problemsOf(await add({ ...base, kind: "immediate", id: "templates" })), [[
      "$.id",
      "id_format",
    ]]);
    assertEquals(problemsOf(await add([1, 2])), [["$", "schedule_invalid"]]);
    assertApiError(
      await request({ url }, "POST", "/api/v1/schedules/add", { raw: "{" }),
      400,
      "malformed_json",
    );
    const huge = await request({ url }, "POST", "/api/v1/schedules/add", {
      raw: "x".repeat(2 * 1024 * 1024),
    });
    assertApiError(huge, 413, "body_too_large");
    assertApiError(await add({ ...base, workflowId: "nope", kind: "immediate" }), 404, "workflow_not_found");
    assertEquals(fake.schedules.size, 0, "nothing made");
    assertApiError(await getJson({ url }, "/api/v1/schedules/sch-none"), 404, "schedule_not_found");
    const badId = await getJson({ url }, "/api/v1/schedules/a%20b");
    assertApiError(badId, 400, "invalid_parameter");
    assertEquals(badId.body.error.details[0].path, "path.scheduleId");
    assertApiError(await getJson({ url }, "/api/v1/schedules?limit=0"), 400, "invalid_parameter");
    assertApiError(await getJson({ url }, "/api/v1/schedules?workflowId=a%20b"), 400, "invalid_parameter");
    await add({ ...base, kind: "immediate", id: "sch-once" });
    assertApiError(await add({ ...base, kind: "immediate", id: "sch-once" }), 409, "schedule_exists");
  });
});

Deno.test("schedules: pause, resume, stop, patch, delete — each on the owner of the schedule's shard", async () => {
  await withApi(async ({ url, fake, routing, node }) => {
    await postJson({ url }, "/api/v1/workflows", plainWorkflow("wf-p"));
    await postJson({ url }, "/api/v1/schedules/add", {
      id: "sch-p",
      workflowId: "wf-p",
      kind: "fixed_rate",
      interval: "1m",
    });
    const paused = await postJson({ url }, "/api/v1/schedules/sch-p/pause");
    assertEquals([paused.status, paused.body.message, paused.body.status], [
      200,
      "schedule paused",
      "paused",
    ]);
    assertEquals(paused.body.schedule.enabled, false);
    const resumed = await postJson({ url }, "/api/v1/schedules/sch-p/resume");
    assertEquals([resumed.body.message, resumed.body.status], ["schedule resumed", "active"]);
    const patched = await request({ url }, "PATCH", "/api/v1/schedules/sch-p", {
      json: { interval: "5m", overlap: "skip", catchUp: "run_all", maxCatchUp: 3 },
    });
    assertEquals(patched.status, 200, patched.text);
    const p = patched.body.schedule;
    assertEquals([p.interval, p.overlap, p.catchUp, p.maxCatchUp, p.kind], [
      "5m",
      "skip",
      "run_all",
      3,
      "fixed_rate",
    ]);
    const badPatch = await request({ url }, "PATCH", "/api/v1/schedules/sch-p", {
      json: { interval: "1ms" },
    });
    assertEquals(problemsOf(badPatch), [["$.interval", "interval_too_short"]]);
    const otherWf = await request({ url }, "PATCH", "/api/v1/schedules/sch-p", { json: { workflowId: "x" } });
    assertEquals(problemsOf(otherWf), [["$.workflowId", "schedule_invalid"]]);
    const disable = await request({ url }, "PATCH", "/api/v1/schedules/sch-p", { json: { enabled: false } });
    assertEquals(disable.body.schedule.status, "paused");
    const stopped = await postJson({ url }, "/api/v1/schedules/sch-p/stop");
    assertEquals([stopped.body.message, stopped.body.status], ["schedule stopped", "stopped"]);
    assertApiError(await postJson({ url }, "/api/v1/schedules/sch-p/resume"), 409, "schedule_terminal");
    const deleted = await request({ url }, "DELETE", "/api/v1/schedules/sch-p");
    assertEquals([deleted.status, deleted.body], [200, { message: "schedule deleted", scheduleId: "sch-p" }]);
    assertApiError(await request({ url }, "DELETE", "/api/v1/schedules/sch-p"), 404, "schedule_not_found");
    assertApiError(await postJson({ url }, "/api/v1/schedules/sch-p/pause"), 404, "schedule_not_found");
    const shard = shardOf("sch-p", node.engine.shardCount);
    assert(routing.shards.length >= 10 && routing.shards.every((s) => s === shard), `${routing.shards}`);
    assert(fake.calls.includes("setStatus sch-p stopped"));
  });
});

Deno.test("schedules: trigger runs now (202 with the execution), reason manual; input bounded", async () => {
  await withApi(async ({ url, fake }) => {
    await postJson({ url }, "/api/v1/workflows", plainWorkflow("wf-t"));
    await postJson({ url }, "/api/v1/schedules/add", {
      id: "sch-t",
      workflowId: "wf-t",
      kind: "cron",
      cronExpression: "0 0 1 1 *",
    });
    const before = Date.now();
    const r = await postJson({ url }, "/api/v1/schedules/sch-t/trigger", { input: { n: 1 } });
    assertEquals(r.status, 202, r.text);
    assertEquals([r.body.message, r.body.scheduleId], ["schedule triggered", "sch-t"]);
    assert(r.body.tickAt >= before);
    assertEquals(r.body.executionId, `sch-t@m${r.body.tickAt}`, "a manual run has its own id");
    assertEquals(r.headers.get("location"), `/api/v1/executions/${encodeURIComponent(r.body.executionId)}`);
    assertEquals(fake.calls.at(-1), 'trigger sch-t {"n":1}');
    const empty = await request({ url }, "POST", "/api/v1/schedules/sch-t/trigger");
    assertEquals(empty.status, 202, "no body: the schedule's input");
    assertEquals(fake.calls.at(-1), "trigger sch-t");
    const detail = await getJson({ url }, "/api/v1/schedules/sch-t");
    assertEquals(detail.body.recentFires.length, 2);
    assertEquals([detail.body.recentFires[1].outcome, detail.body.recentFires[1].reason], [
      "started",
      "manual",
    ]);
    const huge = await postJson({ url }, "/api/v1/schedules/sch-t/trigger", { input: "x".repeat(70_000) });
    assertEquals(problemsOf(huge), [["$.input", "input_too_large"]]);
    assertApiError(await postJson({ url }, "/api/v1/schedules/sch-none/trigger"), 404, "schedule_not_found");
    fake.failWith = { code: "storage_unavailable", message: "storage is away" };
    const down = await postJson({ url }, "/api/v1/schedules/sch-t/trigger");
    assertApiError(down, 503, "storage_unavailable");
    assertEquals(down.headers.get("retry-after"), "1");
  });
});

Deno.test("schedules: roles — viewer reads, operator triggers, admin changes", async () => {
  const tokens: ApiToken[] = [
    { role: "viewer", token: "viewer-token-0123456789" },
    { role: "operator", token: "operator-token-0123456789" },
    { role: "admin", token: "admin-token-0123456789" },
  ];
  await withApi(async ({ url }) => {
    const as = (role: string) => ({ authorization: `Bearer ${role}-token-0123456789` });
    await postJson({ url }, "/api/v1/workflows", plainWorkflow("wf-r"), as("admin"));
    const add = { id: "sch-r", workflowId: "wf-r", kind: "fixed_rate", interval: "1h" };
    assertApiError(await postJson({ url }, "/api/v1/schedules/add", add, as("operator")), 403, "forbidden");
    assertEquals((await postJson({ url }, "/api/v1/schedules/add", add, as("admin"))).status, 201);
    assertEquals((await getJson({ url }, "/api/v1/schedules", as("viewer"))).status, 200);
    assertEquals((await getJson({ url }, "/api/v1/schedules/sch-r", as("viewer"))).status, 200);
    assertEquals((await getJson({ url }, "/api/v1/schedules/templates", as("viewer"))).status, 200);
    assertApiError(
      await postJson({ url }, "/api/v1/schedules/sch-r/trigger", {}, as("viewer")),
      403,
      "forbidden",
    );
    assertEquals(
      (await postJson({ url }, "/api/v1/schedules/sch-r/trigger", {}, as("operator"))).status,
      202,
    );
    for (const action of ["pause", "resume", "stop"]) {
      const r = await postJson({ url }, `/api/v1/schedules/sch-r/${action}`, {}, as("operator"));
      assertApiError(r, 403, "forbidden");
    }
    const patch = await request({ url }, "PATCH", "/api/v1/schedules/sch-r", {
      json: {},
      headers: as("operator"),
    });
    assertApiError(patch, 403, "forbidden");
    const del = await request({ url }, "DELETE", "/api/v1/schedules/sch-r", { headers: as("operator") });
    assertApiError(del, 403, "forbidden");
    assertEquals((await postJson({ url }, "/api/v1/schedules/sch-r/pause", {}, as("admin"))).status, 200);
    assertApiError(await getJson({ url }, "/api/v1/schedules"), 401, "unauthenticated");
  }, { tokens });
});

Deno.test("metadata.schedule: the old engine's JSON schedules itself as wf:<id>; update replaces, delete drops", async () => {
  await withApi(async ({ url, fake, routing, node }) => {
    const created = await postJson({ url }, "/api/v1/workflows", sampleWorkflow("wf-m", { scheduled: true }));
    assertEquals(created.status, 201, created.text);
    assert(
      /^scheduled: fixed_rate every 1h, next \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(
        created.body.scheduleStatus,
      ),
      created.body.scheduleStatus,
    );
    const s = fake.schedules.get("wf:wf-m")!;
    assertEquals([s.source, s.status, s.workflowId, s.spec.intervalMs], [
      "metadata",
      "active",
      "wf-m",
      3_600_000,
    ]);
    assertEquals(routing.shards, [shardOf("wf:wf-m", node.engine.shardCount)], "put on the schedule's owner");
    const again = await postJson({ url }, "/api/v1/workflows", sampleWorkflow("wf-m", { scheduled: true }));
    assertEquals([again.status, again.body.scheduleStatus], [200, created.body.scheduleStatus]);
    assertEquals(fake.schedules.get("wf:wf-m")!.version, 1, "the same schedule again changes nothing");
    // A metadata schedule is changed through its workflow.
    const patch = await request({ url }, "PATCH", "/api/v1/schedules/wf:wf-m", { json: { interval: "5m" } });
    assertApiError(patch, 409, "schedule_from_metadata");
    assertApiError(
      await request({ url }, "DELETE", "/api/v1/schedules/wf:wf-m"),
      409,
      "schedule_from_metadata",
    );
    assertEquals((await postJson({ url }, "/api/v1/schedules/wf:wf-m/pause")).status, 200, "pausing is fine");
    // The same workflow sent again leaves its schedule as it is: still paused, nothing put.
    const puts = fake.calls.filter((c) => c === "put wf:wf-m").length;
    const resent = await postJson({ url }, "/api/v1/workflows", sampleWorkflow("wf-m", { scheduled: true }));
    assertEquals([resent.status, resent.body.scheduleStatus], [200, "disabled"]);
    const reput = await putJson(
      { url },
      "/api/v1/workflows/wf-m",
      sampleWorkflow("wf-m", { scheduled: true }),
    );
    assertEquals([reput.body.message, reput.body.scheduleStatus], ["workflow unchanged", "disabled"]);
    assertEquals(
      fake.calls.filter((c) => c === "put wf:wf-m").length,
      puts,
      "no put for an unchanged workflow",
    );
    assertEquals(fake.schedules.get("wf:wf-m")!.status, "paused");
    // Update: a cron in Berlin replaces it; enabled false pauses it.
    const cron = { ...sampleWorkflow("wf-m", { scheduled: true }), description: "v2" } as Record<
      string,
      unknown
    >;
    cron.metadata = {
      schedule: {
        enabled: false,
        scheduleType: "cron",
        cronExpression: "0 * * * *",
        timezone: "Europe/Berlin",
      },
    };
    const updated = await putJson({ url }, "/api/v1/workflows/wf-m", cron);
    assertEquals([updated.status, updated.body.scheduleStatus], [200, "disabled"]);
    assertEquals(fake.schedules.get("wf:wf-m")!.spec.cronExpression, "0 * * * *");
    cron.metadata = {
      schedule: {
        enabled: true,
        scheduleType: "cron",
        cronExpression: "0 * * * *",
        timezone: "Europe/Berlin",
      },
    };
    const enabled = await putJson({ url }, "/api/v1/workflows/wf-m", cron);
    assert(
      enabled.body.scheduleStatus.startsWith("scheduled: cron 0 * * * * (Europe/Berlin), next "),
      enabled.text,
    );
    // Update without metadata.schedule: the schedule goes.
    const none = await putJson({ url }, "/api/v1/workflows/wf-m", plainWorkflow("wf-m"));
    assertEquals([none.status, none.body.scheduleStatus], [200, "none"]);
    assert(!fake.schedules.has("wf:wf-m"));
    // Delete drops the metadata schedule first.
    await putJson({ url }, "/api/v1/workflows/wf-m", sampleWorkflow("wf-m", { scheduled: true }));
    assert(fake.schedules.has("wf:wf-m"));
    const deleted = await request({ url }, "DELETE", "/api/v1/workflows/wf-m");
    assertEquals(deleted.status, 200, deleted.text);
    assert(!fake.schedules.has("wf:wf-m"));
    const plain = await postJson({ url }, "/api/v1/workflows", plainWorkflow("wf-plain"));
    assertEquals([plain.status, plain.body.scheduleStatus], [201, "none"]);
    assert(!fake.calls.some((c) => c.includes("wf:wf-plain")), "no schedule call for a workflow without one");
  });
});

Deno.test("metadata.schedule: a bad one is 400 at $.metadata.schedule.… and the workflow is not stored", async () => {
  await withApi(async ({ url, fake }) => {
    const bad = (schedule: unknown) => {
      const w = sampleWorkflow("wf-bad", { scheduled: true }) as Record<string, unknown>;
      w.metadata = { schedule };
      return postJson({ url }, "/api/v1/workflows", w);
    };
    assertEquals(
      problemsOf(await bad({ enabled: true, scheduleType: "cron", cronExpression: "not a cron" })),
      [
        ["$.metadata.schedule.cronExpression", "cron_invalid"],
      ],
    );
    assertEquals(
      problemsOf(await bad({ scheduleType: "cron", cronExpression: "0 * * * *", timezone: "Nowhere" })),
      [
        ["$.metadata.schedule.timezone", "timezone_unknown"],
      ],
    );
    assertEquals(problemsOf(await bad({ scheduleType: "fixed_rate", interval: "100ms" })), [
      ["$.metadata.schedule.interval", "interval_too_short"],
    ]);
    assertEquals(problemsOf(await bad({ scheduleType: "weekly" })), [[
      "$.metadata.schedule.scheduleType",
      "kind_unknown",
    ]]);
    assertApiError(await getJson({ url }, "/api/v1/workflows/wf-bad"), 404, "workflow_not_found");
    assertEquals(fake.calls, []);
    await postJson({ url }, "/api/v1/workflows", plainWorkflow("wf-bad"));
    const w = sampleWorkflow("wf-bad", { scheduled: true }) as Record<string, unknown>;
    w.metadata = { schedule: { scheduleType: "fixed_rate", interval: "1h", endAt: 5, startAt: 10 } };
    assertEquals(problemsOf(await putJson({ url }, "/api/v1/workflows/wf-bad", w)), [
      ["$.metadata.schedule.endAt", "end_before_start"],
    ]);
    assertEquals((await getJson({ url }, "/api/v1/workflows/wf-bad")).headers.get("x-workflow-version"), "1");
  });
});

Deno.test("a node without a scheduler: schedule routes 503, metadata.schedule checked but not scheduled", async () => {
  await withApi(async ({ url }) => {
    assertApiError(await getJson({ url }, "/api/v1/schedules"), 503, "schedules_unavailable");
    const created = await postJson({ url }, "/api/v1/workflows", sampleWorkflow("wf-n", { scheduled: true }));
    assertEquals([created.status, created.body.scheduleStatus], [
      201,
      "not scheduled: this node runs no scheduler",
    ]);
    const w = sampleWorkflow("wf-n2", { scheduled: true }) as Record<string, unknown>;
    w.metadata = { schedule: { scheduleType: "cron", cronExpression: "bad" } };
    assertApiError(await postJson({ url }, "/api/v1/workflows", w), 400, "validation_failed");
  }, { scheduler: false });
});
