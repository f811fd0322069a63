/**
 * The cluster transport contract: how nodes exchange versioned message envelopes.
 * The single-node runtime needs none; the WebSocket and in-memory implementations
 * plug in here with the cluster (docs/ARCHITECTURE.md, "Cluster").
 *
 * @module
 */

/** A message between nodes, versioned so that nodes of two releases can talk. */
export interface Envelope<T = unknown> {
  /** Envelope schema version. */
  v: number;
  from: string;
  to: string;
  /** Message type, e.g. `heartbeat`, `forward`, `shard-handoff`. */
  type: string;
  body: T;
}

/** Sends and receives envelopes. Implementations bound their queues and report back-pressure. */
export interface Transport {
  /** This node's id. */
  readonly self: string;
  /** Queues an envelope; false when the peer's bounded queue is full (the caller backs off). */
  send(envelope: Envelope): boolean;
  /** Registers the handler of incoming envelopes. */
  onMessage(handler: (envelope: Envelope) => void): void;
  close(): Promise<void>;
}
