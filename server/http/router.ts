/**
 * A tiny router: `/api/v1/workflows/:id` patterns, first match wins, 404 for an
 * unknown path and 405 (with `Allow`) for a known path with another method.
 *
 * @module
 */
import { ApiError } from "./errors.ts";

/** What a handler gets. */
export interface RouteContext {
  req: Request;
  url: URL;
  params: Record<string, string>;
}

/** A handler. */
export type Handler = (ctx: RouteContext) => Promise<Response> | Response;

interface Route {
  method: string;
  pattern: string;
  parts: string[];
  handler: Handler;
}

/** Routes by method and path pattern. */
export class Router {
  #routes: Route[] = [];

  /** Adds a route; `:name` segments capture (URL-decoded). */
  on(method: string, pattern: string, handler: Handler): this {
    this.#routes.push({ method, pattern, parts: pattern.split("/").filter(Boolean), handler });
    return this;
  }

  /** Finds the handler of a request (and the pattern it matched), or throws the 404/405 ApiError. */
  match(method: string, url: URL): { handler: Handler; params: Record<string, string>; pattern: string } {
    const segments = url.pathname.split("/").filter(Boolean);
    const allowed = new Set<string>();
    for (const route of this.#routes) {
      const params = matchParts(route.parts, segments);
      if (!params) continue;
      if (route.method === method || (method === "HEAD" && route.method === "GET")) {
        return { handler: route.handler, params, pattern: route.pattern };
      }
      allowed.add(route.method);
    }
    if (allowed.size > 0) {
      const allow = [...allowed].join(", ");
      throw new ApiError(405, "method_not_allowed", `${method} is not allowed here; use ${allow}`, [], {
        allow,
      });
    }
    throw new ApiError(404, "route_not_found", `no route for ${method} ${url.pathname}`);
  }
}

function matchParts(parts: string[], segments: string[]): Record<string, string> | undefined {
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    if (parts[i].startsWith(":")) {
      try {
        params[parts[i].slice(1)] = decodeURIComponent(segments[i]);
      } catch {
        return undefined;
      }
    } else if (parts[i] !== segments[i]) return undefined;
  }
  return params;
}
