/**
 * A member's two listeners: its HTTP server, which answers 503 until the API is ready and, on a member
 * without the api-gateway role, serves only health and metrics; and, in a cluster, the WebSocket transport
 * to the other members with the RPC over it. With TLS material (`--tls-cert`, `--tls-key`) both speak TLS:
 * HTTPS, and wss:// between members, each dialing member verifying the other's certificate. With
 * `--http-workers N` the HTTP server is N workers in front of this thread (`server/http_workers/`).
 *
 * @module
 */
import type { Member } from "../core/cluster.ts";
import { Rpc } from "../transport/rpc.ts";
import { WebSocketTransport } from "../transport/websocket.ts";
import type { EngineConfig } from "./ops/config.ts";
import type { TlsMaterial } from "./ops/tls.ts";
import type { Logger } from "./runtime/logger.ts";
import { isConsolePath } from "./console/serve.ts";
import { ConfigError } from "./ops/config_values.ts";
import { MAX_BODY_BYTES } from "./http/body.ts";
import { MAX_BATCH_BODY_BYTES } from "./http/batch_body.ts";
import { HttpWorkerPool, httpWorkersUnsupported } from "./http_workers/pool.ts";

/** A member's API: answers one HTTP request. */
export type ApiHandler = (req: Request) => Promise<Response>;

/** A member's HTTP server, serving its API once {@link HttpListener.serve} is given it. */
export interface HttpListener {
  /** The server (with HTTP workers, their pool seen as one server: `shutdown()` closes every worker). */
  server: Deno.HttpServer<Deno.NetAddr>;
  /** The HTTP workers serving the port (`--http-workers`); none: this thread serves it. */
  workers?: HttpWorkerPool;
  port: number;
  /** The host others reach this member at: `0.0.0.0` as `127.0.0.1`, an IPv6 address in brackets. */
  host: string;
  /** The base URL, e.g. `http://127.0.0.1:8080`, or `https://…` with TLS. */
  url: string;
  /** The HTTP address the cluster advertises: `host:port`, or with TLS the URL `https://host:port`. */
  address: string;
  /** Starts serving the API; until then every request gets a 503 `not_ready`. */
  serve(api: ApiHandler): void;
}

/** A member's link to the rest of its cluster: the WebSocket transport and the RPC over it. */
export interface ClusterLink {
  transport: WebSocketTransport;
  rpc: Rpc;
}

function unavailable(code: string, message: string): Response {
  return Response.json({ error: { code, message, details: [] } }, {
    status: 503,
    headers: { "retry-after": "1" },
  });
}

/**
 * Where a request goes: a 503 before the API is ready or for an API route off a gateway, else the API (every
 * node serves health, metrics and the web console's files).
 */
function route(req: Request, api: ApiHandler | undefined, gateway: boolean): Promise<Response> {
  if (!api) return Promise.resolve(unavailable("not_ready", "the node is starting"));
  const path = gateway ? "" : new URL(req.url).pathname; // a gateway serves every route
  if (!gateway && !path.startsWith("/health") && path !== "/metrics" && !isConsolePath(req.url)) {
    return Promise.resolve(
      unavailable("not_a_gateway", "this node has no api-gateway role; call another"),
    );
  }
  return api(req);
}

/** The host others reach a listener bound to `hostname` at. */
export function reachableHost(hostname: string): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return host === "0.0.0.0" ? "127.0.0.1" : host;
}

/**
 * Starts the HTTP server on the configured host and port, serving HTTPS when given `tls`; it answers 503
 * until given the API.
 *
 * @example
 * ```ts
 * import { serveHttp } from "./listeners.ts";
 * import { DEFAULT_CONFIG } from "./ops/config.ts";
 * const http = serveHttp({ ...DEFAULT_CONFIG, port: 0 });
 * const early = await fetch(`${http.url}/health`);
 * await early.body?.cancel();
 * http.serve(() => Promise.resolve(new Response("ok")));
 * const ready = await fetch(`${http.url}/health`);
 * if (early.status !== 503 || (await ready.text()) !== "ok") throw new Error("503 until served");
 * await http.server.shutdown();
 * ```
 */
