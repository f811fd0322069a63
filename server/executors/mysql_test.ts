import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../../testing/assert.ts";
import { mysqlTest, TEST_MYSQL_URL, type TestMysql, withTempMysqlDatabase } from "../../testing/mysql.ts";
import { type LoggedLine, testNodeContext } from "../../testing/node_context.ts";
import { type Json, NodeError } from "./executor.ts";
import { mysqlQuery, mysqlWrite, WRITES_TABLE, writeStatements } from "./mysql.ts";
import { mysqlConnectionOptions, mysqlError, quoteMysqlIdent, quoteMysqlTable } from "./mysql_support.ts";
import { realServices } from "./services.ts";

const nodeError = (code: string, retryable: boolean) => (e: unknown) => {
  assert(e instanceof NodeError, String(e));
  assertStrictEquals(e.code, code, e.message);
  assertStrictEquals(e.retryable, retryable, e.message);
  return true;
};

async function expectError(p: Promise<unknown>, code: string, retryable: boolean) {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  nodeError(code, retryable)(error);
}

/** Runs `fn` on a fresh database, with services that declare it as the `default` connection. */
function withDb(
  fn: (h: {
    db: TestMysql;
    ctx: (config: Record<string, unknown>, records?: Json[], executionId?: string) => ReturnType<
      typeof testNodeContext
    >;
    logs: LoggedLine[];
  }) => Promise<void>,
  allowInlineConnections = false,
) {
  return withTempMysqlDatabase(async (db) => {
    const logs: LoggedLine[] = [];
    const services = realServices({
      sqlConnections: { default: db.url },
      allowInlineConnections,
      log: (line, fields) => logs.push({ line, fields }),
    });
    try {
      await fn({
        db,
        ctx: (config, records = [], executionId = `exec-${crypto.randomUUID()}`) =>
          testNodeContext({ config, records, services, executionId }),
        logs,
      });
    } finally {
      await services.close();
    }
  });
}

Deno.test("mysql identifiers: backticks doubled, each part of database.table quoted, bad names refused", () => {
  assertEquals(quoteMysqlIdent("select"), "`select`");
  assertEquals(quoteMysqlIdent("a`b"), "`a``b`");
  assertEquals(quoteMysqlIdent("x`; drop table t; --"), "`x``; drop table t; --`");
  assertEquals(quoteMysqlTable("shop.order items"), "`shop`.`order items`");
  for (const bad of ["", "a\0b", "trailing ", "x".repeat(65)]) {
    assertThrows(() => quoteMysqlIdent(bad), NodeError, "invalid MySQL identifier");
  }
  assertThrows(() => quoteMysqlTable("a.b.c"), NodeError, "use table or database.table");
});

Deno.test("mysql connections: named mysql:// only; inline fields and URLs only when inline is allowed", () => {
  const grants = { sqlConnections: { default: "mysql://app:p%40ss@db:3307/shop", pg: "postgres://u@h/db" } };
  const named = mysqlConnectionOptions(grants, {});
  assertEquals([named.host, named.port, named.user, named.password, named.database], [
    "db",
    3307,
    "app",
    "p@ss",
    "shop",
  ]);
  assertEquals(mysqlConnectionOptions(grants, { database: "shop" }).database, "shop");
  assertThrows(
    () => mysqlConnectionOptions(grants, { database: "other" }),
    NodeError,
    "grants its own database",
  );
  assertThrows(() => mysqlConnectionOptions(grants, { connection: "pg" }), NodeError, "not a mysql://");
  assertThrows(() => mysqlConnectionOptions(grants, { connection: "nope" }), NodeError, "no SQL connection");
  const inline = { host: "10.0.0.9", username: "root", password: "pw", database: "d" };
  let refused: unknown;
  try {
    mysqlConnectionOptions(grants, inline);
  } catch (e) {
    refused = e;
  }
  nodeError("connection_not_granted", false)(refused);
  assert(!(refused as Error).message.includes("pw"));
  assertThrows(
    () => mysqlConnectionOptions(grants, { connectionUrl: "mysql://root@h/d" }),
    NodeError,
    "inline connection fields",
  );
  const allowed = mysqlConnectionOptions({ ...grants, allowInlineConnections: true }, inline);
  assertEquals([allowed.host, allowed.port, allowed.user, allowed.password, allowed.database], [
    "10.0.0.9",
    3306,
    "root",
    "pw",
    "d",
  ]);
});

