/**
 * The run page of a 5,000-node execution, in headless Chromium. A definition takes at most 1,000 nodes through
 * the API, so the node serves the console and the browser's API reads of this run (its view, its version's
 * definition, its events) are answered with a synthetic 5,000-node run (50 chains of 100 nodes between a
 * source and a sink, a third completed, one running, the rest pending): the console reads nothing but the API,
 * so this is what it draws for such a run. The page must lay the graph out (the layered layout) and draw every
 * node's box in its state, with its accessible name, the words of the boxes around the view only (and the far
 * end's once scrolled there), count the states, draw the timeline's first rows, walk the graph by keyboard, and
 * on a later read change the boxes whose state changed in place. How fast is `bench/console_render.ts`'s.
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
  "console e2e: the run page of a 5,000-node execution draws every node in its state, and updates them in place",
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
      // After `later`, the view answered has the running node completed and the next one running.
      let later = false;
      const laterView = structuredClone(run.view);
      const at = laterView.nodes.findIndex((n) => n.status === "running");
      laterView.nodes[at].status = "completed";
      laterView.nodes[at + 1].status = "running";
      await page.route(`**/api/v1/executions/${ID}`, (r) => r.fulfill(answer(later ? laterView : run.view)));
      await page.route(`**/api/v1/executions/${ID}/events?*`, (r) => {
        const after = Number(new URL(r.request().url()).searchParams.get("after") ?? 0);
        return r.fulfill(
          answer({ executionId: ID, events: run.events.filter((e) => (e.seq as number) > after) }),
        );
      });
      await page.route("**/api/v1/workflows/scale/versions/1", (r) => r.fulfill(answer(run.definition)));

      await page.goto(`${node.url}/ui/executions/${ID}`);
      await waitForCount(page, ".dag-node", run.definition.nodes.length, { timeoutMs: 60_000 });
      const svg = page.locator(".dag-svg");
      assertEquals(await svg.getAttribute("data-engine"), "layered");
      assertEquals(await svg.getAttribute("data-node-total"), String(run.definition.nodes.length));

      // Every box is drawn, in its state (attribute and class) and saying it in its accessible name.
      const stateOf = new Map(run.view.nodes.map((n) => [n.nodeId, n.status]));
      const boxes = await page.locator(".dag-node").evaluateAll((gs) =>
        gs.map((g) => [
          g.getAttribute("data-node-id"),
          g.getAttribute("data-status"),
          g.getAttribute("class"),
          g.getAttribute("aria-label"),
          g.getAttribute("tabindex"),
        ])
      );
      assertEquals(new Set(boxes.map(([id]) => id)).size, run.definition.nodes.length);
      for (const [id, status, cls, name] of boxes) {
        assertEquals(status, stateOf.get(id!), id!);
        assert(cls!.split(" ").includes(`st-${status}`), `${id}: ${cls}`);
        assertEquals(
          name,
          `${id} (${
            id === "src" ? "sequence.numbers" : id === "sink" ? "memory.collect" : "map"
          }): ${status}`,
        );
      }
      assertEquals(boxes.filter((b) => b[4] === "0").length, 1, "the graph is one tab stop");
      // The edges leaving each column as one path (the sink's inputs come from the last).
      const edges = await page.locator("path.dag-edge").evaluateAll((ps) =>
        ps.map((p) => Number(p.getAttribute("data-edges")))
      );
      assertEquals([edges.length, edges.reduce((a, b) => a + b, 0)], [
        LENGTH + 1,
        run.definition.edges.length,
      ]);
      // Their words only around the view.
      const words = await page.locator(".dag-label").count();
      assert(words > 10 && words < 1_000, `${words} boxes' words drawn`);
      const counts = await page.locator("[data-node-counts]").innerText();
      const completed = run.view.nodes.filter((n) => n.status === "completed").length;
      assert(counts.includes(`completed ${completed}`) && counts.includes("running 1"), counts);
      await waitForCount(page, ".gantt-bar", 100); // the timeline's first page of rows

      // A later read: the running node completed, its successor runs; those two boxes change, in place.
      const running = run.view.nodes.find((n) => n.status === "running")!.nodeId;
      const after = run.view.nodes[run.view.nodes.findIndex((n) => n.nodeId === running) + 1].nodeId;
      await page.locator(`.dag-node[data-node-id="${running}"]`).evaluate((g) =>
        g.setAttribute("data-kept", "1")
      );
      later = true;
      await waitForCount(page, `.dag-node[data-node-id="${running}"].st-completed[data-kept="1"]`, 1);
      await waitForCount(page, `.dag-node[data-node-id="${after}"].st-running[aria-label$=": running"]`, 1);
      assertEquals(await page.locator(".dag-node").count(), run.definition.nodes.length);

      // Keyboard: from the source, right to the first chain's head, then down to the next chain's.
      await page.locator('.dag-node[data-node-id="src"]').focus();
      await page.keyboard.press("ArrowRight");
      await waitForCount(page, '.dag-node[data-node-id="c0-0"]:focus', 1);
      await page.keyboard.press("ArrowDown");
      await waitForCount(page, '.dag-node[data-node-id="c1-0"]:focus[tabindex="0"]', 1);
      await page.keyboard.press("Enter");
      await waitForCount(page, '[data-node-details="c1-0"]', 1);
      // A box's tooltip (its name) is made when the pointer first comes over it.
      assertEquals(await page.locator(".dag-node > title").count(), 0);
      await page.locator('.dag-node[data-node-id="c1-1"]').hover();
      await waitForCount(page, '.dag-node[data-node-id="c1-1"] > title', 1);
      assertEquals(
        await page.locator('.dag-node[data-node-id="c1-1"] > title').textContent(),
        `c1-1 (map): ${stateOf.get("c1-1")}`,
      );

      // Scrolled to the far end, the sink's words are drawn.
      await page.locator(".dag-scroll").evaluate((box) =>
        box.scrollTo(box.scrollWidth, box.scrollHeight / 2)
      );
      await waitForCount(page, ".dag-label.st-pending text.label", 1, { atLeast: true });
      await page.waitForFunction(() =>
        // deno-lint-ignore no-explicit-any
        [...(globalThis as any).document.querySelectorAll(".dag-label text.label")].some((t: any) =>
          t.textContent === "sink"
        )
      );
      assertEquals(errors, []);
    } finally {
      await node.close();
    }
  },
);
