/**
 * The egress fetch over real HTTP on loopback: refusals before any byte is sent, grants, names resolved
 * through an injected resolver, redirects (each hop checked again, fetch's method and header rules), the
 * abort signal and a decoded body. Only 127.0.0.1 is ever connected to.
 */
import { gzipSync } from "node:zlib";
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../../testing/assert.ts";
import {
  type Connector,
  egressFetch,
  type EgressFetchOptions,
  MAX_REDIRECTS,
  type Resolver,
} from "./egress_fetch.ts";
import { parseEgressRules } from "./egress_rules.ts";
import { NodeError } from "./executor.ts";

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

interface Server {
  port: number;
  base: string;
  seen: Seen[];
  close(): Promise<void>;
}

/** A server on 127.0.0.1 that records every request and answers with `handler`. */
function serve(handler: (req: Request, url: URL) => Response | Promise<Response>): Server {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({ method: req.method, path: url.pathname, headers: req.headers, body: await req.text() });
    return await handler(req, url);
  });
  const port = server.addr.port;
  return { port, base: `http://127.0.0.1:${port}`, seen, close: () => server.shutdown() };
}

async function withServer(
  handler: (req: Request, url: URL) => Response | Promise<Response>,
  fn: (server: Server) => Promise<void>,
) {
  const server = serve(handler);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

function fetcher(allow: string[], opts: EgressFetchOptions = {}) {
  const parsed = parseEgressRules(allow);
  if (!parsed.ok) throw new Error(parsed.error);
  return egressFetch(parsed.rules, opts);
}

const denied = (...fragments: string[]) => (e: unknown) => {
  assert(e instanceof NodeError, String(e));
  assertEquals([e.code, e.retryable], ["egress_denied", false]);
  for (const f of fragments) assert(e.message.includes(f), `${e.message} includes ${f}`);
  return true;
};

/** A connector that records the connections it is asked to open and opens none (so no test sends traffic). */
function countingConnector(): { connect: Connector; calls: URL[] } {
  const calls: URL[] = [];
  const connect: Connector = (url) => {
    calls.push(url);
    throw new Error(`the connector was asked for ${url.host}`);
  };
  return { connect, calls };
}

const ok = () => Response.json({ ok: true });

Deno.test("egress fetch: 127.0.0.1 is refused without a grant, before any byte is sent; granted it is called", async () => {
  await withServer(ok, async (server) => {
    const url = `http://user:secret@127.0.0.1:${server.port}/path?token=abc`;
    const counting = countingConnector();
    await assertRejects(
      () => fetcher([], counting)(url),
      denied(`GET http://127.0.0.1:${server.port}/path: 127.0.0.1 is loopback, not allowed (--http-allow)`),
    );
    await assertRejects(
      () => fetcher([], counting)(url),
      (e) => !String(e).includes("secret") && !String(e).includes("abc"),
    );
    assertEquals([counting.calls.length, server.seen.length], [0, 0]);

    for (const grant of ["127.0.0.1", `127.0.0.1:${server.port}`, "127.0.0.0/8"]) {
      const res = await fetcher([grant])(`${server.base}/x`, { method: "POST", body: "hello" });
      assertEquals([res.status, await res.json(), res.url], [200, { ok: true }, `${server.base}/x`]);
    }
    assertEquals(server.seen.map((s) => [s.method, s.body]), [["POST", "hello"], ["POST", "hello"], [
      "POST",
      "hello",
    ]]);
    await assertRejects(
      () => fetcher([`127.0.0.1:${server.port + 1}`])(`${server.base}/x`),
      denied("is loopback"),
    );
    assertEquals(server.seen.length, 3);
  });
});

Deno.test("egress fetch: IPv4-mapped loopback and the metadata address are refused without connecting", async () => {
  const counting = countingConnector();
  const refuse = fetcher([], counting);
  await assertRejects(() => refuse("http://[::ffff:127.0.0.1]:9/"), denied("::ffff:7f00:1 is loopback"));
  await assertRejects(() => refuse("http://[::ffff:7f00:1]:9/"), denied("is loopback"));
  await assertRejects(() => refuse("http://[::1]:9/"), denied("::1 is loopback"));
  await assertRejects(
    () => refuse("http://169.254.169.254/latest/meta-data/"),
    denied("169.254.169.254 is a cloud metadata address"),
  );
  await assertRejects(() => refuse("http://[fd00:ec2::254]/latest/"), denied("is a cloud metadata address"));
  await assertRejects(() => refuse("http://2130706433:9/"), denied("127.0.0.1 is loopback")); // a URL parser's IPv4
  await assertRejects(() => refuse("http://10.1.2.3/"), denied("10.1.2.3 is private"));
  // A CIDR holding the metadata address does not grant it; only the exact address does.
  await assertRejects(
    () => fetcher(["169.254.0.0/16"], counting)("http://169.254.169.254/"),
    denied("cloud metadata"),
  );
  assertStrictEquals(counting.calls.length, 0);
});

Deno.test("egress fetch: names are resolved in the connection's lookup and judged by their addresses", async () => {
  await withServer(ok, async (server) => {
    const asked: string[] = [];
    const resolve: Resolver = (name) => {
      asked.push(name);
      return Promise.resolve(name === "api.test" ? [{ address: "127.0.0.1", family: 4 }] : []);
    };
    const url = `http://api.test:${server.port}/v1`;
    await assertRejects(() => fetcher([], { resolve })(url), denied(`GET ${url}: 127.0.0.1 is loopback`));
    assertEquals([asked, server.seen.length], [["api.test"], 0]);
    // localhost through the system resolver, too.
    await assertRejects(() => fetcher([])(`http://localhost:${server.port}/`), denied("is loopback"));
    assertStrictEquals(server.seen.length, 0);

    for (const grant of ["127.0.0.1", "api.test", `api.test:${server.port}`]) {
      const res = await fetcher([grant], { resolve })(url);
      assertEquals(await res.json(), { ok: true });
    }
    assertEquals(server.seen.map((s) => s.headers.get("host")), Array(3).fill(`api.test:${server.port}`));
    await assertRejects(() => fetcher(["api.test:1"], { resolve })(url), denied("is loopback"));
    await assertRejects(() => fetcher([], { resolve })(`http://nowhere.test:${server.port}/`), /ENOTFOUND/);
  });
});

Deno.test("egress fetch: of a mixed DNS answer only the allowed addresses are connected to", async () => {
  await withServer(ok, async (server) => {
    // Another server on 127.0.0.2, the same port: had the refused address been tried, it would answer.
    const wrong = Deno.serve(
      { hostname: "127.0.0.2", port: server.port, onListen: () => {} },
      () => Response.json({ wrong: true }),
    );
    try {
      const resolve: Resolver = () =>
        Promise.resolve([{ address: "127.0.0.2", family: 4 }, { address: "127.0.0.1", family: 4 }]);
      const res = await fetcher(["127.0.0.1"], { resolve })(`http://mixed.test:${server.port}/`);
      assertEquals(await res.json(), { ok: true });
      await assertRejects(
        () => fetcher([], { resolve })(`http://mixed.test:${server.port}/`),
        denied("127.0.0.2 is loopback"),
      );
    } finally {
      await wrong.shutdown();
    }
  });
});

Deno.test("egress fetch: a redirect from a granted host to a refused address is egress_denied", async () => {
  await withServer(ok, async (b) => {
    await withServer(() => Response.redirect(`${b.base}/secret?k=v`, 302), async (a) => {
      const go = `http://localhost:${a.port}/go`;
      await assertRejects(
        () => fetcher([`localhost:${a.port}`])(go),
        denied(`GET ${b.base}/secret: 127.0.0.1 is loopback`),
      );
      assertEquals([a.seen.length, b.seen.length], [1, 0]);
      const res = await fetcher([`localhost:${a.port}`, `127.0.0.1:${b.port}`])(go);
      assertEquals([res.status, res.url, res.redirected, await res.json()], [
        200,
        `${b.base}/secret?k=v`,
        true,
        { ok: true },
      ]);
      assertEquals([a.seen.length, b.seen.length], [2, 1]);
    });
  });
});

Deno.test("egress fetch: redirects change the method and body as fetch does; credentials stay on the origin", async () => {
  await withServer(ok, async (other) => {
    const redirecting = (_req: Request, url: URL) => {
      const [, status, where] = url.pathname.split("/");
      const to = where === "other" ? `${other.base}/landed` : "/landed";
      return /^\d+$/.test(status)
        ? new Response(null, { status: Number(status), headers: { location: to } })
        : ok();
    };
    await withServer(redirecting, async (server) => {
      const call = fetcher(["127.0.0.1"]);
      const headers = {
        authorization: "Bearer t",
        cookie: "c=1",
        "content-type": "text/plain",
        "x-keep": "k",
      };
      for (
        const [status, method, after, body] of [
          [301, "POST", "GET", ""],
          [302, "POST", "GET", ""],
          [303, "PUT", "GET", ""],
          [302, "PUT", "PUT", "data"],
          [307, "POST", "POST", "data"],
          [308, "PATCH", "PATCH", "data"],
        ] as const
      ) {
        server.seen.length = 0;
        const res = await call(`${server.base}/${status}`, { method, headers, body: "data" });
        assertStrictEquals(res.status, 200);
        const landed = server.seen[1];
        assertEquals(
          [landed.path, landed.method, landed.body],
          ["/landed", after, body],
          `${status} ${method}`,
        );
        assertEquals([landed.headers.get("authorization"), landed.headers.get("x-keep")], ["Bearer t", "k"]);
        assertStrictEquals(landed.headers.get("content-type"), body ? "text/plain" : null);
      }
      await call(`${server.base}/307/other`, { method: "POST", headers, body: "data" });
      const crossed = other.seen[0];
      assertEquals([crossed.method, crossed.body, crossed.headers.get("x-keep")], ["POST", "data", "k"]);
      assertEquals([crossed.headers.get("authorization"), crossed.headers.get("cookie")], [null, null]);
    });
  });
});

Deno.test("egress fetch: at most 10 redirects; redirect manual answers the redirect, error throws", async () => {
  await withServer(
    () => new Response(null, { status: 302, headers: { location: "/loop" } }),
    async (server) => {
      const call = fetcher(["127.0.0.1"]);
      await assertRejects(() => call(`${server.base}/loop`), (e) => {
        assert(e instanceof NodeError);
        assertEquals([e.code, e.retryable], ["http_too_many_redirects", false]);
        return true;
      });
      assertStrictEquals(server.seen.length, MAX_REDIRECTS + 1);
      const manual = await call(`${server.base}/loop`, { redirect: "manual" });
      assertEquals([manual.status, manual.headers.get("location"), manual.redirected], [302, "/loop", false]);
      await assertRejects(() => call(`${server.base}/loop`, { redirect: "error" }), TypeError);
    },
  );
  await withServer(
    () => new Response(null, { status: 302, headers: { location: "file:///etc/passwd" } }),
    async (s) => {
      await assertRejects(
        () => fetcher(["127.0.0.1"])(s.base),
        (e) => e instanceof NodeError && e.code === "http_url_invalid",
      );
    },
  );
});

Deno.test("egress fetch: the signal aborts the call and the streamed body; gzip bodies are decoded", async () => {
  const closing = new AbortController();
  const slow = (_req: Request, url: URL) => {
    if (url.pathname === "/gzip") {
      return new Response(new Uint8Array(gzipSync("x".repeat(10_000))), {
        headers: { "content-encoding": "gzip", "content-type": "text/plain" },
      });
    }
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(new TextEncoder().encode("first")),
      cancel: () => {},
    });
    closing.signal.addEventListener("abort", () => stream.cancel().catch(() => {}));
    return new Response(stream);
  };
  await withServer(slow, async (server) => {
    const call = fetcher(["127.0.0.1"]);
    const text = await (await call(`${server.base}/gzip`)).text();
    assertStrictEquals(text, "x".repeat(10_000));
    const ac = new AbortController();
    const res = await call(`${server.base}/stream`, { signal: ac.signal });
    const reader = res.body!.getReader();
    assertStrictEquals(new TextDecoder().decode((await reader.read()).value), "first");
    const reason = new Error("stop");
    ac.abort(reason);
    await assertRejects(() => reader.read());
    const before = new AbortController();
    before.abort(reason);
    await assertRejects(() => call(`${server.base}/gzip`, { signal: before.signal }), (e) => e === reason);
    closing.abort();
  });
});
