/**
 * Request/response over any `Transport`: `ask` sends an envelope with an `id` and waits for the envelope
 * whose `replyTo` names it; `handle` registers the responder of a message type. Failures are values
 * (`RpcResult`), never exceptions: a timeout, an unreachable peer, or a refusal.
 *
 * Delivery is at most once: a timed-out ask may or may not have run on the peer; a reply that arrives after
 * its ask timed out is dropped.
 *
 * @module
 */

import { type Envelope, ENVELOPE_VERSION, type Transport, type TransportLogger } from "./transport.ts";

/** Why an ask failed. */
export type RpcErrorCode = "timeout" | "unreachable" | "refused";

/** The outcome of an ask. */
export type RpcResult<T = unknown> =
  | { ok: true; body: T }
  | { ok: false; code: RpcErrorCode; message: string };

/** Answers a request; its return value (or the resolved promise) is the reply body. */
export type RpcHandler = (body: unknown, from: string, envelope: Envelope) => unknown;

/** One-shot timers (the runtime's `Clock` fits); `setTimeout` by default. */
export interface RpcTimers {
  /** Runs `fn` once after `delayMs`; returns a handle for `clearTimer`. */
  setTimer(delayMs: number, fn: () => void): unknown;
  /** Cancels a timer that has not run yet. */
  clearTimer(handle: unknown): void;
}

/** Options of an `Rpc`. */
export interface RpcOptions {
  /** Bound of outstanding asks; beyond it `ask` answers `refused` at once. 10,000 by default. */
  maxOutstanding?: number;
  /** Bound of requests being handled at once; beyond it requests are answered `refused`. 10,000 by default. */
  maxHandling?: number;
  /** Request ids; `crypto.randomUUID` by default. */
  newId?: () => string;
  /** Timers for ask timeouts; `setTimeout` by default. */
  timers?: RpcTimers;
  /** Where throwing responders are reported; `console.warn` by default. */
  logger?: TransportLogger;
}

/** Options of one ask. */
export interface AskOptions {
  /** How long to wait for the reply; 5,000 ms by default. */
  timeoutMs?: number;
  /** A W3C `traceparent` carried by the request and its reply. */
  trace?: string;
}

interface Outstanding {
  to: string;
  timer: unknown;
  resolve(result: RpcResult): void;
}

const systemTimers: RpcTimers = {
  setTimer: (ms, fn) => setTimeout(fn, Math.max(0, Math.min(ms, 2_147_483_647))),
  clearTimer: (h) => clearTimeout(h as number),
};

/**
 * Request/response over a transport. Outstanding asks to a peer that goes down answer `unreachable` at once.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./memory.ts";
 * import { Rpc } from "./rpc.ts";
 * const net = new MemoryNetwork();
 * const a = new Rpc(net.join("a")), b = new Rpc(net.join("b"));
 * b.handle("add", (body) => (body as number[]).reduce((x, y) => x + y, 0));
 * const r = await a.ask("b", "add", [1, 2]);
 * if (!r.ok || r.body !== 3) throw new Error();
 * a.close(), b.close();
 * await net.close();
 * ```
 */
export class Rpc {
  /** The transport it asks and answers over. */
  readonly transport: Transport;
  readonly #maxOutstanding: number;
  readonly #maxHandling: number;
  readonly #newId: () => string;
  readonly #timers: RpcTimers;
  readonly #logger: TransportLogger;
  readonly #outstanding = new Map<string, Outstanding>();
  readonly #handlers = new Map<string, RpcHandler>();
  readonly #unsubscribe: (() => void)[];
  #handling = 0;
  #closed = false;

  /** Starts answering requests and replies arriving on `transport`; `close` stops. */
  constructor(transport: Transport, options: RpcOptions = {}) {
    this.transport = transport;
    this.#maxOutstanding = options.maxOutstanding ?? 10_000;
    this.#maxHandling = options.maxHandling ?? 10_000;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#timers = options.timers ?? systemTimers;
    this.#logger = options.logger ?? { warn: (m, f) => console.warn(m, f ?? {}) };
    this.#unsubscribe = [
      transport.onMessage((e) => this.#onEnvelope(e)),
      transport.onPeer((peer, up) => {
        if (!up) this.#failPeer(peer);
      }),
    ];
  }

