/**
 * The Redis Streams adapter (ioredis): a consumer group's reader and a keyed, once-only producer, over one
 * connection per URL plus a few dedicated connections for blocking reads.
 *
 * A consume first takes over entries other runs left pending for `claimIdleMs` (a run that crashed, a batch
 * given back), then reads new ones (`XREADGROUP … >`, blocking up to what is left of `maxWaitMs`), as a
 * consumer named after the attempt. While it holds entries (reading, then until its batch is settled) it
 * resets their idle time every {@link HOLD_TOUCH_MS}, so a concurrent run's claim never takes them over. Its
 * delivery acknowledges the entries (`XACK`) on commit; a release parks them, idle, so the next consume takes
 * them over at once; a crash leaves them pending, taken over after `claimIdleMs` (at least 1 s). A produce adds each message (`value`, `key`) unless its key's marker says it was added in
 * the last day.
 *
 * @example
 * ```ts
 * import { redisBroker } from "./redis.ts";
 * const broker = redisBroker("redis://:secret@127.0.0.1:1");
 * try {
 *   await broker.produce({ config: { stream: "s" }, messages: [], signal: new AbortController().signal });
 * } finally {
 *   await broker.close();
 * }
 * ```
 *
 * @module
 */
import { Redis } from "npm:ioredis@6.1.0";
import {
  type ConsumedBatch,
  type ConsumedMessage,
  type ConsumeRequest,
  type Delivery,
  DELIVERY_HOLD_MS,
  type ProduceRequest,
  settledOnce,
} from "../broker.ts";
import { NodeError } from "../executor.ts";
import { BatchBounds, valueBytes } from "./bounds.ts";
import { Gate } from "./gate.ts";
import type { PooledBroker } from "./pool.ts";
import {
  entryMessage,
  GIVEN_BACK_IDLE_MS,
  markerKey,
  PARKING_CONSUMER,
  PRODUCE_LUA,
  type RedisConsumerConfig,
  redisConsumerConfig,
  redisNodeError,
  redisProducerConfig,
  SETTLE_LUA,
  type StreamEntry,
  TOUCH_LUA,
} from "./redis_streams.ts";

/** How many consumes of one URL read at once (each on its own connection); the others wait. */
export const MAX_CONCURRENT_READS = 16;
/** How many consumes of one URL may wait for a reading connection; more are refused (`broker_error`). */
export const MAX_WAITING_READS = 1024;
/** How many entries one read or claim asks for: what passes a bound is given back, so this bounds the waste. */
const READ_CHUNK = 256;
/** How many messages one produce script adds. */
const PRODUCE_CHUNK = 100;
/** Consumers with nothing pending, idle this long, are left over by a crash: they are deleted. */
const STALE_CONSUMER_MS = 15 * 60_000;
/** How often one stream's group is swept for such consumers. */
const SWEEP_EVERY_MS = 10 * 60_000;
/**
 * How often a consume resets the idle time of the entries it holds: a quarter of the least `claimIdleMs`
 * (`REDIS_MIN_CLAIM_IDLE_MS`), so a held entry is never idle long enough to be taken over.
 */
export const HOLD_TOUCH_MS = 250;

/** The scripts, as ioredis defines them on a connection. */
interface Scripts {
  flowmeshSettle(numKeys: number, ...args: string[]): Promise<unknown>;
  flowmeshProduce(numKeys: number, ...args: string[]): Promise<unknown>;
  flowmeshTouch(numKeys: number, ...args: string[]): Promise<unknown>;
}

type Client = Redis & Scripts;

/** Opens a connection (lazily: on its first command) that fails commands fast while the broker is down. */
function connect(url: string): Client {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    connectionName: "flowmesh",
    scripts: {
      flowmeshSettle: { lua: SETTLE_LUA },
      flowmeshProduce: { lua: PRODUCE_LUA },
      flowmeshTouch: { lua: TOUCH_LUA },
    },
  });
  // Failures reach the commands that were waiting; the event itself is only noise.
  client.on("error", () => {});
  return client as Client;
}

