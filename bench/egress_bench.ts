/**
 * The http node's call under the egress rules (`server/executors/egress_fetch.ts`: node:http with a checked
 * lookup, redirects by hand) against Deno's own `fetch`, both to a local server granted by `--http-allow`.
 * One group, so `deno bench` prints the ratio: the price of checking every connection.
 *
 * @module
 */
import { parseEgressRules } from "../server/executors/egress_rules.ts";
import { egressFetch } from "../server/executors/egress_fetch.ts";

const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  () => Response.json({ ok: true, items: [1, 2, 3] }),
);
const byIp = `http://127.0.0.1:${server.addr.port}/hook`;
const byName = `http://localhost:${server.addr.port}/hook`;
const parsed = parseEgressRules(["127.0.0.1", "localhost"]);
if (!parsed.ok) throw new Error(parsed.error);
const checked = egressFetch(parsed.rules);

Deno.bench(
  "Deno fetch (no egress check)",
  { group: "one GET to a local server", baseline: true },
  async () => {
    await (await fetch(byIp)).json();
  },
);
Deno.bench("egress fetch, IP literal", { group: "one GET to a local server" }, async () => {
  await (await checked(byIp)).json();
});
Deno.bench("egress fetch, host name (checked lookup)", { group: "one GET to a local server" }, async () => {
  await (await checked(byName)).json();
});

globalThis.addEventListener("unload", () => void server.shutdown());