  /** Number of asks waiting for a reply. */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  /** Sends a request of `type` to `to` and waits for its reply, a timeout, or a failure. */
  ask<T = unknown>(to: string, type: string, body: unknown, options: AskOptions = {}): Promise<RpcResult<T>> {
    if (this.#closed) return Promise.resolve(fail("refused", "rpc is closed"));
    if (this.#outstanding.size >= this.#maxOutstanding) {
      return Promise.resolve(fail("refused", `too many outstanding asks (${this.#maxOutstanding})`));
    }
    const id = this.#newId();
    if (this.#outstanding.has(id)) return Promise.resolve(fail("refused", `duplicate request id ${id}`));
    const envelope: Envelope = { v: ENVELOPE_VERSION, from: this.transport.self, to, type, body, id };
    if (options.trace !== undefined) envelope.trace = options.trace;
    if (!this.transport.send(envelope)) {
      return Promise.resolve(
        fail("unreachable", `cannot send to ${to} (unknown peer, full queue or closed)`),
      );
    }
    const timeoutMs = options.timeoutMs ?? 5_000;
    return new Promise<RpcResult<T>>((resolve) => {
      const timer = this.#timers.setTimer(timeoutMs, () => {
        this.#outstanding.delete(id);
        resolve(fail("timeout", `no reply from ${to} to ${type} within ${timeoutMs} ms`));
      });
      this.#outstanding.set(id, { to, timer, resolve: resolve as (r: RpcResult) => void });
    });
  }

  /** Registers the responder of `type` (replacing any); returns a function that unregisters it. */
  handle(type: string, handler: RpcHandler): () => void {
    this.#handlers.set(type, handler);
    return () => {
      if (this.#handlers.get(type) === handler) this.#handlers.delete(type);
    };
  }

  /** Stops listening; outstanding asks answer `refused`. The transport stays open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const u of this.#unsubscribe) u();
    for (const [id, o] of this.#outstanding) this.#settle(id, o, fail("refused", "rpc closed"));
  }

  #onEnvelope(e: Envelope): void {
    if (e.replyTo !== undefined) {
      const o = this.#outstanding.get(e.replyTo);
      // A reply to nothing we wait for (timed out, or from another peer) is dropped.
      if (o && o.to === e.from) this.#settle(e.replyTo, o, asResult(e.body));
      return;
    }
    if (e.id === undefined) return; // a one-way message: not ours
    const handler = this.#handlers.get(e.type);
    if (!handler) {
      return this.#reply(e, fail("refused", `no handler for ${e.type} on ${this.transport.self}`));
    }
    if (this.#handling >= this.#maxHandling) return this.#reply(e, fail("refused", "responder busy"));
    this.#handling++;
    Promise.resolve()
      .then(() => handler(e.body, e.from, e))
      .then(
        (body) => this.#reply(e, { ok: true, body }),
        (error) => {
          this.#logger.warn("rpc: responder threw", { type: e.type, from: e.from, error: String(error) });
          this.#reply(
            e,
            fail("refused", `responder failed: ${error instanceof Error ? error.message : error}`),
          );
        },
      )
      .finally(() => this.#handling--);
  }

  #reply(request: Envelope, result: RpcResult): void {
    if (this.#closed) return;
    const reply: Envelope = {
      v: ENVELOPE_VERSION,
      from: this.transport.self,
      to: request.from,
      type: request.type,
      body: result,
      id: this.#newId(),
      replyTo: request.id,
    };
    if (request.trace !== undefined) reply.trace = request.trace;
    this.transport.send(reply); // a reply that cannot be sent is lost: the asker times out
  }

  #failPeer(peer: string): void {
    for (const [id, o] of this.#outstanding) {
      if (o.to === peer) this.#settle(id, o, fail("unreachable", `peer ${peer} went down`));
    }
  }

  #settle(id: string, o: Outstanding, result: RpcResult): void {
    this.#outstanding.delete(id);
    this.#timers.clearTimer(o.timer);
    o.resolve(result);
  }
}

function fail(code: RpcErrorCode, message: string): RpcResult<never> {
  return { ok: false, code, message };
}

/** Reads a reply body as a result; anything malformed is a refusal. */
function asResult(body: unknown): RpcResult {
  if (typeof body === "object" && body !== null && "ok" in body) {
    const r = body as Record<string, unknown>;
    if (r.ok === true) return { ok: true, body: r.body };
    if (r.code === "timeout" || r.code === "unreachable" || r.code === "refused") {
      return fail(r.code, typeof r.message === "string" ? r.message : String(r.code));
    }
  }
  return fail("refused", "malformed reply");
}
