/**
 * HTTP egress over real HTTP through the API: an http node reaches loopback only where `--http-allow` grants
 * it, a redirect to a refused address is refused, and the setting's entries are checked at start. Every
 * target listens on 127.0.0.1; no test sends traffic anywhere else.
 *
 * The refused workflows are stored directly, as a workflow created before a grant was taken away: a node
 * that judges URLs at create would refuse to store them, and the run-time check is what is tested here.
 */
import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import {
  createWorkflow,
  execute,
  startTarget,
  startTestNode,
  type Target,
  viewNode,
} from "../../testing/server.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { ConfigError, loadConfig } from "../ops/config.ts";
import { checkWorkflow } from "../runtime/workflows.ts";

function callWorkflow(id: string, url: string) {
  return {
    id,
    name: id,
    nodes: [
      { id: "call", type: "control", nodeType: "http", config: { url } },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "call", target: "out" }],
  };
}

async function stored(storage: MemoryStorage, definition: unknown): Promise<void> {
  const checked = checkWorkflow(definition);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error("put failed");
}

const port = (target: Target) => new URL(target.url).port;

Deno.test("egress: without a grant, loopback, IPv4-mapped loopback and metadata URLs fail with egress_denied", async () => {
  const target = startTarget(() => Response.json({ ok: true }));
  const storage = new MemoryStorage();
  const p = port(target);
  const urls: Record<string, [string, string]> = {
    "ip": [`http://user:pw@127.0.0.1:${p}/hook?token=abc`, "127.0.0.1 is loopback"],
    "name": [`http://localhost:${p}/hook`, "is loopback"],
    "mapped": [`http://[::ffff:127.0.0.1]:${p}/hook`, "::ffff:7f00:1 is loopback"],
    "metadata": ["http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"],
  };
  for (const [id, [url]] of Object.entries(urls)) await stored(storage, callWorkflow(id, url));
  const node = await startTestNode({ storage });
  try {
    for (const [id, [, why]] of Object.entries(urls)) {
      const view = (await execute(node, id)).body;
      assertEquals(
        [view.status, view.error?.code, view.error?.nodeId],
        ["failed", "egress_denied", "call"],
        id,
      );
      assert(view.error.message.includes(`${why}, not allowed (--http-allow)`), view.error.message);
      assert(!view.error.message.includes("pw") && !view.error.message.includes("abc"), view.error.message);
      assertEquals(viewNode(view, "call").attempts, 1, "not retried");
    }
    assertEquals(target.seen.length, 0, "the target saw nothing");
  } finally {
    await node.close();
    await target.close();
  }
});

Deno.test("egress: --http-allow 127.0.0.1 or 127.0.0.1:<port> grants the target, by address, name or mapped form", async () => {
  const target = startTarget(() => Response.json({ ok: true }));
  const p = port(target);
  try {
    for (const grant of ["127.0.0.1", `127.0.0.1:${p}`]) {
      const { config } = loadConfig(["--http-allow", grant], () => undefined, () => "");
      const node = await startTestNode({}, { httpAllow: config.httpAllow });
      try {
        const urls = [
          ["ip", `http://127.0.0.1:${p}/a`],
          ["name", `http://localhost:${p}/b`],
          ["mapped", `http://[::ffff:127.0.0.1]:${p}/c`],
        ];
        for (const [id, url] of urls) {
          await createWorkflow(node, callWorkflow(id, url));
          const view = (await execute(node, id)).body;
          assertEquals(view.status, "completed", `${grant} ${id}: ${JSON.stringify(view.error)}`);
        }
      } finally {
        await node.close();
      }
    }
    assertEquals(target.seen.map((s) => s.path), ["/a", "/b", "/c", "/a", "/b", "/c"]);
  } finally {
    await target.close();
  }
});

Deno.test("egress: a redirect from a granted host to a refused address fails with egress_denied", async () => {
  const inner = startTarget(() => Response.json({ secret: true }));
  const outer = startTarget(() => Response.redirect(`${inner.url}/secret`, 302));
  const go = `http://localhost:${port(outer)}/go`;
  try {
    const node = await startTestNode({}, { httpAllow: [`localhost:${port(outer)}`] });
    try {
      await createWorkflow(node, callWorkflow("hop", go));
      const view = (await execute(node, "hop")).body;
      assertEquals([view.status, view.error?.code], ["failed", "egress_denied"], JSON.stringify(view));
      assert(
        view.error.message.includes(`GET ${inner.url}/secret: 127.0.0.1 is loopback`),
        view.error.message,
      );
      assertEquals([outer.seen.length, inner.seen.length], [1, 0]);
    } finally {
      await node.close();
    }
    // Both hops granted: the redirect is followed.
    const both = await startTestNode({}, {
      httpAllow: [`localhost:${port(outer)}`, `127.0.0.1:${port(inner)}`],
    });
    try {
      await createWorkflow(both, callWorkflow("hop", go));
      assertEquals((await execute(both, "hop")).body.status, "completed");
      assertEquals([outer.seen.length, inner.seen.length], [2, 1]);
    } finally {
      await both.close();
    }
  } finally {
    await outer.close();
    await inner.close();
  }
});

Deno.test("egress config: --http-allow is repeatable and ENGINE_HTTP_ALLOW a list; a bad entry is a ConfigError", () => {
  const none = () => undefined;
  const noFile = () => "";
  assertEquals(
    loadConfig(["--http-allow", "10.0.0.0/8", "--http-allow=[fd00::1]:8443"], none, noFile).config.httpAllow,
    ["10.0.0.0/8", "[fd00::1]:8443"],
  );
  assertEquals(
    loadConfig([], (n) => n === "ENGINE_HTTP_ALLOW" ? "api.internal:443, 192.168.0.0/16" : undefined, noFile)
      .config.httpAllow,
    ["api.internal:443", "192.168.0.0/16"],
  );
  assertEquals(loadConfig([], none, noFile).config.httpAllow, []);
  assertThrows(
    () => loadConfig(["--http-allow", "nonsense/99"], none, noFile),
    (e: unknown) => e instanceof ConfigError && /^flag --http-allow: entry 1 "nonsense\/99"/.test(e.message),
  );
  assertThrows(
    () => loadConfig(["--http-allow", "10.0.0.0/8", "--http-allow", "10.0.0.0/33"], none, noFile),
    (e: unknown) => e instanceof ConfigError && e.message.includes("entry 2") && !e.message.includes("\n"),
  );
  assertThrows(
    () => loadConfig([], (n) => n === "ENGINE_HTTP_ALLOW" ? "ok.internal,bad host" : undefined, noFile),
    (e: unknown) =>
      e instanceof ConfigError && e.message.includes("ENGINE_HTTP_ALLOW") && e.message.includes("entry 2"),
  );
});
