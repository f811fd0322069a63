/**
 * TLS on real nodes, with certificates the test makes (`testing/tls.ts`): HTTPS answers the probes and an
 * authenticated API call to a client that trusts the test CA, and refuses a client that does not and plain
 * HTTP; a two-member cluster on PostgreSQL talks wss:// (a call to one member for an execution the other owns
 * is forwarded and succeeds, and the members advertise https:// addresses); a member that does not trust the
 * other's certificate never connects to it (no fallback to plain), so calls needing the other fail.
 */
import { executionIdFor, shardOf } from "../core/ids.ts";
import { assert, assertEquals, assertMatch, assertStrictEquals } from "../testing/assert.ts";
import { type HttpTarget, request } from "../testing/http.ts";
import { freePort } from "../testing/net.ts";
import { pgTest, withTempDatabase } from "../testing/pg.ts";
import { through } from "../testing/server.ts";
import { TestCa, type TlsFiles, writeTlsFiles } from "../testing/tls.ts";
import { waitUntil } from "../testing/wait.ts";
import { createLogger } from "./ops/log.ts";
import type { EngineConfig } from "./ops/config.ts";
import { type RunningNode, startNode } from "./start.ts";

const ADMIN = "tls-test-admin-token-0123456789";
const AUTH = { authorization: `Bearer ${ADMIN}` };
const SHARDS = 16;

