/**
 * The README's curl walk-through, run as written (against a real node on a free
 * port instead of 8080) with bash and curl.
 */
import { assert, assertStrictEquals } from "../testing/assert.ts";
import { startNode } from "./start.ts";

function walkthrough(readme: string): string {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = blocks.find((b) => b.includes("curl"));
  if (!block) throw new Error("README has no curl walk-through");
  return block;
}

Deno.test({
  name: "README: the curl walk-through works as written",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const node = await startNode({ port: 0, logLevel: "error", storage: "memory" });
    try {
      const script = walkthrough(await Deno.readTextFile(new URL("../README.md", import.meta.url)))
        .replaceAll("127.0.0.1:8080", `127.0.0.1:${node.port}`)
        .replaceAll(/^curl /gm, "echo; curl ");
      const out = await new Deno.Command("bash", { args: ["-euo", "pipefail", "-c", script] }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assertStrictEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const lines = stdout.split("\n").filter((l) => l.startsWith("{"));
      const parsed = lines.map((l) => JSON.parse(l));
      assertStrictEquals(parsed[0].workflowId, "big-numbers");
      assertStrictEquals(parsed[1].status, "completed");
      assert(parsed.some((p) => JSON.stringify(p.records) === "[192,194,196,198,200]"), stdout);
      assert(parsed.some((p) => p.state === "completed" && p.executionCount === 1), stdout);
    } finally {
      await node.close();
    }
  },
});
