/**
 * The run page of a 5,000-node execution, in headless Chromium. A definition takes at most 1,000 nodes through
 * the API, so the node serves the console and the browser's API reads of this run (its view, its version's
 * definition, its events) are answered with a synthetic 5,000-node run (50 chains of 100 nodes between a
 * source and a sink, a third completed, one running, the rest pending): the console reads nothing but the API,
 * so this is what it draws for such a run. The page must lay the graph out (the layered layout), draw the part
 * in view with each node in its state (and the far end once scrolled there), count the states, and draw the
 * timeline's first rows; the time from navigation to the drawn graph is printed (not asserted).
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { browserTest, pageErrors, waitForCount } from "../../testing/browser.ts";
import { startTestNode } from "../../testing/server.ts";

const CHAINS = 50;
const LENGTH = 100;
const ID = "ex-scale-5000";

/** The synthetic run: definition, view and events. */
function syntheticRun() {
  const nodes: { id: string; type: string; nodeType: string; config: Record<string, unknown> }[] = [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: {} },
  ];
  const edges: { source: string; target: string }[] = [];
  for (let c = 0; c < CHAINS; c++) {
    for (let i = 0; i < LENGTH; i++) {
      const id = `c${c}-${i}`;
      nodes.push({ id, type: "transform", nodeType: "map", config: { expression: "value" } });
      edges.push({ source: i === 0 ? "src" : `c${c}-${i - 1}`, target: id });
    }
    edges.push({ source: `c${c}-${LENGTH - 1}`, target: "sink" });
  }
  nodes.push({ id: "sink", type: "sink", nodeType: "memory.collect", config: {} });
  const t0 = 1_800_000_000_000;
  const third = Math.floor(nodes.length / 3);
  const statusOf = (i: number) => i < third ? "completed" : i === third ? "running" : "pending";
  const view = {
    executionId: ID,
    workflowId: "scale",
    version: 1,
    status: "running",
    startTime: t0,
    endTime: null,
    duration: null,
    error: null,
    trigger: { kind: "api" },
    nodes: nodes.map((n, i) => ({
      nodeId: n.id,
      type: n.type,
      nodeType: n.nodeType,
      status: statusOf(i),
      attempts: statusOf(i) === "pending" ? 0 : 1,
      startTime: statusOf(i) === "pending" ? null : t0 + i,
      endTime: statusOf(i) === "completed" ? t0 + i + 1 : null,
      duration: statusOf(i) === "completed" ? 1 : null,
      recordsProcessed: null,
      error: null,
    })),
  };
  const events: Record<string, unknown>[] = [{ v: 1, seq: 1, at: t0, type: "ExecutionStarted" }];
  view.nodes.forEach((n, i) => {
    if (n.status === "pending") return;
    events.push({
      v: 1,
      seq: events.length + 1,
      at: t0 + i,
      type: "NodeStarted",
      nodeId: n.nodeId,
      attempt: 1,
    });
    if (n.status === "completed") {
      events.push({
        v: 1,
        seq: events.length + 1,
        at: t0 + i + 1,
        type: "NodeSucceeded",
        nodeId: n.nodeId,
        attempt: 1,
      });
    }
  });
  return { definition: { id: "scale", name: "Scale", nodes, edges }, view, events };
}

browserTest(
  "console e2e: the run page of a 5,000-node execution draws its nodes in their states",
  async (browser) => {
    const node = await startTestNode();
    try {
      const run = syntheticRun();
      assertEquals(run.definition.nodes.length, CHAINS * LENGTH + 2);
      const page = await browser.newPage();
      const errors = pageErrors(page);
      const answer = (body: unknown) => ({
        status: 200,
        contentType: "application/json",
        body: JSON.stringify(body),
      });
      await page.route(`**/api/v1/executions/${ID}`, (r) => r.fulfill(answer(run.view)));
      await page.route(`**/api/v1/executions/${ID}/events?*`, (r) => {
        const after = Number(new URL(r.request().url()).searchParams.get("after") ?? 0);
        return r.fulfill(
          answer({ executionId: ID, events: run.events.filter((e) => (e.seq as number) > after) }),
        );
      });
      await page.route("**/api/v1/workflows/scale/versions/1", (r) => r.fulfill(answer(run.definition)));

      const t0 = performance.now();
      await page.goto(`${node.url}/ui/executions/${ID}`);
      await waitForCount(page, ".dag-node", 1, { atLeast: true, timeoutMs: 60_000 });
      const drawnMs = Math.round(performance.now() - t0);
      const svg = page.locator(".dag-svg");
      assertEquals(await svg.getAttribute("data-engine"), "layered");
      assertEquals(await svg.getAttribute("data-node-total"), String(run.definition.nodes.length));
      // Only the part in view (and around it) is drawn; each drawn node in its state.
      const drawn = await page.locator(".dag-node").evaluateAll((gs) =>
        gs.map((g) => [g.getAttribute("data-node-id"), g.getAttribute("data-status")])
      );
      const stateOf = new Map(run.view.nodes.map((n) => [n.nodeId, n.status]));
      assert(drawn.length > 10 && drawn.length < 1_000, `${drawn.length} nodes drawn`);
      assert(drawn.every(([id, status]) => stateOf.get(id!) === status), "each drawn node in its state");
      const counts = await page.locator("[data-node-counts]").innerText();
      const completed = run.view.nodes.filter((n) => n.status === "completed").length;
      assert(counts.includes(`completed ${completed}`) && counts.includes("running 1"), counts);
      // Scrolled to the far end, the sink is drawn.
      await page.locator(".dag-scroll").evaluate((box) =>
        box.scrollTo(box.scrollWidth, box.scrollHeight / 2)
      );
      await waitForCount(page, '.dag-node[data-node-id="sink"][data-status="pending"]', 1);
      await waitForCount(page, ".gantt-bar", 100); // the timeline's first page of rows
      console.log(
        `run page of a ${run.definition.nodes.length}-node execution drawn ${drawnMs} ms after navigation`,
      );
      assertEquals(errors, []);
    } finally {
      await node.close();
    }
  },
);
