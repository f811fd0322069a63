/**
 * HTTP for tests: one request over real `fetch` that always reads the whole response body (so no
 * connection is left half-read), its JSON parsed. Imported only by tests and benches.
 *
 * @module
 */

/** A response whose body was read: the status, the headers and the parsed JSON (or text). */
export interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
}

/** Where requests go: a base URL and (optionally) an HTTP client of its own. */
export interface HttpTarget {
  url: string;
  client?: Deno.HttpClient;
}

/** Options of {@link request}. */
export interface RequestOptions {
  /** A value sent as JSON. */
  json?: unknown;
  /** A raw body (sent as-is). */
  raw?: BodyInit;
  headers?: Record<string, string>;
  /** Abort the request after this many ms (default: no limit). */
  timeoutMs?: number;
}

/** Sends one request and reads the whole body; rejects on a connection error or timeout. */
export async function request(
  target: HttpTarget,
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: BodyInit | undefined = opts.raw;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${target.url}${path}`, {
    method,
    headers,
    body,
    client: target.client,
    signal: opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(opts.timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json") && text !== "") parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}
