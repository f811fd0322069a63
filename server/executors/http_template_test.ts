import fc from "npm:fast-check@4.11.0";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../../testing/assert.ts";
import { testNodeContext } from "../../testing/node_context.ts";
import {
  assertApiError,
  createWorkflow,
  e,
  execute,
  n,
  nodeOutput,
  postJson,
  startTestNode,
  wf,
} from "../../testing/server.ts";
import { dummyUrl, placeholders, urlHostTemplated } from "../../core/http_placeholders.ts";
import { type Json, NodeError } from "./executor.ts";
import { grantProblems, type StaticGrants } from "./grant_checks.ts";
import { http } from "./http_node.ts";
import { fillHeader, fillUrl } from "./http_template.ts";
import { realServices } from "./services.ts";

/** The target servers listen on 127.0.0.1: these services grant it. */
const LOOPBACK_GRANTED = realServices({ httpAllow: ["127.0.0.1"] });

/** One request a target saw. */
interface Seen {
  method: string;
  /** The path and query as sent, percent-encoding kept. */
  target: string;
  headers: Headers;
  body: string;
}

type Handler = (req: Request, seen: Seen) => Response | Promise<Response>;

/** A loopback target answering with `handler`; every request is recorded in arrival order. */
async function withTarget(handler: Handler, fn: (base: string, seen: Seen[]) => Promise<void>) {
  const seen: Seen[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const one = {
      method: req.method,
      target: url.pathname + url.search,
      headers: req.headers,
      body: await req.text(),
    };
    seen.push(one);
    return await handler(req, one);
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

/** Answers what it was sent: the request target, the headers named `x-*`, the body. */
const echo: Handler = (_req, one) => {
  const headers: Record<string, string> = {};
  one.headers.forEach((v, k) => k.startsWith("x-") && (headers[k] = v));
  return Response.json({ target: one.target, headers, body: one.body });
};

/** Answers the status named by the path's last segment (`/503`). */
const statusFromPath: Handler = (_req, one) => {
  const status = Number(one.target.split("/").pop());
  return new Response(`status ${status}`, { status });
};

function context(config: Record<string, unknown>, records: Json[] = [], extra: { attempt?: number } = {}) {
  return testNodeContext({
    services: LOOPBACK_GRANTED,
    config: { method: "GET", headers: {}, timeoutMs: 10000, ...config },
    records,
    executionInput: { customer: { id: "a b/c?", name: "Zoë" }, q: "x&y=z", n: 3 },
    executionId: "exec-1",
    nodeId: "call",
    ...extra,
  });
}

const nodeError = (code: string, retryable: boolean) => (e: unknown) => {
  assert(e instanceof NodeError, String(e));
  assertStrictEquals(e.code, code, e.message);
  assertStrictEquals(e.retryable, retryable, `${e.code}: ${e.message}`);
  return true;
};

// deno-lint-ignore no-explicit-any
const bodyOf = (record: Json): any => (record as { body: Json }).body;

Deno.test("http templates: the URL is filled and URL-encoded, headers as text, the body as JSON", async () => {
  await withTarget(echo, async (base, seen) => {
    const out = await http(context({
      method: "POST",
      url: `${base}/customers/{{input.customer.id}}/items/{{ record.sku }}?q={{input.q}}&n={{input.n}}`,
      headers: { "X-Customer": "c-{{input.customer.id}}", "X-Count": "{{records.1.sku}}", "X-Plain": 5 },
      body: {
        who: "{{input.customer}}",
        sku: "{{record.sku}}",
        note: "for {{input.customer.name}} ({{nodeId}})",
      },
    }, [{ sku: 7 }, { sku: "B" }]));
    assertStrictEquals(seen.length, 1);
    assertStrictEquals(seen[0].target, "/customers/a%20b%2Fc%3F/items/7?q=x%26y%3Dz&n=3");
    const url = new URL(seen[0].target, base);
    assertStrictEquals(url.searchParams.get("q"), "x&y=z");
    assertStrictEquals(seen[0].headers.get("x-customer"), "c-a b/c?", "a header value is not encoded");
    assertStrictEquals(seen[0].headers.get("x-count"), "B");
    assertStrictEquals(seen[0].headers.get("x-plain"), "5");
    assertEquals(JSON.parse(seen[0].body), {
      who: { id: "a b/c?", name: "Zoë" },
      sku: 7,
      note: "for Zoë (call)",
    });
    assertStrictEquals(bodyOf(out.records[0]).target, seen[0].target);

    // A string body: each placeholder becomes JSON text, so the body stays JSON.
    await http(context({
      method: "PUT",
      url: `${base}/put`,
      body: '{"id": {{input.customer.id}}, "n": {{input.n}}, "first": {{record}}, "missing": {{input.nope}}}',
    }, [{ sku: 1 }]));
    assertEquals(JSON.parse(seen[1].body), { id: "a b/c?", n: 3, first: { sku: 1 }, missing: null });
    assertStrictEquals(seen[1].headers.get("content-type"), "application/json");
  });
});

Deno.test("http templates: a missing URL value or a CR/LF header fails before any call, not retryable", async () => {
  await withTarget(echo, async (base, seen) => {
    await assertRejects(
      () => http(context({ url: `${base}/c/{{input.customer.nope}}` })),
      (e) =>
        nodeError("http_template_missing", false)(e) &&
        (e as Error).message.includes("{{input.customer.nope}}"),
    );
    await assertRejects(
      () => http(context({ url: `${base}/r/{{record.id}}` }, [])),
      nodeError("http_template_missing", false),
    );
    await assertRejects(
      () =>
        http(
          context({ url: `${base}/x`, headers: { "X-Id": "{{record.id}}" } }, [{ id: "1\r\nX-Evil: yes" }]),
        ),
      nodeError("http_header_invalid", false),
    );
    // Per record, every record is checked before the first call: the third one fails, nothing is sent.
    await assertRejects(
      () =>
        http(context(
          { url: `${base}/x`, perRecord: true, headers: { "X-Id": "{{record.id}}" } },
          [{ id: 1 }, { id: 2 }, { id: "3\n" }],
        )),
      nodeError("http_header_invalid", false),
    );
    await assertRejects(
      () => http(context({ url: `${base}/x/{{record.id}}`, perRecord: true }, [{ id: 1 }, {}])),
      nodeError("http_template_missing", false),
    );
    assertStrictEquals(seen.length, 0);
  });
  assertThrows(
    () => fillHeader("X", "{{input}}", { input: "a\rb" }),
    nodeError("http_header_invalid", false),
  );
});

Deno.test("http perRecord: one call per record, responses in input order though answered out of order", async () => {
  const count = 8;
  let arrived = 0;
  const gates: (() => void)[] = [];
  let allArrived: () => void;
  const all = new Promise<void>((resolve) => allArrived = resolve);
  // Holds every request until all have arrived, then answers them last-come first, one at a time.
  const handler: Handler = async (_req, one) => {
    const gate = new Promise<void>((resolve) => gates.push(resolve));
    if (++arrived === count) allArrived();
    await gate;
    return Response.json({ got: one.target });
  };
  await withTarget(handler, async (base, seen) => {
    const release = (async () => {
      await all;
      for (let i = gates.length - 1; i >= 0; i--) {
        gates[i]();
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const records = Array.from({ length: count }, (_, i) => ({ id: `r${i}` }));
    const out = await http(
      context({ url: `${base}/items/{{record.id}}`, perRecord: true, concurrency: count }, records),
    );
    await release;
    assertEquals(out.records.map((r) => bodyOf(r).got), records.map((r) => `/items/${r.id}`));
    assertEquals(out.records.map((r) => (r as { status: number }).status), records.map(() => 200));
    assertStrictEquals(seen.length, count);
  });
});

Deno.test("http perRecord: at most `concurrency` calls are live at the target", async () => {
  const total = 20;
  const concurrency = 3;
  let live = 0;
  let maxLive = 0;
  let arrived = 0;
  const waiting: (() => void)[] = [];
  // Holds each request until `concurrency` are live (or the last has come): a correct client then has
  // exactly `concurrency` live. Before releasing them it waits a little, in which a client over the bound
  // would send more.
  const handler: Handler = async () => {
    live++;
    arrived++;
    maxLive = Math.max(maxLive, live);
    if (live >= concurrency || arrived === total) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      waiting.splice(0).forEach((go) => go());
    } else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        timer = setTimeout(resolve, 5000); // only a safety net against a hang
      });
      clearTimeout(timer);
    }
    live--;
    return Response.json({ ok: true });
  };
  await withTarget(handler, async (base, seen) => {
    const records = Array.from({ length: total }, (_, i) => i);
    const out = await http(context({ url: `${base}/n/{{record}}`, perRecord: true, concurrency }, records));
    assertStrictEquals(out.records.length, total);
    assertStrictEquals(seen.length, total);
    assertEquals(seen.map((s) => s.target).sort(), records.map((i) => `/n/${i}`).sort());
  });
  assertStrictEquals(maxLive, concurrency);
});

Deno.test("http perRecord: more records than maxCalls fail at once; no input makes no call", async () => {
  await withTarget(echo, async (base, seen) => {
    await assertRejects(
      () => http(context({ url: `${base}/x`, perRecord: true, maxCalls: 2 }, [1, 2, 3])),
      (e) => nodeError("http_too_many_calls", false)(e) && (e as Error).message.includes("maxCalls (2)"),
    );
    assertEquals((await http(context({ url: `${base}/x`, perRecord: true }, []))).records, []);
    const two = await http(context({ url: `${base}/x`, perRecord: true, maxCalls: 2 }, [1, 2]));
    assertStrictEquals(two.records.length, 2);
    assertStrictEquals(seen.length, 2);
  });
  // Without perRecord, maxCalls does not apply: one call for any number of records.
  await withTarget(echo, async (base, seen) => {
    await http(context({ url: `${base}/x`, maxCalls: 1 }, [1, 2, 3]));
    assertStrictEquals(seen.length, 1);
  });
});

Deno.test("http perRecord: the first failed call fails the attempt and aborts the calls in flight", async () => {
  let aborted = 0;
  let done: () => void;
  const slowEnded = new Promise<void>((resolve) => done = resolve);
  const handler: Handler = async (req, one) => {
    if (!one.target.startsWith("/slow")) return statusFromPath(req, one);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      req.signal.addEventListener("abort", () => {
        aborted++;
        clearTimeout(t);
        resolve();
      });
    });
    done();
    return new Response("late");
  };
  await withTarget(handler, async (base, seen) => {
    await assertRejects(
      () =>
        http(
          context({ url: `${base}/{{record}}`, perRecord: true, concurrency: 2 }, ["slow", "400", "a", "b"]),
        ),
      nodeError("http_status", false),
    );
    await slowEnded;
    assertStrictEquals(aborted, 1, "the slow call was aborted");
    assertEquals(seen.map((s) => s.target).sort(), ["/400", "/slow"], "no call starts after the failure");
  });
});