/** Settles `p`, or rejects with the signal's reason as soon as it aborts (then `onAbort` cuts `p` short). */
function abortable<T>(p: Promise<T>, signal: AbortSignal, onAbort: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(signal.reason);
    };
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** The dedicated connections for blocking reads: at most {@link MAX_CONCURRENT_READS} in use. */
class Readers {
  #idle: Client[] = [];
  #all = new Set<Client>();
  #gate = new Gate(MAX_CONCURRENT_READS, MAX_WAITING_READS, "redis consumes");
  #closed = false;

  constructor(readonly open: () => Client) {}

  /** A connection of its own for one consume's reads; waits while all are in use. */
  async acquire(signal: AbortSignal): Promise<Client> {
    await this.#gate.enter(signal);
    let client = this.#idle.pop();
    if (client === undefined) {
      client = this.open();
      this.#all.add(client);
    }
    return client;
  }

  /** Gives a connection back: kept for the next consume when `healthy`, else closed. */
  release(client: Client, healthy: boolean): void {
    if (healthy && !this.#closed && client.status !== "end") this.#idle.push(client);
    else this.drop(client);
    this.#gate.leave();
  }

  /** Closes a connection (a blocked read on it ends at once). */
  drop(client: Client): void {
    this.#all.delete(client);
    client.disconnect();
  }

  close(): void {
    this.#closed = true;
    this.#gate.close();
    for (const client of this.#all) client.disconnect();
    this.#all.clear();
    this.#idle = [];
  }
}

/** What one consume took so far: the messages kept, and every id it must not leave behind. */
interface Taking {
  bounds: BatchBounds;
  messages: ConsumedMessage[];
  /** Ids received but past the bounds: given back before the batch is returned. */
  refused: string[];
}

/** Sorts the entries of a reply into the batch (within its bounds) and what is given back. */
function takeEntries(stream: string, entries: unknown, taking: Taking): void {
  if (!Array.isArray(entries)) return;
  for (const entry of entries as (StreamEntry | null)[]) {
    const message = entryMessage(stream, entry);
    if (message === undefined) continue;
    if (taking.bounds.take(message)) taking.messages.push(message);
    else taking.refused.push(String(message.position.id));
  }
}

/** The Redis broker of one URL. */
class RedisBroker implements PooledBroker {
  #client: Client | undefined;
  #readers: Readers;
  #swept = new Map<string, number>();
  /** The touch timers of the entries held now (see `#hold`). */
  #holds = new Set<ReturnType<typeof setInterval>>();
  #closed = false;

  /** The URL (kept private: it may hold a password). */
  readonly #url: string;

  constructor(url: string) {
    this.#url = url;
    this.#readers = new Readers(() => connect(url));
  }

  /** The shared connection (opened again if it ended). */
  #main(): Client {
    if (this.#closed) throw new NodeError("broker_unreachable", "redis: the connection was closed", true);
    if (this.#client === undefined || this.#client.status === "end") this.#client = connect(this.#url);
    return this.#client;
  }

  async consume(request: ConsumeRequest): Promise<ConsumedBatch> {
    const config = redisConsumerConfig(request.config);
    const { signal, consumerName } = request;
    signal.throwIfAborted();
    const deadline = Date.now() + request.maxWaitMs;
    const taking: Taking = {
      bounds: new BatchBounds(request.maxMessages, request.maxBytes, request.measure ?? valueBytes),
      messages: [],
      refused: [],
    };
    let unhold = () => {};
    try {
      await this.#ensureGroup(config);
      await this.#claim(config, consumerName, taking, signal);
      // Held from here until settled: what was claimed (idle 0 now), and what the reads take.
      unhold = this.#hold(config, consumerName);
      if (!taking.bounds.stopped) await this.#readNew(config, consumerName, taking, deadline, signal);
      if (taking.refused.length > 0) await this.#settle(config, consumerName, "back", taking.refused);
    } catch (err) {
      unhold();
      // Everything this consumer holds goes back (also what a read cut short delivered unseen).
      await this.#settle(config, consumerName, "all", []).catch(() => {});
      if (signal.aborted) throw signal.reason;
      throw redisNodeError(err, this.#url, `reading stream ${JSON.stringify(config.stream)}`);
    }
    return {
      messages: taking.messages,
      delivery: await this.#delivery(config, consumerName, taking, unhold),
    };
  }

  /**
   * Holds what `consumer` has pending until the returned function is called: every {@link HOLD_TOUCH_MS} its
   * entries' idle time is reset (a touch that fails is left for the next one). Closing the broker stops it.
   */
  #hold(config: RedisConsumerConfig, consumer: string): () => void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.#closed) return;
      busy = true;
      this.#main().flowmeshTouch(1, config.stream, config.group, consumer)
        .catch(() => {})
        .finally(() => busy = false);
    }, HOLD_TOUCH_MS);
    // A process that ends while holding (the broker takes the entries over then) is not kept alive by it.
    Deno.unrefTimer(timer);
    this.#holds.add(timer);
    return () => {
      clearInterval(timer);
      this.#holds.delete(timer);
    };
  }

  /** The batch's delivery: acks on commit, parks on release; nothing to hold for an empty batch. */
  async #delivery(
    config: RedisConsumerConfig,
    consumer: string,
    taking: Taking,
    unhold: () => void,
  ): Promise<Delivery> {
    if (taking.messages.length === 0) {
      unhold();
      await this.#settle(config, consumer, "all", []).catch(() => {});
      return { commit: () => Promise.resolve(), release: () => Promise.resolve() };
    }
    const ids = taking.messages.map((m) => String(m.position.id));
    const settle = async (mode: "ack" | "all") => {
      unhold();
      try {
        await this.#settle(config, consumer, mode, mode === "ack" ? ids : []);
      } catch (err) {
        throw redisNodeError(
          err,
          this.#url,
          mode === "ack" ? "acknowledging entries" : "giving entries back",
        );
      }
    };
    return settledOnce({ commit: () => settle("ack"), release: () => settle("all") }, DELIVERY_HOLD_MS);
  }

