/**
 * CORS over real HTTP: off by default; with `--cors-origin` an allowed origin's preflight is answered before
 * auth and its responses carry the CORS headers, while other origins get none. Config: repeatable, checked.
 */
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { ConfigError, loadConfig } from "../ops/config.ts";
import { startNode } from "../start.ts";

const APP = "http://console.localhost:5173";
const TOKEN = "admin-token-0123456789abcdef";

Deno.test("cors: off by default — no CORS header for any origin, a preflight is not answered as one", async () => {
  const node = await startNode({ port: 0, storage: "memory", logLevel: "error" });
  try {
    const res = await fetch(`${node.url}/api/v1/workflows`, { headers: { origin: APP } });
    await res.body?.cancel();
    assertEquals(res.headers.get("access-control-allow-origin"), null);
    const pre = await fetch(`${node.url}/api/v1/workflows`, {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "POST" },
    });
    await pre.body?.cancel();
    assertEquals(pre.headers.get("access-control-allow-origin"), null);
    assertEquals(pre.status, 405);
  } finally {
    await node.close();
  }
});

Deno.test("cors: an allowed origin's preflight is 204 before auth; its calls carry CORS headers; others get none", async () => {
  const node = await startNode({
    port: 0,
    storage: "memory",
    logLevel: "error",
    corsOrigins: [APP],
    apiTokens: [{ role: "admin", token: TOKEN }],
  });
  try {
    const pre = await fetch(`${node.url}/api/v1/workflows/w/execute`, {
      method: "OPTIONS",
      headers: {
        origin: APP,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, idempotency-key",
      },
    });
    await pre.body?.cancel();
    assertEquals(pre.status, 204);
    assertEquals(pre.headers.get("access-control-allow-origin"), APP);
    assertMatch(pre.headers.get("access-control-allow-headers")!, /authorization/);
    assertMatch(pre.headers.get("access-control-allow-methods")!, /POST/);
    const ok = await fetch(`${node.url}/api/v1/workflows`, {
      headers: { origin: APP, authorization: `Bearer ${TOKEN}` },
    });
    assertEquals(await ok.json(), []);
    assertEquals(ok.headers.get("access-control-allow-origin"), APP);
    assertMatch(ok.headers.get("vary") ?? "", /Origin/);
    // Errors carry them too, so the app can read the 401.
    const denied = await fetch(`${node.url}/api/v1/workflows`, { headers: { origin: APP } });
    assertEquals(denied.status, 401);
    await denied.body?.cancel();
    assertEquals(denied.headers.get("access-control-allow-origin"), APP);
    for (const origin of ["http://evil.localhost", "http://console.localhost:5174"]) {
      const other = await fetch(`${node.url}/api/v1/workflows`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "GET" },
      });
      await other.body?.cancel();
      assertEquals(other.headers.get("access-control-allow-origin"), null, origin);
      assert(other.status !== 204, origin);
    }
  } finally {
    await node.close();
  }
});

Deno.test("cors config: --cors-origin repeatable, ENGINE_CORS_ORIGINS a list, anything but an origin refused", () => {
  const none = () => undefined;
  const noFile = () => "";
  assertEquals(
    loadConfig(["--cors-origin", APP, "--cors-origin=https://a.example"], none, noFile).config.corsOrigins,
    [APP, "https://a.example"],
  );
  assertEquals(
    loadConfig([], (n) => n === "ENGINE_CORS_ORIGINS" ? `${APP}, https://b.example:8443` : undefined, noFile)
      .config.corsOrigins,
    [APP, "https://b.example:8443"],
  );
  for (const bad of ["https://a.example/", "https://a.example/path", "ftp://a.example", "*", "a.example"]) {
    let message = "";
    try {
      loadConfig(["--cors-origin", bad], none, noFile);
    } catch (err) {
      assert(err instanceof ConfigError);
      message = err.message;
    }
    assertMatch(message, /^flag --cors-origin: not an origin/, bad);
  }
});
