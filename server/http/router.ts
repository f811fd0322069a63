/**
 * The API's tiny core: a router of `/api/v1/workflows/:id` patterns (first match
 * wins, 404 for an unknown path, 405 with `Allow` for a known path with another
 * method) that composes like Hono apps — `app.route("/api/v1/workflows", workflows)`
 * mounts a sub-router's routes under a prefix, in the order they were added — and
 * answers requests (`handler`, Hono's `fetch`): match, run, map what a handler threw
 * to an error response, and tell the request observer.
 *
 * A route may carry a spec (`route_spec.ts`): `get(pattern, handler, spec)` checks the request's path
 * parameters, query and headers with the spec's zod schemas before the handler runs and hands it the parsed
 * values; `routes()` lists every route with its spec, which `openapi.ts` turns into the OpenAPI document.
 *
 * @example Composing sub-routers
 * ```ts
 * import { Router } from "./router.ts";
 *
 * const workflows = new Router()
 *   .get("/", () => new Response("all"))
 *   .get("/:id", ({ params }) => new Response(params.id));
 * const app = new Router()
 *   .get("/health", () => new Response("ok"))
 *   .route("/api/v1/workflows", workflows);
 *
 * const found = app.match("GET", new URL("http://x/api/v1/workflows/w%201"));
 * if (found.pattern !== "/api/v1/workflows/:id") throw new Error(found.pattern);
 * if (found.params.id !== "w 1") throw new Error(found.params.id);
 * const list = app.match("GET", new URL("http://x/api/v1/workflows"));
 * if (list.pattern !== "/api/v1/workflows") throw new Error(list.pattern);
 * ```
 *
 * @module
 */
import { ApiError } from "./errors.ts";
import { type RouteSpec, type SpecHandler, withSpec } from "./route_spec.ts";

/** The pattern of the requests no route matched, as metrics label it. */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * Observability hooks of requests (server/ops/metrics.ts and server/ops/tracing.ts implement them). All
 * optional; called on every request, so each must be cheap and must not throw.
 */
export interface RequestObserver {
  /**
   * A request was answered. `route` is the pattern it matched (`/api/v1/executions/:executionId`), or
   * `unmatched` for a 404/405: never the raw path. Not called for requests another member forwarded here
   * (the member that received them counts them).
   */
  requestEnded?(method: string, route: string, status: number, ms: number): void;
  /**
   * Runs `respond`, the handling of a request another member forwarded here, inside the trace context the
   * request carries (its `traceparent`); `route()` names the pattern it matched once `respond` ran.
   */
  forwarded?(req: Request, route: () => string, respond: () => Promise<Response>): Promise<Response>;
}

/** How an app answers requests. */
export interface AppOptions {
  /** The response to what a handler (or the match) threw. */
  onError(req: Request, url: URL, err: unknown): Response;
  /** Request metrics and traces (none by default). */
  observer?: RequestObserver;
  /** Whether a request was forwarded here by another member (observed as such). */
  isForwarded?(req: Request): boolean;
  /**
   * Checks a request may run the route it matched (`null`: it matched none) before the route runs; throws
   * (or rejects with) the ApiError to answer instead (401, 403).
   */
  authorize?(req: Request, pattern: string | null): void | Promise<void>;
  /**
   * A request this member received was answered (not one another member forwarded here): `route` is the
   * pattern it matched, or `unmatched`. Called once per request, after `authorize` and the route; must not
   * throw (the audit log hooks here).
   */
  answered?(req: Request, url: URL, route: string, res: Response): void;
}

/** What a handler gets. */
export interface RouteContext {
  req: Request;
  url: URL;
  params: Record<string, string>;
}

/** A handler. */
export type Handler = (ctx: RouteContext) => Promise<Response> | Response;

/** A route as it is matched: its full pattern, split into path segments. */
interface Route {
  method: string;
  pattern: string;
  parts: string[];
  handler: Handler;
  spec: RouteSpec | undefined;
}

/** A route as `Router.routes` lists it. */
export interface RouteInfo {
  method: string;
  /** Its full pattern (`/api/v1/executions/:executionId`). */
  pattern: string;
  /** What it says of itself (none: a route added without a spec). */
  spec: RouteSpec | undefined;
}

/** What `Router.match` finds for a request. */
export interface RouteMatch {
  handler: Handler;
  params: Record<string, string>;
  /** The full pattern matched (`/api/v1/executions/:executionId`). */
  pattern: string;
}

/** Routes by method and path pattern. */
export class Router {
  #routes: Route[] = [];

  /**
   * Adds a route; `:name` segments capture (URL-decoded). With a `spec`, its path parameters, query and headers
   * are checked and parsed by the spec's schemas before `handler` runs (`route_spec.ts`).
   */
  on(method: string, pattern: string, handler: Handler): this;
  on<S extends RouteSpec>(method: string, pattern: string, handler: SpecHandler<S>, spec: S): this;
  on<S extends RouteSpec>(
    method: string,
    pattern: string,
    handler: Handler | SpecHandler<S>,
    spec?: S,
  ): this {
    const run = spec === undefined ? handler as Handler : withSpec(spec, handler as SpecHandler<S>);
    return this.#add(method, pattern, run, spec);
  }