Deno.test("mysql errors: deadlocks and connection losses retry; missing tables and syntax do not", () => {
  const cases: [unknown, string, boolean][] = [
    [{ code: "ER_LOCK_DEADLOCK", errno: 1213, sqlState: "40001", message: "m" }, "sql_error", true],
    [{ code: "ER_NO_SUCH_TABLE", errno: 1146, sqlState: "42S02", message: "m" }, "sql_table_missing", false],
    [{ code: "ER_PARSE_ERROR", errno: 1064, sqlState: "42000", message: "m" }, "sql_error", false],
    [{ code: "ECONNREFUSED", message: "m" }, "sql_connection", true],
    [{ code: "PROTOCOL_CONNECTION_LOST", fatal: true, message: "m" }, "sql_connection", true],
    [new Error("odd"), "sql_error", false],
  ];
  for (const [e, code, retryable] of cases) nodeError(code, retryable)(mysqlError(e, "x"));
});

Deno.test("mysql.write statements: batches of batchSize, every value a parameter, upsert sets non-key columns", () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ id: i, "we`ird col": `v'${i}` }));
  const sts = writeStatements("t", rows, ["id", "we`ird col"], 2, []);
  assertEquals(sts.map((s) => s.params.length), [4, 4, 2]);
  assertEquals(sts[2].sql, "insert into `t` (`id`, `we``ird col`) values (?, ?)");
  const [up] = writeStatements("d.t", [{ id: 1, n: { a: [1] } }, { id: 2 }], ["id", "n"], 10, ["id"]);
  assertEquals(
    up.sql,
    "insert into `d`.`t` (`id`, `n`) values (?, ?), (?, default) on duplicate key update `n` = values(`n`)",
  );
  assertEquals(up.params, [1, '{"a":[1]}', 2]);
});

mysqlTest("mysql.query: streams rows in batches of fetchSize; params stay values", async () => {
  await withDb(async ({ db, ctx }) => {
    await db.query(
      "create table items (id int primary key, name varchar(50), price decimal(8,2), big bigint)",
    );
    const values = Array.from(
      { length: 50 },
      (_, i) => [i + 1, `item ${i + 1}`, (i + 1) / 4, 9007199254740993n],
    );
    await db.query("insert into items (id, name, price, big) values ?", [values]);

    const batches: number[] = [];
    const c = ctx({ sql: "select id, name from items order by id", fetchSize: 7 });
    const client = c.services.mysql!({});
    await client.stream(
      "select id from items order by id",
      [],
      7,
      (rows) => batches.push(rows.length),
      c.signal,
    );
    assertEquals(batches, [7, 7, 7, 7, 7, 7, 7, 1]);

    const out = await mysqlQuery(c);
    assertEquals(out.records.length, 50);
    assertEquals(out.records[0], { id: 1, name: "item 1" });
    const typed = await mysqlQuery(
      ctx({ sql: "select price, big from items where id = ?", params: [2], fetchSize: 3 }),
    );
    assertEquals(typed.records, [{ price: "0.50", big: "9007199254740993" }]);
    const injected = await mysqlQuery(
      ctx({ sql: "select id from items where name = ?", params: ["x' or '1'='1"], fetchSize: 10 }),
    );
    assertEquals(injected.records, []);
  });
});

