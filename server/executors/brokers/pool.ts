/**
 * A broker client that owns a connection: what each adapter (`nats.ts`, `rabbitmq.ts`, `redis.ts`,
 * `kafka.ts`) makes for one URL, and the services layer (`services.ts`) keeps and closes.
 *
 * @example
 * ```ts
 * import type { PooledBroker } from "./pool.ts";
 * const none: PooledBroker = {
 *   consume: () => Promise.reject(new Error("no broker")),
 *   produce: () => Promise.resolve(),
 *   close: () => Promise.resolve(),
 * };
 * await none.close();
 * ```
 *
 * @module
 */
import type { BrokerClient } from "../broker.ts";

/** A broker client over one long-lived connection (opened lazily), closed with `close`. */
export interface PooledBroker extends BrokerClient {
  close(): Promise<void>;
}

/** The adapter of one broker kind: a client for a URL of its scheme. */
export type BrokerFactory = (url: string) => PooledBroker;

/**
 * A URL as it may be shown: without its password.
 *
 * @example
 * ```ts
 * import { shownBrokerUrl } from "./pool.ts";
 * if (shownBrokerUrl("amqp://guest:secret@127.0.0.1:5672/") !== "amqp://guest:***@127.0.0.1:5672/") throw new Error();
 * ```
 */
export function shownBrokerUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(a broker URL)";
  }
}