export function serveHttp(config: EngineConfig, tls?: TlsMaterial): HttpListener {
  let api: ApiHandler | undefined;
  const gateway = config.roles.includes("api-gateway");
  const server = Deno.serve(
    {
      hostname: config.host,
      port: config.port,
      onListen: () => {},
      ...(tls && { cert: tls.cert, key: tls.key }),
    },
    (req) => route(req, api, gateway),
  );
  return listenerAt(config, tls, server, undefined, (h) => api = h);
}

/** A listener's addresses and controls, once it listens on `port`. */
function listenerAt(
  config: EngineConfig,
  tls: TlsMaterial | undefined,
  server: Deno.HttpServer<Deno.NetAddr>,
  workers: HttpWorkerPool | undefined,
  serve: (api: ApiHandler) => void,
): HttpListener {
  const host = reachableHost(config.host);
  const port = server.addr.port;
  return {
    server,
    workers,
    port,
    host,
    url: `${tls ? "https" : "http"}://${host}:${port}`,
    address: tls ? `https://${host}:${port}` : `${host}:${port}`,
    serve,
  };
}

/**
 * Refuses `--http-workers` where it cannot run (not Linux, or Deno without `--unstable-net`) with a one-line
 * `ConfigError`, before anything opens.
 */
export function checkHttpWorkers(config: Pick<EngineConfig, "httpWorkers">): void {
  const why = config.httpWorkers > 0 ? httpWorkersUnsupported() : undefined;
  if (why !== undefined) throw new ConfigError(`http-workers: ${why}`);
}

/**
 * Starts `config.httpWorkers` HTTP workers on the configured host and port (HTTPS with `tls`), handing each
 * request to this thread: as {@link serveHttp}, 503 until given the API, and then the API. Resolves once every
 * worker listens.
 */
export async function serveHttpWorkers(
  config: EngineConfig,
  log: Logger,
  tls?: TlsMaterial,
): Promise<HttpListener> {
  checkHttpWorkers(config);
  let api: ApiHandler | undefined;
  const gateway = config.roles.includes("api-gateway");
  const pool = await HttpWorkerPool.start({
    count: config.httpWorkers,
    hostname: config.host,
    port: config.port,
    tls: tls && { cert: tls.cert, key: tls.key },
    maxBodyBytes: Math.max(MAX_BODY_BYTES, MAX_BATCH_BODY_BYTES),
    handler: (req) => route(req, api, gateway),
    log,
  });
  return listenerAt(config, tls, poolServer(pool, config.host), pool, (h) => api = h);
}

/** A pool of HTTP workers seen as one server: its address, and `shutdown()` closes every worker. */
function poolServer(pool: HttpWorkerPool, hostname: string): Deno.HttpServer<Deno.NetAddr> {
  const { promise: finished, resolve } = Promise.withResolvers<void>();
  const shutdown = () => pool.close().then(resolve);
  return {
    addr: { transport: "tcp", hostname, port: pool.port },
    finished,
    shutdown,
    ref() {},
    unref() {},
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * Starts the cluster transport on the configured host and cluster port, with the RPC over it; over TLS when
 * given `tls` (dialed members are verified against the default roots plus `tls.ca`).
 */
export function startTransport(config: EngineConfig, log: Logger, tls?: TlsMaterial): ClusterLink {
  const transport = new WebSocketTransport({
    tls,
    self: config.nodeId,
    secret: config.clusterSecret!,
    hostname: config.host,
    port: config.clusterPort,
    logger: { warn: (message, fields) => log.warn(message, fields) },
  });
  const rpc = new Rpc(transport, { logger: { warn: (m, f) => log.warn(m, f) } });
  return { transport, rpc };
}

/**
 * Keeps the transport's peers in step with the cluster's members (all but `self`): a member that is down
 * is removed, any other with an address is added.
 */
export function followMembers(
  transport: WebSocketTransport,
  self: string,
): (members: readonly Member[]) => void {
  return (ms) => {
    for (const m of ms) {
      if (m.id === self) continue;
      // A member that is down is forgotten (no redialing it with a growing backoff); when it heartbeats
      // again it is added back and dialed at once, not up to 5 s (the backoff's cap) after it got shards.
      if (m.status === "down") transport.removePeer(m.id);
      else if (m.address !== "") transport.addPeer({ id: m.id, address: m.address });
    }
  };
}
