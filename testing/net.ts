/**
 * Network helpers for tests and benches: a free local port. This module imports nothing, so
 * production tools (`bench/load.ts`) may use it without pulling in any test-only code.
 *
 * @example
 * ```ts
 * import { freePort } from "./net.ts";
 * const port = freePort();
 * if (!(port > 0 && port < 65_536)) throw new Error(`not a port: ${port}`);
 * ```
 *
 * @module
 */

/** A free TCP port on 127.0.0.1 (listen on 0, read the port, close). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
