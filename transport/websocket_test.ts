import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { envelope, transportContract, waitFor } from "../testing/transport_contract.ts";
import { sleep } from "../testing/wait.ts";
import { backoffDelay, WebSocketTransport, type WebSocketTransportOptions } from "./websocket.ts";
import { startProxy } from "../testing/proxy.ts";
import { Rpc } from "./rpc.ts";
import { importSecret, prove } from "./handshake.ts";

const SECRET = "cluster-secret-for-tests";

/** A logger that keeps the warnings (the tests stay quiet). */
function capture(): { warn(m: string, f?: Record<string, unknown>): void; lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (m, f) => lines.push(`${m} ${JSON.stringify(f ?? {})}`) };
}

function node(self: string, extra: Partial<WebSocketTransportOptions> = {}): WebSocketTransport {
  return new WebSocketTransport({
    self,
    secret: SECRET,
    heartbeatMs: 100,
    peerTimeoutMs: 1000,
    backoffMaxMs: 400,
    logger: { warn() {} },
    ...extra,
  });
}

/** Tells every node every other node's address, then waits until all pairs are up. */
async function mesh(nodes: WebSocketTransport[]): Promise<void> {
  for (const n of nodes) {
    for (const m of nodes) if (n !== m) n.addPeer({ id: m.self, address: `127.0.0.1:${m.port}` });
  }
  await waitFor(() => nodes.every((n) => n.connectedPeers().length === nodes.length - 1), "a full mesh");
}

transportContract("websocket", async (ids, options = {}) => {
  const log = capture();
  const make = (id: string, port = 0) => node(id, { port, maxQueue: options.maxQueue, logger: log });
  const transports = ids.map((id) => make(id));
  await mesh(transports);
  const ports = transports.map((t) => t.port);
  return {
    transports,
    down: (id) => transports[ids.indexOf(id)].close(),
    up: (id) => {
      const i = ids.indexOf(id);
      const t = make(id, ports[i]);
      ids.forEach((other, j) => other !== id && t.addPeer({ id: other, address: `127.0.0.1:${ports[j]}` }));
      transports[i] = t;
      return Promise.resolve(t);
    },
    warnings: () => log.lines,
    close: async () => {
      for (const t of transports) await t.close();
    },
  };
});

Deno.test("websocket: a node with a wrong secret is refused; the others keep working", async () => {
  const log = capture();
  const [a, b] = [node("a", { logger: log }), node("b")];
  const intruder = node("0-intruder", { secret: "not-the-secret", logger: { warn() {} } });
  try {
    await mesh([a, b]);
    const intruderEvents: string[] = [];
    intruder.onPeer((p, up) => intruderEvents.push(`${p}:${up}`));
    intruder.onMessage(() => intruderEvents.push("message"));
    intruder.addPeer({ id: "a", address: `127.0.0.1:${a.port}` }); // "0-intruder" < "a": it dials
    await waitFor(() => a.stats().rejectedPeers >= 1, "a to reject the intruder");
    assert(log.lines.some((l) => l.includes("rejected peer") && l.includes("0-intruder")), "logged");
    assertStrictEquals(a.send(envelope("a", "0-intruder", "x", 1)), false, "never became a peer");
    assertEquals(a.connectedPeers(), ["b"]);
    const got: unknown[] = [];
    b.onMessage((e) => got.push(e.body));
    a.send(envelope("a", "b", "x", "fine"));
    await waitFor(() => got.length === 1, "a to reach b");
    assertEquals(intruderEvents, []);
    assertStrictEquals(intruder.stats().received, 0);
  } finally {
    await Promise.all([a.close(), b.close(), intruder.close()]);
  }
});

Deno.test("websocket: the client verifies the server too (mutual handshake)", async () => {
  // A fake server that does not hold the secret: it answers the auth with a bogus proof, then sends data.
  const frames: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    socket.onopen = () => socket.send(JSON.stringify({ t: "challenge", nonce: "n" }));
    socket.onmessage = (e) => {
      frames.push(String(e.data));
      if (frames.length === 1) {
        socket.send(JSON.stringify({ t: "ok", nodeId: "z", hmac: "00".repeat(32) }));
        socket.send(JSON.stringify([envelope("z", "a", "evil", 1)]));
      }
    };
    return response;
  });
  const a = node("a", { backoffMinMs: 1000 });
  try {
    const events: string[] = [];
    a.onPeer((p, up) => events.push(`${p}:${up}`));
    a.onMessage(() => events.push("message"));
    a.addPeer({ id: "z", address: `127.0.0.1:${server.addr.port}` });
    await waitFor(() => a.stats().rejectedPeers === 1, "a to reject the fake server");
    await sleep(50);
    assertEquals(events, []);
    assertStrictEquals(a.send(envelope("a", "z", "x", "secret data")), true, "queued, never sent");
    await sleep(50);
    assertStrictEquals(frames.length, 1, "only the auth frame reached the fake server");
    const auth = JSON.parse(frames[0]);
    assertEquals(auth.hmac, await prove(await importSecret(SECRET), "n", "a"), "a proved itself");
  } finally {
    await a.close();
    await server.shutdown();
  }
});

