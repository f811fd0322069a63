/**
 * HTTP workers in front of one engine (`--http-workers N`): N Web Workers (`worker.ts`) listen on the node's
 * port together (`reusePort`, SO_REUSEPORT: the kernel spreads the connections over them), each parses its
 * requests and posts them here (`protocol.ts`); this thread, the engine's, runs the API handler on each and
 * posts the answer back. The engine's thread thus serves no socket of the public port itself.
 *
 * A worker that crashes is replaced on the same port (after 100 ms, doubling to 5 s while replacements fail
 * to start); the requests it held die with their connections (their clients see the connection close, never a
 * hang), and answers to them are dropped. A worker that fails to start when the pool starts fails the start.
 *
 * @example
 * ```ts ignore
 * const pool = await HttpWorkerPool.start({
 *   count: 2, hostname: "127.0.0.1", port: 0, maxBodyBytes: 1 << 20,
 *   handler: () => Promise.resolve(new Response("ok")), log: console,
 * });
 * await fetch(`http://127.0.0.1:${pool.port}/`);
 * await pool.close();
 * ```
 *
 * @module
 */
import {
  errorReply,
  type FromWorker,
  type InitMessage,
  Outbox,
  type RequestMessage,
  requestOf,
  type ResponseMessage,
  responseMessage,
  transferOf,
} from "./protocol.ts";

/** The most HTTP workers a node may have (`--http-workers`). */
export const MAX_HTTP_WORKERS = 64;

/** A worker's bounds: requests and body bytes it holds at once, and how long a request waits for an answer. */
export interface HttpWorkerBounds {
  maxInFlight: number;
  maxBufferedBytes: number;
  deadlineMs: number;
}

/** Each worker's bounds, unless given. */
export const HTTP_WORKER_BOUNDS: Readonly<HttpWorkerBounds> = {
  /** Requests one worker holds at once (as many as the engine's `?wait` waiters). */
  maxInFlight: 10_000,
  /** Request body bytes one worker holds at once. */
  maxBufferedBytes: 64 * 1024 * 1024,
  /** How long a request waits for the engine's thread: 10 minutes (the longest `?wait` is 5). */
  deadlineMs: 600_000,
};

/** Where the pool's troubles are told. */
export interface PoolLog {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What a pool serves, where, and how. */
export interface HttpWorkerPoolOptions {
  /** Workers, 1 to {@link MAX_HTTP_WORKERS}. */
  count: number;
  hostname: string;
  /** 0: the kernel picks a free port for the first worker, the others join it. */
  port: number;
  /** PEM certificate and key: the workers serve HTTPS. */
  tls?: { cert: string; key: string };
  /** The largest request body any route reads. */
  maxBodyBytes: number;
  /** The API: answers one request, on this thread. */
  handler: (req: Request) => Promise<Response>;
  log: PoolLog;
  /** The workers' module (tests give one that can crash); default `./worker.ts`. */
  workerUrl?: URL;
  /** Each worker's bounds (default {@link HTTP_WORKER_BOUNDS}). */
  bounds?: Partial<HttpWorkerBounds>;
}

/** One place in the pool: its current worker (none while being replaced) and its counts. */
interface Slot {
  index: number;
  worker: Worker | null;
  /** Requests its workers handed over. */
  requests: number;
  /** Its workers that crashed and were replaced. */
  restarts: number;
  /** Replacements in a row that failed to start. */
  failures: number;
  timer?: ReturnType<typeof setTimeout>;
  /** Called when its worker says it closed, or dies while closing. */
  gone?: () => void;
}

/**
 * Why this process cannot run HTTP workers (undefined when it can): `reusePort` balances connections only on
 * Linux, and Deno 2 serves it only with `--unstable-net` (deno.json's `"unstable": ["net"]` gives it).
 */
export function httpWorkersUnsupported(): string | undefined {
  if (Deno.build.os !== "linux") return `needs Linux (SO_REUSEPORT), not ${Deno.build.os}`;
  // Deno defines its unstable network API only under --unstable-net, which Deno.serve's reusePort needs.
  if (typeof (Deno as unknown as Record<string, unknown>).listenDatagram !== "function") {
    return 'needs Deno\'s --unstable-net (reusePort); deno.json\'s "unstable": ["net"] sets it';
  }
  return undefined;
}

/** N HTTP workers on one port, handing their requests to a handler on this thread. */
export class HttpWorkerPool {
  readonly #o: HttpWorkerPoolOptions;
  readonly #slots: Slot[];
  readonly #url: URL;
  #port = 0;
  #closing: Promise<void> | undefined;

