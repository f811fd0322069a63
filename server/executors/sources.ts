/**
 * Executors of the source nodes: sequence.numbers, random.numbers,
 * memory.collection, file.text, file.csv and sql.query.
 *
 * @module
 */
import { type Executor, fromSync, type Json, type NodeContext, NodeError } from "./executor.ts";
import { enforceCount } from "./limits.ts";
import { parseCsv } from "./csv.ts";
import { sqlError } from "./sql_support.ts";
import { toJsonSafe } from "./values.ts";

function decimals(x: number): number {
  const s = String(x);
  const e = s.indexOf("e-");
  if (e >= 0) return Number(s.slice(e + 2)) + Math.max(0, s.slice(0, e).split(".")[1]?.length ?? 0);
  return s.split(".")[1]?.length ?? 0;
}

/**
 * How many numbers `start..end` by `step` holds: 0 when the step goes the wrong way
 * (or is 0). Tolerates floating error, so 0..1 by 0.1 holds 11.
 */
export function sequenceLength(start: number, end: number, step: number): number {
  if (step === 0 || !Number.isFinite(step) || (end - start) / step < 0) return 0;
  return Math.floor((end - start) / step + 1e-9) + 1;
}

/**
 * sequence.numbers: `start`, `start+step`, ... up to `end` inclusive; a negative
 * step counts down; a step that goes away from `end` emits nothing. Values are
 * rounded to the decimals of start and step (0.1 + 0.2 gives 0.3). The count is
 * checked against the limits before anything is generated.
 */
export const sequenceNumbers: Executor = fromSync((ctx) => {
  const { start, end, step } = ctx.config as { start: number; end: number; step: number };
  const n = sequenceLength(start, end, step);
  enforceCount(n, ctx.limits, ctx.nodeId);
  const places = Math.max(decimals(start), decimals(step));
  const round = places > 0 && places <= 15;
  const records: Json[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const x = start + i * step;
    records[i] = round ? Number(x.toFixed(places)) : x;
  }
  return { records };
});

/**
 * A small seeded PRNG (sfc32), giving 32-bit unsigned integers. Seeded from a
 * number: its low and high 32-bit words.
 */
export function seededRandom(seed: number): () => number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
  return sfc32(0x9e3779b9, lo, hi, 1);
}

