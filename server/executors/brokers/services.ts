/**
 * The brokers behind `NodeServices.broker`: the connection a messaging node names, granted by the operator
 * (`--broker NAME=URL`), or its inline `url` / Kafka `brokers` where inline connections are allowed; one
 * client per URL (at most {@link MAX_BROKERS}, the least recently used closed), its adapter loaded on first use.
 *
 * @example
 * ```ts
 * import { brokerServices } from "./services.ts";
 * const services = brokerServices({ brokers: { default: "nats://127.0.0.1:4222" } });
 * try {
 *   services.broker({ kind: "redis" }); // `default` is a NATS connection
 *   throw new Error("unreachable");
 * } catch (e) {
 *   if ((e as { code?: string }).code !== "connection_scheme") throw e;
 * }
 * await services.close();
 * ```
 *
 * @module
 */
import { BROKER_SCHEMES, type BrokerKind } from "../../../core/catalog_messaging.ts";
import type { BrokerClient, BrokerTarget } from "../broker.ts";
import { NodeError } from "../executor.ts";
import type { BrokerFactory, PooledBroker } from "./pool.ts";

/** How many broker URLs keep a client at once. */
export const MAX_BROKERS = 16;

/** What brokers are granted. */
export interface BrokerGrants {
  /** The declared connections by name (`--broker NAME=URL`). */
  brokers?: Readonly<Record<string, string>>;
  /** Whether a node's inline `url` / `brokers` is accepted (`--allow-inline-connections`). */
  allowInlineConnections?: boolean;
}

/** The broker part of the real services. */
export interface BrokerServices {
  broker(target: BrokerTarget): BrokerClient;
  /** How many clients evicted (the least recently used past {@link MAX_BROKERS}) are still closing. */
  readonly closing: number;
  close(): Promise<void>;
}

/** The adapters, loaded when a node first uses one (a server that runs no messaging node loads none). */
const ADAPTERS: Readonly<Record<BrokerKind, () => Promise<BrokerFactory>>> = {
  kafka: async () => (await import("./kafka.ts")).kafkaBroker,
  nats: async () => (await import("./nats.ts")).natsBroker,
  rabbitmq: async () => (await import("./rabbitmq.ts")).rabbitmqBroker,
  redis: async () => (await import("./redis.ts")).redisBroker,
};

/** The scheme of a broker URL (`kafka://a:1,b:2` has no single host, so it is not parsed as a URL). */
function schemeOf(url: string): string {
  return (/^([a-z][a-z0-9+.-]*:)\/\//i.exec(url)?.[1] ?? "").toLowerCase();
}

/** The URL a target resolves to, if granted; else `connection_not_granted` / `connection_scheme`. */
export function grantedBrokerUrl(grants: BrokerGrants, target: BrokerTarget): string {
  let url: string;
  if (target.url !== undefined && target.connection === undefined) {
    if (grants.allowInlineConnections !== true) {
      throw new NodeError(
        "connection_not_granted",
        "an inline broker address is refused on this node; name a declared connection (--broker NAME=URL)",
        false,
      );
    }
    url = target.url;
  } else {
    const name = target.connection ?? "default";
    const declared = grants.brokers;
    if (declared === undefined || !Object.hasOwn(declared, name)) {
      throw new NodeError(
        "connection_not_granted",
        `no broker connection ${JSON.stringify(name)} is declared on this node (--broker NAME=URL)`,
        false,
      );
    }
    url = declared[name];
  }
  if (!BROKER_SCHEMES[target.kind].includes(schemeOf(url))) {
    throw new NodeError(
      "connection_scheme",
      `a ${target.kind} node needs a ${
        BROKER_SCHEMES[target.kind].map((s) => `${s}//`).join(" or ")
      } connection`,
      false,
    );
  }
  return url;
}

/**
 * A client whose adapter is imported on first use; an import that failed is tried again by the next use.
 *
 * @example
 * ```ts
 * import { lazyClient } from "./services.ts";
 * let loads = 0;
 * const client = lazyClient(() => {
 *   loads++;
 *   return Promise.reject(new Error("not loadable"));
 * }, "nats://127.0.0.1:4222");
 * const signal = new AbortController().signal;
 * const request = { config: {}, messages: [], signal };
 * await client.produce(request).catch(() => {});
 * await client.produce(request).catch(() => {});
 * if (loads !== 2) throw new Error(`loaded ${loads} times`);
 * await client.close();
 * ```
 */
export function lazyClient(load: () => Promise<BrokerFactory>, url: string): PooledBroker {
  let client: Promise<PooledBroker> | undefined;
  const get = () => {
    if (client) return client;
    const loading = load().then((factory) => factory(url));
    client = loading;
    loading.catch(() => {
      if (client === loading) client = undefined;
    });
    return loading;
  };
  return {
    consume: async (request) => (await get()).consume(request),
    produce: async (request) => (await get()).produce(request),
    close: async () => {
      const loaded = await client?.catch(() => undefined);
      await loaded?.close();
    },
  };
}

/**
 * The brokers granted by `grants`; `factories` replaces adapters (tests, the simulator).
 *
 * @throws {NodeError} from `broker`: `connection_not_granted`, `connection_scheme` (neither retryable).
 */
export function brokerServices(
  grants: BrokerGrants,
  factories: Partial<Record<BrokerKind, BrokerFactory>> = {},
): BrokerServices {
  const clients = new Map<string, PooledBroker>();
  // The evicted clients still closing (each leaves the set once closed).
  const closing = new Set<Promise<void>>();
  return {
    broker(target) {
      const url = grantedBrokerUrl(grants, target);
      const hit = clients.get(url);
      if (hit) {
        clients.delete(url);
        clients.set(url, hit);
        return hit;
      }
      const factory = factories[target.kind];
      const client = factory ? factory(url) : lazyClient(ADAPTERS[target.kind], url);
      clients.set(url, client);
      if (clients.size > MAX_BROKERS) {
        const [oldest, old] = clients.entries().next().value!;
        clients.delete(oldest);
        const closed: Promise<void> = old.close().catch(() => {}).finally(() => closing.delete(closed));
        closing.add(closed);
      }
      return client;
    },
    get closing() {
      return closing.size;
    },
    async close() {
      const all = [...clients.values()];
      clients.clear();
      await Promise.all([...closing, ...all.map((c) => c.close().catch(() => {}))]);
    },
  };
}
