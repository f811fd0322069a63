import { assert, assertEquals } from "../../../testing/assert.ts";
import type { ProduceRequest } from "../broker.ts";
import { brokerServices, lazyClient, MAX_BROKERS } from "./services.ts";
import type { BrokerFactory, PooledBroker } from "./pool.ts";

const produce: ProduceRequest = { config: {}, messages: [], signal: new AbortController().signal };

Deno.test("broker services: evicted clients are forgotten once closed; close waits for the one still closing", async () => {
  let finish = () => {};
  const slow = new Promise<void>((r) => finish = r);
  const closed: string[] = [];
  const factory: BrokerFactory = (url) => ({
    consume: () => Promise.reject(new Error("unused")),
    produce: () => Promise.resolve(),
    close: async () => {
      if (url.endsWith(":1")) await slow;
      closed.push(url);
    },
  });
  const services = brokerServices({ allowInlineConnections: true }, { nats: factory });
  const urls = Array.from({ length: MAX_BROKERS + 5 }, (_, i) => `nats://127.0.0.1:${i + 1}`);
  for (const url of urls) services.broker({ kind: "nats", url });
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(services.closing, 1); // the four others closed and were let go; :1 is still closing
  const closing = services.close();
  finish();
  await closing;
  assertEquals(services.closing, 0);
  assertEquals(closed.length, urls.length);
});

Deno.test("broker services: an adapter that failed to load is loaded again by the next use", async () => {
  let loads = 0;
  const client: PooledBroker = {
    consume: () => Promise.reject(new Error("unused")),
    produce: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const lazy = lazyClient(() => {
    loads++;
    return loads === 1 ? Promise.reject(new Error("import failed")) : Promise.resolve(() => client);
  }, "nats://127.0.0.1:4222");
  const first = await lazy.produce(produce).then(() => undefined, (e) => e);
  assert(first instanceof Error && first.message === "import failed", String(first));
  await lazy.produce(produce);
  await lazy.produce(produce);
  assertEquals(loads, 2);
  await lazy.close();
});