Deno.test("http perRecord: the default body of POST is the record; the key is <executionId>:<nodeId>:<index>", async () => {
  await withTarget(echo, async (base, seen) => {
    const records = [{ a: 1 }, { a: 2 }, { a: 3 }];
    await http(context({ method: "POST", url: `${base}/p`, perRecord: true, concurrency: 1 }, records));
    assertEquals(seen.map((s) => JSON.parse(s.body)), records);
    assertEquals(seen.map((s) => s.headers.get("idempotency-key")), [
      "exec-1:call:0",
      "exec-1:call:1",
      "exec-1:call:2",
    ]);
    // A second attempt sends the same keys, and so does a PATCH; the user's own header wins.
    await http(
      context({ method: "PATCH", url: `${base}/p`, perRecord: true, concurrency: 1 }, records, {
        attempt: 2,
      }),
    );
    assertEquals(seen.slice(3).map((s) => s.headers.get("idempotency-key")), [
      "exec-1:call:0",
      "exec-1:call:1",
      "exec-1:call:2",
    ]);
    await http(context({
      method: "POST",
      url: `${base}/p`,
      perRecord: true,
      concurrency: 1,
      headers: { "Idempotency-Key": "order-{{record.a}}" },
    }, records));
    assertEquals(seen.slice(6).map((s) => s.headers.get("idempotency-key")), [
      "order-1",
      "order-2",
      "order-3",
    ]);
  });
});

