import { assert, assertEquals, assertRejects, assertStrictEquals } from "../../testing/assert.ts";
import { type Json, NodeError } from "./executor.ts";
import { pgTest, TEST_DATABASE_URL } from "../../testing/pg.ts";
import { realServices } from "./services.ts";
import { sqlQuery } from "./sources.ts";
import { insertStatements, SINK_MARKS_TABLE, sqlInsert } from "./sinks.ts";
import { quoteIdent, quoteTable } from "./sql_support.ts";
import { type LoggedLine, testNodeContext } from "../../testing/node_context.ts";

const RUN = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

const nodeError = (code: string, retryable: boolean) => (e: unknown) => {
  assert(e instanceof NodeError, String(e));
  assertStrictEquals(e.code, code, e.message);
  assertStrictEquals(e.retryable, retryable);
  return true;
};

/** Runs `fn` with services on the test database; drops `tables` and the run's marks after. */
async function withDb(
  tables: string[],
  fn: (h: {
    sql: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
    ctx: (
      config: Record<string, unknown>,
      records?: Json[],
      executionId?: string,
    ) => ReturnType<typeof testNodeContext>;
    logs: LoggedLine[];
  }) => Promise<void>,
) {
  const logs: LoggedLine[] = [];
  // The grants these tests declare: the test database as the default connection, and inline URLs.
  const services = realServices({
    sqlConnections: { default: TEST_DATABASE_URL },
    allowInlineConnections: true,
    log: (line, fields) => logs.push({ line, fields }),
  });
  const client = services.sql({});
  try {
    await fn({
      sql: (text, params = []) => client.query(text, params),
      ctx: (config, records = [], executionId = `${RUN}-${crypto.randomUUID()}`) =>
        testNodeContext({ config, records, services, executionId }),
      logs,
    });
  } finally {
    for (const t of tables) await client.query(`drop table if exists ${quoteTable(t)}`, []);
    await client.query(`delete from ${SINK_MARKS_TABLE} where idempotency_key like $1`, [`${RUN}-%`]).catch(
      () => {},
    );
    await services.close();
  }
}

pgTest("sql.query: rows as JSON-safe objects, with params", async () => {
  const table = `${RUN}_query`;
  await withDb([table], async ({ sql, ctx }) => {
    await sql(
      `create table ${
        quoteIdent(table)
      } (id int8 primary key, big int8, at timestamptz, doc jsonb, price numeric, raw bytea, name text)`,
    );
    await sql(
      `insert into ${quoteIdent(table)} values
        (1, 9007199254740993, '2024-05-06T07:08:09.123Z', '{"a":[1,2]}', 12.50, '\\x0aff', 'one'),
        (2, 5, null, null, null, null, 'two')`,
    );
    const r = await sqlQuery(
      ctx({ sql: `select * from ${quoteIdent(table)} where id >= $1 order by id`, params: [1] }),
    );
    assertEquals(r.records, [
      {
        id: 1,
        big: "9007199254740993",
        at: "2024-05-06T07:08:09.123Z",
        doc: { a: [1, 2] },
        price: "12.50",
        raw: "\\x0aff",
        name: "one",
      },
      { id: 2, big: 5, at: null, doc: null, price: null, raw: null, name: "two" },
    ]);
    const count = await sqlQuery(ctx({ sql: `select count(*) as n from ${quoteIdent(table)}` }));
    assertEquals(count.records, [{ n: 2 }]);
    assertEquals((await sqlQuery(ctx({ sql: "select 1 as a; select 2 as b" }))).records, [{ b: 2 }]);
    await assertRejects(() => sqlQuery(ctx({ sql: "selec 1" })), nodeError("sql_error", false));
    await assertRejects(
      () => sqlQuery(ctx({ sql: "select 1", connectionUrl: "postgres://postgres@127.0.0.1:1/postgres" })),
      nodeError("sql_connection", true),
    );
    const small = ctx({ sql: `select * from ${quoteIdent(table)}` });
    small.limits = { maxRecords: 1, maxBytes: 1e6 };
    await assertRejects(() => sqlQuery(small), nodeError("output_too_large", false));
  });
});

