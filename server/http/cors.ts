/**
 * CORS, off by default: only the origins configured with `--cors-origin` get `Access-Control-Allow-Origin`,
 * and a preflight (`OPTIONS` with `Access-Control-Request-Method`) from one of them is answered `204` with the
 * methods and headers the API takes. Other origins get no CORS headers at all (the browser then refuses).
 *
 * @example
 * ```ts
 * import { withCors } from "./cors.ts";
 *
 * const handler = withCors(["https://console.example"], () => Promise.resolve(new Response("{}")));
 * const pre = await handler(new Request("http://node/api/v1/workflows", {
 *   method: "OPTIONS",
 *   headers: { origin: "https://console.example", "access-control-request-method": "POST" },
 * }));
 * if (pre.status !== 204 || pre.headers.get("access-control-allow-origin") !== "https://console.example") {
 *   throw new Error("an allowed origin's preflight is answered");
 * }
 * const other = await handler(new Request("http://node/", { headers: { origin: "https://evil.example" } }));
 * if (other.headers.has("access-control-allow-origin")) throw new Error("another origin gets nothing");
 * ```
 *
 * @module
 */

/** The methods and request headers a browser app may use. */
const ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS = "authorization, content-type, idempotency-key, traceparent, tracestate";
/** How long a browser may cache a preflight, in seconds. */
const MAX_AGE = "600";

/** Wraps a request handler with CORS for `origins` (exact `scheme://host[:port]`); none: the handler as is. */
export function withCors(
  origins: readonly string[],
  handler: (req: Request) => Promise<Response>,
): (req: Request) => Promise<Response> {
  if (origins.length === 0) return handler;
  const allowed = new Set(origins);
  return async (req) => {
    const origin = req.headers.get("origin");
    if (origin === null || !allowed.has(origin)) return handler(req);
    if (req.method === "OPTIONS" && req.headers.has("access-control-request-method")) {
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": origin,
          "access-control-allow-methods": ALLOW_METHODS,
          "access-control-allow-headers": ALLOW_HEADERS,
          "access-control-max-age": MAX_AGE,
          vary: "Origin",
        },
      });
    }
    const res = await handler(req);
    const headers = new Headers(res.headers);
    headers.set("access-control-allow-origin", origin);
    headers.set("access-control-expose-headers", "location, idempotent-replayed, retry-after");
    headers.append("vary", "Origin");
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}