Deno.test("http retries: a POST or PATCH answered 5xx is not retryable unless idempotent; the key is stable", async () => {
  await withTarget(statusFromPath, async (base, seen) => {
    for (const method of ["POST", "PATCH"]) {
      await assertRejects(
        () => http(context({ method, url: `${base}/503` })),
        (e) => nodeError("http_status", false)(e) && (e as Error).message.includes("idempotent: true"),
      );
      await assertRejects(
        () => http(context({ method, url: `${base}/429`, idempotent: true })),
        nodeError("http_status", true),
      );
      // A node whose definition gives it a retry policy asks for retries.
      await assertRejects(
        () => http({ ...context({ method, url: `${base}/503` }), retryDeclared: true }),
        nodeError("http_status", true),
      );
      await assertRejects(
        () => http(context({ method, url: `${base}/404`, idempotent: true })),
        nodeError("http_status", false),
      );
    }
    for (const method of ["PUT", "DELETE", "GET"]) {
      await assertRejects(
        () => http(context({ method, url: `${base}/503` })),
        nodeError("http_status", true),
      );
    }
    const keys = seen.filter((s) => s.method === "POST").map((s) => s.headers.get("idempotency-key"));
    assertEquals(keys, ["exec-1:call", "exec-1:call", "exec-1:call", "exec-1:call"]);
  });
  // Two attempts of one POST send the same key.
  await withTarget(echo, async (base, seen) => {
    await http(context({ method: "POST", url: `${base}/p` }));
    await http(context({ method: "POST", url: `${base}/p` }, [], { attempt: 2 }));
    assertEquals(seen.map((s) => s.headers.get("idempotency-key")), ["exec-1:call", "exec-1:call"]);
  });
});

