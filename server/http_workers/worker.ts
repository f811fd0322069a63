/**
 * One HTTP worker (`--http-workers N`): a Web Worker serving the node's public port beside its siblings
 * (`Deno.serve` with `reusePort`: the kernel spreads connections over them). It parses each request, reads its
 * body (bounded), hands it to the engine's thread as a message (`protocol.ts`), and writes the answer back.
 * It bounds what it holds (requests and body bytes in flight: past either, 503 `overloaded`) and how long a
 * request waits for the engine's thread (past it, 504 `request_timeout`): no request hangs forever.
 *
 * Started by `pool.ts`; this module runs as the worker's entry (`runWorker(self)`).
 *
 * @module
 */
import {
  errorReply,
  flatHeaders,
  type FromWorker,
  type InitMessage,
  Outbox,
  type RequestMessage,
  type ResponseMessage,
  responseOf,
  type ToWorker,
  transferOf,
} from "./protocol.ts";

/** The worker's side of its channel (`self` in a worker). */
export interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}

/** Hooks for tests: `onRequest` sees each request before it is read. */
export interface WorkerHooks {
  onRequest?(req: Request): void;
}

/** A request waiting for the engine's thread. */
interface Waiting {
  resolve(res: Response): void;
  /** When the worker gives up on it (`performance.now()`). */
  due: number;
}

/** A body as read: its bytes (or none), and the bytes it holds of the worker's budget. */
interface ReadBody {
  body: ArrayBuffer | null;
  held: number;
}

/** The worker's server: its listener, the requests waiting on the engine's thread, its bounds. */
class Front {
  readonly #waiting = new Map<number, Waiting>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #sweep: ReturnType<typeof setInterval>;
  readonly #outbox: Outbox<RequestMessage>;
  #seq = 0;
  #inFlight = 0;
  #buffered = 0;

  constructor(readonly scope: WorkerScope, readonly init: InitMessage, readonly hooks: WorkerHooks) {
    this.#outbox = new Outbox((batch) => {
      scope.postMessage({ t: "req", batch }, transferOf(batch));
    });
    this.#server = Deno.serve({
      hostname: init.hostname,
      port: init.port,
      reusePort: true,
      onListen: () => {},
      ...(init.tls && { cert: init.tls.cert, key: init.tls.key }),
    }, (req) => this.#handle(req));
    this.#sweep = setInterval(() => this.#expire(), Math.max(10, Math.min(1_000, init.deadlineMs / 4)));
  }

  get port(): number {
    return this.#server.addr.port;
  }

  /** The engine's answer to request `m.id` (none when it was given up on). */
  answer(m: ResponseMessage): void {
    const waiting = this.#waiting.get(m.id);
    if (!waiting) return;
    this.#waiting.delete(m.id);
    waiting.resolve(responseOf(m));
  }

  /** Stops listening and waits for the requests in flight to be answered. */
  async close(): Promise<void> {
    await this.#server.shutdown();
    clearInterval(this.#sweep);
  }

  async #handle(req: Request): Promise<Response> {
    if (this.#inFlight >= this.init.maxInFlight) {
      return errorReply(503, "overloaded", `this HTTP worker holds ${this.init.maxInFlight} requests`);
    }
    this.#inFlight++;
    let held = 0;
    try {
      this.hooks.onRequest?.(req);
      const read = await this.#readBody(req);
      if (read instanceof Response) return read;
      held = read.held;
      const id = ++this.#seq;
      const answered = new Promise<Response>((resolve) => {
        this.#waiting.set(id, { resolve, due: performance.now() + this.init.deadlineMs });
      });
      const headers = flatHeaders(req.headers);
      this.#outbox.push({ id, method: req.method, url: req.url, headers, body: read.body });
      return await answered;
    } catch (err) {
      return errorReply(500, "internal", `the HTTP worker failed: ${String(err).split("\n")[0]}`);
    } finally {
      this.#inFlight--;
      this.#buffered -= held;
    }
  }

  /** Takes `n` bytes of the body budget, if it has them. */
  #hold(n: number): boolean {
    if (this.#buffered + n > this.init.maxBufferedBytes) return false;
    this.#buffered += n;
    return true;
  }

  /**
   * The body, read up to one byte over the largest body a route reads: a declared length over that is not
   * read at all (the API refuses it from the header), a chunked body over it is cut there (the API refuses
   * it for its length). Either way the API answers 413 `body_too_large` as without workers.
   */
  async #readBody(req: Request): Promise<ReadBody | Response> {
    // The API reads no GET or HEAD body, and `req.body` is not touched before it must be (it makes a stream).
    if (req.method === "GET" || req.method === "HEAD") return { body: null, held: 0 };
    const limit = this.init.maxBodyBytes;
    const declared = Number(req.headers.get("content-length") ?? "NaN");
    if (Number.isFinite(declared) && (declared > limit || declared === 0)) return { body: null, held: 0 };
    // The budget is taken as bytes arrive, never for a declared length up front: senders that declare 4 MiB
    // and stall hold nothing of it.
    const most = Number.isFinite(declared) ? declared : limit + 1;
    return req.body === null ? { body: null, held: 0 } : await this.#readChunked(req.body, most);
  }

  /** A body without a declared length: its first `most` bytes at most. */
  async #readChunked(stream: ReadableStream<Uint8Array>, most: number): Promise<ReadBody | Response> {
    const reader = stream.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      while (size < most) {
        const { done, value } = await reader.read();
        if (done) break;
        const part = value.byteLength > most - size ? value.subarray(0, most - size) : value;
        if (!this.#hold(part.byteLength)) {
          this.#buffered -= size;
          await reader.cancel().catch(() => {});
          return this.#full();
        }
        chunks.push(part);
        size += part.byteLength;
      }
      if (size >= most) await reader.cancel().catch(() => {});
    } catch (err) {
      this.#buffered -= size;
      throw err;
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    return { body: bytes.buffer, held: size };
  }

  #full(): Response {
    const mib = Math.round(this.init.maxBufferedBytes / 1024 / 1024);
    return errorReply(503, "overloaded", `this HTTP worker holds ${mib} MiB of request bodies`);
  }

  /** Answers 504 to the requests the engine's thread has not answered by their deadline. */
  #expire(): void {
    const now = performance.now();
    for (const [id, waiting] of this.#waiting) {
      if (waiting.due > now) break; // deadlines grow with the ids: the rest are later
      this.#waiting.delete(id);
      waiting.resolve(
        errorReply(504, "request_timeout", `the node did not answer within ${this.init.deadlineMs} ms`),
      );
    }
  }
}

/**
 * Runs a worker on `scope`: `init` starts its server (answered `ready` with the port, or `failed`), `res`
 * messages answer its requests, `close` stops it (answered `closed` once its requests are answered).
 */
export function runWorker(scope: WorkerScope, hooks: WorkerHooks = {}): void {
  let front: Front | undefined;
  scope.onmessage = (e) => {
    const m = e.data;
    if (m.t === "res") { for (const r of m.batch) front?.answer(r); }
    else if (m.t === "init") {
      try {
        front = new Front(scope, m, hooks);
        scope.postMessage({ t: "ready", port: front.port });
      } catch (err) {
        const { name, message } = err instanceof Error ? err : { name: "Error", message: String(err) };
        scope.postMessage({ t: "failed", name, message });
      }
    } else if (m.t === "close") {
      (front?.close() ?? Promise.resolve()).finally(() => scope.postMessage({ t: "closed" }));
    }
  };
}

if (import.meta.main) runWorker(self as unknown as WorkerScope);
