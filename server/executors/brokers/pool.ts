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
 * A URL as it may be shown: without its secrets. A password becomes `***`; a user without a password (a
 * token, as in `nats://TOKEN@host`) is hidden whole: `***@host`.
 *
 * @example
 * ```ts
 * import { shownBrokerUrl } from "./pool.ts";
 * if (shownBrokerUrl("amqp://guest:secret@127.0.0.1:5672/") !== "amqp://guest:***@127.0.0.1:5672/") throw new Error();
 * if (shownBrokerUrl("nats://s3cr3tT0ken@127.0.0.1:4222") !== "nats://***@127.0.0.1:4222") throw new Error();
 * ```
 */
export function shownBrokerUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    else if (u.username !== "") u.username = "***";
    return u.toString();
  } catch {
    return "(a broker URL)";
  }
}

/**
 * The secrets of a broker URL, as they may appear in a library's error text (decoded and as written): its
 * password, or its user when it has no password (a token). Replace them before showing an error.
 *
 * @example
 * ```ts
 * import { urlSecrets } from "./pool.ts";
 * if (urlSecrets("nats://t%40k@h:4222").join() !== "t@k,t%40k") throw new Error();
 * if (urlSecrets("amqp://guest:pw@h").join() !== "pw") throw new Error();
 * if (urlSecrets("redis://h:6379").length !== 0) throw new Error();
 * ```
 */
export function urlSecrets(url: string): string[] {
  if (!URL.canParse(url)) return [];
  const u = new URL(url);
  const raw = u.password !== "" ? u.password : u.username;
  if (raw === "") return [];
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    decoded = raw;
  }
  return [...new Set([decoded, raw])];
}
