/**
 * The Redis Streams side of the Redis adapter (`redis.ts`), without a connection: the node's config, the
 * entries as messages, the Lua scripts that settle a batch and add keyed entries once, and the errors as
 * `NodeError`s with stable codes (never showing the URL's password).
 *
 * @example
 * ```ts
 * import { entryMessage, redisConsumerConfig } from "./redis_streams.ts";
 * const m = entryMessage("s", ["1-0", ["value", '{"a":1}', "key", "k"]]);
 * if (m?.value !== '{"a":1}' || m.key !== "k" || m.position.id !== "1-0") throw new Error();
 * if (entryMessage("s", ["2-0", ["x", "1"]])?.value !== '{"x":"1"}') throw new Error();
 * if (redisConsumerConfig({ stream: "s" }).group !== "flowmesh") throw new Error();
 * ```
 *
 * @module
 */
import { REDIS_MIN_CLAIM_IDLE_MS } from "../../../core/catalog_messaging.ts";
import type { ConsumedMessage } from "../broker.ts";
import { NodeError } from "../executor.ts";
import { shownBrokerUrl } from "./pool.ts";

/** The consumer a batch given back is parked on: any run's claim takes it over at once. */
export const PARKING_CONSUMER = "flowmesh:released";

/**
 * The idle time an entry given back is set to: more than any `claimIdleMs` (at most a day), so the next
 * consume takes it over whatever its setting.
 */
export const GIVEN_BACK_IDLE_MS = 2 * 86_400_000;

/** How long a producer's marker keeps a key from being added again: a day. */
export const MARKER_TTL_SECONDS = 86_400;

/** What a Redis consumer node reads. */
export interface RedisConsumerConfig {
  stream: string;
  group: string;
  claimIdleMs: number;
}

/** What a Redis producer node writes. */
export interface RedisProducerConfig {
  stream: string;
  /** Trim the stream to about this many entries (`MAXLEN ~`); 0 for no trimming. */
  maxLen: number;
}

function stringField(config: Record<string, unknown>, name: string, fallback?: string): string {
  const v = config[name] ?? fallback;
  if (typeof v !== "string" || v === "") {
    throw new NodeError("config_missing", `${name}: a non-empty string is needed`, false);
  }
  return v;
}

function intField(config: Record<string, unknown>, name: string, fallback: number, min: number): number {
  const v = config[name] ?? fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new NodeError("config_format", `${name}: an integer ≥ ${min} is needed`, false);
  }
  return v;
}

/**
 * The stream, group and claim delay of a consumer node's (normalised) config. A claim delay under
 * {@link REDIS_MIN_CLAIM_IDLE_MS} (a definition older than that bound) is read as that bound: a shorter one
 * would take over batches still held.
 *
 * @throws {NodeError} `config_missing` / `config_format` (not retryable).
 */
export function redisConsumerConfig(config: Record<string, unknown>): RedisConsumerConfig {
  const claimIdleMs = intField(config, "claimIdleMs", 30_000, 0);
  return {
    stream: stringField(config, "stream"),
    group: stringField(config, "group", "flowmesh"),
    claimIdleMs: Math.min(Math.max(claimIdleMs, REDIS_MIN_CLAIM_IDLE_MS), 86_400_000),
  };
}

/**
 * The stream and trimming of a producer node's (normalised) config.
 *
 * @throws {NodeError} `config_missing` / `config_format` (not retryable).
 */
export function redisProducerConfig(config: Record<string, unknown>): RedisProducerConfig {
  return { stream: stringField(config, "stream"), maxLen: intField(config, "maxLen", 0, 0) };
}

/** A stream entry as Redis replies it: its id and its flat `[field, value, …]` list. */
export type StreamEntry = [id: string, fields: string[]];

/**
 * The message of a stream entry: its field `value` (and `key`), or, without `value`, its field map as a JSON
 * object's text; undefined for an entry Redis no longer has.
 */
export function entryMessage(stream: string, entry: StreamEntry | null): ConsumedMessage | undefined {
  if (!Array.isArray(entry) || typeof entry[0] !== "string" || !Array.isArray(entry[1])) return undefined;
  const [id, fields] = entry;
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[String(fields[i])] = String(fields[i + 1]);
  const position = { stream, id };
  if (!Object.hasOwn(map, "value")) return { value: JSON.stringify(map), position };
  const message: ConsumedMessage = { value: map.value, position };
  if (Object.hasOwn(map, "key")) message.key = map.key;
  return message;
}

/**
 * Settles what one consumer holds, atomically. KEYS[1] the stream; ARGV: group, consumer, mode, idle, ids…
 * - `ack`: acknowledges the ids;
 * - `back`: parks the ids on {@link PARKING_CONSUMER}, idle `idle` ms (taken over by the next claim);
 * - `all`: parks everything the consumer has pending (what it took, and what a read cut short left it);
 * - `none`: nothing.
 * Then the consumer is deleted if it has nothing pending (never while it holds entries: they would be lost).
 */