Deno.test("websocket: reconnects after the peer is closed and recreated on the same port", async () => {
  const a = node("a", { backoffMinMs: 20, backoffMaxMs: 100 });
  let b = node("b");
  try {
    await mesh([a, b]);
    const port = b.port;
    const events: string[] = [];
    a.onPeer((p, up) => events.push(`${p}:${up}`));
    await b.close();
    await waitFor(() => events.includes("b:false"), "a to see b down");
    await sleep(150); // a few failed redials
    assert(a.send(envelope("a", "b", "x", "while down")));
    b = node("b", { port });
    const got: unknown[] = [];
    b.onMessage((e) => got.push(e.body));
    await waitFor(() => events.includes("b:true"), "a to redial b");
    a.send(envelope("a", "b", "x", "after"));
    await waitFor(() => got.length === 2, "messages to flow again");
    assertEquals(got, ["while down", "after"]);
    // b learned a from the handshake and can answer.
    const back: unknown[] = [];
    a.onMessage((e) => back.push(e.body));
    assert(b.send(envelope("b", "a", "x", "hello a")));
    await waitFor(() => back.length === 1, "b to reach a");
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("websocket: heartbeats detect a silent peer and fire peer-down", async () => {
  const a = node("a", { heartbeatMs: 50, peerTimeoutMs: 300, backoffMinMs: 5000 });
  const b = node("b", { heartbeatMs: 50, peerTimeoutMs: 300 });
  const proxy = startProxy(b.port);
  try {
    const events: string[] = [];
    a.onPeer((p, up) => events.push(`a:${p}:${up}`));
    b.onPeer((p, up) => events.push(`b:${p}:${up}`));
    a.addPeer({ id: "b", address: `127.0.0.1:${proxy.port}` });
    await waitFor(() => events.length === 2, "a and b up");
    await sleep(400); // heartbeats keep a quiet link up
    assertEquals(events.length, 2);
    proxy.freeze(); // both ends go silent; no socket closes
    const frozenAt = performance.now();
    await waitFor(
      () => events.includes("a:b:false") && events.includes("b:a:false"),
      "peer-down on both sides",
    );
    const took = performance.now() - frozenAt;
    console.log(`silent peer detected after ${took.toFixed(0)} ms (peerTimeoutMs 300, heartbeatMs 50)`);
    // The last frame may arrive up to a heartbeat before the freeze; timers are coarse on a busy machine.
    assert(took > 100 && took < 2000, `detected after ${took} ms`);
  } finally {
    await a.close();
    await b.close();
    await proxy.close();
  }
});

Deno.test("websocket: envelopes sent in one tick go out as one frame", async () => {
  const a = node("a"), b = node("b");
  const unbatched = node("c", { maxBatch: 1 });
  try {
    await mesh([a, b, unbatched]);
    const got = { a: 0, c: 0 };
    b.onMessage((e) => got[e.from as "a" | "c"]++);
    const before = a.stats().frames;
    for (let i = 0; i < 1000; i++) assert(a.send(envelope("a", "b", "small", i)));
    await waitFor(() => got.a === 1000, "1,000 deliveries");
    const frames = a.stats().frames - before;
    console.log(`1,000 sends in one tick: ${frames} frame(s) batched`);
    assert(frames <= 5, `${frames} frames for 1,000 envelopes`);
    for (let i = 0; i < 1000; i++) unbatched.send(envelope("c", "b", "small", i));
    await waitFor(() => got.c === 1000, "1,000 unbatched deliveries");
    assertStrictEquals(unbatched.stats().frames, 1000);
    // The effect, measured: 20,000 small envelopes, in ticks of 1,000.
    for (const [label, sender] of [["batched", a], ["unbatched (maxBatch 1)", unbatched]] as const) {
      const key = sender.self as "a" | "c";
      const target = got[key] + 20_000;
      const started = performance.now();
      for (let tick = 0; tick < 20; tick++) {
        for (let i = 0; i < 1000; i++) sender.send(envelope(sender.self, "b", "small", i));
        await sleep(0);
      }
      await waitFor(() => got[key] === target, `${label} deliveries`, 20_000);
      const ms = performance.now() - started;
      console.log(`${label}: 20,000 envelopes in ${ms.toFixed(0)} ms (${Math.round(20_000 / ms * 1000)}/s)`);
    }
  } finally {
    await Promise.all([a.close(), b.close(), unbatched.close()]);
  }
});

Deno.test("websocket: no Nagle stall: 200 sequential asks with 2 KB bodies", async () => {
  const a = node("a"), b = node("b");
  const ra = new Rpc(a), rb = new Rpc(b);
  try {
    await mesh([a, b]);
    rb.handle("echo", (body) => body);
    const body = "x".repeat(2048);
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      const r = await ra.ask("b", "echo", body);
      times.push(performance.now() - started);
      assert(r.ok && r.body === body);
    }
    times.sort((x, y) => x - y);
    const median = (times[99] + times[100]) / 2;
    console.log(
      `round trip with 2 KB bodies: median ${median.toFixed(3)} ms, p99 ${times[197].toFixed(3)} ms`,
    );
    assert(median < 20, `median ${median} ms: below the ~40 ms Nagle/delayed-ACK stall`);
  } finally {
    ra.close();
    rb.close();
    await a.close();
    await b.close();
  }
});

Deno.test("websocket: envelopes larger than the frame limit are refused at send", async () => {
  const a = node("a", { maxFrameBytes: 1024 }), b = node("b");
  try {
    await mesh([a, b]);
    assertStrictEquals(a.send(envelope("a", "b", "big", "x".repeat(2000))), false);
    assertStrictEquals(a.send(envelope("a", "b", "big", "é".repeat(600))), false, "counted in UTF-8 bytes");
    assertStrictEquals(a.stats().dropped, 2);
    const got: unknown[] = [];
    b.onMessage((e) => got.push(e.body));
    // Many small envelopes still go out, split into frames within the limit.
    for (let i = 0; i < 100; i++) assert(a.send(envelope("a", "b", "small", i)));
    await waitFor(() => got.length === 100, "100 deliveries");
    assert(a.stats().frames > 1, "split into several frames");
    // The queue is bounded in bytes too.
    const tight = node("0", { maxQueueBytes: 1000 }); // no peer connection: everything stays queued
    try {
      tight.addPeer({ id: "zz" });
      assert(tight.send(envelope("0", "zz", "x", "y".repeat(800))));
      assertStrictEquals(tight.send(envelope("0", "zz", "x", "y".repeat(300))), false);
      assertEquals([tight.stats().queued, tight.stats().dropped], [1, 1]);
    } finally {
      await tight.close();
    }
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("websocket: refuses non-WebSocket requests and an empty secret", async () => {
  const a = node("a");
  try {
    const res = await fetch(`http://127.0.0.1:${a.port}/`);
    await res.body?.cancel();
    assertStrictEquals(res.status, 426);
    let threw = false;
    try {
      node("x", { secret: "" });
    } catch {
      threw = true;
    }
    assert(threw);
    assertStrictEquals(a.addPeer({ id: "a", address: "127.0.0.1:1" }), false, "not ourselves");
    assertStrictEquals(a.addPeer({ id: "q", address: "no port" }), false);
  } finally {
    await a.close();
  }
});

Deno.test("websocket: reconnect backoff doubles from 100 ms to 5 s with jitter", () => {
  const at = (attempt: number, r: number) => backoffDelay(attempt, 100, 5000, () => r);
  assertEquals([1, 2, 3, 4, 5, 6, 7, 10].map((n) => at(n, 1)), [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  assertEquals([1, 2, 7].map((n) => at(n, 0)), [50, 100, 2500]);
});

Deno.test("websocket: a connection that never authenticates is closed at the handshake deadline", async () => {
  const a = node("a", { peerTimeoutMs: 200 });
  try {
    const raw = new WebSocket(`ws://127.0.0.1:${a.port}`);
    const frames: string[] = [];
    raw.onmessage = (e) => frames.push(String(e.data));
    const code = await new Promise<number>((resolve) => raw.onclose = (e) => resolve(e.code));
    assertStrictEquals(code, 1008);
    assertStrictEquals(JSON.parse(frames[0]).t, "challenge");
    assertStrictEquals(a.stats().rejectedPeers, 1);
    assertEquals(a.connectedPeers(), []);
  } finally {
    await a.close();
  }
});