  private constructor(o: HttpWorkerPoolOptions) {
    this.#o = o;
    this.#url = o.workerUrl ?? new URL("./worker.ts", import.meta.url);
    this.#slots = Array.from({ length: o.count }, (_, index) => ({
      index,
      worker: null,
      requests: 0,
      restarts: 0,
      failures: 0,
    }));
  }

  /**
   * Starts `o.count` workers on the port and resolves once every one listens. Rejects (every worker stopped)
   * when one cannot listen: the port is taken by a socket of another process, say (`Deno.errors.AddrInUse`).
   */
  static async start(o: HttpWorkerPoolOptions): Promise<HttpWorkerPool> {
    if (!Number.isInteger(o.count) || o.count < 1 || o.count > MAX_HTTP_WORKERS) {
      throw new RangeError(`HTTP workers: 1 to ${MAX_HTTP_WORKERS}, not ${o.count}`);
    }
    const pool = new HttpWorkerPool(o);
    try {
      // Every worker binds with SO_REUSEPORT, which would share a port another such socket holds: a plain bind
      // first fails as the main thread's own listener would if anything listens there.
      if (o.port !== 0) Deno.listen({ hostname: o.hostname, port: o.port }).close();
      pool.#port = await pool.#spawn(pool.#slots[0], o.port);
      await Promise.all(pool.#slots.slice(1).map((slot) => pool.#spawn(slot, pool.#port)));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** The port the workers listen on. */
  get port(): number {
    return this.#port;
  }

  /** Requests each worker place handed over so far (index: the worker's place). */
  requestCounts(): number[] {
    return this.#slots.map((s) => s.requests);
  }

  /** Workers each place replaced after a crash so far. */
  restartCounts(): number[] {
    return this.#slots.map((s) => s.restarts);
  }

  /** Stops every worker: each stops listening, its requests in flight are answered, then it is terminated. */
  close(): Promise<void> {
    this.#closing ??= Promise.all(this.#slots.map((slot) => this.#closeSlot(slot))).then(() => {});
    return this.#closing;
  }

  async #closeSlot(slot: Slot): Promise<void> {
    clearTimeout(slot.timer);
    const worker = slot.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      slot.gone = resolve;
      worker.postMessage({ t: "close" });
    });
    worker.terminate();
    slot.worker = null;
  }

  /** Starts a worker in `slot` listening on `port`; resolves with the port it listens on. */
  #spawn(slot: Slot, port: number): Promise<number> {
    const worker = new Worker(this.#url, { type: "module", name: `http-worker-${slot.index}` });
    const outbox = new Outbox<ResponseMessage>((batch) => {
      if (slot.worker === worker) worker.postMessage({ t: "res", batch }, transferOf(batch));
    });
    slot.worker = worker;
    const bounds = { ...HTTP_WORKER_BOUNDS, ...this.#o.bounds };
    const init: InitMessage = {
      t: "init",
      index: slot.index,
      hostname: this.#o.hostname,
      port,
      tls: this.#o.tls,
      maxBodyBytes: this.#o.maxBodyBytes,
      ...bounds,
    };
    return new Promise<number>((resolve, reject) => {
      let listening = false;
      const fail = (err: Error) => {
        worker.terminate();
        if (slot.worker === worker) slot.worker = null;
        slot.gone?.(); // closing: it will never say closed
        reject(err);
      };
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.t === "req") { for (const r of m.batch) this.#serve(slot, outbox, r); }
        else if (m.t === "ready") {
          listening = true;
          resolve(m.port);
        } else if (m.t === "failed") fail(startError(m.name, m.message));
        else slot.gone?.();
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault(); // a worker's uncaught error must not take the engine's thread down with it
        if (listening) this.#crashed(slot, worker, e.message);
        else fail(new Error(`HTTP worker ${slot.index} failed to start: ${e.message}`));
      };
      worker.postMessage(init);
    });
  }

  /** Runs the API on one request and queues the answer for the worker that sent it (dropped if it died). */
  async #serve(slot: Slot, outbox: Outbox<ResponseMessage>, m: RequestMessage): Promise<void> {
    slot.requests++;
    let res: Response;
    try {
      res = FORBIDDEN_METHODS.has(m.method.toUpperCase())
        ? errorReply(405, "method_not_allowed", `${m.method} is not allowed`)
        : await this.#o.handler(requestOf(m));
    } catch (err) {
      res = this.#failed(m, err);
    }
    let out: ResponseMessage;
    try {
      out = await responseMessage(m.id, res);
    } catch (err) {
      out = await responseMessage(m.id, this.#failed(m, err));
    }
    outbox.push(out);
  }

  #failed(m: RequestMessage, err: unknown): Response {
    this.#o.log.error("request failed", {
      method: m.method,
      path: URL.parse(m.url)?.pathname,
      error: String(err),
      stack: (err as Error)?.stack,
    });
    return errorReply(500, "internal", "internal error; see the server log");
  }

  /** A worker died: its requests are lost with their connections; another takes its place on the port. */
  #crashed(slot: Slot, worker: Worker, why: string): void {
    if (slot.worker !== worker) return;
    worker.terminate();
    slot.worker = null;
    if (this.#closing) {
      slot.gone?.();
      return;
    }
    slot.restarts++;
    this.#o.log.error("HTTP worker crashed; replacing it", { worker: slot.index, error: why });
    this.#replace(slot);
  }

  #replace(slot: Slot): void {
    const delay = Math.min(5_000, 100 * 2 ** slot.failures);
    slot.timer = setTimeout(async () => {
      slot.timer = undefined;
      if (this.#closing) return;
      try {
        await this.#spawn(slot, this.#port);
        slot.failures = 0;
      } catch (err) {
        slot.failures++;
        this.#o.log.error("HTTP worker failed to start; retrying", {
          worker: slot.index,
          error: String(err),
        });
        if (!this.#closing) this.#replace(slot);
      }
    }, delay);
  }
}

/** Methods a `Request` cannot have (the API has no route for them either). */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** The error a worker reported when it could not listen, as the main thread's own listener would throw it. */
function startError(name: string, message: string): Error {
  const Known = (Deno.errors as unknown as Record<string, new (message: string) => Error>)[name];
  return Known ? new Known(message) : new Error(`${name}: ${message}`);
}
