/**
 * The WebSocket transport over TLS, with certificates made by the test (`testing/tls.ts`): the whole transport
 * contract over wss://, the default trust (a member's own certificate), and the refusals: a dialer that does
 * not trust the peer's certificate, or whose peer's certificate is for another name, never connects, and
 * neither does a pair with TLS on one side only (no fallback to plain).
 */
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { envelope, transportContract, waitFor } from "../testing/transport_contract.ts";
import { selfSignedCertificate, TestCa, type TestCertificate } from "../testing/tls.ts";
import { sleep } from "../testing/wait.ts";
import { Rpc } from "./rpc.ts";
import { type TransportTls, WebSocketTransport, type WebSocketTransportOptions } from "./websocket.ts";

const SECRET = "cluster-secret-for-tls-tests";

const ca = await TestCa.create();
const issued: TestCertificate = await ca.issue();
/** The cluster's TLS: a certificate for localhost and 127.0.0.1, trusting the test CA. */
const TLS: TransportTls = { cert: issued.cert, key: issued.key, ca: [ca.cert] };

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
    tls: TLS,
    ...extra,
  });
}

/** Tells every node every other node's address, then waits until all pairs are up. */
async function mesh(nodes: WebSocketTransport[], host = "127.0.0.1"): Promise<void> {
  for (const n of nodes) {
    for (const m of nodes) if (n !== m) n.addPeer({ id: m.self, address: `${host}:${m.port}` });
  }
  await waitFor(() => nodes.every((n) => n.connectedPeers().length === nodes.length - 1), "a full mesh");
}

/** `a` dials `b` ("a" < "b") and fails: waits for a warning matching `expect`, then checks nothing connected. */
async function refused(a: WebSocketTransport, b: WebSocketTransport, log: string[], expect: RegExp) {
  const events: string[] = [];
  a.onPeer((p, up) => events.push(`a:${p}:${up}`));
  b.onPeer((p, up) => events.push(`b:${p}:${up}`));
  a.addPeer({ id: "b", address: `127.0.0.1:${b.port}` });
  await waitFor(() => log.filter((l) => expect.test(l)).length >= 2, `two refused dials (${expect})`);
  assertEquals(a.connectedPeers(), []);
  assertEquals(b.connectedPeers(), []);
  assertEquals(events, [], "no peer ever came up");
  assertStrictEquals(a.send(envelope("a", "b", "x", 1)), true, "queued for b, never delivered");
  await sleep(50);
  assertStrictEquals(b.stats().received, 0);
}

transportContract("websocket over TLS", async (ids, options = {}) => {
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

Deno.test("websocket over TLS: asks with 2 KB bodies round-trip, by name (localhost) and by address", async () => {
  for (const host of ["localhost", "127.0.0.1"]) {
    const a = node("a"), b = node("b");
    const ra = new Rpc(a), rb = new Rpc(b);
    try {
      await mesh([a, b], host);
      rb.handle("echo", (body) => body);
      const body = "x".repeat(2048);
      for (let i = 0; i < 20; i++) {
        const r = await ra.ask("b", "echo", `${body}${i}`);
        assert(r.ok && r.body === `${body}${i}`, `ask ${i} over ${host}`);
      }
    } finally {
      ra.close();
      rb.close();
      await a.close();
      await b.close();
    }
  }
});

Deno.test("websocket over TLS: by default a member trusts its own certificate file (one shared by all)", async () => {
  const selfSigned = await selfSignedCertificate();
  // A self-signed certificate, and one of a private CA whose file holds the CA's certificate after it.
  for (const shared of [selfSigned, { ...issued, cert: issued.chain }]) {
    const tls = { cert: shared.cert, key: shared.key }; // no ca: the default roots and the cert file itself
    const a = node("a", { tls }), b = node("b", { tls });
    try {
      await mesh([a, b]);
      const got = new Promise((resolve) => b.onMessage((e) => resolve(e.body)));
      a.send(envelope("a", "b", "x", "over TLS"));
      assertStrictEquals(await got, "over TLS");
    } finally {
      await a.close();
      await b.close();
    }
  }
});

Deno.test("websocket over TLS: without the CA, a certificate of a private CA alone is not trusted", async () => {
  const log = capture();
  const tls = { cert: issued.cert, key: issued.key }; // the leaf alone, no ca
  const a = node("a", { tls, logger: log }), b = node("b", { tls });
  try {
    await refused(a, b, log.lines, /peer's TLS certificate refused/);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("websocket over TLS: a dialer that does not trust the peer's certificate never connects", async () => {
  const foreign = await TestCa.create("another CA");
  const log = capture();
  const a = node("a", { tls: { ...TLS, ca: [foreign.cert] }, logger: log });
  const b = node("b");
  try {
    await refused(a, b, log.lines, /peer's TLS certificate refused/);
    assert(log.lines.some((l) => l.includes(`127.0.0.1:${b.port}`)), "the warning names the address");
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("websocket over TLS: a peer whose certificate is for another name is refused", async () => {
  const elsewhere = await ca.issue(["node-9.internal"]); // trusted CA, wrong name
  const log = capture();
  const a = node("a", { logger: log });
  const b = node("b", { tls: { ...TLS, cert: elsewhere.cert, key: elsewhere.key } });
  try {
    await refused(a, b, log.lines, /peer's TLS certificate refused/);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("websocket over TLS: no fallback to plain: TLS on one side only never connects, either way", async () => {
  for (const [tlsA, tlsB] of [[true, false], [false, true]]) {
    const log = capture();
    const a = node("a", { tls: tlsA ? TLS : undefined, logger: log });
    const b = node("b", { tls: tlsB ? TLS : undefined });
    try {
      await refused(a, b, log.lines, /is TLS on at both ends/);
    } finally {
      await a.close();
      await b.close();
    }
  }
});

Deno.test("websocket over TLS: the cluster port refuses plain HTTP", async () => {
  const b = node("b");
  try {
    const error = await fetch(`http://127.0.0.1:${b.port}/`).then((r) => r.body?.cancel(), (err) => err);
    assert(error instanceof TypeError, `plain HTTP to the TLS port failed: ${error}`);
    const client = Deno.createHttpClient({ caCerts: [ca.cert] });
    try {
      const res = await fetch(`https://127.0.0.1:${b.port}/`, { client });
      assertEquals([res.status, await res.text()], [426, "cluster transport: WebSocket only\n"]);
    } finally {
      client.close();
    }
  } finally {
    await b.close();
  }
});
