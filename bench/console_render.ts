/**
 * The web console's run page of a 5,000-node execution, in headless Chromium (issue 18): a node (memory
 * storage, in this process) holds a live run of a real 5,002-node workflow (a source, `--chains` chains of
 * `--length` maps, a sink joining them; the node at `--wait-at` of each chain is a `signal.wait`, so the run stays
 * running: the nodes before it completed, it running, the rest pending). The API takes at most 1,000 nodes a
 * workflow: the bench validates the definition with room for its size and stores it itself.
 *
 *   deno task bench:console                       # 5 runs of the run page (after one warm-up)
 *   deno task bench:console --runs 10 --json -    # the report on standard output
 *
 * Each run opens the run page in a fresh tab and reports, from the navigation's start (the page's clock):
 *
 * - `dataMs`: the first answers of the three API reads (view, definition, events) all in;
 * - `renderedMs`: time to rendered — the first frame after every node of the DAG is in the document with its
 *   state (`.dag-node` elements with `data-status`, as many as the run's nodes), polled each frame;
 * - `pollMs`: the page's main-thread busy time per second over the next 5 s of polling (1 read a second).
 *
 * Prints the median, min and max of each over the runs, and writes the report as `bench/report_file.ts` says.
 *
 * @module
 */
import type { Page } from "npm:playwright-core@1.65.2";
import type { WorkflowDefinition, WorkflowNode } from "../core/workflow.ts";
import { checkWorkflow } from "../server/runtime/workflows.ts";
import { type RunningNode, startNode } from "../server/start.ts";
import { chromiumInstalled, withBrowser } from "../testing/browser.ts";
import { jsonTarget, writeReport } from "./report_file.ts";

const args = Deno.args;
const num = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : fallback;
};
const RUNS = num("runs", 5);
const CHAINS = num("chains", 50);
const LENGTH = num("length", 100);
const WAIT_AT = num("wait-at", 60);
/** `all`: every node drawn; `view`: at least one (a page that draws only the nodes in view). */
const UNTIL = args.includes("--until") ? args[args.indexOf("--until") + 1] : "all";

/** The workflow: src → chains of maps (one `signal.wait` in each) → sink. */
export function renderWorkflow(chains: number, length: number, waitAt: number): WorkflowDefinition {
  const nodes: WorkflowNode[] = [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
  ];
  const edges: WorkflowDefinition["edges"] = [];
  for (let c = 0; c < chains; c++) {
    for (let i = 0; i < length; i++) {
      const id = `c${c}-${i}`;
      nodes.push(
        i === waitAt
          ? { id, type: "control", nodeType: "signal.wait", config: { name: "go" } }
          : { id, type: "transform", nodeType: "map", config: { expression: "value" } },
      );
      edges.push({ source: i === 0 ? "src" : `c${c}-${i - 1}`, target: id });
    }
    edges.push({ source: `c${c}-${length - 1}`, target: "sink" });
  }
  nodes.push({ id: "sink", type: "sink", nodeType: "memory.collect", config: {} });
  return { id: "console-render", name: "Console render", nodes, edges };
}

/** Stores the workflow and starts a run that waits in every chain; its id once it waits. */
async function liveRun(node: RunningNode, def: WorkflowDefinition): Promise<string> {
  const size = def.nodes.length;
  const checked = checkWorkflow(def, { maxNodes: size, maxEdges: Math.max(5000, size * 2) });
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems.slice(0, 3)));
  const put = await node.storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error(`could not store ${def.id}`);
  const r = await node.engine.submit(put.workflow, { input: null });
  if (!r.ok) throw new Error(r.error.message);
  const id = r.value.executionId;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const view = await (await fetch(`${node.url}/api/v1/executions/${id}`)).json();
    const waiting = view.nodes.filter((n: { status: string }) => n.status === "running").length;
    if (waiting === CHAINS) return id;
    if (view.status !== "running" || Date.now() > deadline) {
      throw new Error(`the run did not reach its waits: ${view.status}, ${waiting} running`);
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

/** One visit of the run page: its timings (ms from the navigation's start). */
async function visit(page: Page, url: string, total: number) {
  await page.goto(url);
  const renderedMs = await page.waitForFunction(
    (n) => {
      // deno-lint-ignore no-explicit-any
      const document = (globalThis as any).document;
      const drawn = document.querySelectorAll(".dag-node[data-status]:not([data-status=''])").length;
      return drawn >= n ? performance.now() : false;
    },
    UNTIL === "view" ? 1 : total,
    { polling: "raf", timeout: 120_000 },
  ).then((h) => h.jsonValue() as Promise<number>);
  const dataMs = await page.evaluate(() => {
    const api = performance.getEntriesByType("resource").filter((e) =>
      e.name.includes("/api/v1/executions/") ||
      e.name.includes("/versions/")
    );
    return Math.max(...api.slice(0, 3).map((e) => (e as PerformanceResourceTiming).responseEnd));
  });
  // The main thread's busy time while the page polls, per second.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const metrics = async () =>
    new Map(
      (await cdp.send("Performance.getMetrics")).metrics.map((x: { name: string; value: number }) => [
        x.name,
        x.value * 1000,
      ]),
    );
  const m0 = await metrics();
  await page.waitForTimeout(5_000);
  const m1 = await metrics();
  const perSecond = (name: string) => Math.round((m1.get(name)! - m0.get(name)!) / 5);
  await cdp.detach();
  return {
    dataMs: Math.round(dataMs),
    renderedMs: Math.round(renderedMs),
    pollMs: perSecond("TaskDuration"),
    pollScriptMs: perSecond("ScriptDuration"),
    pollStyleLayoutMs: perSecond("RecalcStyleDuration") + perSecond("LayoutDuration"),
  };
}

/** Median, min and max of a list. */
function spread(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1)! };
}

if (import.meta.main) {
  if (!chromiumInstalled()) throw new Error("no Chromium at /usr/bin/chromium (apt-get install chromium)");
  const def = renderWorkflow(CHAINS, LENGTH, WAIT_AT);
  const node = await startNode({
    port: 0,
    host: "127.0.0.1",
    logLevel: "error",
    storage: "memory",
    maxActiveExecutions: 100,
  });
  try {
    const id = await liveRun(node, def);
    const url = `${node.url}/ui/executions/${encodeURIComponent(id)}`;
    const runs = await withBrowser(async (browser) => {
      const out = [];
      for (let i = 0; i <= RUNS; i++) {
        const page = await browser.newPage();
        const r = await visit(page, url, def.nodes.length);
        await page.close();
        if (i > 0) out.push(r); // the first visit warms the browser's caches
        console.error(`run ${i}${i === 0 ? " (warm-up)" : ""}: ${JSON.stringify(r)}`);
      }
      return out;
    });
    const report = {
      bench: "console_render",
      nodes: def.nodes.length,
      edges: def.edges.length,
      runs: RUNS,
      dataMs: spread(runs.map((r) => r.dataMs)),
      renderedMs: spread(runs.map((r) => r.renderedMs)),
      pollBusyMsPerSecond: spread(runs.map((r) => r.pollMs)),
      each: runs,
    };
    await writeReport(report, jsonTarget(args), "console-render");
  } finally {
    await node.close();
  }
}