function sfc32(a: number, b: number, c: number, d: number): () => number {
  const next = () => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

function unseededRandom(): () => number {
  const w = crypto.getRandomValues(new Uint32Array(4));
  return sfc32(w[0], w[1], w[2], w[3]);
}

/**
 * random.numbers: `count` integers uniform in `[ceil(min), floor(max)]`. With a
 * `seed` the sequence is the same on every run (and every retry); without one it
 * is seeded from `crypto.getRandomValues`.
 */
export const randomNumbers: Executor = fromSync((ctx) => {
  const { count, min, max, seed } = ctx.config as { count: number; min: number; max: number; seed?: number };
  const lo = Math.ceil(min);
  const hi = Math.floor(max);
  if (lo > hi) {
    throw new NodeError("config_range", `no integer between min ${min} and max ${max}`, false);
  }
  enforceCount(count, ctx.limits, ctx.nodeId);
  const next = seed === undefined ? unseededRandom() : seededRandom(seed);
  const span = hi - lo + 1;
  const records: Json[] = new Array(count);
  for (let i = 0; i < count; i++) {
    // 53 random bits in [0, 1)
    const r = ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
    records[i] = Math.min(hi, lo + Math.floor(r * span));
  }
  return { records };
});

/** memory.collection: the records of `data`, copied (a later change to the config cannot reach them). */
export const memoryCollection: Executor = fromSync((ctx) => {
  const data = ctx.config.data as Json[];
  enforceCount(data.length, ctx.limits, ctx.nodeId);
  return { records: structuredClone(data) };
});

/**
 * execution.input: the execution's input as records — an array's items, `[input]` for any other value, none
 * for `null` (so a foreach child, whose input is its item, reads the item).
 *
 * @example
 * ```ts
 * import { executionInput } from "./sources.ts";
 * const ctx = { executionInput: [1, 2], limits: { maxRecords: 10, maxBytes: 1000 }, nodeId: "in" };
 * const out = await executionInput(ctx as unknown as Parameters<typeof executionInput>[0]);
 * if (out.records.length !== 2) throw new Error();
 * ```
 */
export const executionInput: Executor = fromSync((ctx) => {
  const input = ctx.executionInput;
  const records = input === null || input === undefined ? [] : Array.isArray(input) ? input : [input];
  enforceCount(records.length, ctx.limits, ctx.nodeId);
  return { records };
});

/** Splits text into lines at LF, CRLF or CR; a final line break adds no empty line; a BOM is dropped. */
export function splitLines(text: string): string[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text === "") return [];
  const lines = text.split(/\r\n|\n|\r/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * file.text (source): one string record per line of the file at `path`. With
 * `skipEmpty`, lines that are empty or only whitespace are dropped.
 */
export const fileTextSource: Executor = async (ctx) => {
  const { path, skipEmpty } = ctx.config as { path: string; skipEmpty: boolean };
  let lines = splitLines(await ctx.services.readTextFile(path));
  if (skipEmpty) lines = lines.filter((l) => l.trim() !== "");
  enforceCount(lines.length, ctx.limits, ctx.nodeId);
  return { records: lines };
};

/**
 * file.csv (source): the rows of the CSV file at `path`. With `header` (default),
 * the first row names the fields and each later row becomes an object of strings;
 * a row with a different number of fields fails with `csv_columns`, a repeated
 * header name with `csv_header`. Without `header`, each row is an array of strings.
 */
export const fileCsvSource: Executor = async (ctx) => {
  const { path, delimiter, header } = ctx.config as { path: string; delimiter: string; header: boolean };
  const rows = parseCsv(await ctx.services.readTextFile(path), delimiter);
  if (!header) {
    enforceCount(rows.length, ctx.limits, ctx.nodeId);
    return { records: rows };
  }
  if (rows.length === 0) return { records: [] };
  const names = rows[0];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) {
      throw new NodeError(
        "csv_header",
        `${path}: the header repeats the column ${JSON.stringify(name)}`,
        false,
      );
    }
    seen.add(name);
  }
  enforceCount(rows.length - 1, ctx.limits, ctx.nodeId);
  const records: Json[] = new Array(rows.length - 1);
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r];
    if (row.length !== names.length) {
      throw new NodeError(
        "csv_columns",
        `${path}: data row ${r} has ${row.length} fields, the header has ${names.length}`,
        false,
      );
    }
    const record: { [key: string]: Json } = {};
    for (let c = 0; c < names.length; c++) record[names[c]] = row[c];
    records[r - 1] = record;
  }
  return { records };
};

/**
 * sql.query: runs `sql` with `params` ($1, $2, ...) on the declared connection the node names (or its
 * inline `connectionUrl` where allowed) and emits each row as an object. int8 values are
 * numbers when safe (else decimal strings), timestamps ISO strings, bytea `\x` hex;
 * numeric stays a string (exact).
 */
export const sqlQuery: Executor = async (ctx: NodeContext) => {
  const { sql, params, connection, connectionUrl } = ctx.config as {
    sql: string;
    params?: unknown[];
    connection?: string;
    connectionUrl?: string;
  };
  const client = ctx.services.sql({ connection, connectionUrl });
  let rows: Record<string, unknown>[];
  try {
    rows = await client.query(sql, params ?? []);
  } catch (e) {
    throw sqlError(e, "sql.query");
  }
  enforceCount(rows.length, ctx.limits, ctx.nodeId);
  return { records: rows.map(toJsonSafe) };
};
