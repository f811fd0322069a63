/**
 * API calls across the cluster: a `Forwarder` that sends a request to the
 * shard's owner as an RPC over the cluster transport, and the responder that
 * serves such requests with this node's own API handler (marked as forwarded,
 * so they are never forwarded again).
 *
 * @module
 */
import { Rpc } from "../../transport/rpc.ts";
import {
  FORWARDED_HEADER,
  type ForwardedRequest,
  type ForwardedResponse,
  type Forwarder,
} from "./routing.ts";

/** Requests that arrived over the cluster transport (trusted with cluster headers). */
const forwardedRequests = new WeakSet<Request>();

/** Marks a request as forwarded by another member (only the cluster transport's responder does). */
export function markForwarded(req: Request): Request {
  forwardedRequests.add(req);
  return req;
}

/** Whether a request was forwarded here by another member: marked by the responder and with its header. */
export function isForwarded(req: Request): boolean {
  return forwardedRequests.has(req) && req.headers.get(FORWARDED_HEADER) !== null;
}

/** The RPC type of a forwarded API call. */
export const FORWARD_TYPE = "api.forward";

/**
 * Forwards API calls over an `Rpc`. With `connected` (whether the transport has a live connection to a
 * peer), a call to an owner it has no connection to is answered `unreachable` at once: the transport would
 * queue it until the owner comes back, and the call would wait out its whole ask timeout (504) while the
 * routing could have found the shard's next owner (a failover takes less than the ask timeout).
 */
export class RpcForwarder implements Forwarder {
  constructor(private readonly rpc: Rpc, private readonly connected?: (peer: string) => boolean) {}

  async forward(to: string, request: ForwardedRequest, timeoutMs: number) {
    if (this.connected && !this.connected(to)) {
      return { ok: false as const, code: "unreachable", message: `no connection to ${to}` };
    }
    const r = await this.rpc.ask<ForwardedResponse>(to, FORWARD_TYPE, request, {
      timeoutMs,
      trace: request.headers.traceparent,
    });
    return r.ok
      ? { ok: true as const, response: r.body }
      : { ok: false as const, code: r.code, message: r.message };
  }
}

/**
 * Serves forwarded API calls with `handler` (this node's API); `scheme` is the one this node's API is served
 * with (`https` with TLS), which the forwarded requests' URLs carry.
 */
export function serveForwarded(
  rpc: Rpc,
  handler: (req: Request) => Promise<Response>,
  scheme: "http" | "https" = "http",
): () => void {
  return rpc.handle(FORWARD_TYPE, async (body): Promise<ForwardedResponse> => {
    const f = body as ForwardedRequest;
    const req = markForwarded(
      new Request(new URL(f.path, `${scheme}://cluster.internal`), {
        method: f.method,
        headers: { ...f.headers, [FORWARDED_HEADER]: "1" },
        body: f.method === "GET" || f.method === "HEAD" || f.body === "" ? undefined : f.body,
      }),
    );
    const res = await handler(req);
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  });
}
