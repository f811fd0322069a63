/**
 * What crosses the channel between an HTTP worker (`worker.ts`) and the engine's thread (`pool.ts`): a request
 * as its method, URL, headers (a flat `[name, value, …]` list) and body bytes (a transferred `ArrayBuffer`,
 * never copied), and the response as its status, headers and body bytes, each in batches (an {@link Outbox}
 * per direction). Plus the few control messages of a worker's life: `init`, `ready` or `failed`, `close`,
 * `closed`.
 *
 * @example A request and its response, both ways
 * ```ts
 * import { requestOf, responseMessage, responseOf } from "./protocol.ts";
 * const req = requestOf({
 *   id: 7,
 *   method: "POST",
 *   url: "http://127.0.0.1:8080/api/v1/workflows",
 *   headers: ["content-type", "application/json"],
 *   body: new TextEncoder().encode("{}").buffer,
 * });
 * if ((await req.text()) !== "{}" || req.headers.get("content-type") !== "application/json") throw new Error();
 * const message = await responseMessage(7, Response.json({ ok: true }, { status: 201 }));
 * if (message.id !== 7 || message.body?.byteLength !== 11) throw new Error(JSON.stringify(message));
 * const res = responseOf(message);
 * if (res.status !== 201 || (await res.json()).ok !== true) throw new Error("round trip");
 * ```
 *
 * @module
 */

/** The engine's thread to a new worker: where to listen and its bounds. */
export interface InitMessage {
  t: "init";
  /** The worker's place in the pool (0-based); its metrics label. */
  index: number;
  hostname: string;
  /** The port (0 only for the first worker of a node on port 0: the kernel picks one, the others join it). */
  port: number;
  /** PEM certificate and key: the worker serves HTTPS. */
  tls?: { cert: string; key: string };
  /** The largest body any route reads: a body up to one byte over it is passed on, a longer one cut there. */
  maxBodyBytes: number;
  /** Requests this worker holds at once, at most; past it, 503 `overloaded`. */
  maxInFlight: number;
  /** Request body bytes this worker holds at once, at most; past it, 503 `overloaded`. */
  maxBufferedBytes: number;
  /** How long a request waits for the engine's thread before the worker answers 504 `request_timeout`. */
  deadlineMs: number;
}

/** One request, parsed by a worker, for the engine's thread. */
export interface RequestMessage {
  /** The worker's number of the request (its answer carries it back). */
  id: number;
  method: string;
  url: string;
  /** `[name, value, name, value, …]` as the request had them. */
  headers: string[];
  /** The body's bytes (transferred); null when there is none or it was not read (declared over the bound). */
  body: ArrayBuffer | null;
}

/** The engine's answer to one request. */
export interface ResponseMessage {
  id: number;
  status: number;
  headers: string[];
  body: ArrayBuffer | null;
}

/** What the engine's thread sends a worker: answers, in batches (see {@link Outbox}). */
export type ToWorker = InitMessage | { t: "res"; batch: ResponseMessage[] } | { t: "close" };

/** What a worker sends the engine's thread: requests, in batches (see {@link Outbox}). */
export type FromWorker =
  | { t: "req"; batch: RequestMessage[] }
  | { t: "ready"; port: number }
  | { t: "failed"; name: string; message: string }
  | { t: "closed" };

/** The buffers a batch transfers (its bodies). */
export function transferOf(batch: readonly { body: ArrayBuffer | null }[]): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const m of batch) if (m.body !== null) buffers.push(m.body);
  return buffers;
}

/**
 * Messages for the other thread, sent together: the first one pushed schedules a flush once the event loop
 * has run what is ready now (`setImmediate`), so the requests (or answers) that become ready in one turn
 * cross in one message. Each message wakes the other thread, which costs more than the message itself.
 *
 * @example
 * ```ts
 * import { Outbox } from "./protocol.ts";
 * const sent: number[][] = [];
 * const box = new Outbox<number>((batch) => sent.push(batch));
 * box.push(1);
 * box.push(2);
 * await new Promise((resolve) => setTimeout(resolve, 0));
 * if (JSON.stringify(sent) !== "[[1,2]]") throw new Error(JSON.stringify(sent));
 * ```
 */
export class Outbox<T> {
  #batch: T[] = [];
  #scheduled = false;

  constructor(private readonly send: (batch: T[]) => void) {}

  /** Queues one message. */
  push(message: T): void {
    this.#batch.push(message);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what is queued now. */
  flush(): void {
    this.#scheduled = false;
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    this.send(batch);
  }
}

/** Headers as a flat `[name, value, …]` list (each `set-cookie` its own pair). */
export function flatHeaders(headers: Headers): string[] {
  const flat: string[] = [];
  headers.forEach((value, name) => flat.push(name, value));
  return flat;
}

/** `[name, value]` pairs of a flat list. */
function pairsOf(flat: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]]);
  return pairs;
}

/** The request a message carries, as the API handler takes it (a GET or HEAD never has a body). */
export function requestOf(m: RequestMessage): Request {
  const bodyless = m.method === "GET" || m.method === "HEAD";
  return new Request(m.url, {
    method: m.method,
    headers: pairsOf(m.headers),
    body: bodyless ? null : m.body,
  });
}

/** Statuses whose responses have no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** A response as a message, its body read whole (without making it a stream when it is not one). */
export async function responseMessage(id: number, res: Response): Promise<ResponseMessage> {
  const bytes = await res.arrayBuffer();
  const body = bytes.byteLength === 0 && NULL_BODY.has(res.status) ? null : bytes;
  return { id, status: res.status, headers: flatHeaders(res.headers), body };
}

/** The response a message carries. */
export function responseOf(m: ResponseMessage): Response {
  const body = NULL_BODY.has(m.status) ? null : m.body;
  return new Response(body, { status: m.status, headers: pairsOf(m.headers) });
}

/** An error response in the API's shape (`{"error": {code, message, details}}`). */
export function errorReply(status: number, code: string, message: string): Response {
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (status === 503) headers["retry-after"] = "1";
  return new Response(JSON.stringify({ error: { code, message, details: [] } }), { status, headers });
}
