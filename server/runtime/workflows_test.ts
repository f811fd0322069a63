import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { checkWorkflow, WorkflowService } from "./workflows.ts";

const chain = (condition: string) => ({
  id: "wf",
  name: "wf",
  nodes: [
    { id: "a", type: "source", nodeType: "sequence.numbers", config: {} },
    { id: "b", type: "transform", nodeType: "filter", config: { condition } },
    { id: "c", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "a", target: "b" }, { source: "b", target: "c" }],
});

Deno.test("checkWorkflow: expression syntax errors come with the structural problems, at once", () => {
  const wf = chain("value >");
  wf.edges.push({ source: "c", target: "b" }); // a sink with an output, and a cycle
  const r = checkWorkflow(wf);
  assert(!r.ok);
  const codes = r.problems.map((p) => `${p.code}@${p.path}`);
  assert(codes.includes("expression_invalid@$.nodes[1].config.condition"), codes.join("\n"));
  assert(r.problems.some((p) => p.code === "cycle"), codes.join("\n"));
  assert(r.problems.some((p) => p.code === "sink_has_output"), codes.join("\n"));
});

Deno.test("checkWorkflow: the hash ignores key order and changes with content", () => {
  const a = checkWorkflow(chain("value > 1"));
  const b = checkWorkflow(
    JSON.parse(
      JSON.stringify(chain("value > 1")),
      (_k, v) =>
        v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
    ),
  );
  const c = checkWorkflow(chain("value > 2"));
  assert(a.ok && b.ok && c.ok);
  assertStrictEquals(a.value.hash, b.value.hash);
  assert(a.value.hash !== c.value.hash);
});

Deno.test("WorkflowService: create, identical re-post, conflict, update, delete, re-create", async () => {
  const svc = new WorkflowService(new MemoryStorage(), () => 1000);
  const created = await svc.create(chain("value > 1"));
  assert(created.ok && created.status === "created" && created.workflow.version === 1);
  const again = await svc.create(chain("value > 1"));
  assert(again.ok && again.status === "unchanged" && again.workflow.version === 1);
  const clash = await svc.create(chain("value > 2"));
  assertStrictEquals(clash.ok ? "ok" : clash.code, "workflow_exists");
  const updated = await svc.update("wf", chain("value > 2"));
  assert(updated.ok && updated.status === "updated" && updated.workflow.version === 2);
  const mismatch = await svc.update("other", chain("value > 2"));
  assertStrictEquals(mismatch.ok ? "ok" : mismatch.code, "id_mismatch");
  assert(await svc.delete("wf"));
  assertStrictEquals(await svc.get("wf"), undefined);
  assertEquals((await svc.get("wf", 1))?.version, 1);
  const recreated = await svc.create(chain("value > 3"));
  assert(recreated.ok && recreated.workflow.version === 3);
});
