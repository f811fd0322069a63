/**
 * The CLI's HTTP client: one request to the node's API, its JSON answer read (bounded), and every failure
 * turned into a {@link CliError} with the exit code scripts rely on: a 4xx answer is the API's refusal
 * (exit 1, its code, message and details), a connection failure, a timeout or a 5xx answer is exit 3. The
 * token goes in `Authorization: Bearer …` and nowhere else: no message ever holds it.
 *
 * @module
 */
import { CliError, EXIT, unreachableError } from "./errors.ts";

/** The largest answer read, in bytes (an execution's whole event history fits). */
export const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/** How long one request may take by default, in ms (a `?wait` adds its own). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Where the client goes and how it proves who it is. */
export interface ClientOptions {
  /** The node's base URL, `http://127.0.0.1:8080`. */
  url: string;
  /** An API token (sent as `Authorization: Bearer <token>`). */
  token?: string;
  /** The timeout of one request, in ms (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/** A query: absent values are left out. */
export type Query = Record<string, string | number | undefined>;

/** Options of one request. */
export interface RequestOptions {
  query?: Query;
  /** A value sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Extra time this request may take (a `?wait`), in ms. */
  extraTimeoutMs?: number;
}

/** An answer of the API (2xx): its status, headers and parsed JSON body (`null` when empty). */
export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * An API path from its segments, each percent-encoded: `apiPath("executions", "a@b")` is
 * `/api/v1/executions/a%40b`.
 *
 * @example
 * ```ts
 * import { apiPath } from "./client.ts";
 * if (apiPath("executions", "s@1", "events") !== "/api/v1/executions/s%401/events") throw new Error();
 * ```
 */
export function apiPath(...segments: string[]): string {
  return `/api/v1/${segments.map(encodeURIComponent).join("/")}`;
}

/**
 * The base URL of a node, checked: `http://` or `https://`, no query or fragment, without a trailing `/`;
 * `undefined` when it is not one.
 *
 * @example
 * ```ts
 * import { baseUrl } from "./client.ts";
 * if (baseUrl("http://127.0.0.1:8080/") !== "http://127.0.0.1:8080") throw new Error();
 * if (baseUrl("127.0.0.1:8080") !== undefined) throw new Error();
 * ```
 */
export function baseUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) return undefined;
  if (url.username || url.password) return undefined;
  return url.href.replace(/\/+$/, "");
}

/**
 * Why a request failed, in one line: the innermost cause's last clause (`Connection refused (os error 111)`
 * rather than `fetch failed`).
 */
function reason(err: unknown): string {
  let e = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  const text = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  return (text.split(": ").at(-1) ?? text).slice(0, 300);
}

/** Reads a body up to {@link MAX_ANSWER_BYTES}. */
async function readText(res: Response): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MAX_ANSWER_BYTES) {
    await res.body?.cancel();
    throw unreachableError("answer_too_large", `the answer is ${declared} bytes, over ${MAX_ANSWER_BYTES}`);
  }
  if (res.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      throw unreachableError("answer_too_large", `the answer is over ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** The API's error fields of a body, if it is the API's error shape. */
function apiError(body: unknown): { code: string; message: string; details: [] } | undefined {
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (!e || typeof e.code !== "string") return undefined;
  return {
    code: e.code,
    message: typeof e.message === "string" ? e.message : "",
    details: (Array.isArray(e.details) ? e.details : []) as [],
  };
}

/** The failure of a non-2xx answer: the API's refusal (4xx, exit 1) or a server failure (exit 3). */
function failure(status: number, method: string, path: string, text: string): CliError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON */ }
  const e = apiError(body);
  const code = e?.code ?? `http_${status}`;
  const message = e?.message || `${method} ${path} answered ${status}`;
  const exit = status >= 400 && status < 500 ? EXIT.refused : EXIT.unreachable;
  return new CliError(exit, code, message, e?.details ?? [], status);
}

/** A client of one node's API. */
export class ApiClient {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(opts: ClientOptions) {
    this.url = opts.url;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Whether a token is sent. */
  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** Sends one request; resolves with a 2xx answer, throws a {@link CliError} otherwise. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<Answer<T>> {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const timeoutMs = this.#timeoutMs + (opts.extraTimeoutMs ?? 0);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === "TimeoutError") {
        throw unreachableError(
          "timeout",
          `${this.url} did not answer ${method} ${path} within ${timeoutMs} ms`,
        );
      }
      throw unreachableError("unreachable", `cannot reach ${this.url}: ${reason(err)}`);
    }
    const text = await this.#read(res, method, path, timeoutMs);
    if (res.status >= 300) throw failure(res.status, method, path, text);
    let body: unknown = null;
    if (text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        throw unreachableError(
          "bad_answer",
          `${method} ${path} answered ${res.status} with a body that is not JSON`,
        );
      }
    }
    return { status: res.status, headers: res.headers, body: body as T };
  }

  /** Reads the body; a read cut short is the node's failure (exit 3). */
  async #read(res: Response, method: string, path: string, timeoutMs: number): Promise<string> {
    try {
      return await readText(res);
    } catch (err) {
      if (err instanceof CliError) throw err;
      if (err instanceof DOMException && err.name === "TimeoutError") {
        throw unreachableError("timeout", `${method} ${path}: the answer did not end within ${timeoutMs} ms`);
      }
      throw unreachableError("unreachable", `${method} ${path}: the answer was cut: ${reason(err)}`);
    }
  }

  /** `GET`, the body parsed. */
  async get<T = unknown>(path: string, query?: Query): Promise<T> {
    return (await this.request<T>("GET", path, { query })).body;
  }
}