Deno.test("http retries: a POST reset after sending or timed out is final; refused before connecting is retryable", async () => {
  // A target that reads the request and closes the connection without answering.
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const accepting = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(65536)).catch(() => null);
      conn.close();
    }
  })();
  const resetUrl = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/reset`;
  try {
    await assertRejects(
      () => http(context({ method: "POST", url: resetUrl })),
      nodeError("http_error", false),
    );
    await assertRejects(
      () => http(context({ method: "POST", url: resetUrl, idempotent: true })),
      nodeError("http_error", true),
    );
    await assertRejects(() => http(context({ method: "PUT", url: resetUrl })), nodeError("http_error", true));
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
  const closed = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const refusedUrl = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}/x`;
  closed.close();
  await assertRejects(
    () => http(context({ method: "POST", url: refusedUrl })),
    nodeError("http_error", true),
  );
  await assertRejects(
    () => http(context({ method: "PATCH", url: refusedUrl })),
    nodeError("http_error", true),
  );

  const hang: Handler = (req) =>
    new Promise((resolve) => req.signal.addEventListener("abort", () => resolve(new Response("late"))));
  await withTarget(hang, async (base) => {
    await assertRejects(
      () => http(context({ method: "POST", url: `${base}/h`, timeoutMs: 100 })),
      nodeError("http_timeout", false),
    );
    await assertRejects(
      () => http(context({ method: "POST", url: `${base}/h`, timeoutMs: 100, idempotent: true })),
      nodeError("http_timeout", true),
    );
    await assertRejects(
      () => http(context({ method: "GET", url: `${base}/h`, timeoutMs: 100 })),
      nodeError("http_timeout", true),
    );
  });
  // egress_denied stays final whatever the method.
  await assertRejects(
    () =>
      http(testNodeContext({
        config: {
          method: "POST",
          url: "http://127.0.0.1:9/x",
          headers: {},
          timeoutMs: 1000,
          idempotent: true,
        },
      })),
    nodeError("egress_denied", false),
  );
});

