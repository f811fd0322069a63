/**
 * File grants over real HTTP: a node's file sources and sinks reach only its files root. Relative paths are
 * taken from the root, absolute ones inside it are accepted; `..` escapes and absolute paths outside are
 * refused at create (400, `path_not_granted` at the config's path), and symlinks leading out fail the node
 * with `path_not_granted` when it runs (not retried). The default root is `<data-dir>/files`.
 */
import { assertEquals } from "../../testing/assert.ts";
import { createWorkflow, execute, postJson, withNode } from "../../testing/server.ts";
import type { RunningNode } from "../start.ts";

function copyWorkflow(id: string, source: string, sink: string) {
  return {
    id,
    name: id,
    nodes: [
      { id: "read", type: "source", nodeType: "file.text", config: { path: source } },
      { id: "write", type: "sink", nodeType: "file.text", config: { path: sink } },
    ],
    edges: [{ source: "read", target: "write" }],
  };
}

/** Runs `source → sink` with the given paths and waits for the end; returns the execution view. */
async function run(node: RunningNode, id: string, source: string, sink: string) {
  await createWorkflow(node, copyWorkflow(id, source, sink));
  return (await execute(node, id)).body;
}

/** Posts `source → sink`; returns the status and the problems' paths and codes. */
async function refused(node: RunningNode, id: string, source: string, sink: string) {
  const r = await postJson(node, "/api/v1/workflows", copyWorkflow(id, source, sink));
  const details = (r.body?.error?.details ?? []) as { path: string; code: string }[];
  return [r.status, r.body?.error?.code, details.map((d) => `${d.code} ${d.path}`)];
}

function failure(view: { status: string; error?: { code: string; nodeId: string } }) {
  return [view.status, view.error?.code, view.error?.nodeId];
}

Deno.test("file grants: inside the root by relative or absolute path; escapes, outside paths and links refused", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "flowmesh-root-" }));
  const outside = await Deno.realPath(await Deno.makeTempDir({ prefix: "flowmesh-outside-" }));
  try {
    await Deno.writeTextFile(`${root}/in.txt`, "a\nb");
    await Deno.writeTextFile(`${outside}/secret.txt`, "top secret");
    await Deno.symlink(`${outside}/secret.txt`, `${root}/link.txt`);
    await Deno.symlink(outside, `${root}/linkdir`);
    await withNode(
      async (node) => {
        const ok = await run(node, "ok", "in.txt", `${root}/sub/../out.txt`);
        assertEquals(ok.status, "completed", JSON.stringify(ok));
        assertEquals(await Deno.readTextFile(`${root}/out.txt`), "a\nb\n");
        const atCreate: [string, string, string, string][] = [
          ["escape", "../" + outside.split("/").pop() + "/secret.txt", "x.txt", "$.nodes[0].config.path"],
          ["absolute", `${outside}/secret.txt`, "x.txt", "$.nodes[0].config.path"],
          ["etc", "/etc/passwd", "x.txt", "$.nodes[0].config.path"],
          ["write-out", "in.txt", `${outside}/planted.txt`, "$.nodes[1].config.path"],
          ["write-escape", "in.txt", "../planted.txt", "$.nodes[1].config.path"],
        ];
        for (const [id, source, sink, path] of atCreate) {
          const problems = [`path_not_granted ${path}`];
          assertEquals(await refused(node, id, source, sink), [400, "validation_failed", problems], id);
        }
        const atRun: [string, string, string, string][] = [
          ["link", "link.txt", "x.txt", "read"],
          ["linkdir", "linkdir/secret.txt", "x.txt", "read"],
          ["write-link", "in.txt", "linkdir/planted.txt", "write"],
        ];
        for (const [id, source, sink, nodeId] of atRun) {
          const view = await run(node, id, source, sink);
          assertEquals(failure(view), ["failed", "path_not_granted", nodeId], id);
          const attempts = view.nodes.find((n: { nodeId: string }) => n.nodeId === nodeId).attempts;
          assertEquals(attempts, 1, `${id}: not retried`);
        }
        for await (const e of Deno.readDir(outside)) {
          assertEquals(e.name, "secret.txt", "nothing written outside");
        }
      },
      {},
      { filesRoot: root },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("file grants: the default root is <data-dir>/files", async () => {
  const dataDir = await Deno.realPath(await Deno.makeTempDir({ prefix: "flowmesh-data-" }));
  try {
    await withNode(
      async (node) => {
        await Deno.writeTextFile(`${dataDir}/files/in.txt`, "x");
        const ok = await run(node, "ok", "in.txt", "copy.txt");
        assertEquals(ok.status, "completed", JSON.stringify(ok));
        assertEquals(await Deno.readTextFile(`${dataDir}/files/copy.txt`), "x\n");
        const out = await refused(node, "out", `${dataDir}/other.txt`, "copy2.txt");
        assertEquals(out, [400, "validation_failed", ["path_not_granted $.nodes[0].config.path"]]);
      },
      {},
      { dataDir },
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
