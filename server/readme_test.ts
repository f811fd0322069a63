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

Deno.test({
  name: "README: the call with a token works as written against a node with the README's tokens",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
    const tokens = [...readme.matchAll(/--api-token (viewer|operator|admin):(\S+)/g)].map((m) => ({
      role: m[1] as "viewer" | "operator" | "admin",
      token: m[2],
    }));
    assert(tokens.length >= 1, "the README starts a node with tokens");
    const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1])
      .find((b) => b.includes("Authorization: Bearer"));
    assert(block, "the README shows a call with a token");
    const node = await startNode({ port: 0, logLevel: "error", storage: "memory", apiTokens: tokens });
    try {
      const script = block.replaceAll("127.0.0.1:8090", `127.0.0.1:${node.port}`).replaceAll(
        /^curl /gm,
        "echo; curl ",
      );
      const out = await new Deno.Command("bash", { args: ["-euo", "pipefail", "-c", script] }).output();
      assertStrictEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const parsed = new TextDecoder().decode(out.stdout).split("\n").filter((l) => /^[{[]/.test(l))
        .map((l) => JSON.parse(l));
      assertStrictEquals(parsed[0].error.code, "unauthenticated");
      assertStrictEquals(JSON.stringify(parsed[1]), "[]");
    } finally {
      await node.close();
    }
  },
});
