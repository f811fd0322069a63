import { assert, assertEquals, assertRejects, assertStrictEquals } from "../../testing/assert.ts";
import { type Json, NodeError } from "./executor.ts";
import { condition, fillTemplate, http, readBounded } from "./control.ts";
import { testNodeContext } from "../../testing/node_context.ts";
import { realServices } from "./services.ts";

/** The local test servers listen on 127.0.0.1: the http tests' services grant it. */
const LOOPBACK_GRANTED = realServices({ httpAllow: ["127.0.0.1"] });

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

/** A local server: routes by path; records every request. */
async function withServer(fn: (base: string, seen: Seen[]) => Promise<void>) {
  const seen: Seen[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({ method: req.method, path: url.pathname, headers: req.headers, body: await req.text() });
    switch (url.pathname) {
      case "/json":
        return Response.json({ ok: true, n: 1 }, { headers: { "x-custom": "yes" } });
      case "/text":
        return new Response("plain text", { headers: { "content-type": "text/plain" } });
      case "/echo":
        return new Response(seen[seen.length - 1].body, { headers: { "content-type": "application/json" } });
      case "/slow":
        await new Promise((resolve) => {
          const t = setTimeout(resolve, 5000);
          req.signal.addEventListener("abort", () => {
            clearTimeout(t);
            resolve(undefined);
          });
        });
        return new Response("late");
      default: {
        const status = Number(url.pathname.slice(1));
        return new Response(`status ${status}`, { status: Number.isInteger(status) ? status : 500 });
      }
    }
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

function httpContext(
  config: Record<string, unknown>,
  records: Json[] = [],
  extra: { executionId?: string } = {},
) {
  return testNodeContext({
    services: LOOPBACK_GRANTED,
    config: { method: "GET", headers: {}, timeoutMs: 10000, ...config },
    records,
    executionInput: { user: "u1" },
    nodeId: "call",
    ...extra,
  });
}

const nodeError = (code: string, retryable: boolean) => (e: unknown) => {
  assert(e instanceof NodeError, String(e));
  assertStrictEquals(e.code, code);
  assertStrictEquals(e.retryable, retryable);
  return true;
};

Deno.test("http: GET parses a JSON response; text stays text; headers lower-case", async () => {
  await withServer(async (base) => {
    const r = await http(httpContext({ url: `${base}/json` }));
    assertStrictEquals(r.records.length, 1);
    const rec = r.records[0] as { status: number; headers: Record<string, string>; body: Json };
    assertStrictEquals(rec.status, 200);
    assertEquals(rec.body, { ok: true, n: 1 });
    assertStrictEquals(rec.headers["x-custom"], "yes");
    assert(rec.headers["content-type"].startsWith("application/json"));
    const t = await http(httpContext({ url: `${base}/text` }));
    assertStrictEquals((t.records[0] as { body: string }).body, "plain text");
  });
});

Deno.test("http: Idempotency-Key is sent, the same on every attempt; an explicit one wins", async () => {
  await withServer(async (base, seen) => {
    const executionId = "exec-idem";
    await http(httpContext({ url: `${base}/json` }, [], { executionId }));
    const retry = httpContext({ url: `${base}/json` }, [], { executionId });
    retry.attempt = 2;
    await http(retry);
    assertStrictEquals(seen[0].headers.get("idempotency-key"), "exec-idem:call");
    assertStrictEquals(seen[1].headers.get("idempotency-key"), seen[0].headers.get("idempotency-key"));
    await http(httpContext({ url: `${base}/json`, headers: { "Idempotency-Key": "mine", "X-N": 5 } }));
    assertStrictEquals(seen[2].headers.get("idempotency-key"), "mine");
    assertStrictEquals(seen[2].headers.get("x-n"), "5");
  });
});

Deno.test("http: body templates (object, string) and the default POST body", async () => {
  await withServer(async (base, seen) => {
    const records: Json[] = [1, { a: "x" }];
    const ctx = httpContext(
      {
        method: "POST",
        url: `${base}/echo`,
        body: { items: "{{records}}", who: "{{input}}", tag: "t {{nodeId}}" },
      },
      records,
      { executionId: "e1" },
    );
    const r = await http(ctx);
    assertEquals(JSON.parse(seen[0].body), { items: records, who: { user: "u1" }, tag: "t call" });
    assertStrictEquals(seen[0].headers.get("content-type"), "application/json");
    assertEquals((r.records[0] as { body: Json }).body, {
      items: records,
      who: { user: "u1" },
      tag: "t call",
    });

    await http(httpContext(
      {
        method: "PUT",
        url: `${base}/echo`,
        body: '{"id": {{executionId}}, "n": {{nodeId}}, "r": {{records}}}',
      },
      [3],
      { executionId: "e2" },
    ));
    assertEquals(JSON.parse(seen[1].body), { id: "e2", n: "call", r: [3] });
    assertStrictEquals(seen[1].headers.get("content-type"), "application/json");

    await http(httpContext({ method: "POST", url: `${base}/echo`, body: "hello {{nodeId}}" }));
    assertStrictEquals(seen[2].body, 'hello "call"');
    assert(seen[2].headers.get("content-type")!.startsWith("text/plain"));

    await http(httpContext({ method: "PATCH", url: `${base}/echo` }, [{ z: 1 }]));
    assertEquals(JSON.parse(seen[3].body), [{ z: 1 }]);

    await http(httpContext({ method: "DELETE", url: `${base}/json` }, [{ z: 1 }]));
    assertStrictEquals(seen[4].body, "");
    assertStrictEquals(seen[4].method, "DELETE");
  });
  assertEquals(
    fillTemplate(["{{executionId}}", { deep: ["{{nodeId}}"] }, 1], { executionId: "e", nodeId: "n" }),
    [
      "e",
      { deep: ["n"] },
      1,
    ],
  );
});

Deno.test("http: non-2xx fail with http_status, retryable only for 408, 429 and 5xx", async () => {
  await withServer(async (base) => {
    for (
      const [status, retryable] of [[503, true], [500, true], [429, true], [408, true], [404, false], [
        400,
        false,
      ]]
    ) {
      await assertRejects(
        () => http(httpContext({ url: `${base}/${status}` })),
        (e) =>
          nodeError("http_status", retryable as boolean)(e) &&
          (e as Error).message.includes(`answered ${status}: status ${status}`),
      );
    }
  });
});

Deno.test("http: a timeout is http_timeout (retryable); an aborted attempt rethrows its reason", async () => {
  await withServer(async (base) => {
    const started = performance.now();
    await assertRejects(
      () => http(httpContext({ url: `${base}/slow`, timeoutMs: 100 })),
      nodeError("http_timeout", true),
    );
    assert(performance.now() - started < 3000);
    const ac = new AbortController();
    const ctx = testNodeContext({
      services: LOOPBACK_GRANTED,
      config: { method: "GET", url: `${base}/slow`, headers: {}, timeoutMs: 10000 },
      signal: ac.signal,
    });
    const reason = new Error("cancelled by test");
    setTimeout(() => ac.abort(reason), 50);
    await assertRejects(() => http(ctx), (e) => e === reason);
  });
});

Deno.test("http: connection refused is http_error (retryable); bad config is not retryable", async () => {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assertRejects(
    () => http(httpContext({ url: `http://127.0.0.1:${port}/x` })),
    nodeError("http_error", true),
  );
  await assertRejects(() => http(httpContext({ url: "not a url" })), nodeError("http_url_invalid", false));
  await assertRejects(
    () => http(httpContext({ url: "file:///etc/passwd" })),
    nodeError("http_url_invalid", false),
  );
  await assertRejects(
    () => http(httpContext({ url: "http://127.0.0.1:1/", body: "x" })),
    nodeError("http_body_not_allowed", false),
  );
});

Deno.test("readBounded: fails past the bound", async () => {
  const stream = () => new Blob([new Uint8Array(1000), new Uint8Array(1000)]).stream();
  assertStrictEquals((await readBounded(stream(), 2000)).length, 2000);
  await assertRejects(() => readBounded(stream(), 1999), nodeError("http_response_too_large", false));
  assertStrictEquals((await readBounded(stream(), 1500, true)).length, 1500);
});

async function route(cond: string, records: Json[], executionInput: Json = null) {
  return await condition(testNodeContext({ config: { condition: cond }, records, executionInput }));
}

Deno.test("condition: routes to true or false over the whole input; records pass through", async () => {
  const r = await route("count > 2", [1, 2, 3]);
  assertStrictEquals(r.handle, "true");
  assertEquals(r.records, [1, 2, 3]);
  assertStrictEquals((await route("count > 5", [1, 2, 3])).handle, "false");
  assertStrictEquals((await route("value > 10", [11, 1])).handle, "true");
  assertStrictEquals((await route("value > 10", [1, 11])).handle, "false");
  assertStrictEquals((await route("value > 10", [])).handle, "false");
  assertStrictEquals((await route("$sum(records) > 100", [60, 50])).handle, "true");
  assertStrictEquals(
    (await route("$sum(records.amount) > 100", [{ amount: 60 }, { amount: 30 }])).handle,
    "false",
  );
  assertStrictEquals((await route("value.kind = 'big'", [{ kind: "big" }])).handle, "true");
  assertStrictEquals((await route("$input.go", [], { go: true })).handle, "true");
  assertStrictEquals((await route("nothing.here", [1])).handle, "false");
  await assertRejects(() => route("count >", [1]), nodeError("expression_invalid", false));
});