  /** Creates the group (at the stream's start, the stream too) unless it exists. */
  async #ensureGroup({ stream, group }: RedisConsumerConfig): Promise<void> {
    try {
      await this.#main().call("XGROUP", "CREATE", stream, group, "0", "MKSTREAM");
    } catch (err) {
      if (!/BUSYGROUP/.test(String((err as Error)?.message))) throw err;
    }
  }

  /** Takes over the entries pending for `claimIdleMs` or more, oldest first, within the bounds. */
  async #claim(config: RedisConsumerConfig, consumer: string, taking: Taking, signal: AbortSignal) {
    const { stream, group, claimIdleMs } = config;
    let cursor = "0-0";
    let claimed = 0;
    for (let round = 0; round < 1000 && !taking.bounds.stopped; round++) {
      signal.throwIfAborted();
      const count = Math.min(taking.bounds.room, READ_CHUNK);
      const reply = await this.#main().call(
        "XAUTOCLAIM",
        stream,
        group,
        consumer,
        String(claimIdleMs),
        cursor,
        "COUNT",
        String(count),
      ) as [string, unknown[]];
      claimed += Array.isArray(reply?.[1]) ? reply[1].length : 0;
      takeEntries(stream, reply?.[1], taking);
      cursor = String(reply?.[0] ?? "0-0");
      if (cursor === "0-0") break;
    }
    if (claimed > 0) await this.#sweep(config).catch(() => {});
  }

  /** Reads new entries until the bounds are reached or the deadline passes, on a connection of its own. */
  async #readNew(
    config: RedisConsumerConfig,
    consumer: string,
    taking: Taking,
    deadline: number,
    signal: AbortSignal,
  ): Promise<void> {
    const reader = await this.#readers.acquire(signal);
    let healthy = true;
    try {
      for (let first = true; !taking.bounds.stopped; first = false) {
        const left = deadline - Date.now();
        if (!first && left <= 0) break;
        const args = [
          "GROUP",
          config.group,
          consumer,
          "COUNT",
          String(Math.min(taking.bounds.room, READ_CHUNK)),
        ];
        // BLOCK 0 would wait for ever: with no time left, the read does not block.
        if (left > 0) args.push("BLOCK", String(left));
        args.push("STREAMS", config.stream, ">");
        const reply = await abortable(reader.call("XREADGROUP", ...args), signal, () => {
          healthy = false;
          this.#readers.drop(reader);
        }) as [string, unknown][] | null;
        takeEntries(config.stream, reply?.[0]?.[1], taking);
      }
    } catch (err) {
      healthy = false;
      throw err;
    } finally {
      this.#readers.release(reader, healthy);
    }
  }

  /** Runs the settle script for `consumer` (see `SETTLE_LUA`). */
  async #settle(
    { stream, group }: RedisConsumerConfig,
    consumer: string,
    mode: "ack" | "back" | "all" | "none",
    ids: string[],
  ): Promise<void> {
    await this.#main().flowmeshSettle(1, stream, group, consumer, mode, String(GIVEN_BACK_IDLE_MS), ...ids);
  }

  /**
   * Deletes the consumers a crash left behind (nothing pending, idle for long), once in a while per group:
   * a consume that took entries over is the sign there may be some.
   */
  async #sweep(config: RedisConsumerConfig): Promise<void> {
    const id = `${config.stream}\n${config.group}`;
    const now = Date.now();
    if (now - (this.#swept.get(id) ?? -Infinity) < SWEEP_EVERY_MS) return;
    this.#swept.delete(id);
    this.#swept.set(id, now);
    if (this.#swept.size > 1000) this.#swept.delete(this.#swept.keys().next().value!);
    const consumers = await this.#main().call(
      "XINFO",
      "CONSUMERS",
      config.stream,
      config.group,
    ) as unknown[][];
    let deleted = 0;
    for (const fields of consumers) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
      const name = String(info.name);
      if (name === PARKING_CONSUMER || Number(info.pending) !== 0) continue;
      if (Number(info.idle) < STALE_CONSUMER_MS) continue;
      // The script deletes it only if it still has nothing pending.
      await this.#settle(config, name, "none", []);
      if (++deleted >= 100) break;
    }
  }

  async produce(request: ProduceRequest): Promise<void> {
    const { stream, maxLen } = redisProducerConfig(request.config);
    const { messages, signal } = request;
    for (let i = 0; i < messages.length; i += PRODUCE_CHUNK) {
      signal.throwIfAborted();
      const chunk = messages.slice(i, i + PRODUCE_CHUNK);
      const keys = [stream, ...chunk.map((m) => markerKey(stream, m.key))];
      const args = [String(maxLen), ...chunk.flatMap((m) => [m.key, m.value])];
      try {
        await this.#main().flowmeshProduce(keys.length, ...keys, ...args);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        throw redisNodeError(err, this.#url, `adding to stream ${JSON.stringify(stream)}`);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#holds) clearInterval(timer);
    this.#holds.clear();
    this.#readers.close();
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    const quit = client.quit().catch(() => {});
    const timer = setTimeout(() => client.disconnect(), 1000);
    await quit;
    clearTimeout(timer);
    client.disconnect();
  }
}

/**
 * The Redis Streams broker of a `redis://` or `rediss://` URL (`redis://[:password@]host:port[/db]`); its
 * connections open on first use.
 */
export function redisBroker(url: string): PooledBroker {
  return new RedisBroker(url);
}
