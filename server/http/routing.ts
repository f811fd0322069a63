/**
 * Shard routing for the API: a call for an execution whose shard this node owns
 * runs here; otherwise it is forwarded to the owner over the cluster and
 * answered as if local. While a shard has no owner (a hand-off, a failover) the
 * call waits for one, up to the ask timeout; then 503/504 names the shard and why.
 *
 * @module
 */
import type { Clock } from "../runtime/clock.ts";
import type { ClusterMember } from "../cluster/member.ts";
import type { Engine } from "../runtime/engine.ts";
import { ApiError } from "./errors.ts";
import { StorageUnavailable } from "../../storage/storage.ts";

/** A request as it crosses the cluster. */
export interface ForwardedRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** The owner's answer. */
export interface ForwardedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends a request to another member and returns its answer (errors as values). */
export interface Forwarder {
  forward(
    to: string,
    request: ForwardedRequest,
    timeoutMs: number,
  ): Promise<{ ok: true; response: ForwardedResponse } | { ok: false; code: string; message: string }>;
}

/** Headers that carry cluster context; stripped from public requests. */
export const FORWARDED_HEADER = "x-flowmesh-forwarded";
export const EXECUTION_ID_HEADER = "x-flowmesh-execution-id";
/** A forwarded sub-batch's items: their places in the batch received and their execution ids (JSON). */
export const BATCH_ITEMS_HEADER = "x-flowmesh-batch-items";

/** Headers a forwarded request keeps. */
const KEPT = ["content-type", "idempotency-key", "traceparent", "tracestate", EXECUTION_ID_HEADER];

/** Builds the forwarded form of a request whose body was read already. */
export function forwardedRequest(req: Request, url: URL, body: string, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = {};
  for (const name of KEPT) {
    const v = req.headers.get(name);
    if (v !== null) headers[name] = v;
  }
  return { method: req.method, path: url.pathname + url.search, headers: { ...headers, ...extra }, body };
}

/** Routes calls by shard. */
export class ShardRouting {
  constructor(
    private readonly engine: Engine,
    private readonly cluster: ClusterMember,
    private readonly forwarder: Forwarder | null,
    private readonly clock: Clock,
    readonly askTimeoutMs = 5_000,
  ) {}

  /** This node's id in the cluster. */
  get selfId(): string {
    return this.cluster.opts.nodeId;
  }

  /** The member owning `shard` as this node sees it now: this node's id when it owns it, `null` for none. */
  ownerOf(shard: number): string | null {
    return this.engine.ownedShards.has(shard) ? this.cluster.opts.nodeId : this.cluster.ownerOf(shard);
  }

  /** Runs `local` when this node owns `shard`, else forwards `request` to the owner. */
  async route(
    shard: number,
    request: ForwardedRequest,
    forwarded: boolean,
    local: () => Promise<Response>,
  ): Promise<Response> {
    const deadline = this.clock.now() + this.askTimeoutMs;
    let reason = "no owner";
    for (;;) {
      if (this.engine.ownedShards.has(shard)) {
        const res = await localAnswer(local);
        // Storage fenced the write off (the shard moved while it ran): nothing was written, so it is asked
        // again of the new owner while the ask timeout lasts, rather than answered 503 to the caller.
        // (A call forwarded here answers as it is: the member that received it asks again.)
        if (forwarded || !(await shardMovedAway(res)) || this.clock.now() >= deadline) return res;
        reason = "it moved while the call ran";
        await new Promise<void>((r) => this.clock.setTimer(10, r));
        continue;
      }
      if (this.cluster.cutOff) {
        throw new StorageUnavailable("this node cannot reach storage; it owns no shards until it can");
      }
      const owner = this.cluster.ownerOf(shard);
      const self = this.cluster.opts.nodeId;
      const member = owner === null ? undefined : this.cluster.member(owner);
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) break;
      if (owner !== null && owner !== self && !forwarded && this.forwarder && member?.status !== "down") {
        const r = await this.forwarder.forward(owner, request, remaining);
        if (r.ok) {
          const res = new Response(r.response.body, {
            status: r.response.status,
            headers: r.response.headers,
          });
          if (!(await shardMovedAway(res)) || this.clock.now() >= deadline) return res;
          reason = `it moved while ${owner} ran the call`;
          await new Promise<void>((r) => this.clock.setTimer(10, r));
          continue;
        }
        if (r.code === "timeout") {
          throw new ApiError(
            504,
            "owner_timeout",
            `shard ${shard}: its owner ${owner} did not answer in time`,
            [
              { path: "shard", message: `${shard} owned by ${owner}` },
            ],
          );
        }
        reason = `owner ${owner} ${r.code}: ${r.message}`;
      } else {
        reason = owner === null
          ? "no owner yet (hand-off or failover in progress)"
          : owner === self
          ? "this node is taking it over"
          : forwarded
          ? `forwarded here, but owned by ${owner}`
          : `owner ${owner} is ${member?.status ?? "unknown"}`;
      }
      await new Promise<void>((r) => this.clock.setTimer(Math.min(100, Math.max(1, remaining)), r));
    }
    throw new ApiError(503, "shard_unavailable", `shard ${shard} is unavailable: ${reason}`, [
      { path: "shard", message: reason },
    ], { "retry-after": "1" });
  }
}

/** Whether an answer is the fence's `503 not_owner`: the shard moved and the write was refused, not made. */
async function shardMovedAway(res: Response): Promise<boolean> {
  if (res.status !== 503) return false;
  try {
    return (await res.clone().json())?.error?.code === "not_owner";
  } catch {
    return false;
  }
}

/** What `local` answers, its thrown `503 not_owner` as that answer (so the fence's refusal is asked again). */
async function localAnswer(local: () => Promise<Response>): Promise<Response> {
  try {
    return await local();
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 503 || err.code !== "not_owner") throw err;
    return Response.json(
      { error: { code: err.code, message: err.message, details: err.details } },
      { status: 503, headers: { ...err.headers, "retry-after": "1" } },
    );
  }
}