  #add(method: string, pattern: string, handler: Handler, spec: RouteSpec | undefined): this {
    this.#routes.push({ method, pattern, parts: pattern.split("/").filter(Boolean), handler, spec });
    return this;
  }

  /** Adds a `GET` route (which also answers `HEAD`). */
  get(pattern: string, handler: Handler): this;
  get<S extends RouteSpec>(pattern: string, handler: SpecHandler<S>, spec: S): this;
  get<S extends RouteSpec>(pattern: string, handler: Handler | SpecHandler<S>, spec?: S): this {
    return this.on("GET", pattern, handler as SpecHandler<S>, spec as S);
  }

  /** Adds a `POST` route. */
  post(pattern: string, handler: Handler): this;
  post<S extends RouteSpec>(pattern: string, handler: SpecHandler<S>, spec: S): this;
  post<S extends RouteSpec>(pattern: string, handler: Handler | SpecHandler<S>, spec?: S): this {
    return this.on("POST", pattern, handler as SpecHandler<S>, spec as S);
  }

  /** Adds a `PUT` route. */
  put(pattern: string, handler: Handler): this;
  put<S extends RouteSpec>(pattern: string, handler: SpecHandler<S>, spec: S): this;
  put<S extends RouteSpec>(pattern: string, handler: Handler | SpecHandler<S>, spec?: S): this {
    return this.on("PUT", pattern, handler as SpecHandler<S>, spec as S);
  }

  /** Adds a `DELETE` route. */
  delete(pattern: string, handler: Handler): this;
  delete<S extends RouteSpec>(pattern: string, handler: SpecHandler<S>, spec: S): this;
  delete<S extends RouteSpec>(pattern: string, handler: Handler | SpecHandler<S>, spec?: S): this {
    return this.on("DELETE", pattern, handler as SpecHandler<S>, spec as S);
  }

  /** Every route, in precedence order, with its full pattern and spec (`openapi.ts` documents them). */
  routes(): RouteInfo[] {
    return this.#routes.map(({ method, pattern, spec }) => ({ method, pattern, spec }));
  }

  /**
   * Mounts the routes `sub` has now under `prefix` (`/` mounts them as they are), after this router's own:
   * `route("/api/v1/workflows", sub)` with `sub.get("/:id", h)` answers `GET /api/v1/workflows/:id`.
   */
  route(prefix: string, sub: Router): this {
    for (const r of sub.#routes) this.#add(r.method, joinPattern(prefix, r.pattern), r.handler, r.spec);
    return this;
  }

  /** Finds the handler of a request (and the pattern it matched), or throws the 404/405 ApiError. */
  match(method: string, url: URL): RouteMatch {
    const segments = url.pathname.split("/").filter(Boolean);
    const allowed = new Set<string>();
    for (const route of this.#routes) {
      const params = matchParts(route.parts, segments);
      if (!params) continue;
      if (route.method === method || (method === "HEAD" && route.method === "GET")) {
        checkParams(params, url.searchParams);
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

  /** The request handler of this app (Hono's `fetch`): it matches against the routes as they are at each request. */
  handler(opts: AppOptions): (req: Request) => Promise<Response> {
    /** Answers one request; `seen.route` is set to the pattern matched. */
    const respond = async (req: Request, url: URL, seen: { route: string }): Promise<Response> => {
      try {
        let found: RouteMatch;
        try {
          found = this.match(req.method, url);
        } catch (err) {
          const checking = opts.authorize?.(req, null); // an unknown route is answered only to a known caller
          if (checking) await checking;
          throw err;
        }
        seen.route = found.pattern;
        const checking = opts.authorize?.(req, found.pattern);
        if (checking) await checking;
        return await found.handler({ req, url, params: found.params });
      } catch (err) {
        return opts.onError(req, url, err);
      }
    };
    const observer = opts.observer;
    return async (req: Request): Promise<Response> => {
      const url = new URL(req.url);
      const seen = { route: UNMATCHED_ROUTE };
      if (!observer && !opts.answered) return await respond(req, url, seen);
      if (opts.isForwarded?.(req)) {
        return observer?.forwarded
          ? await observer.forwarded(req, () => seen.route, () => respond(req, url, seen))
          : await respond(req, url, seen);
      }
      const t0 = performance.now();
      const res = await respond(req, url, seen);
      observer?.requestEnded?.(req.method, seen.route, res.status, performance.now() - t0);
      opts.answered?.(req, url, seen.route, res);
      return res;
    };
  }
}

/** `prefix` + `pattern`, without a doubled or trailing `/` (`/a` + `/` is `/a`; `/` + `/` is `/`). */
function joinPattern(prefix: string, pattern: string): string {
  const head = prefix.replace(/\/+$/, "");
  const tail = pattern === "/" ? "" : pattern.startsWith("/") ? pattern : `/${pattern}`;
  return head + tail || "/";
}

/** Control characters (C0, DEL, C1): never part of an id, a name or a key. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Refuses path parameters and query values with control characters (a NUL in an id, say): 400 with the
 * parameter's path (`path.executionId`, `?cursor`).
 */
function checkParams(params: Record<string, string>, query: URLSearchParams): void {
  for (const [name, value] of Object.entries(params)) refuseControl(`path.${name}`, name, value);
  for (const [name, value] of query) refuseControl(`?${name}`, name, value);
}

function refuseControl(path: string, name: string, value: string): void {
  const bad = CONTROL.exec(value);
  if (bad === null) return;
  const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
  throw new ApiError(400, "invalid_parameter", `${name} must not contain control characters`, [
    { path, message: `U+${code} at ${bad.index}` },
  ]);
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
