/**
 * Message brokers for tests (NATS JetStream, RabbitMQ, Redis): the URLs to use and whether the tests that
 * need one run. With CI=true a broker that does not answer fails those tests (never a silent skip); locally
 * they are skipped with a line saying so. Imported only by tests.
 *
 * @example
 * ```ts
 * import { TEST_REDIS_URL } from "./brokers.ts";
 * if (!TEST_REDIS_URL.startsWith("redis")) throw new Error(TEST_REDIS_URL);
 * ```
 *
 * @module
 */

/** The test NATS server: `ENGINE_TEST_NATS_URL`, else the local one. */
export const TEST_NATS_URL = Deno.env.get("ENGINE_TEST_NATS_URL") ?? "nats://127.0.0.1:4222";

/** The test RabbitMQ: `ENGINE_TEST_AMQP_URL`, else the local one as guest. */
export const TEST_AMQP_URL = Deno.env.get("ENGINE_TEST_AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672";

/** The test Redis: `ENGINE_TEST_REDIS_URL`, else the local one. */
export const TEST_REDIS_URL = Deno.env.get("ENGINE_TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

/** A broker the tests use. */
export type TestBroker = "nats" | "rabbitmq" | "redis";

const URLS: Readonly<Record<TestBroker, string>> = {
  nats: TEST_NATS_URL,
  rabbitmq: TEST_AMQP_URL,
  redis: TEST_REDIS_URL,
};

const DEFAULT_PORTS: Readonly<Record<TestBroker, number>> = { nats: 4222, rabbitmq: 5672, redis: 6379 };

/** The host and port of a test broker's URL. */
function addressOf(service: TestBroker): { hostname: string; port: number } {
  const u = new URL(URLS[service]);
  return {
    hostname: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port === "" ? DEFAULT_PORTS[service] : Number(u.port),
  };
}

const reachable = new Map<TestBroker, Promise<boolean>>();

/**
 * Whether a test broker's port answers (asked once per process).
 *
 * @example
 * ```ts
 * import { brokerReachable } from "./brokers.ts";
 * if (typeof (await brokerReachable("redis")) !== "boolean") throw new Error();
 * ```
 */
export function brokerReachable(service: TestBroker): Promise<boolean> {
  let p = reachable.get(service);
  if (p === undefined) {
    p = (async () => {
      const timeout = AbortSignal.timeout(3000);
      try {
        const conn = await Deno.connect({ ...addressOf(service), signal: timeout });
        conn.close();
        return true;
      } catch {
        return false;
      }
    })();
    reachable.set(service, p);
  }
  return p;
}

/**
 * Registers a test that needs a broker. Without it the test is skipped locally (with a line saying so),
 * but under CI=true it runs and fails loudly.
 *
 * @example
 * ```ts
 * import { brokerTest } from "./brokers.ts";
 * if (typeof brokerTest !== "function") throw new Error();
 * ```
 */
export function brokerTest(
  name: string,
  service: TestBroker,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      if (!(await brokerReachable(service))) {
        const { hostname, port } = addressOf(service);
        if (Deno.env.get("CI") === "true") {
          throw new Error(`${service} is not reachable at ${hostname}:${port} (CI=true: this must not skip)`);
        }
        console.warn(`skipped locally: ${service} not reachable at ${hostname}:${port}`);
        return;
      }
      await fn(t);
    },
  });
}
