/**
 * The web console end to end, in headless Chromium (Debian's, driven by Playwright) against a real node on
 * 127.0.0.1: a workflow created from pasted JSON (a refused save first, its problem shown on the node it
 * concerns), run from its page, its DAG's nodes watched turning completed (a delay keeps it running for a
 * while), the run page screenshotted and checked by its DOM; then a failed run found through the runs list's
 * status filter, opened, and retried to completion from the page; and a schedule's row (its last tick's run),
 * triggered, its fires read, paused and resumed.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { browserTest, keepScreenshot, pageErrors, pngSize, waitForCount } from "../../testing/browser.ts";
import { createWorkflow, execute, postJson, startTestNode } from "../../testing/server.ts";

/** Asserts `text` contains `part`. */
function assertStringIncludes(text: string, part: string): void {
  assert(text.includes(part), `${JSON.stringify(part)} not in ${JSON.stringify(text)}`);
}

/** A workflow that runs for ~2 s: numbers → a 2 s delay → double → collect. */
const SLOW = {
  id: "e2e-slow",
  name: "Slow doubling",
  nodes: [
    { id: "numbers", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 30 } },
    { id: "wait", type: "control", nodeType: "delay", config: { duration: "2s" } },
    { id: "double", type: "transform", nodeType: "map", config: { expression: "value * 2" } },
    { id: "big", type: "transform", nodeType: "filter", config: { condition: "value > 40" } },
    { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [
    { source: "numbers", target: "wait" },
    { source: "wait", target: "double" },
    { source: "double", target: "big" },
    { source: "big", target: "collect" },
  ],
};

/** A workflow whose source reads `orders.txt` from the files root: it fails until the file is there. */
const ORDERS = {
  id: "e2e-orders",
  name: "Orders",
  nodes: [
    { id: "nums", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
    { id: "lines", type: "source", nodeType: "file.text", config: { path: "orders.txt" } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "nums", target: "out" }, { source: "lines", target: "out" }],
};

browserTest(
  "console e2e: create a workflow from JSON, run it, watch its nodes complete, read the run page",
  async (browser) => {
    const node = await startTestNode();
    const shots = await Deno.makeTempDir({ prefix: "flowmesh-shots-" });
    try {
      const page = await browser.newPage();
      const errors = pageErrors(page);

      // GET / redirects to the console; the editor is a deep link.
      await page.goto(`${node.url}/`);
      await page.waitForURL(/\/ui\/$/);
      await page.goto(`${node.url}/ui/workflows/new`);
      await page.locator("#definition").waitFor();

      // A refused save marks the node its problem concerns.
      const broken = structuredClone(SLOW);
      broken.nodes[2].config = { expression: "value *" };
      await page.fill("#definition", JSON.stringify(broken, null, 2));
      await waitForCount(page, ".dag-node", SLOW.nodes.length);
      await page.click('[data-action="save"]');
      await waitForCount(page, '.dag-node.has-problem[data-node-id="double"]', 1);
      assertEquals(
        await page.locator(".dag-node.has-problem").count(),
        1,
        "only the node the problem concerns",
      );
      assertStringIncludes(await page.locator("[data-problems]").innerText(), "expression_invalid");
      assertStringIncludes(await page.locator("[data-problems]").innerText(), "$.nodes[2].config.expression");
      await keepScreenshot(page, "console-editor-problems.png");

      // Fixed, it is created and the browser lands on its page, the DAG drawn from the stored definition.
      await page.fill("#definition", JSON.stringify(SLOW, null, 2));
      await page.click('[data-action="save"]');
      await page.waitForURL(/\/ui\/workflows\/e2e-slow$/);
      await waitForCount(page, ".dag-node", SLOW.nodes.length);
      assertEquals(await page.locator("path.dag-edge").count(), SLOW.edges.length);

      // Run it: the run page shows the delay running, then every node completed.
      await page.click('[data-action="run"]');
      await page.waitForURL(/\/ui\/executions\/ex-/);
      await waitForCount(page, '.dag-node[data-node-id="wait"][data-status="running"]', 1);
      await waitForCount(page, '.dag-node[data-status="completed"]', SLOW.nodes.length, {
        timeoutMs: 20_000,
      });
      await waitForCount(page, 'section[data-run][data-status="completed"]', 1);

      // The run page, screenshotted, and its structure checked.
      await page.locator('.dag-node[data-node-id="collect"]').click();
      await waitForCount(page, '[data-output="collect"] li', 10);
      const shot = `${shots}/run.png`;
      await page.screenshot({ path: shot, fullPage: true });
      const png = await pngSize(shot);
      assert(png.width >= 1280 && png.height >= 600 && png.bytes > 10_000, JSON.stringify(png));
      const structure = await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        const document = (globalThis as any).document;
        return {
          title: document.querySelector("h1")?.textContent ?? "",
          // deno-lint-ignore no-explicit-any
          nodes: [...document.querySelectorAll(".dag-node")].map((g: any) =>
            `${g.getAttribute("data-node-id")}:${g.getAttribute("data-status")}`
          ),
          // deno-lint-ignore no-explicit-any
          names: [...document.querySelectorAll(".dag-node")].map((g: any) => g.getAttribute("aria-label")),
          bars: document.querySelectorAll(".gantt-bar").length,
          completedBars: document.querySelectorAll('.gantt-bar[data-outcome="completed"]').length,
          summary: document.querySelector("[data-run-summary]")?.textContent ?? "",
          details: document.querySelector("[data-node-details]")?.getAttribute("data-node-details"),
          attempts: document.querySelector('[data-node-details] [data-field="attempts"]')?.textContent,
          output: document.querySelector("[data-output] h3")?.textContent ?? "",
          focusable: document.querySelectorAll('.dag-node[tabindex="0"]').length,
        };
      });
      assertStringIncludes(structure.title, "completed");
      assertEquals(structure.nodes.sort(), SLOW.nodes.map((n) => `${n.id}:completed`).sort());
      assert(structure.names.every((n) => n?.endsWith(": completed")), "each node says its state in words");
      assertEquals([structure.bars, structure.completedBars], [SLOW.nodes.length, SLOW.nodes.length]);
      assertStringIncludes(structure.summary, "e2e-slow");
      assertEquals([structure.details, structure.attempts], ["collect", "1"]);
      assertStringIncludes(structure.output, "of 10"); // 1..30 doubled, over 40: 42, 44, …, 60
      assertEquals(structure.focusable, 1, "the graph is one tab stop (roving focus)");

      // Keyboard: from the focused node, arrow keys walk the graph and Enter selects.
      await page.locator('.dag-node[data-node-id="collect"]').focus();
      await page.keyboard.press("ArrowLeft");
      await waitForCount(page, '.dag-node[data-node-id="big"]:focus', 1);
      await page.keyboard.press("Enter");
      await waitForCount(page, '[data-node-details="big"]', 1);

      // An update from edited JSON: a new version, listed in the history.
      await page.click('a:has-text("e2e-slow")');
      await page.waitForURL(/\/ui\/workflows\/e2e-slow$/);
      await page.click('[data-action="edit"]');
      const edited = JSON.parse(await page.inputValue("#definition"));
      edited.name = "Slow doubling, renamed";
      await page.fill("#definition", JSON.stringify(edited, null, 2));
      await page.click('[data-action="save"]');
      await waitForCount(page, 'h1:has-text("Slow doubling, renamed")', 1);
      await waitForCount(page, "table[data-table=versions] tbody tr", 2);
      assertStringIncludes(await page.locator("h1").innerText(), "v2");
      assertEquals(errors, []);
    } finally {
      await node.close();
      await Deno.remove(shots, { recursive: true });
    }
  },
);

