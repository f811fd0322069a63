/** An input nested 20,000 deep is taken as it is (the route's schema does not walk it): never a 500. */
import { assertEquals } from "../../testing/assert.ts";
import { startNode } from "../start.ts";

Deno.test("execute: a deeply nested input is accepted, not a 500", async () => {
  const node = await startNode({ port: 0, storage: "memory", logLevel: "error" });
  try {
    const def = {
      id: "w",
      name: "w",
      nodes: [{ id: "s", type: "source", nodeType: "execution.input", config: {} }],
      edges: [],
    };
    const created = await fetch(`${node.url}/api/v1/workflows`, {
      method: "POST",
      body: JSON.stringify(def),
    });
    assertEquals(created.status, 201);
    await created.body?.cancel();
    const input = "[".repeat(20_000) + "]".repeat(20_000);
    const res = await fetch(`${node.url}/api/v1/workflows/w/execute`, {
      method: "POST",
      body: `{"input":${input}}`,
    });
    const body = await res.json();
    assertEquals(res.status, 202, JSON.stringify(body).slice(0, 300));
  } finally {
    await node.close();
  }
});
