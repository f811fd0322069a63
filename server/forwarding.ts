/**
 * API calls across the cluster: a `Forwarder` that sends a request to the
 * shard's owner as an RPC over the cluster transport, and the responder that
 * serves such requests with this node's own API handler (marked as forwarded,
 * so they are never forwarded again).
 *
 * @module
 */
import { Rpc } from "../transport/rpc.ts";
import { markForwarded } from "./api.ts";
import {
  FORWARDED_HEADER,
  type ForwardedRequest,
  type ForwardedResponse,
  type Forwarder,
} from "./routing.ts";

/** The RPC type of a forwarded API call. */
export const FORWARD_TYPE = "api.forward";

/** Forwards API calls over an `Rpc`. */
export class RpcForwarder implements Forwarder {
  constructor(private readonly rpc: Rpc) {}

  async forward(to: string, request: ForwardedRequest, timeoutMs: number) {
    const r = await this.rpc.ask<ForwardedResponse>(to, FORWARD_TYPE, request, {
      timeoutMs,
      trace: request.headers.traceparent,
    });
    return r.ok
      ? { ok: true as const, response: r.body }
      : { ok: false as const, code: r.code, message: r.message };
  }
}

/** Serves forwarded API calls with `handler` (this node's API). */
export function serveForwarded(rpc: Rpc, handler: (req: Request) => Promise<Response>): () => void {
  return rpc.handle(FORWARD_TYPE, async (body): Promise<ForwardedResponse> => {
    const f = body as ForwardedRequest;
    const req = markForwarded(
      new Request(new URL(f.path, "http://cluster.internal"), {
        method: f.method,
        headers: { ...f.headers, [FORWARDED_HEADER]: "1" },
        body: f.method === "GET" || f.method === "HEAD" || f.body === "" ? undefined : f.body,
      }),
    );
    const res = await handler(req);
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  });
}