browserTest(
  "console e2e: a failed run found by the runs list's filter, opened and retried",
  async (browser) => {
    const files = await Deno.makeTempDir({ prefix: "flowmesh-files-" });
    const node = await startTestNode({}, { filesRoot: files });
    try {
      await createWorkflow(node, ORDERS);
      await createWorkflow(node, { ...SLOW, id: "e2e-other", nodes: SLOW.nodes.slice(0, 1), edges: [] });
      const failed = await execute(node, ORDERS.id);
      assertEquals(failed.body.status, "failed", failed.text);
      const other = await execute(node, "e2e-other");
      assertEquals(other.body.status, "completed", other.text);

      const page = await browser.newPage();
      const errors = pageErrors(page);
      await page.goto(`${node.url}/ui/executions`);
      await waitForCount(page, "table[data-table=runs] tbody tr", 2);
      await page.selectOption('select[name="status"]', "failed");
      await page.click('form[aria-label="filter runs"] button[type="submit"]');
      await page.waitForURL(/status=failed/);
      await waitForCount(page, "table[data-table=runs] tbody tr", 1);
      // Dark mode follows the system's setting.
      await page.emulateMedia({ colorScheme: "dark" });
      const background = () =>
        page.evaluate(() => {
          // deno-lint-ignore no-explicit-any
          const w = globalThis as any;
          return w.getComputedStyle(w.document.body).backgroundColor;
        });
      assertEquals(await background(), "rgb(13, 17, 23)");
      await keepScreenshot(page, "console-runs-dark.png");
      await page.emulateMedia({ colorScheme: "light" });
      assertEquals(await background(), "rgb(255, 255, 255)");
      await page.click(`tr[data-execution-id="${failed.body.executionId}"] a`);
      await page.waitForURL(new RegExp(`/ui/executions/${failed.body.executionId}$`));
      await waitForCount(page, '.dag-node[data-node-id="lines"][data-status="failed"]', 1);
      assertStringIncludes(await page.locator("[data-run-error]").innerText(), "file_not_found");
      await page.locator('.dag-node[data-node-id="lines"]').click();
      await waitForCount(page, '[data-node-details="lines"] [data-node-error]', 1);
      await keepScreenshot(page, "console-run.png", true);

      // The file appears; Retry reruns the failed node and what follows it, and the page follows it to the end.
      await Deno.writeTextFile(`${files}/orders.txt`, "a\nb\n");
      await page.click('[data-action="retry"]');
      await waitForCount(page, 'section[data-run][data-status="completed"]', 1, { timeoutMs: 20_000 });
      await waitForCount(page, '.dag-node[data-status="completed"]', ORDERS.nodes.length);
      await page.locator('.dag-node[data-node-id="lines"]').click();
      assertEquals(
        await page.locator('[data-node-details="lines"] [data-field="attempts"]').innerText(),
        "2",
      );
      await waitForCount(page, '.gantt-bar[data-node-id="lines"]', 2);
      assertEquals(await page.locator('.gantt-bar[data-node-id="lines"][data-outcome="failed"]').count(), 1);

      // Schedules: an hourly one fired at its creation; run it now, read its fires, pause and resume it.
      const added = await postJson(node, "/api/v1/schedules/add", {
        id: "e2e-hourly",
        workflowId: "e2e-other",
        scheduleType: "fixed_rate",
        interval: "1h",
      });
      assertEquals(added.status, 201, added.text);
      await page.click('header a[href="/ui/schedules"]');
      const row = 'tr[data-schedule-id="e2e-hourly"]';
      await waitForCount(page, `${row} .badge[data-status="active"]`, 1);
      await waitForCount(page, `${row} a[href^="/ui/executions/e2e-hourly%40"]`, 1); // the first tick's run
      await page.click(`${row} [data-action="trigger"]`);
      await waitForCount(page, `${row} [data-field="runs"]:text-is("2")`, 1);
      await page.click(`${row} button[aria-expanded]`);
      await waitForCount(page, '[data-schedule-details="e2e-hourly"] tbody tr', 2);
      assertEquals(
        await page.locator('[data-schedule-details="e2e-hourly"] ol li').count(),
        5,
        "next fire times",
      );
      await page.click(`${row} [data-action="pause"]`);
      await waitForCount(page, `${row} .badge[data-status="paused"]`, 1);
      await page.click(`${row} [data-action="resume"]`);
      await waitForCount(page, `${row} .badge[data-status="active"]`, 1);
      assertEquals(errors, []);
    } finally {
      await node.close();
      await Deno.remove(files, { recursive: true });
    }
  },
);