pgTest("sql.insert: union of keys, DEFAULT for missing keys, jsonb objects and arrays", async () => {
  const table = `${RUN}_ins`;
  await withDb([table], async ({ sql, ctx }) => {
    await sql(
      `create table ${
        quoteIdent(table)
      } (id int primary key, "userName" text, doc jsonb, tags jsonb, note text default 'dflt', flag boolean, meta text)`,
    );
    const records: Json[] = [
      { id: 1, userName: "ann", doc: { k: "v", n: [1, 2] }, tags: [true, false], flag: true },
      { id: 2, userName: "bob", doc: "just a string", tags: ["x"], note: null, meta: { as: "text" } },
      { id: 3, doc: 42 },
    ];
    const r = await sqlInsert(ctx({ table }, records));
    assertEquals(r.records, []);
    assertStrictEquals(r.recordsProcessed, 3);
    const rows = await sql(`select * from ${quoteIdent(table)} order by id`);
    assertEquals(rows, [
      {
        id: 1,
        userName: "ann",
        doc: { k: "v", n: [1, 2] },
        tags: [true, false],
        note: "dflt",
        flag: true,
        meta: null,
      },
      {
        id: 2,
        userName: "bob",
        doc: "just a string",
        tags: ["x"],
        note: null,
        flag: null,
        meta: '{"as":"text"}',
      },
      { id: 3, userName: null, doc: 42, tags: null, note: "dflt", flag: null, meta: null },
    ]);
  });
});

pgTest("sql.insert: idempotent on retry with the same idempotency key", async () => {
  const table = `${RUN}_idem`;
  await withDb([table], async ({ sql, ctx, logs }) => {
    await sql(`create table ${quoteIdent(table)} (id serial primary key, v int)`);
    const executionId = `${RUN}-exec-idem`;
    const first = await sqlInsert(ctx({ table }, [{ v: 1 }, { v: 2 }], executionId));
    const retry = ctx({ table }, [{ v: 1 }, { v: 2 }], executionId);
    retry.attempt = 2;
    const second = await sqlInsert(retry);
    assertStrictEquals(first.recordsProcessed, 2);
    assertStrictEquals(second.recordsProcessed, 2);
    assertEquals(await sql(`select v from ${quoteIdent(table)} order by v`), [{ v: 1 }, { v: 2 }]);
    assert(logs.some((l) => l.line.includes("already written")), JSON.stringify(logs));
    // Another execution writes again.
    await sqlInsert(ctx({ table }, [{ v: 3 }]));
    assertEquals((await sql(`select count(*)::int as n from ${quoteIdent(table)}`))[0].n, 3);
  });
});

pgTest("sql.insert: a failed attempt leaves no mark, so the retry writes", async () => {
  const table = `${RUN}_fail`;
  await withDb([table], async ({ sql, ctx }) => {
    await sql(`create table ${quoteIdent(table)} (id int primary key, v int not null)`);
    const executionId = `${RUN}-exec-fail`;
    await assertRejects(
      () => sqlInsert(ctx({ table }, [{ id: 1, v: 1 }, { id: 2, v: null }], executionId)),
      nodeError("sql_error", false),
    );
    assertEquals(await sql(`select * from ${quoteIdent(table)}`), []);
    await sqlInsert(ctx({ table }, [{ id: 1, v: 1 }, { id: 2, v: 2 }], executionId));
    assertEquals((await sql(`select count(*)::int as n from ${quoteIdent(table)}`))[0].n, 2);
  });
});

