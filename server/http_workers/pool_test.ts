/**
 * The HTTP worker pool in process, over real sockets: requests reach the handler on this thread from every
 * worker, bodies cross whole up to the bound and cut one byte over it, the bounds answer 503 and 504, a
 * crashed worker is replaced on the same port, a taken port fails the start, TLS is served, and `close()`
 * leaves no worker, op or resource behind (the test sanitizers check).
 */
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { TestCa } from "../../testing/tls.ts";
import { waitUntil } from "../../testing/wait.ts";
import { MAX_BATCH_BODY_BYTES } from "../http/batch_body.ts";
import { MAX_BODY_BYTES, readBody } from "../http/body.ts";
import { ApiError } from "../http/errors.ts";
import { HttpWorkerPool, type HttpWorkerPoolOptions } from "./pool.ts";

const LIMIT = Math.max(MAX_BODY_BYTES, MAX_BATCH_BODY_BYTES);

/** What the handler saw of each request. */
interface Seen {
  method: string;
  path: string;
  contentLength: string | null;
  bytes: number;
}

const quiet = { warn() {}, error() {} };

/** A pool of `count` workers on a free port whose handler echoes what it saw (reading the body whole). */
function echoPool(count: number, more: Partial<HttpWorkerPoolOptions> = {}): Promise<HttpWorkerPool> {
  return HttpWorkerPool.start({
    count,
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes: LIMIT,
    log: quiet,
    handler: async (req) => {
      const bytes = (await req.arrayBuffer()).byteLength;
      const seen: Seen = {
        method: req.method,
        path: new URL(req.url).pathname + new URL(req.url).search,
        contentLength: req.headers.get("content-length"),
        bytes,
      };
      return Response.json(seen, { status: 201, headers: { "x-echo": req.headers.get("x-test") ?? "" } });
    },
    ...more,
  });
}

/** One request over a connection of its own (a fresh client), its body read. */
async function once(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const client = Deno.createHttpClient({});
  try {
    const res = await fetch(url, { ...init, client });
    return { status: res.status, body: await res.text(), headers: res.headers };
  } finally {
    client.close();
  }
}

/** A body stream of `size` bytes in 64 KiB chunks (sent chunked: no declared length). */
function chunked(size: number): ReadableStream<Uint8Array> {
  let left = size;
  return new ReadableStream({
    pull(controller) {
      if (left === 0) return controller.close();
      const n = Math.min(left, 65_536);
      left -= n;
      controller.enqueue(new Uint8Array(n).fill(97));
    },
  });
}

Deno.test("pool: requests from every worker reach the handler on this thread, headers and bodies whole", async () => {
  const pool = await echoPool(2);
  try {
    const url = `http://127.0.0.1:${pool.port}`;
    const r = await once(`${url}/api/v1/x?wait=5`, {
      method: "POST",
      headers: { "x-test": "héllo".normalize(), "content-type": "application/json" },
      body: '{"a":1}',
    });
    assertEquals(r.status, 201, r.body);
    assertEquals(JSON.parse(r.body), {
      method: "POST",
      path: "/api/v1/x?wait=5",
      contentLength: "7",
      bytes: 7,
    });
    assertEquals(r.headers.get("x-echo"), "héllo");
    for (let i = 0; i < 40; i++) assertEquals((await once(`${url}/health`)).status, 201);
    const counts = pool.requestCounts();
    assertEquals(counts.reduce((a, b) => a + b, 0), 41);
    // The kernel spreads connections over the two sockets by their address hash: 41 connections from fresh
    // ports all landing on one of two workers is a 1 in 2^40 event.
    assert(counts.every((n) => n > 0), `both workers served: ${counts}`);
    assertEquals(pool.restartCounts(), [0, 0]);
  } finally {
    await pool.close();
  }
});

Deno.test("pool: a body over the bound crosses as the API can refuse it: 413 body_too_large as without workers", async () => {
  const pool = await HttpWorkerPool.start({
    count: 1,
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes: LIMIT,
    log: quiet,
    handler: async (req) => {
      try {
        return Response.json({ bytes: (await readBody(req)).length });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        return Response.json({ code: err.code, message: err.message }, { status: err.status });
      }
    },
  });
  try {
    const url = `http://127.0.0.1:${pool.port}/`;
    const within = await once(url, { method: "POST", body: new Uint8Array(MAX_BODY_BYTES).fill(97) });
    assertEquals([within.status, JSON.parse(within.body).bytes], [200, MAX_BODY_BYTES]);
    const declared = await once(url, { method: "POST", body: new Uint8Array(LIMIT + 10) });
    assertEquals(declared.status, 413, declared.body);
    assertEquals(JSON.parse(declared.body), {
      code: "body_too_large",
      message: `the body is ${LIMIT + 10} bytes; the limit is ${MAX_BODY_BYTES}`,
    });
    const streamed = await once(url, { method: "POST", body: chunked(LIMIT + 100_000) });
    assertEquals(streamed.status, 413, streamed.body);
    assertEquals(JSON.parse(streamed.body).code, "body_too_large");
  } finally {
    await pool.close();
  }
});