const ca = await TestCa.create();
const dir = await Deno.makeTempDir({ prefix: "flowmesh-tls-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
/** Each node's own certificate for localhost and 127.0.0.1 (with the CA after it), trusting the test CA. */
const tlsFiles = (name: string): Promise<TlsFiles> =>
  ca.issue().then((cert) => writeTlsFiles(dir, cert, ca.cert, name));

/** The TLS settings of a node from its files: the CA file as `--tls-ca` unless `ownCa` is false. */
function tlsConfig(files: TlsFiles, tlsCa: string | undefined = files.ca): Partial<EngineConfig> {
  return { tlsCert: files.cert, tlsKey: files.key, tlsCa };
}

/** A node's target for a client that trusts the test CA. */
function trusting(node: RunningNode): HttpTarget & { close(): void } {
  const client = Deno.createHttpClient({ caCerts: [ca.cert] });
  return { url: node.url, client, close: () => client.close() };
}

/** What a failed fetch threw (fails when it succeeded). */
async function fetchError(url: string, init?: RequestInit & { client?: Deno.HttpClient }): Promise<Error> {
  try {
    const res = await fetch(url, init);
    await res.body?.cancel();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${url} answered`);
}

Deno.test("tls: HTTPS answers /health and an authenticated call to a client trusting the CA; others fail", async () => {
  const files = await tlsFiles("single");
  const lines: string[] = [];
  const node = await startNode(
    {
      port: 0,
      host: "127.0.0.1",
      storage: "memory",
      apiTokens: [{ role: "admin", token: ADMIN }],
      ...tlsConfig(files),
    },
    { log: createLogger({ level: "info", format: "json", write: (l) => lines.push(l) }) },
  );
  const target = trusting(node);
  try {
    assertMatch(node.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await request(target, "GET", "/health");
    assertEquals([health.status, health.body.status], [200, "ok"], health.text);
    assertStrictEquals(
      (await request(target, "GET", "/api/v1/workflows")).status,
      401,
      "a token is still needed",
    );
    const created = await request(target, "POST", "/api/v1/workflows", {
      json: through("wf-tls", [1, 2, 3]),
      headers: AUTH,
    });
    assertStrictEquals(created.status, 201, created.text);
    const run = await request(target, "POST", "/api/v1/workflows/wf-tls/execute?wait=10000", {
      json: {},
      headers: AUTH,
    });
    assertEquals([run.status, run.body.status], [200, "completed"], run.text);

    // A client without the test CA refuses the certificate; plain HTTP gets no answer.
    const untrusted = await fetchError(`${node.url}/health`);
    assert(untrusted instanceof TypeError, String(untrusted));
    assertMatch(String(untrusted.cause ?? untrusted), /certificate|UnknownIssuer/i);
    const plain = await fetchError(`http://127.0.0.1:${node.port}/health`);
    assert(plain instanceof TypeError, String(plain));

    assert(lines.some((l) => l.includes('"listening"') && l.includes(node.url)), "logs its https:// URL");
    assert(!lines.some((l) => l.includes("travel in clear")), "no warning over TLS");
    assert(!lines.some((l) => l.includes(ADMIN)), "the token is never logged");
  } finally {
    target.close();
    await node.close();
  }
});

Deno.test("tls: tokens on a loopback host without TLS: no warning", async () => {
  const lines: string[] = [];
  const node = await startNode(
    { port: 0, host: "127.0.0.1", storage: "memory", apiTokens: [{ role: "admin", token: ADMIN }] },
    { log: createLogger({ level: "info", format: "json", write: (l) => lines.push(l) }) },
  );
  await node.close();
  assertMatch(node.url, /^http:\/\//);
  assert(lines.some((l) => l.includes('"listening"')), lines.join("\n"));
  assert(!lines.some((l) => l.includes("travel in clear")), lines.join("\n"));
});

/** Starts member `id` of a TLS cluster on `databaseUrl`; its log lines go to `lines`. */
function member(
  id: string,
  databaseUrl: string,
  tls: Partial<EngineConfig>,
  lines: string[],
  askTimeoutMs = 5_000,
): Promise<RunningNode> {
  return startNode({
    port: 0,
    host: "127.0.0.1",
    storage: "postgres",
    databaseUrl,
    nodeId: id,
    clusterPort: freePort(),
    clusterSecret: "tls-test-cluster-secret",
    shards: SHARDS,
    apiTokens: [{ role: "admin", token: ADMIN }],
    askTimeoutMs,
    ...tls,
  }, { log: createLogger({ level: "info", format: "json", write: (l) => lines.push(l) }) });
}

/** Waits until `a` and `b` see each other up and own every shard between them, each some (a stable split). */
async function balanced(a: RunningNode, b: RunningNode): Promise<void> {
  await waitUntil("both members up, every shard owned, both owning some", () => {
    const ok = (n: RunningNode) =>
      ["a", "b"].every((id) => n.cluster.member(id)?.status === "up") &&
      a.engine.ownedShards.size + b.engine.ownedShards.size === SHARDS &&
      Math.abs(a.engine.ownedShards.size - b.engine.ownedShards.size) <= 1 &&
      n.cluster.snapshot.shards.every((s) => (s.owner === "a" ? a : b).engine.ownedShards.has(s.shard));
    return ok(a) && ok(b);
  }, 20_000);
}

/** An idempotency key whose execution of `workflowId` lands on a shard `owner` owns. */
function keyOwnedBy(owner: RunningNode, workflowId: string): { key: string; executionId: string } {
  for (let i = 0;; i++) {
    const executionId = executionIdFor(workflowId, `k${i}`);
    if (owner.engine.ownedShards.has(shardOf(executionId, SHARDS))) return { key: `k${i}`, executionId };
  }
}

pgTest(
  "tls: a two-member cluster over TLS forms; a call to b for an execution a owns is forwarded",
  async () => {
    await withTempDatabase(async (url) => {
      const logs = { a: [] as string[], b: [] as string[] };
      const a = await member("a", url, tlsConfig(await tlsFiles("a")), logs.a);
      let b: RunningNode | undefined;
      try {
        b = await member("b", url, tlsConfig(await tlsFiles("b")), logs.b);
        await balanced(a, b);
        const target = trusting(b);
        try {
          const created = await request(target, "POST", "/api/v1/workflows", {
            json: through("wf-tls-cluster", [1, 2]),
            headers: AUTH,
          });
          assertStrictEquals(created.status, 201, created.text);
          const { key, executionId } = keyOwnedBy(a, "wf-tls-cluster");
          const run = await request(target, "POST", "/api/v1/workflows/wf-tls-cluster/execute?wait=10000", {
            json: {},
            headers: { ...AUTH, "idempotency-key": key },
            timeoutMs: 15_000,
          });
          assertEquals(
            [run.status, run.body.status, run.body.executionId],
            [200, "completed", executionId],
            run.text,
          );
          const shard = shardOf(executionId, SHARDS);
          assert(
            a.engine.ownedShards.has(shard) && !b.engine.ownedShards.has(shard),
            "a ran it, b forwarded",
          );
          const read = await request(target, "GET", `/api/v1/executions/${executionId}`, { headers: AUTH });
          assertEquals([read.status, read.body.status], [200, "completed"], read.text);

          // What the cluster advertises follows the scheme.
          const stats = await request(target, "GET", "/api/v1/cluster/stats", { headers: AUTH });
          const addresses = stats.body.members.map((
            m: { id: string; httpAddress: string },
          ) => [m.id, m.httpAddress]);
          assertEquals(addresses.sort(), [["a", a.url], ["b", b.url]]);
          assert(a.url.startsWith("https://") && b.url.startsWith("https://"));
          const where = await request(target, "GET", `/api/v1/cluster/executions/${executionId}/location`, {
            headers: AUTH,
          });
          assertEquals([where.body.owner, where.body.nodeAddress], ["a", a.url], where.text);
        } finally {
          target.close();
        }
        for (const lines of [logs.a, logs.b]) {
          assert(!lines.some((l) => l.includes("certificate refused")), lines.join("\n"));
        }
      } finally {
        await b?.close();
        await a.close();
      }
    });
  },
);

pgTest(
  "tls: a member that does not trust the other's certificate never connects to it; calls needing it fail",
  async () => {
    await withTempDatabase(async (url) => {
      const foreign = await TestCa.create("a CA nobody uses");
      const foreignCa = `${dir}/foreign-ca.crt`;
      await Deno.writeTextFile(foreignCa, foreign.cert);
      const logs = { a: [] as string[], b: [] as string[] };
      // "a" < "b": a dials b, and a trusts only the foreign CA (and the default roots).
      const a = await member("a", url, tlsConfig(await tlsFiles("a-wrong"), foreignCa), logs.a, 1_500);
      let b: RunningNode | undefined;
      try {
        b = await member("b", url, tlsConfig(await tlsFiles("b-right")), logs.b, 1_500);
        await balanced(a, b);
        await waitUntil(
          "a to log a refused certificate twice",
          () => logs.a.filter((l) => l.includes("peer's TLS certificate refused")).length >= 2,
          10_000,
        );
        const target = trusting(b);
        try {
          const created = await request(target, "POST", "/api/v1/workflows", {
            json: through("wf-tls-refused", [1]),
            headers: AUTH,
          });
          assertStrictEquals(created.status, 201, created.text);
          const { key } = keyOwnedBy(a, "wf-tls-refused");
          const run = await request(target, "POST", "/api/v1/workflows/wf-tls-refused/execute?wait=5000", {
            json: {},
            headers: { ...AUTH, "idempotency-key": key },
            timeoutMs: 15_000,
          });
          assertEquals([run.status, run.body.error?.code], [503, "shard_unavailable"], run.text);
          assertMatch(run.body.error.message, /owner a unreachable: no connection to a/);
        } finally {
          target.close();
        }
        const refusal = logs.a.find((l) => l.includes("peer's TLS certificate refused"))!;
        assertEquals(JSON.parse(refusal).peer, "b");
      } finally {
        await b?.close();
        await a.close();
      }
    });
  },
);
