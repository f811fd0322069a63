/**
 * Cluster transports: the contract (versioned envelopes, bounded per-peer queues, peer up/down events), its
 * two implementations — WebSocket connections authenticated by the cluster secret, and an in-process network
 * with fault hooks for tests and the simulator — and `Rpc`, request/response with timeouts on top of either.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, Rpc } from "./mod.ts";
 *
 * const net = new MemoryNetwork();
 * const a = new Rpc(net.join("a"));
 * const b = new Rpc(net.join("b"));
 * b.handle("echo", (body) => body);
 * const r = await a.ask<string>("b", "echo", "hello", { timeoutMs: 1_000 });
 * if (!r.ok || r.body !== "hello") throw new Error("b answers a");
 * a.close();
 * b.close();
 * await net.close();
 * ```
 *
 * @module
 */
export {
  DEFAULT_MAX_QUEUE,
  type Envelope,
  ENVELOPE_VERSION,
  type MessageHandler,
  type PeerHandler,
  type Transport,
  type TransportEvents,
  TransportHandlers,
  type TransportLogger,
  type TransportStats,
} from "./transport.ts";
export {
  backoffDelay,
  type PeerAddress,
  type TransportTls,
  type WebSocketStats,
  WebSocketTransport,
  type WebSocketTransportOptions,
} from "./websocket.ts";
export {
  type Decision,
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryNetworkStats,
  MemoryTransport,
  type Scheduler,
} from "./memory.ts";
export {
  type AskOptions,
  Rpc,
  type RpcErrorCode,
  type RpcHandler,
  type RpcOptions,
  type RpcResult,
} from "./rpc.ts";