Deno.test("http templates: a filled URL keeps the template's host when no placeholder stands in its authority", () => {
  const host = fc.constantFrom(
    "example.com",
    "api.example.com:8443",
    "127.0.0.1",
    "[::1]:80",
    "xn--bcher-kva.example",
  );
  const literal = fc.constantFrom(
    "/",
    "/a",
    "/b/",
    "?",
    "?q=",
    "&",
    "#",
    "=",
    "%20",
    ".",
    "..",
    "@",
    ":",
    "\\",
  );
  const placeholder = fc.constantFrom("{{input.v}}", "{{record}}", "{{records.0}}", "{{ input.w }}");
  const template = fc.tuple(
    fc.constantFrom("http://", "https://", "HTTP://", "http:/", "http:", "https:///"),
    host,
    fc.array(fc.oneof(literal, placeholder), { maxLength: 8 }),
  ).map(([scheme, h, parts]) => scheme + h + parts.join(""));
  const value = fc.oneof(
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.constantFrom(
      "@evil.com",
      ":1/",
      "/../..",
      "\\evil.com",
      "#",
      "?x=1",
      "%40evil",
      "evil.com\r\n",
      ".evil.com",
    ),
    fc.integer(),
  );
  fc.assert(
    fc.property(template, value, value, (t, v, w) => {
      const shape = dummyUrl(t);
      fc.pre(shape !== undefined && !urlHostTemplated(t));
      const filled = fillUrl(t, { input: { v, w }, record: v, records: [w] });
      assertStrictEquals(new URL(filled).host, new URL(shape!).host, `${t} → ${filled}`);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("http templates: which URLs have a templated host", () => {
  for (
    const url of [
      "https://example.com/{{input.id}}",
      "http://h:80/a?b={{record}}#{{nodeId}}",
      "https://x.test",
    ]
  ) {
    assert(!urlHostTemplated(url), url);
  }
  for (
    const url of [
      "https://{{input.host}}/x",
      "https://api.{{input.tld}}/",
      "https://example.com{{input.path}}",
      "https://example.com:{{input.port}}/",
      "https://{{input.user}}@example.com/",
      "http:///{{input.host}}",
      "http:{{input.host}}/x",
      "ht\ttp://{{input.host}}",
      "{{input.url}}",
    ]
  ) assert(urlHostTemplated(url), url);
  assertEquals(placeholders("{{a}} {{ b.c-d.0 }} {{}} {{a b}} {x}").map((p) => [p.root, p.path]), [
    ["a", []],
    ["b", ["c-d", "0"]],
  ]);
});

Deno.test("grant checks: a templated host is left to run time; a templated path is judged with its host", () => {
  const grants: StaticGrants = {
    filesRoot: undefined,
    sqlConnections: [],
    allowInlineConnections: false,
    egressRefusal: (url) => new URL(url).hostname === "127.0.0.1" ? "127.0.0.1 is loopback" : undefined,
  };
  const http = (url: string) => ({ id: "h", type: "control", nodeType: "http", config: { url } });
  const problems = grantProblems({
    nodes: [
      http("http://{{input.host}}/x"),
      http("http://127.0.0.1:9/items/{{record.id}}"),
      http("http://127.0.0.1{{input.rest}}"),
      http("{{input.url}}"),
      http("https://example.com/{{record.id}}"),
    ],
  }, grants);
  assertEquals(problems.map((p) => `${p.code} ${p.path}`), ["egress_denied $.nodes[1].config.url"]);
});

Deno.test("http templates: end to end, a templated per-record POST through the API", async () => {
  const seenPaths: string[] = [];
  await withTarget((req, one) => {
    seenPaths.push(one.target);
    return Response.json({
      path: one.target,
      key: req.headers.get("idempotency-key"),
      body: JSON.parse(one.body),
    });
  }, async (base) => {
    const node = await startTestNode({}, { httpAllow: ["127.0.0.1"] });
    try {
      const definition = wf("wf-http-tpl", [
        n("src", "source/memory.collection", { data: [{ id: "a/1" }, { id: "b" }, { id: "c" }] }),
        n("call", "control/http", {
          method: "POST",
          url: `${base}/accounts/{{input.account}}/items/{{record.id}}`,
          perRecord: true,
          concurrency: 2,
          body: { item: "{{record.id}}", account: "{{input.account}}" },
        }),
        n("out", "sink/memory.collect"),
      ], [e("src", "call"), e("call", "out")]);
      await createWorkflow(node, definition);
      const run = await execute(node, "wf-http-tpl", { input: { account: "acme corp" } });
      assertEquals([run.status, run.body.status], [200, "completed"], run.text);
      const records = await nodeOutput(node, run.body.executionId, "call");
      assertEquals(records.map((r) => r.body.path), [
        "/accounts/acme%20corp/items/a%2F1",
        "/accounts/acme%20corp/items/b",
        "/accounts/acme%20corp/items/c",
      ]);
      assertEquals(records.map((r) => r.body.key), [0, 1, 2].map((i) => `${run.body.executionId}:call:${i}`));
      assertEquals(records[0].body.body, { item: "a/1", account: "acme corp" });

      // An unknown placeholder root is refused at create, with the path of the fault.
      const bad = await postJson(node, "/api/v1/workflows", {
        ...definition,
        id: "wf-http-bad",
        nodes: definition.nodes.map((x) =>
          x.id === "call" ? { ...x, config: { ...x.config, body: { item: "{{customer.id}}" } } } : x
        ),
      });
      assertApiError(bad, 400, "validation_failed");
      assertEquals(
        bad.body.error.details.map((d: { code: string; path: string }) => `${d.code} ${d.path}`),
        ["config_range $.nodes[1].config.body.item"],
      );
    } finally {
      await node.close();
    }
  });
  assertStrictEquals(seenPaths.length, 3);
});

Deno.test("http perRecord: the responses' bodies together are bounded by the output bound", async () => {
  await withTarget(() => new Response("x".repeat(1000)), async (base, seen) => {
    const config = {
      method: "GET",
      url: `${base}/{{record}}`,
      headers: {},
      timeoutMs: 10000,
      perRecord: true,
    };
    const ctx = testNodeContext({
      services: LOOPBACK_GRANTED,
      config: { ...config, concurrency: 1 },
      records: [1, 2, 3, 4],
      limits: { maxBytes: 2500 },
    });
    await assertRejects(() => http(ctx), nodeError("output_too_large", false));
    assertStrictEquals(seen.length, 3, "the calls stop at the first body over the bound");
  });
});
