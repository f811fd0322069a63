/**
 * The mysql.* nodes over real HTTP and a real process: the palette lists them; connection rules are judged
 * when a workflow is saved (a `mysql://` URL on the PostgreSQL sql.query, inline fields where inline
 * connections are refused, a PostgreSQL connection on a mysql node); a password is never served back; a
 * workflow reads from MariaDB and writes to it; and a server killed with SIGKILL in the middle of a
 * mysql.write, then restarted, leaves exactly the rows written once.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { mysqlTest, type TestMysql, withTempMysqlDatabase } from "../../testing/mysql.ts";
import { call, type ServerProcess, spawnServer, waitEnded } from "../../testing/process.ts";
import { freePort } from "../../testing/net.ts";
import { sleep } from "../../testing/wait.ts";
import { chain, getJson, n, nodeOutput, postJson, runWorkflow, withNode } from "../../testing/server.ts";
import { TEST_DATABASE_URL } from "../../testing/pg.ts";
import mysql from "npm:mysql2@3.26.1/promise";

Deno.test("mysql nodes over HTTP: listed, and refused at save time where their connection is not granted", async () => {
  await withNode(
    async (node) => {
      const types = await getJson(node, "/api/v1/workflows/node-types");
      const text = types.text;
      assert(text.includes('"mysql.query"') && text.includes('"mysql.write"'), text.slice(0, 200));

      const cases: [string, Record<string, unknown>, string, string][] = [
        [
          "source/sql.query",
          { sql: "select 1", connectionUrl: "mysql://root:pw@127.0.0.1/db" },
          "$.nodes[0].config.connectionUrl",
          "connection_scheme",
        ],
        [
          "source/mysql.query",
          { sql: "select 1", host: "127.0.0.1", username: "root", password: "pw" },
          "$.nodes[0].config.host",
          "connection_not_granted",
        ],
        [
          "source/mysql.query",
          { sql: "select 1", connectionUrl: "mysql://root:pw@127.0.0.1/db" },
          "$.nodes[0].config.connectionUrl",
          "connection_not_granted",
        ],
        [
          "source/mysql.query",
          { sql: "select 1", connection: "pg" },
          "$.nodes[0].config.connection",
          "connection_scheme",
        ],
        [
          "source/sql.query",
          { sql: "select 1", connection: "shop" },
          "$.nodes[0].config.connection",
          "connection_scheme",
        ],
        [
          "source/mysql.query",
          { sql: "select 1", connection: "nope" },
          "$.nodes[0].config.connection",
          "connection_not_granted",
        ],
      ];
      for (const [i, [kind, config, path, code]] of cases.entries()) {
        const r = await postJson(
          node,
          "/api/v1/workflows",
          chain(`bad-${i}`, n("q", kind, config), n("out", "sink/memory.collect")),
        );
        assertEquals(r.status, 400, `${kind} ${JSON.stringify(config)}: ${r.text}`);
        const found = r.body.error.details.find((d: { path: string }) => d.path === path);
        assertEquals(found?.code, code, `${kind} ${JSON.stringify(config)}: ${r.text}`);
        assert(!r.text.includes(":pw@") && !r.text.includes('"pw"'), "no password served back");
      }
      const upsert = await postJson(
        node,
        "/api/v1/workflows",
        chain(
          "bad-upsert",
          n("s", "source/memory.collection", { data: [] }),
          n("w", "sink/mysql.write", {
            table: "t",
            mode: "upsert",
            connection: "shop",
          }),
        ),
      );
      assertEquals(
        [upsert.status, upsert.body.error.details[0].path],
        [400, "$.nodes[1].config.key"],
        upsert.text,
      );
    },
    {},
    { sqlConnections: { shop: "mysql://root@127.0.0.1:3306/x", pg: TEST_DATABASE_URL } },
  );
});

mysqlTest(
  "mysql nodes over HTTP: the old inline fields run where allowed, the password never served back",
  async () => {
    await withTempMysqlDatabase(async (db) => {
      await db.query("create table src (id int primary key, name varchar(40))");
      await db.query("create table dst (id int primary key, name varchar(40))");
      await db.query("insert into src values ?", [Array.from({ length: 30 }, (_, i) => [i, `n${i}`])]);
      const url = new URL(db.url);
      const inline = {
        host: url.hostname,
        port: String(url.port || 3306), // the old UI sent numbers as strings
        database: url.pathname.slice(1),
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password) || "",
      };
      await withNode(
        async (node) => {
          const def = chain(
            "copy",
            n("q", "source/mysql.query", {
              ...inline,
              sql: "select id, name from src where id < ?",
              params: [20],
              fetchSize: "7",
            }),
            n("w", "sink/mysql.write", {
              ...inline,
              table: "dst",
              batchSize: "4",
              mode: "upsert",
              key: "id",
            }),
          );
          const view = (await runWorkflow(node, def)).body;
          assertEquals((await nodeOutput(node, view.executionId, "q")).length, 20);
          assertEquals(await db.query("select count(*) as n from dst"), [{ n: 20 }]);
          const withPassword = { ...def, id: "copy-pw" };
          withPassword.nodes[0].config = { ...withPassword.nodes[0].config, password: "s3cret-pw" };
          await postJson(node, "/api/v1/workflows", withPassword);
          const shown = await getJson(node, "/api/v1/workflows/copy-pw");
          assertEquals(shown.status, 200, shown.text);
          assert(!shown.text.includes("s3cret-pw"), shown.text);
          assertEquals(shown.body.nodes[0].config.password, "***");
        },
        {},
        { allowInlineConnections: true },
      );
    });
  },
);

/** How many rows the server writes into `items` (ids 0..N-1). */
const N = 3000;
/** The id whose lock the test holds while the server writes: mid-batch, halfway. */
const BLOCKED_ID = 1550;