mysqlTest(
  "mysql.query: past maxRecords or maxBytes it stops reading and fails; never truncates",
  async () => {
    await withDb(async ({ db, ctx }) => {
      await db.query("create table big (id int primary key, pad varchar(200))");
      const values = Array.from({ length: 500 }, (_, i) => [i, "x".repeat(100)]);
      await db.query("insert into big values ?", [values]);

      // A batch hook that throws stops the stream: only the batches up to the failing one are read.
      const c = ctx({});
      const seen: number[] = [];
      await assertRejects(() =>
        c.services.mysql!({}).stream("select * from big", [], 10, (rows) => {
          seen.push(rows.length);
          if (seen.length === 2) throw new Error("enough");
        }, c.signal)
      );
      assertEquals(seen, [10, 10]);

      const tooMany = ctx({ sql: "select * from big", fetchSize: 10 });
      tooMany.limits = { ...tooMany.limits, maxRecords: 25 };
      await expectError(mysqlQuery(tooMany), "output_too_large", false);
      const tooBig = ctx({ sql: "select * from big", fetchSize: 10 });
      tooBig.limits = { ...tooBig.limits, maxBytes: 2000 };
      await expectError(mysqlQuery(tooBig), "output_too_large", false);
      const exact = ctx({ sql: "select id from big where id < 25", fetchSize: 10 });
      exact.limits = { ...exact.limits, maxRecords: 25 };
      assertEquals((await mysqlQuery(exact)).records.length, 25);
      // The pool still answers after the dropped streams.
      assertEquals((await mysqlQuery(ctx({ sql: "select count(*) as n from big", fetchSize: 1 }))).records, [{
        n: 500,
      }]);
    });
  },
);

mysqlTest("mysql.query: bad SQL and missing tables fail without retry", async () => {
  await withDb(async ({ ctx }) => {
    await expectError(
      mysqlQuery(ctx({ sql: "select * from nowhere", fetchSize: 10 })),
      "sql_table_missing",
      false,
    );
    await expectError(mysqlQuery(ctx({ sql: "selec 1", fetchSize: 10 })), "sql_error", false);
  });
});

mysqlTest("mysql.write: inserts in batches into odd names; hostile values stay values", async () => {
  await withDb(async ({ db, ctx }) => {
    await db.query("create table `we``ird tab` (id int primary key, `select` text, `a b` json)");
    const hostile = "x'); drop table `we``ird tab`; --";
    const records = Array.from(
      { length: 23 },
      (_, i) => ({ id: i, select: i === 3 ? hostile : `s${i}`, "a b": { i } }),
    );
    const out = await mysqlWrite(ctx({ table: "we`ird tab", batchSize: 5, mode: "insert" }, records));
    assertEquals(out, { records: [], recordsProcessed: 23 });
    const rows = await db.query("select id, `select` as s, `a b` as ab from `we``ird tab` order by id");
    assertEquals(rows.length, 23);
    assertEquals(rows[3].s, hostile);
    const ab = rows[5].ab;
    assertEquals(typeof ab === "string" ? JSON.parse(ab) : ab, { i: 5 });
  });
});

mysqlTest("mysql.write: upsert on a key updates, the last of a repeated key wins", async () => {
  await withDb(async ({ db, ctx }) => {
    await db.query("create table stock (sku varchar(20), shop int, qty int, primary key (sku, shop))");
    const config = { table: "stock", batchSize: 2, mode: "upsert", key: ["sku", "shop"] };
    await mysqlWrite(ctx(config, [{ sku: "a", shop: 1, qty: 1 }, { sku: "b", shop: 1, qty: 2 }]));
    await mysqlWrite(ctx(config, [{ sku: "a", shop: 1, qty: 10 }, { sku: "a", shop: 1, qty: 11 }, {
      sku: "c",
      shop: 2,
      qty: 3,
    }]));
    assertEquals(await db.query("select sku, shop, qty from stock order by sku"), [
      { sku: "a", shop: 1, qty: 11 },
      { sku: "b", shop: 1, qty: 2 },
      { sku: "c", shop: 2, qty: 3 },
    ]);
    await expectError(
      mysqlWrite(ctx({ ...config, key: undefined }, [{ sku: "z" }])),
      "config_missing",
      false,
    );
    await expectError(
      mysqlWrite(ctx({ ...config, key: "nope" }, [{ sku: "z" }])),
      "upsert_key_missing",
      false,
    );
  });
});

