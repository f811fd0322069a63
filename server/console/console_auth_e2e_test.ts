/**
 * The web console on a node with API tokens, in headless Chromium: the console loads without a token but
 * signs in with one (kept for the tab only: a new tab must sign in again), and each role sees only what it may
 * do — a viewer no run, steering, create or edit button, an operator run and steering but no edit.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { browserTest, pageErrors, waitForCount } from "../../testing/browser.ts";
import { execute, postJson, startTestNode } from "../../testing/server.ts";
import type { Page } from "npm:playwright-core@1.65.2";

const ADMIN = "admin-token-0123456789abcdef";
const OPERATOR = "operator-token-0123456789abcdef";
const VIEWER = "viewer-token-0123456789abcdef";

const FAILING = {
  id: "auth-fails",
  name: "Fails",
  nodes: [
    { id: "lines", type: "source", nodeType: "file.text", config: { path: "missing.txt" } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "lines", target: "out" }],
};

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.fill("#token", token);
  await page.click('form button[type="submit"]');
  await page.locator(".who .role").waitFor();
}

browserTest("console e2e: tokens: sign-in per tab, and each role sees only its buttons", async (browser) => {
  const files = await Deno.makeTempDir({ prefix: "flowmesh-files-" });
  const node = await startTestNode({}, {
    filesRoot: files,
    apiTokens: [
      { role: "admin", token: ADMIN },
      { role: "operator", token: OPERATOR },
      { role: "viewer", token: VIEWER },
    ],
  });
  const auth = { authorization: `Bearer ${ADMIN}` };
  try {
    const created = await postJson(node, "/api/v1/workflows", FAILING, auth);
    assertEquals(created.status, 201, created.text);
    const run = await execute(node, FAILING.id, { headers: auth });
    assertEquals(run.body.status, "failed", run.text);
    const runPath = `/ui/executions/${run.body.executionId}`;

    const page = await browser.newPage();
    const errors = pageErrors(page);
    // No token: the sign-in form; a wrong token is refused there.
    await page.goto(`${node.url}/ui/workflows`);
    await page.fill("#token", "not-a-known-token-000000");
    await page.click('form button[type="submit"]');
    await page.locator('[role="alert"]').waitFor();
    assert((await page.locator('[role="alert"]').innerText()).includes("unauthenticated"));

    // A viewer reads, and gets no button that changes anything.
    await signIn(page, `${node.url}/ui/workflows`, VIEWER);
    assertEquals(await page.locator(".who .role").innerText(), "viewer");
    await waitForCount(page, `tr[data-workflow-id="${FAILING.id}"]`, 1);
    assertEquals(await page.locator('[data-action="new-workflow"]').count(), 0);
    await page.goto(`${node.url}/ui/workflows/${FAILING.id}`);
    await waitForCount(page, ".dag-node", 2);
    assertEquals(await page.locator('[data-action="run"], [data-action="edit"]').count(), 0);
    await page.goto(`${node.url}${runPath}`);
    await waitForCount(page, '.dag-node[data-status="failed"]', 1);
    assertEquals(await page.locator('[aria-label="steer this run"]').count(), 0);

    // The token is this tab's: another tab starts signed out.
    const other = await browser.newPage();
    await other.goto(`${node.url}/ui/cluster`);
    await other.locator("#token").waitFor();
    await other.close();

    // An operator runs and steers, and does not edit.
    await page.click('button:has-text("Sign out")');
    await signIn(page, `${node.url}${runPath}`, OPERATOR);
    await waitForCount(page, '[data-action="retry"]', 1);
    await page.goto(`${node.url}/ui/workflows/${FAILING.id}`);
    await waitForCount(page, '[data-action="run"]', 1);
    assertEquals(await page.locator('[data-action="edit"]').count(), 0);
    assertEquals(errors, []);
  } finally {
    await node.close();
    await Deno.remove(files, { recursive: true });
  }
});
