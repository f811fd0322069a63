/**
 * The `http` node's fetch under the egress rules (`egress_rules.ts`): every connection's address is checked
 * where it is made. A host name is resolved inside the connection's own `lookup` (node:http calls it, with
 * `all: true`, right before it connects), which answers only addresses the rules allow, so a DNS answer that
 * changes between the check and the connection (rebinding) cannot slip in; an IP-literal host (for which no
 * lookup is made) is checked before connecting. Redirects are followed by hand, each hop checked again.
 *
 * @example
 * ```ts
 * import { egressFetch } from "./egress_fetch.ts";
 * import { NodeError } from "./executor.ts";
 *
 * const fetchOut = egressFetch([]);
 * const refused = await fetchOut("http://169.254.169.254/latest/meta-data").catch((e) => e);
 * if (!(refused instanceof NodeError) || refused.code !== "egress_denied") throw new Error("metadata refused");
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { promises as dns } from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { NodeError } from "./executor.ts";
import {
  type EgressRefusal,
  egressRefusal,
  type EgressRule,
  type EgressTarget,
  normalHost,
  parseAddress,
  portOf,
  refusalText,
} from "./egress_rules.ts";
import { shownUrl } from "./shown_url.ts";

/** How many redirects one call follows; the next one is `http_too_many_redirects`. */
export const MAX_REDIRECTS = 10;

/** One address a host name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to its addresses (default: the system's resolver, `/etc/hosts` included). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** Opens one HTTP request (default: node:http's or node:https's `request`). */
export type Connector = (url: URL, options: http.RequestOptions) => http.ClientRequest;

/** Seams for tests: the resolver and the connector. */
export interface EgressFetchOptions {
  resolve?: Resolver;
  connect?: Connector;
}

/** A fetch-compatible function. */
export type EgressFetch = (input: URL | Request | string, init?: RequestInit) => Promise<Response>;

/** One request of a call: the first, or one a redirect leads to. */
interface Hop {
  url: URL;
  method: string;
  headers: Headers;
  body: Uint8Array | undefined;
}

/** What every hop of one call shares. */
interface Call {
  rules: readonly EgressRule[];
  resolve: Resolver;
  connect: Connector;
  signal: AbortSignal | undefined;
  redirect: RequestRedirect;
}

const systemResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

const nodeConnector: Connector = (url, options) =>
  url.protocol === "https:" ? https.request(options) : http.request(options);

/**
 * The `egress_denied` error: the method, the URL as {@link shownUrl} shows it (no credentials, query or
 * fragment), the address and why.
 */
export function egressDenied(method: string, url: URL, address: string, why: EgressRefusal): NodeError {
  return new NodeError(
    "egress_denied",
    `${method} ${shownUrl(url)}: ${refusalText(address, why)}`,
    false,
  );
}

/**
 * A fetch that calls only what `rules` allow (see the module doc). Follows redirects as fetch's
 * `redirect: "follow"` does (301/302 turn a POST into a GET, 303 anything but HEAD; 307/308 keep the method
 * and body; `Authorization`, `Cookie` and `Proxy-Authorization` are dropped on a redirect to another origin),
 * at most {@link MAX_REDIRECTS}; `redirect: "manual"` answers the redirect itself, `"error"` throws. The
 * response body streams (decoded from gzip, deflate or br), so the caller bounds what it reads; the signal
 * aborts the call and the body.
 *
 * @throws {NodeError} `egress_denied` (not retryable) for an address the rules refuse, before any byte is
 * sent to it; `http_too_many_redirects` or `http_url_invalid` (not retryable) for a redirect it cannot follow.
 */
export function egressFetch(rules: readonly EgressRule[], opts: EgressFetchOptions = {}): EgressFetch {
  const resolve = opts.resolve ?? systemResolver;
  const connect = opts.connect ?? nodeConnector;
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const signal = init?.signal ?? request?.signal ?? undefined;
    const redirect = init?.redirect ?? request?.redirect ?? "follow";
    const call: Call = { rules, resolve, connect, signal, redirect };
    return await follow(call, await firstHop(input, init));
  };
}