mysqlTest("mysql.write: a retried attempt writes nothing twice; a failed one writes nothing", async () => {
  await withDb(async ({ db, ctx, logs }) => {
    await db.query("create table events (id int auto_increment primary key, v int)");
    const records = Array.from({ length: 12 }, (_, v) => ({ v }));
    const config = { table: "events", batchSize: 5, mode: "insert" };
    await mysqlWrite(ctx(config, records, "exec-retry"));
    const again = ctx(config, records, "exec-retry");
    again.attempt = 2;
    assertEquals((await mysqlWrite(again)).recordsProcessed, 12);
    assertEquals(await db.query("select count(*) as n from events"), [{ n: 12 }]);
    assert(logs.some((l) => l.line.includes("already written by an earlier attempt")));
    assertEquals(await db.query(`select count(*) as n from ${WRITES_TABLE}`), [{ n: 1 }]);

    // A batch failing after others were sent rolls back the whole attempt, marker included.
    const bad = [...records.map((r) => ({ v: r.v + 100 })), { v: "not a number" }];
    await expectError(mysqlWrite(ctx(config, bad, "exec-bad")), "sql_error", false);
    assertEquals(await db.query("select count(*) as n from events"), [{ n: 12 }]);
    await mysqlWrite(ctx(config, records.slice(0, 2), "exec-bad"));
    assertEquals(await db.query("select count(*) as n from events"), [{ n: 14 }]);
  });
});

mysqlTest(
  "mysql.write: missing tables and columns, non-objects and refused connections fail without retry",
  async () => {
    await withDb(async ({ db, ctx }) => {
      await db.query("create table t (id int)");
      await expectError(
        mysqlWrite(ctx({ table: "none", batchSize: 10, mode: "insert" }, [{ id: 1 }])),
        "sql_table_missing",
        false,
      );
      await expectError(
        mysqlWrite(ctx({ table: "t", batchSize: 10, mode: "insert" }, [{ idx: 1 }])),
        "sql_column_missing",
        false,
      );
      await expectError(
        mysqlWrite(ctx({ table: "t", batchSize: 10, mode: "insert" }, [1])),
        "record_type",
        false,
      );
      const inline = { table: "t", batchSize: 10, mode: "insert", host: "127.0.0.1", username: "root" };
      await expectError(mysqlWrite(ctx(inline, [{ id: 1 }])), "connection_not_granted", false);
      assertEquals(await db.query("select count(*) as n from t"), [{ n: 0 }]);
    });
  },
);

mysqlTest("mysql nodes: the old inline fields work where inline connections are allowed", async () => {
  await withDb(async ({ db, ctx }) => {
    await db.query("create table t (id int)");
    const url = new URL(db.url);
    const inline = {
      host: url.hostname,
      port: Number(url.port || 3306),
      database: url.pathname.slice(1),
      username: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    };
    await mysqlWrite(ctx({ ...inline, table: "t", batchSize: 10, mode: "insert" }, [{ id: 7 }]));
    const out = await mysqlQuery(ctx({ ...inline, sql: "select id from t", fetchSize: 10 }));
    assertEquals(out.records, [{ id: 7 }]);
  }, true);
  assert(TEST_MYSQL_URL.startsWith("mysql://"));
});

Deno.test("a PostgreSQL sql.* node given a declared mysql:// connection fails at run, not retried", () => {
  const services = realServices({ sqlConnections: { shop: "mysql://root@127.0.0.1:3306/shop" } });
  let error: unknown;
  try {
    services.sql({ connection: "shop" });
  } catch (e) {
    error = e;
  }
  nodeError("connection_scheme", false)(error);
});
