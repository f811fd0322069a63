/**
 * The list routes the web console pages through, over real HTTP: `GET /api/v1/executions` (every workflow's
 * runs newest first, filtered by workflow, status, start-time window and the start of the id, keyset-paged) and
 * `GET /api/v1/workflows?q=` (text in a workflow's id or name).
 */
import { assertEquals } from "../../testing/assert.ts";
import {
  assertApiError,
  chain,
  createWorkflow,
  execute,
  getJson,
  n,
  withNode,
} from "../../testing/server.ts";
import { sleep } from "../../testing/wait.ts";
import type { RunningNode } from "../start.ts";

const quick = (id: string, name = id) => ({
  ...chain(id, n("src", "source/sequence.numbers", { start: 1, end: 2 }), n("out", "sink/memory.collect")),
  name,
});

/** Every page of `path`, following `x-next-cursor`. */
async function allPages(node: { url: string }, path: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const r = await getJson(
      node,
      cursor === null ? path : `${path}${sep}cursor=${encodeURIComponent(cursor)}`,
    );
    assertEquals(r.status, 200, r.text);
    ids.push(...r.body.map((e: { executionId?: string; id?: string }) => e.executionId ?? e.id));
    cursor = r.headers.get("x-next-cursor");
    pages++;
  } while (cursor !== null);
  return { ids, pages };
}

/** The first test over memory storage and over SQLite (the index's own SQL: keyset, window, filters). */
async function onStorage(kind: "memory" | "sqlite", fn: (node: RunningNode) => Promise<void>): Promise<void> {
  if (kind === "memory") return await withNode(fn);
  const dataDir = await Deno.makeTempDir({ prefix: "flowmesh-search-" });
  try {
    await withNode(fn, {}, { storage: "sqlite", dataDir });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

for (const kind of ["memory", "sqlite"] as const) {
  Deno.test(`executions list (${kind}): every workflow's runs newest first, filtered and keyset-paged`, async () => {
    await onStorage(kind, (node) => listsRuns(node));
  });
}

/** Five runs of two workflows, listed through every filter. */
async function listsRuns(node: RunningNode): Promise<void> {
  await createWorkflow(node, quick("wf-a"));
  await createWorkflow(node, quick("wf-b"));
  const ids: string[] = [];
  for (const wf of ["wf-a", "wf-b", "wf-a", "wf-b", "wf-a"]) {
    const r = await execute(node, wf);
    assertEquals(r.body.status, "completed", r.text);
    ids.push(r.body.executionId);
    await sleep(3); // distinct start times
  }
  const newestFirst = [...ids].reverse();

  const all = await getJson(node, "/api/v1/executions");
  assertEquals(all.status, 200, all.text);
  assertEquals(all.body.map((e: { executionId: string }) => e.executionId), newestFirst);
  assertEquals(Object.keys(all.body[0]).sort(), [
    "duration",
    "endTime",
    "executionId",
    "logsCount",
    "startTime",
    "status",
    "version",
    "workflowId",
  ]);

  // Paged two at a time: the same rows, in order, across three pages.
  const paged = await allPages(node, "/api/v1/executions?limit=2");
  assertEquals([paged.ids, paged.pages], [newestFirst, 3]);

  // By workflow, by status (and the old word for running).
  const a = await allPages(node, "/api/v1/executions?workflowId=wf-a&limit=1");
  assertEquals(a.ids, newestFirst.filter((_, i) => i % 2 === 0));
  assertEquals((await getJson(node, "/api/v1/executions?status=completed")).body.length, 5);
  assertEquals((await getJson(node, "/api/v1/executions?status=started")).body, []);
  assertEquals((await getJson(node, "/api/v1/executions?workflowId=nope")).body, []);

  // The start of the id (case matters; text further in is not matched).
  const start = ids[2].slice(0, 12);
  const hit = await getJson(node, `/api/v1/executions?q=${start}`);
  assertEquals(hit.body.map((e: { executionId: string }) => e.executionId), [ids[2]]);
  assertEquals((await getJson(node, `/api/v1/executions?q=${start.toUpperCase()}`)).body, []);
  assertEquals((await getJson(node, `/api/v1/executions?q=${ids[2].slice(5, 13)}`)).body, []);
  const byPrefix = await allPages(node, "/api/v1/executions?q=ex-&limit=2");
  assertEquals(byPrefix.ids, newestFirst);
  const mixed = await getJson(node, `/api/v1/executions?q=${start}&workflowId=wf-a&status=completed`);
  assertEquals(mixed.body.map((e: { executionId: string }) => e.executionId), [ids[2]]);

  // A start-time window, each end included.
  const times = all.body.map((e: { startTime: number }) => e.startTime); // newest first
  const from = await getJson(node, `/api/v1/executions?from=${times[2]}`);
  assertEquals(from.body.map((e: { executionId: string }) => e.executionId), newestFirst.slice(0, 3));
  const to = await allPages(node, `/api/v1/executions?to=${times[2]}&limit=2`);
  assertEquals(to.ids, newestFirst.slice(2));
  const both = await getJson(node, `/api/v1/executions?from=${times[3]}&to=${times[1]}`);
  assertEquals(both.body.map((e: { executionId: string }) => e.executionId), newestFirst.slice(1, 4));
}

Deno.test("executions list: bad filters are 400 invalid_parameter at their parameter", async () => {
  await withNode(async (node) => {
    for (
      const [query, path] of [
        ["status=begun", "?status"],
        ["from=yesterday", "?from"],
        ["to=-1", "?to"],
        ["from=10&to=5", "?from"],
        ["limit=0", "?limit"],
        [`q=${"x".repeat(257)}`, "?q"],
        ["q=ex-%00", "?q"],
        ["workflowId=a%00b", "?workflowId"],
        ["cursor=nonsense", "?cursor"],
      ]
    ) {
      const r = await getJson(node, `/api/v1/executions?${query}`);
      assertApiError(r, 400, "invalid_parameter");
      assertEquals(r.body.error.details[0]?.path, path, r.text);
    }
  });
});

Deno.test("workflows list: ?q= finds text in the id or the name, case ignored, paged", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, quick("alpha-1", "First"));
    await createWorkflow(node, quick("beta-2", "Gamma rays"));
    await createWorkflow(node, quick("alpha-3", "Third"));
    await createWorkflow(node, quick("delta-4", "Alphabet"));
    const ids = async (path: string) => (await allPages(node, path)).ids;
    assertEquals(await ids("/api/v1/workflows?q=ALPHA"), ["alpha-1", "alpha-3", "delta-4"]);
    assertEquals(await ids("/api/v1/workflows?q=gamma"), ["beta-2"]);
    assertEquals(await ids("/api/v1/workflows?q=alpha&limit=1"), ["alpha-1", "alpha-3", "delta-4"]);
    assertEquals(await ids("/api/v1/workflows?q=zzz"), []);
    assertEquals((await ids("/api/v1/workflows")).length, 4, "no q: every workflow");
    assertApiError(await getJson(node, `/api/v1/workflows?q=${"x".repeat(257)}`), 400, "invalid_parameter");
  });
});
