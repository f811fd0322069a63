/**
 * A loopback TCP proxy for tests, which can freeze: it stops forwarding bytes without closing anything,
 * as a hung process or a silent network does. Imported only by tests and benches.
 *
 * @module
 */

/** A running proxy. */
export interface FreezableProxy {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** Stops forwarding in both directions (connections stay open). */
  freeze(): void;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:`port` to 127.0.0.1:`targetPort`. */
export function startProxy(targetPort: number): FreezableProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  let frozen = false;
  let closed = false;
  let release!: () => void;
  const unfrozen = new Promise<void>((resolve) => release = resolve);

  const pump = async (src: Deno.Conn, dst: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (!closed) {
        const n = await src.read(buf);
        if (n === null) break;
        if (frozen) await unfrozen; // hold the bytes: never forwarded
        if (closed) break;
        let off = 0;
        while (off < n) off += await dst.write(buf.subarray(off, n));
      }
    } catch { /* closed under us */ }
    for (const c of [src, dst]) {
      if (conns.delete(c)) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    }
  };

  const accepting = (async () => {
    try {
      for await (const inbound of listener) {
        conns.add(inbound);
        let outbound: Deno.Conn;
        try {
          outbound = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
        } catch {
          conns.delete(inbound);
          inbound.close();
          continue;
        }
        conns.add(outbound);
        tasks.push(pump(inbound, outbound), pump(outbound, inbound));
      }
    } catch { /* listener closed */ }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    freeze() {
      frozen = true;
    },
    async close() {
      closed = true;
      release();
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      conns.clear();
      await accepting;
      await Promise.all(tasks);
    },
  };
}