const NORMALISED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

/** The first hop from fetch's arguments: the URL, method, headers (fetch's defaults added) and body bytes. */
async function firstHop(input: URL | Request | string, init: RequestInit | undefined): Promise<Hop> {
  const request = input instanceof Request ? input : undefined;
  const url = new URL(request ? request.url : String(input));
  const given = init?.method ?? request?.method ?? "GET";
  const method = NORMALISED_METHODS.has(given.toUpperCase()) ? given.toUpperCase() : given;
  const headers = new Headers(init?.headers ?? request?.headers);
  const bodyInit = init?.body !== undefined ? init.body : request?.body ?? null;
  let body: Uint8Array | undefined;
  if (bodyInit !== null) {
    if (method === "GET" || method === "HEAD") throw new TypeError(`a ${method} request cannot have a body`);
    const bytes = new Response(bodyInit);
    body = new Uint8Array(await bytes.arrayBuffer());
    const type = bytes.headers.get("content-type");
    if (type !== null && !headers.has("content-type")) headers.set("content-type", type);
  }
  if (url.username !== "" || url.password !== "") {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    if (!headers.has("authorization")) {
      headers.set("authorization", `Basic ${Buffer.from(credentials).toString("base64")}`);
    }
  }
  for (const [name, value] of DEFAULT_HEADERS) if (!headers.has(name)) headers.set(name, value);
  return { url, method, headers, body };
}

/** What Deno's fetch sends unless told otherwise. */
const DEFAULT_HEADERS: readonly [string, string][] = [
  ["accept", "*/*"],
  ["accept-encoding", "gzip, br"],
  ["accept-language", "*"],
  ["user-agent", `Deno/${Deno.version.deno}`],
];

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Sends hops until one is not a redirect to follow, and answers it as a web `Response`. */
async function follow(call: Call, first: Hop): Promise<Response> {
  let hop = first;
  for (let redirects = 0;; redirects++) {
    const res = await send(call, hop);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (!REDIRECTS.has(status) || location === undefined || call.redirect === "manual") {
      return webResponse(res, hop, redirects > 0);
    }
    res.destroy();
    if (call.redirect === "error") {
      throw new TypeError(
        `${hop.method} ${shownUrl(hop.url)}: redirected, with redirect "error"`,
      );
    }
    if (redirects >= MAX_REDIRECTS) {
      throw new NodeError(
        "http_too_many_redirects",
        `${hop.method} ${shownUrl(hop.url)}: more than ${MAX_REDIRECTS} redirects`,
        false,
      );
    }
    hop = redirected(hop, status, location);
  }
}

/** The hop a redirect leads to, as fetch makes it. */
function redirected(hop: Hop, status: number, location: string): Hop {
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    url = new URL("invalid:");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new NodeError(
      "http_url_invalid",
      `${hop.method} ${shownUrl(hop.url)}: redirected to a location that is no http(s) URL`,
      false,
    );
  }
  const headers = new Headers(hop.headers);
  let { method, body } = hop;
  if ((status === 303 && method !== "GET" && method !== "HEAD") || (status <= 302 && method === "POST")) {
    method = "GET";
    body = undefined;
    for (
      const name of [
        "content-type",
        "content-length",
        "content-encoding",
        "content-language",
        "content-location",
      ]
    ) {
      headers.delete(name);
    }
  }
  if (url.origin !== hop.url.origin) {
    for (const name of ["authorization", "cookie", "proxy-authorization"]) headers.delete(name);
  }
  return { url, method, headers, body };
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The signal has been aborted", "AbortError");
}

/**
 * The lookup of one connection: resolves the host, keeps the addresses the rules allow, and refuses the
 * connection (`denied` tells which address and why) when none is left.
 */