pgTest("sql.insert: upsert on a key updates, and the last record of a repeated key wins", async () => {
  const table = `${RUN}_ups`;
  const schemaTable = `public.${RUN}_ups2`;
  await withDb([table, schemaTable], async ({ sql, ctx }) => {
    await sql(
      `create table ${quoteIdent(table)} (id int, region text, v int, note text, primary key (id, region))`,
    );
    await sqlInsert(ctx({ table, upsertKey: ["id", "region"] }, [
      { id: 1, region: "eu", v: 1, note: "a" },
      { id: 2, region: "eu", v: 2, note: "b" },
    ]));
    await sqlInsert(ctx({ table, upsertKey: ["id", "region"] }, [
      { id: 1, region: "eu", v: 10, note: "first" },
      { id: 3, region: "us", v: 3, note: "c" },
      { id: 1, region: "eu", v: 11, note: "last" },
    ]));
    assertEquals(await sql(`select id, region, v, note from ${quoteIdent(table)} order by id`), [
      { id: 1, region: "eu", v: 11, note: "last" },
      { id: 2, region: "eu", v: 2, note: "b" },
      { id: 3, region: "us", v: 3, note: "c" },
    ]);
    await sql(`create table ${quoteTable(schemaTable)} (k text primary key)`);
    await sqlInsert(ctx({ table: schemaTable, upsertKey: "k" }, [{ k: "x" }, { k: "y" }]));
    await sqlInsert(ctx({ table: schemaTable, upsertKey: "k" }, [{ k: "x" }]));
    assertEquals(await sql(`select k from ${quoteTable(schemaTable)} order by k`), [{ k: "x" }, { k: "y" }]);
    await assertRejects(
      () => sqlInsert(ctx({ table, upsertKey: "zzz" }, [{ id: 1 }])),
      nodeError("upsert_key_missing", false),
    );
  });
});

pgTest("sql.insert: many rows go in chunks", async () => {
  const table = `${RUN}_many`;
  await withDb([table], async ({ sql, ctx }) => {
    await sql(`create table ${quoteIdent(table)} (id int primary key, a text, b text)`);
    const records: Json[] = Array.from({ length: 1234 }, (_, i) => ({ id: i, a: `a${i}`, b: `b${i}` }));
    await sqlInsert(ctx({ table }, records));
    assertEquals(await sql(`select count(*)::int as n, sum(id)::int as s from ${quoteIdent(table)}`), [
      { n: 1234, s: (1233 * 1234) / 2 },
    ]);
  });
});

pgTest("sql.insert: bad records, tables and columns fail, not retryable", async () => {
  const table = `${RUN}_bad`;
  await withDb([table], async ({ sql, ctx }) => {
    await sql(`create table ${quoteIdent(table)} (id int)`);
    await assertRejects(() => sqlInsert(ctx({ table }, [{ id: 1 }, 2])), nodeError("record_type", false));
    await assertRejects(
      () => sqlInsert(ctx({ table: `${RUN}_nope` }, [{ id: 1 }])),
      nodeError("sql_table_missing", false),
    );
    await assertRejects(
      () => sqlInsert(ctx({ table }, [{ id: 1, other: 2 }])),
      nodeError("sql_column_missing", false),
    );
    await assertRejects(
      () => sqlInsert(ctx({ table: "a.b.c" }, [{ id: 1 }])),
      nodeError("sql_identifier", false),
    );
    assertEquals(await sqlInsert(ctx({ table }, [])), { records: [], recordsProcessed: 0 });
    assertEquals(await sql(`select * from ${quoteIdent(table)}`), []);
  });
});

Deno.test("insertStatements: quoting, DEFAULT, casts, chunking by parameters", () => {
  const types = new Map([["id", "integer"], ['we"ird', "text"], ["doc", "jsonb"]]);
  const [st] = insertStatements(
    "s.t",
    [{ id: 1, 'we"ird': "x", doc: { a: 1 } }, { id: 2 }],
    ["id", 'we"ird', "doc"],
    types,
    [
      "id",
    ],
  );
  assertStrictEquals(
    st.sql,
    'insert into "s"."t" ("id", "we""ird", "doc") values ($1, $2, $3::text::jsonb), ($4, default, default) ' +
      'on conflict ("id") do update set "we""ird" = excluded."we""ird", "doc" = excluded."doc"',
  );
  assertEquals(st.params, [1, "x", '{"a":1}', 2]);
  const cols = Array.from({ length: 200 }, (_, i) => `c${i}`);
  const row = Object.fromEntries(cols.map((c) => [c, 1]));
  const many = insertStatements("t", Array.from({ length: 700 }, () => row), cols, new Map(), []);
  assert(many.every((s) => s.params.length <= 65535));
  assertStrictEquals(many.reduce((n, s) => n + s.params.length, 0), 700 * 200);
});
