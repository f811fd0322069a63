/**
 * An HTTP listener that does not listen yet: an embedded engine (`createEngine`) has its API in process and
 * opens a port only when asked (`engine.serve({port})`). Until then the member advertises no HTTP address.
 *
 * @module
 */
import type { ApiHandler, HttpListener } from "./listeners.ts";
import { reachableHost, serveHttp } from "./listeners.ts";
import { checkExposure, type EngineConfig } from "./ops/config.ts";
import type { TlsMaterial } from "./ops/tls.ts";

/** Where a deferred listener listens once opened. */
export interface ListenOptions {
  /** The port (default: the node's `port` setting; 0: any free one). */
  port?: number;
  /**
   * The interface (default: the node's `host`, `127.0.0.1` unless configured); one that is not loopback needs
   * API tokens (or `insecureNoAuth`), as for `deno task serve`.
   */
  hostname?: string;
}

/** An {@link HttpListener} that opens its port on {@link DeferredHttp.listen}. */
export interface DeferredHttp extends HttpListener {
  /** Opens the port and serves the API given to `serve` on it; throws when it is open already. */
  listen(opts?: ListenOptions): { url: string; port: number };
  /** Whether the port is open. */
  readonly listening: boolean;
}

/**
 * A listener whose port opens later. `server.shutdown()` closes it when open and does nothing before.
 *
 * @example
 * ```ts
 * import { deferredHttp } from "./deferred_http.ts";
 * import { DEFAULT_CONFIG } from "./ops/config.ts";
 * const http = deferredHttp({ ...DEFAULT_CONFIG, port: 0 });
 * http.serve(() => Promise.resolve(new Response("ok")));
 * const { url } = http.listen();
 * const res = await fetch(url);
 * if ((await res.text()) !== "ok") throw new Error("served");
 * await http.server.shutdown();
 * ```
 */
export function deferredHttp(config: EngineConfig, tls?: TlsMaterial): DeferredHttp {
  let api: ApiHandler | undefined;
  let open: HttpListener | undefined;
  const closed = { shutdown: () => open ? open.server.shutdown() : Promise.resolve() };
  return {
    server: closed as unknown as Deno.HttpServer<Deno.NetAddr>,
    get port() {
      return open?.port ?? 0;
    },
    get host() {
      return open?.host ?? reachableHost(config.host);
    },
    get url() {
      return open?.url ?? "";
    },
    get address() {
      return open?.address ?? "";
    },
    get listening() {
      return open !== undefined;
    },
    serve(handler) {
      api = handler;
      open?.serve(handler);
    },
    listen(opts = {}) {
      if (open) throw new Error(`already listening at ${open.url}`);
      const host = opts.hostname ?? config.host;
      checkExposure({ ...config, host }); // no API tokens: loopback only, as for `deno task serve`
      open = serveHttp({ ...config, port: opts.port ?? config.port, host }, tls);
      if (api) open.serve(api);
      return { url: open.url, port: open.port };
    },
  };
}