export const SETTLE_LUA = `
local stream, group, consumer, mode, idle = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function park(ids)
  for i = 1, #ids, 500 do
    -- unpack() expands to every value only as the last argument: the ids go in a table with the options.
    local args = {stream, group, '${PARKING_CONSUMER}', 0}
    for j = i, math.min(i + 499, #ids) do args[#args + 1] = ids[j] end
    args[#args + 1] = 'IDLE'
    args[#args + 1] = idle
    args[#args + 1] = 'JUSTID'
    redis.call('XCLAIM', unpack(args))
  end
end
if mode == 'ack' or mode == 'back' then
  local ids = {}
  for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
  if mode == 'ack' then
    for i = 1, #ids, 500 do
      redis.call('XACK', stream, group, unpack(ids, i, math.min(i + 499, #ids)))
    end
  else
    park(ids)
  end
elseif mode == 'all' then
  for round = 1, 1000 do
    local pending = redis.call('XPENDING', stream, group, '-', '+', 500, consumer)
    if #pending == 0 then break end
    local ids = {}
    for i = 1, #pending do ids[i] = pending[i][1] end
    park(ids)
  end
end
if #redis.call('XPENDING', stream, group, '-', '+', 1, consumer) == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer)
end
return -1
`;

/**
 * Keeps what one consumer holds from being taken over: resets the idle time of every entry pending for it
 * (`XCLAIM` to itself, `JUSTID`: the delivery count stays). KEYS[1] the stream; ARGV: group, consumer.
 * Returns how many entries were touched. Only that consumer's entries: one already taken over stays taken.
 */
export const TOUCH_LUA = `
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local start, touched = '-', 0
for round = 1, 1000 do
  local pending = redis.call('XPENDING', stream, group, start, '+', 500, consumer)
  if #pending == 0 then break end
  local args = {stream, group, consumer, 0}
  for i = 1, #pending do args[#args + 1] = pending[i][1] end
  args[#args + 1] = 'JUSTID'
  redis.call('XCLAIM', unpack(args))
  touched = touched + #pending
  if #pending < 500 then break end
  start = '(' .. pending[#pending][1]
end
return touched
`;

/**
 * Adds entries once per key. KEYS[1] the stream, KEYS[2…] each message's marker; ARGV[1] the MAXLEN (0: no
 * trimming), then each message's key and value. A message whose marker exists was added already (a resend)
 * and is skipped; else it is added (fields `value`, `key`) and its marker set to the entry's id for a day.
 * Returns how many were added.
 */
export const PRODUCE_LUA = `
local maxLen = tonumber(ARGV[1])
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'stream' and kind ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' is not a stream')
end
local added = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local key, value = ARGV[2 * i - 2], ARGV[2 * i - 1]
    local id
    if maxLen > 0 then
      id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxLen, '*', 'value', value, 'key', key)
    else
      id = redis.call('XADD', KEYS[1], '*', 'value', value, 'key', key)
    end
    redis.call('SET', KEYS[i], id, 'NX', 'EX', ${MARKER_TTL_SECONDS})
    added = added + 1
  end
end
return added
`;

/** The key of the marker that a message keyed `key` was added to `stream`. */
export function markerKey(stream: string, key: string): string {
  return `${stream}:flowmesh:sent:${key}`;
}

const REFUSED = /\b(NOAUTH|WRONGPASS|NOPERM)\b|invalid (username-)?password|AUTH failed/i;
const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Connection is closed|connection close|connect(ion)? (refused|timed? ?out)|Stream isn't writeable|max retries per request|socket/i;

/** A text that shows no part of a URL's password. */
function scrub(text: string, url: string): string {
  let password = "";
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // not a URL: nothing to hide beyond the URL itself
  }
  let out = text.replaceAll(url, shownBrokerUrl(url));
  if (password.length >= 1) out = out.replaceAll(password, "***");
  return out.length > 500 ? `${out.slice(0, 500)}…` : out;
}

/**
 * A Redis failure as a `NodeError`: `broker_refused` (authentication, permission: not retryable),
 * `broker_unreachable` (no connection: retryable), else `broker_error` (retryable, except a key that is not a
 * stream). Its message names the broker by its shown URL.
 */
export function redisNodeError(err: unknown, url: string, doing: string): NodeError {
  if (err instanceof NodeError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const text = `${e.name} ${e.message} ${(e as { code?: unknown }).code ?? ""}`;
  const where = `${shownBrokerUrl(url)}: ${doing}`;
  const detail = scrub(e.message, url);
  if (REFUSED.test(text)) return new NodeError("broker_refused", `${where} was refused: ${detail}`, false);
  if (/WRONGTYPE/.test(text)) return new NodeError("broker_error", `${where}: ${detail}`, false);
  if (e.name === "MaxRetriesPerRequestError" || UNREACHABLE.test(text)) {
    return new NodeError("broker_unreachable", `${where}: the broker cannot be reached (${detail})`, true);
  }
  return new NodeError("broker_error", `${where}: ${detail}`, true);
}