async function killMidWrite(db: TestMysql, dataDir: string): Promise<void> {
  await db.query("create table items (id int primary key, v varchar(20))");
  const port = freePort();
  const flags = [
    "--log-level",
    "warn",
    "--storage",
    "embedded",
    "--data-dir",
    dataDir,
    "--sql-connection",
    `default=${db.url}`,
  ];
  const servers: ServerProcess[] = [];
  // The test holds the lock of one id in the middle in an open transaction: the writer, inserting in order,
  // writes every row before it (uncommitted) and then waits on that lock, mid-write, until the kill.
  const u = new URL(db.url);
  const options = {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1),
  };
  const blocker = await mysql.createConnection(options);
  const peek = await mysql.createConnection(options);
  try {
    await peek.query("set session transaction isolation level read uncommitted");
    await blocker.beginTransaction();
    await blocker.query("insert into items (id, v) values (?, 'blocker')", [BLOCKED_ID]);

    const first = spawnServer(port, flags);
    servers.push(first);
    await first.waitReady(60_000);
    const data = Array.from({ length: N }, (_, id) => ({ id, v: `v${id}` }));
    const def = chain(
      "write",
      n("s", "source/memory.collection", { data }),
      n("w", "sink/mysql.write", { table: "items", batchSize: 100, mode: "insert" }),
    );
    const created = await call(first, "POST", "/api/v1/workflows", { json: def });
    assertEquals(created.status, 201, created.text);
    const started = await call(first, "POST", "/api/v1/workflows/write/execute", { json: {} });
    assert(started.status === 202 || started.status === 200, started.text);
    const executionId = started.body.executionId as string;

    // Uncommitted rows seen (read uncommitted): every id below the blocked one, and the blocker's row.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [[{ seen }]] = await peek.query("select count(*) as seen from items") as unknown as [
        { seen: number }[],
      ];
      if (seen >= BLOCKED_ID + 1) break;
      if (Date.now() > deadline) {
        const view = await call(first, "GET", `/api/v1/executions/${executionId}`);
        throw new Error(`the writer never reached the blocked row (${seen} rows seen): ${view.text}`);
      }
      await sleep(50);
    }
    const t0 = performance.now();
    const status = await first.kill("SIGKILL");
    assertEquals(status.signal, "SIGKILL");
    await blocker.rollback();

    const second = spawnServer(port, flags);
    servers.push(second);
    const readyMs = await second.waitReady(60_000);
    const view = await waitEnded(second, executionId, Date.now() + 60_000);
    console.log(
      `[mysql.write crash] restart ready in ${readyMs.toFixed(0)} ms; the write completed ${
        (performance.now() - t0).toFixed(0)
      } ms after the kill`,
    );
    assertEquals(view.status, "completed", JSON.stringify(view));
    const [counts] = await blocker.query(
      "select count(*) as total, count(distinct id) as ids, min(id) as lo, max(id) as hi from items",
    ) as unknown as [{ total: number; ids: number; lo: number; hi: number }[]];
    assertEquals(counts[0], { total: N, ids: N, lo: 0, hi: N - 1 });
    const [blocked] = await blocker.query(
      "select count(*) as n from items where v = 'blocker'",
    ) as unknown as [
      { n: number }[],
    ];
    assertEquals(blocked[0].n, 0);
    const [marks] = await blocker.query("select count(*) as n from flowmesh_writes") as unknown as [
      { n: number }[],
    ];
    assertEquals(marks[0].n, 1);
  } catch (err) {
    const tail = servers.map((s, i) => `--- server ${i + 1} output:\n${s.output.slice(-4000)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  } finally {
    await blocker.rollback().catch(() => {});
    await blocker.end().catch(() => {});
    await peek.end().catch(() => {});
    for (const s of servers) await s.close();
  }
}

mysqlTest("mysql.write: kill -9 of the server mid-write, restart; every row exactly once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-mysql-crash-" });
  try {
    await withTempMysqlDatabase((db) => killMidWrite(db, dir));
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