function guardedLookup(
  call: Call,
  target: EgressTarget,
  denied: (address: string, why: EgressRefusal) => Error,
) {
  const lookup = (hostname: string, options: { all?: boolean; family?: number | string }, cb: Callback) => {
    call.resolve(hostname).then((found) => {
      const family = options.family === 4 || options.family === "IPv4"
        ? 4
        : options.family === 6 || options.family === "IPv6"
        ? 6
        : 0;
      const addresses = found.filter((a) => family === 0 || a.family === family);
      if (addresses.length === 0) {
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
      }
      const allowed = addresses.filter((a) => egressRefusal(call.rules, target, a.address) === undefined);
      if (allowed.length === 0) {
        const first = addresses[0].address;
        throw denied(first, egressRefusal(call.rules, target, first)!);
      }
      if (options.all) cb(null, allowed);
      else cb(null, allowed[0].address, allowed[0].family);
    }).catch((e) => cb(e instanceof Error ? e : new Error(String(e)), ""));
  };
  return lookup as unknown as LookupFunction;
}

type Callback = (err: Error | null, address: string | ResolvedAddress[], family?: number) => void;

/** Sends one hop and answers its response head; the body is left to {@link webResponse}. */
function send(call: Call, hop: Hop): Promise<http.IncomingMessage> {
  const { url, method } = hop;
  const host = normalHost(url.hostname);
  const target: EgressTarget = { host, port: portOf(url) };
  if (parseAddress(host) !== undefined) {
    const why = egressRefusal(call.rules, target, host);
    if (why !== undefined) return Promise.reject(egressDenied(method, url, host, why));
  }
  const signal = call.signal;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    let refusal: NodeError | undefined;
    const denied = (address: string, why: EgressRefusal) => refusal = egressDenied(method, url, address, why);
    const headers: Record<string, string> = {};
    hop.headers.forEach((value, name) => headers[name] = value);
    if (hop.body !== undefined) headers["content-length"] = String(hop.body.length);
    const req = call.connect(url, {
      method,
      hostname: host,
      port: target.port,
      path: `${url.pathname}${url.search}`,
      headers,
      agent: false,
      lookup: guardedLookup(call, target, denied),
    });
    let response: http.IncomingMessage | undefined;
    const onAbort = () => {
      const reason = abortReason(signal!);
      response?.destroy(reason instanceof Error ? reason : new Error(String(reason)));
      req.destroy();
      reject(reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("response", (res) => {
      response = res;
      res.on("close", () => signal?.removeEventListener("abort", onAbort));
      resolve(res);
    });
    req.on("error", (e) => {
      signal?.removeEventListener("abort", onAbort);
      reject(refusal ?? e);
    });
    req.end(hop.body === undefined ? undefined : Buffer.from(hop.body));
  });
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** The response body decoded from its content-encoding (gzip, deflate, br), else as it came. */
function decoded(res: http.IncomingMessage): Readable {
  const encoding = String(res.headers["content-encoding"] ?? "").trim().toLowerCase();
  const decoder = encoding === "gzip" || encoding === "x-gzip"
    ? zlib.createGunzip()
    : encoding === "deflate"
    ? zlib.createInflate()
    : encoding === "br"
    ? zlib.createBrotliDecompress()
    : undefined;
  if (decoder === undefined) return res;
  res.on("error", (e) => decoder.destroy(e));
  decoder.on("close", () => res.destroy());
  return res.pipe(decoder);
}

/** A web `Response` over a node response: status, headers, the streamed body, the URL it came from. */
function webResponse(res: http.IncomingMessage, hop: Hop, redirected: boolean): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    try {
      headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
    } catch { /* a header the web Headers cannot hold is dropped */ }
  }
  const status = res.statusCode ?? 0;
  const empty = hop.method === "HEAD" || NULL_BODY.has(status);
  if (empty) res.resume();
  let response: Response;
  try {
    const body = empty ? null : Readable.toWeb(decoded(res)) as ReadableStream<Uint8Array>;
    response = new Response(body, { status, statusText: res.statusMessage ?? "", headers });
  } catch (e) {
    res.destroy();
    throw e;
  }
  Object.defineProperty(response, "url", { value: hop.url.href });
  Object.defineProperty(response, "redirected", { value: redirected });
  return response;
}
