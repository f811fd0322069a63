/**
 * An application that embeds flowmesh: its own node kind (`orders.price`, its config checked by zod), a
 * workflow that prices the orders it is given, the run followed event by event, and the engine's HTTP API and
 * console served from the same process when asked.
 *
 *     deno run -A main.ts                     # prices two orders and prints them
 *     deno run -A main.ts --data-dir ./data   # the same, kept in an embedded SQLite store
 *     deno run -A main.ts --serve 8090        # then serves the API and console until Ctrl-C
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "npm:zod@4.6.7";
import { createEngine, defineNodeKind, NodeError } from "../../../mod.ts";

/** Prices each order: quantity × unit price, plus tax, rounded to cents. */
const price = defineNodeKind({
  type: "transform",
  name: "orders.price",
  description: "Adds a total (with tax) to each order",
  configSchema: z.object({
    currency: z.enum(["EUR", "USD", "GBP"]),
    taxRate: z.number().min(0).max(1).default(0.2),
  }),
  local: true,
  run(ctx, orders) {
    return orders.map((order) => {
      const { sku, quantity, unitPrice } = order as { sku: string; quantity: number; unitPrice: number };
      if (!(quantity > 0)) throw new NodeError("bad_order", `order ${sku} has no quantity`, false);
      const total = Math.round(quantity * unitPrice * (1 + ctx.config.taxRate) * 100) / 100;
      return { sku, quantity, total, currency: ctx.config.currency };
    });
  },
});

const args = parseArgs({
  args: Deno.args,
  options: { "data-dir": { type: "string" }, serve: { type: "string" } },
});
const dataDir = args.values["data-dir"];
const engine = await createEngine({
  storage: dataDir ? { embedded: dataDir } : "memory",
  nodeKinds: [price],
  log: "error",
});

await engine.putWorkflow({
  id: "price-orders",
  name: "Price orders",
  nodes: [
    { id: "orders", type: "source", nodeType: "execution.input", config: {} },
    { id: "price", type: "transform", nodeType: "orders.price", config: { currency: "EUR" } },
    { id: "priced", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "orders", target: "price" }, { source: "price", target: "priced" }],
});

const run = await engine.execute("price-orders", {
  input: [{ sku: "tea", quantity: 2, unitPrice: 4.5 }, { sku: "cup", quantity: 1, unitPrice: 12 }],
});
for await (const event of engine.subscribe(run.executionId)) {
  console.log(`event ${event.seq} ${event.type}${"nodeId" in event ? ` ${event.nodeId}` : ""}`);
}
const done = await engine.get(run.executionId);
console.log(`status ${done.status}`);
console.log(`priced ${JSON.stringify(await engine.output(run.executionId, "priced"))}`);

if (args.values.serve !== undefined) {
  const { url } = engine.serve({ port: Number(args.values.serve) });
  console.log(`serving ${url}/ui/ (Ctrl-C stops)`);
  Deno.addSignalListener("SIGINT", () => engine.close().then(() => Deno.exit(0)));
} else {
  await engine.close();
}
