/**
 * One bounded pull from a JetStream durable pull consumer, on the wire protocol: a single
 * `CONSUMER.MSG.NEXT` request whose expiry is the node's `maxWaitMs` (the client's `fetch` refuses
 * expiries under a second), so the server itself ends the request and nothing arrives after its end.
 * What arrives once the caller stopped taking (the message past the byte bound, an abort) is held and
 * given back (`-NAK`) when the request has ended, so it is not handed straight back to the same request.
 * A message delivered twice within one pull (its ack wait passed) is taken once. A pull whose end never
 * comes (the connection was lost) fails `broker_unreachable`, not an empty batch.
 *
 * @example
 * ```ts
 * import { ackInfo } from "./nats_pull.ts";
 * const info = ackInfo("$JS.ACK.orders.flowmesh.1.42.7.1796593460333843421.0");
 * if (info?.stream !== "orders" || info.sequence !== 42 || info.deliveries !== 1) throw new Error();
 * ```
 *
 * @module
 */
import { createInbox, type Msg, nanos, type NatsConnection } from "npm:@nats-io/transport-node@3.4.0";
import { NodeError } from "../executor.ts";
import { BatchBounds } from "./bounds.ts";

/** How long after the server's own expiry the client stops waiting for the request's end. */
const END_GRACE_MS = 5_000;

/** The bounds of one pull. */
export interface PullBounds {
  /** Messages asked for (already within the consumer's limits). */
  batch: number;
  /** Bytes taken at most, each message counted by `measure`; the message that would pass them is given back. */
  maxBytes: number;
  /** The bytes a message counts for (default: its payload's UTF-8 bytes). */
  measure?: (m: Msg) => number;
  /** The request's expiry (0: only what is there now). */
  maxWaitMs: number;
  signal: AbortSignal;
  /** Told of each message taken (once per stream sequence), e.g. to keep it in progress. */
  onTake?: (m: Msg) => void;
  /** Aborted when the connection is lost: the pull fails `broker_unreachable`. */
  connectionLost?: AbortSignal;
}

/** Where a JetStream message sits, from its ack subject. */
export interface AckInfo {
  stream: string;
  consumer: string;
  /** How many times it has been delivered (1 the first time). */
  deliveries: number;
  /** Its sequence in the stream. */
  sequence: number;
}

/**
 * The stream, consumer and sequences of a message, read from its `$JS.ACK…` reply subject (both the
 * short form and the one with a domain and account hash); undefined for anything else.
 *
 * @example
 * ```ts
 * import { ackInfo } from "./nats_pull.ts";
 * const info = ackInfo("$JS.ACK.hub.acc1.orders.flowmesh.2.42.7.1796593460333843421.0.tok");
 * if (info?.stream !== "orders" || info.deliveries !== 2) throw new Error();
 * if (ackInfo("_INBOX.abc") !== undefined) throw new Error();
 * ```
 */
export function ackInfo(reply: string | undefined): AckInfo | undefined {
  const t = reply?.split(".") ?? [];
  if (t[0] !== "$JS" || t[1] !== "ACK") return undefined;
  const at = t.length === 9 ? 2 : t.length >= 11 ? 4 : -1;
  if (at < 0) return undefined;
  return {
    stream: t[at],
    consumer: t[at + 1],
    deliveries: Number(t[at + 2]),
    sequence: Number(t[at + 3]),
  };
}

/**
 * Gives messages back to the consumer now (`-NAK`); a closed connection leaves them to the ack wait.
 *
 * @example
 * ```ts
 * import type { Msg } from "npm:@nats-io/transport-node@3.4.0";
 * import { giveBack } from "./nats_pull.ts";
 * const sent: string[] = [];
 * giveBack([{ respond: (p: string) => sent.push(p) } as unknown as Msg]);
 * if (sent.join() !== "-NAK") throw new Error();
 * ```
 */
export function giveBack(messages: readonly Msg[]): void {
  for (const m of messages) {
    try {
      m.respond("-NAK");
    } catch {
      // The connection is gone: the server redelivers once the ack wait passes.
    }
  }
}

function isStatus(m: Msg): boolean {
  return m.data.length === 0 && m.headers !== undefined && m.headers.code >= 100;
}

/**
 * The error of a pull that JetStream ended with a status other than its normal end (404, 408): a limit of
 * the consumer the pull passed (`409 Exceeded MaxRequestBatch / MaxRequestExpires / MaxRequestMaxBytes`)
 * or a bad request (400) is a configuration mismatch, not retried; anything else (`409 Exceeded
 * MaxWaiting`, a deleted consumer, a leader change) is `broker_error`, retried.
 *
 * @example
 * ```ts
 * import { pullEndError } from "./nats_pull.ts";
 * const e = pullEndError(409, "Exceeded MaxRequestExpires of 1s", "orders/flowmesh");
 * if (e.code !== "broker_error" || e.retryable || !e.message.includes("MaxRequestExpires")) throw e;
 * if (!pullEndError(409, "Exceeded MaxWaiting", "orders/flowmesh").retryable) throw new Error();
 * ```
 */
export function pullEndError(code: number, description: string, where: string): NodeError {
  const ended = `JetStream ended the pull on ${where}: ${code} ${description}`;
  if (code === 400 || (code === 409 && /exceeded maxrequest/i.test(description))) {
    return new NodeError(
      "broker_error",
      `${ended} (the durable consumer's limits refuse this pull: lower the node's maxMessages or maxWaitMs, ` +
        "or change the consumer)",
      false,
    );
  }
  return new NodeError("broker_error", ended);
}

/** Messages kept in progress (`+WPI`, resetting their ack wait) until stopped. */
export interface InProgress {
  /** Keeps `m` in progress from now on. */
  add(m: Msg): void;
  /** Ends it: no message is touched afterwards (before they are acked or given back). */
  stop(): void;
}