Deno.test("pool: a chunked body is cut one byte over the bound and crosses without a declared length", async () => {
  const pool = await echoPool(1);
  try {
    const url = `http://127.0.0.1:${pool.port}/up`;
    const small = JSON.parse((await once(url, { method: "POST", body: chunked(100_000) })).body);
    assertEquals([small.contentLength, small.bytes], [null, 100_000]);
    const big = JSON.parse((await once(url, { method: "POST", body: chunked(LIMIT + 500_000) })).body);
    assertEquals([big.contentLength, big.bytes], [null, LIMIT + 1]);
  } finally {
    await pool.close();
  }
});

Deno.test("pool: past its requests in flight a worker answers 503 overloaded; past the deadline 504", async () => {
  const release = Promise.withResolvers<void>();
  const pool = await HttpWorkerPool.start({
    count: 1,
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes: LIMIT,
    log: quiet,
    bounds: { maxInFlight: 1, deadlineMs: 200 },
    handler: async (req) => {
      if (new URL(req.url).pathname === "/hold") await release.promise;
      return new Response("ok");
    },
  });
  try {
    const url = `http://127.0.0.1:${pool.port}`;
    const held = once(`${url}/hold`);
    await waitUntil("the held request", () => pool.requestCounts()[0] === 1);
    const refused = await once(`${url}/other`);
    assertEquals(refused.status, 503, refused.body);
    assertEquals([JSON.parse(refused.body).error.code, refused.headers.get("retry-after")], [
      "overloaded",
      "1",
    ]);
    const late = await held;
    assertEquals(late.status, 504, late.body);
    assertEquals(JSON.parse(late.body).error.code, "request_timeout");
    assertEquals((await once(`${url}/other`)).body, "ok");
  } finally {
    release.resolve();
    await pool.close();
  }
});

Deno.test("pool: a worker that crashes is replaced on the same port and counted", async () => {
  const errors: string[] = [];
  const pool = await echoPool(1, {
    workerUrl: new URL("./testdata/crashing_worker.ts", import.meta.url),
    log: { warn() {}, error: (message) => errors.push(message) },
  });
  try {
    const url = `http://127.0.0.1:${pool.port}`;
    // The crash kills the worker with the request in flight: its connection closes, it never hangs.
    await once(`${url}/crash`).then((r) => r.status, (err) => err);
    await waitUntil(
      "the replacement",
      async () => (await once(`${url}/after`).catch(() => null))?.status === 201,
    );
    assertEquals(pool.restartCounts(), [1]);
    assertEquals(errors, ["HTTP worker crashed; replacing it"]);
  } finally {
    await pool.close();
  }
});

Deno.test("pool: a port another socket holds fails the start with AddrInUse and leaves no worker", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assertRejects(
      () => echoPool(2, { port: (taken.addr as Deno.NetAddr).port }),
      Deno.errors.AddrInUse,
    );
  } finally {
    taken.close();
  }
});

Deno.test("pool: with TLS material the workers serve HTTPS", async () => {
  const ca = await TestCa.create();
  const { cert, key } = await ca.issue();
  const pool = await echoPool(2, { tls: { cert, key } });
  const client = Deno.createHttpClient({ caCerts: [ca.cert] });
  try {
    const res = await fetch(`https://127.0.0.1:${pool.port}/secure`, { client });
    assertEquals([res.status, (await res.json()).path], [201, "/secure"]);
  } finally {
    client.close();
    await pool.close();
  }
});

Deno.test("pool: close() stops every worker; the port is free again", async () => {
  const pool = await echoPool(3);
  const port = pool.port;
  assertEquals((await once(`http://127.0.0.1:${port}/`)).status, 201);
  await pool.close();
  await pool.close(); // twice is once
  const again = Deno.listen({ hostname: "127.0.0.1", port });
  again.close();
});