/**
 * Sends `+WPI` ("working") for every added message each `everyMs`, so a batch held past the consumer's ack
 * wait (a long run before its commit) is not redelivered meanwhile. Its timer does not keep the process up.
 *
 * @example
 * ```ts
 * import type { Msg } from "npm:@nats-io/transport-node@3.4.0";
 * import { keepInProgress } from "./nats_pull.ts";
 * const sent: string[] = [];
 * const progress = keepInProgress(10);
 * progress.add({ respond: (p: string) => sent.push(p) } as unknown as Msg);
 * await new Promise((r) => setTimeout(r, 35));
 * progress.stop();
 * const seen = sent.length;
 * await new Promise((r) => setTimeout(r, 25));
 * if (seen === 0 || sent.length !== seen || sent.some((p) => p !== "+WPI")) throw new Error(sent.join());
 * ```
 */
export function keepInProgress(everyMs: number): InProgress {
  const kept: Msg[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  const tick = () => {
    for (const m of kept) {
      try {
        m.respond("+WPI");
      } catch {
        // The connection is gone: the ack wait runs out and the server redelivers.
      }
    }
  };
  return {
    add(m) {
      if (stopped) return;
      kept.push(m);
      if (timer === undefined) {
        const every = setInterval(tick, Math.max(1, everyMs));
        Deno.unrefTimer(every);
        timer = every;
      }
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      kept.length = 0;
    },
  };
}

/**
 * Pulls at most `bounds.batch` messages from `durable` on `stream`, resolving when the batch is full, the
 * request expired, the byte bound was reached, or (rejecting with the signal's reason) the signal aborted;
 * messages not taken are given back once the server has ended the request.
 *
 * @example
 * ```ts
 * import type { NatsConnection } from "npm:@nats-io/transport-node@3.4.0";
 * import { pullBatch } from "./nats_pull.ts";
 * const signal = AbortSignal.abort(new Error("gone"));
 * const bounds = { batch: 10, maxBytes: 1_000, maxWaitMs: 1_000, signal };
 * const e = await pullBatch({} as NatsConnection, "orders", "flowmesh", bounds).catch((e) => e);
 * if (e?.message !== "gone") throw new Error("an aborted pull asks nothing");
 * ```
 */
export function pullBatch(
  nc: NatsConnection,
  stream: string,
  durable: string,
  bounds: PullBounds,
): Promise<Msg[]> {
  if (bounds.signal.aborted) return Promise.reject(bounds.signal.reason);
  if (bounds.connectionLost?.aborted) return Promise.reject(lostError(stream, durable));
  return new Promise<Msg[]>((resolve, reject) => {
    let taken: Msg[] = [];
    const held: Msg[] = [];
    // Where each stream sequence went: taken (its index in `taken`) or held (-1).
    const seen = new Map<number, number>();
    const bound = new BatchBounds<Msg>(
      bounds.batch,
      bounds.maxBytes,
      bounds.measure ?? ((m) => m.data.length),
    );
    let answered = false;
    let ended = false;
    const answer = (error?: unknown) => {
      if (answered) return;
      answered = true;
      bounds.signal.removeEventListener("abort", onAbort);
      if (error === undefined) return resolve(taken);
      held.push(...taken);
      taken = [];
      reject(error);
    };
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      clearTimeout(deadline);
      bounds.connectionLost?.removeEventListener("abort", onLost);
      sub.unsubscribe();
      answer(error);
      giveBack(held.splice(0));
    };
    const onAbort = () => answer(bounds.signal.reason);
    const onLost = () => end(lostError(stream, durable));
    const onMessage = (m: Msg) => {
      if (isStatus(m)) return onStatus(m);
      const sequence = ackInfo(m.reply)?.sequence;
      const at = sequence === undefined ? undefined : seen.get(sequence);
      if (at !== undefined) {
        // Delivered again within this pull (its ack wait passed): the newer delivery replaces the one taken.
        if (at >= 0 && !answered) taken[at] = m;
        return;
      }
      if (answered || !bound.take(m)) {
        if (sequence !== undefined) seen.set(sequence, -1);
        held.push(m);
        return answer();
      }
      if (sequence !== undefined) seen.set(sequence, taken.length);
      taken.push(m);
      bounds.onTake?.(m);
      // A full batch ends the request on the server: nothing more comes for it.
      if (bound.stopped) end();
    };
    const onStatus = (m: Msg) => {
      const { code, description } = m.headers!;
      if (code === 100) return; // an idle heartbeat
      if (code === 404 || code === 408) return end();
      end(pullEndError(code, description, `${stream}/${durable}`));
    };
    const inbox = createInbox();
    const sub = nc.subscribe(inbox, {
      callback: (err, m) =>
        err ? end(new NodeError("broker_error", `the pull failed: ${err.message}`)) : onMessage(m),
    });
    // The server ends the request at its expiry; no end by then and a grace means the request was lost.
    const deadline = setTimeout(() => end(lostError(stream, durable)), bounds.maxWaitMs + END_GRACE_MS);
    bounds.signal.addEventListener("abort", onAbort, { once: true });
    bounds.connectionLost?.addEventListener("abort", onLost, { once: true });
    const body = bounds.maxWaitMs === 0
      ? { batch: bounds.batch, no_wait: true }
      : { batch: bounds.batch, expires: nanos(bounds.maxWaitMs) };
    try {
      nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`, JSON.stringify(body), { reply: inbox });
    } catch (e) {
      end(e);
    }
  });
}

function lostError(stream: string, durable: string): NodeError {
  return new NodeError(
    "broker_unreachable",
    `the pull on ${stream}/${durable} got no end from the server: the connection to NATS is down`,
  );
}
