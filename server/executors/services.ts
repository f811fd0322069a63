/**
 * The real effects behind `NodeServices`: fetch under the egress rules, bounded file reads,
 * atomic file writes (temp file, fsync, rename, fsync of the directory), and
 * PostgreSQL through postgres.js with one small pool per connection URL, MySQL (`mysql_support.ts`) and
 * brokers (`brokers/services.ts`).
 *
 * @module
 */
import { grantedPath } from "./file_grants.ts";
import { egressFetch, type EgressFetchOptions } from "./egress_fetch.ts";
import { parseEgressRules } from "./egress_rules.ts";
import postgres from "npm:postgres@3.4.9";
import { NodeError, type NodeServices, type SqlClient, type SqlTarget } from "./executor.ts";
import { isMysqlUrl, mysqlServices } from "./mysql_support.ts";
import type { BrokerKind } from "./broker.ts";
import { brokerServices } from "./brokers/services.ts";
import type { BrokerFactory } from "./brokers/pool.ts";

/** The largest file `readTextFile` reads: 64 MiB. */
export const MAX_READ_BYTES = 64 * 1024 * 1024;

/** How many connection URLs keep a pool at once; the least recently used one is closed. */
export const MAX_POOLS = 16;

/** Options of {@link realServices}. */
export interface RealServicesOptions {
  /**
   * The connections sql.* nodes may name (`--sql-connection NAME=URL`); a node naming none uses `default`.
   * The engine's own database is one only when declared here.
   */
  sqlConnections?: Readonly<Record<string, string>>;
  /** Whether a node's inline `connectionUrl` is accepted (`--allow-inline-connections`); refused by default. */
  allowInlineConnections?: boolean;
  /** The broker connections messaging nodes may name (`--broker NAME=URL`). */
  brokers?: Readonly<Record<string, string>>;
  /** Replaces broker adapters (tests). */
  brokerFactories?: Partial<Record<BrokerKind, BrokerFactory>>;
  /** Where node log lines go; defaults to `console.log` of the line. */
  log?: (line: string, fields: Record<string, unknown>) => void;
  /** Connections per pool (default 4). */
  sqlPoolMax?: number;
  /** The directory file sources and sinks may use (`file_grants.ts`); without it no file is granted. */
  filesRoot?: string;
  /**
   * The non-public hosts, host:ports, IPs and CIDRs the http node may call (`--http-allow`, `egress_rules.ts`);
   * public addresses need none. A bad entry throws.
   */
  httpAllow?: readonly string[];
  /** The egress fetch's resolver and connector, for tests. */
  egress?: EgressFetchOptions;
}

/** `NodeServices` that own resources: `close()` ends every SQL pool. */
export interface RealServices extends NodeServices {
  close(): Promise<void>;
}

function fileError(e: unknown, path: string, doing: string): NodeError {
  if (e instanceof NodeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof Deno.errors.NotFound) {
    return new NodeError("file_not_found", `${doing} ${path}: not found`, false);
  }
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    return new NodeError("file_permission", `${doing} ${path}: permission denied: ${message}`, false);
  }
  if (e instanceof Deno.errors.IsADirectory) {
    return new NodeError("file_is_directory", `${doing} ${path}: is a directory`, false);
  }
  return new NodeError("file_error", `${doing} ${path}: ${message}`, true);
}

/**
 * Reads a UTF-8 text file of at most `maxBytes` (invalid bytes become U+FFFD).
 *
 * @throws {NodeError} `file_too_large` (not retryable) past the bound; `file_not_found`,
 * `file_permission`, `file_is_directory` (not retryable) or `file_error` (retryable).
 */
export async function readTextFileBounded(path: string, maxBytes = MAX_READ_BYTES): Promise<string> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (info.isDirectory) throw new NodeError("file_is_directory", `reading ${path}: is a directory`, false);
    if (info.size > maxBytes) {
      throw new NodeError(
        "file_too_large",
        `reading ${path}: ${info.size} bytes, the limit is ${maxBytes}`,
        false,
      );
    }
    // The file may grow after the stat: read at most maxBytes + 1.
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const buf = new Uint8Array(Math.min(Math.max(info.size - total, 0) + 65536, maxBytes + 1 - total));
      const n = await file.read(buf);
      if (n === null) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > maxBytes) {
        throw new NodeError("file_too_large", `reading ${path}: more than ${maxBytes} bytes`, false);
      }
    }
    const bytes = chunks.length === 1 ? chunks[0] : new Uint8Array(total);
    if (chunks.length !== 1) {
      let at = 0;
      for (const c of chunks) {
        bytes.set(c, at);
        at += c.length;
      }
    }
    return new TextDecoder().decode(bytes);
  } catch (e) {
    throw fileError(e, path, "reading");
  } finally {
    file?.close();
  }
}

function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), Deno.build.os === "windows" ? path.lastIndexOf("\\") : -1);
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function randomSuffix(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes `text` to `path` atomically: a temp file `${path}.tmp-<random>` in the
 * same directory, written and fsynced, renamed over `path`, then the directory
 * fsynced (best effort). On failure the temp file is removed.
 *
 * @throws {NodeError} as {@link readTextFileBounded} does, with `writing`.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${randomSuffix()}`;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.syncData();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      file?.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw fileError(e, path, "writing");
  }
  try {
    const dir = await Deno.open(dirOf(path), { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  } catch { /* best effort: not every platform can fsync a directory */ }
}

type Pool = ReturnType<typeof postgres>;

/**
 * A `SqlClient` over a postgres.js pool. Rows of int8 columns come back as BigInt
 * (with the pool's types from {@link realServices}). A parameterless text of several
 * statements runs as one simple query and answers the last statement's rows.
 */
export function sqlClientOf(pool: Pool): SqlClient {
  const run = async (tx: Pool | postgres.TransactionSql, sql: string, params: unknown[]) => {
    const result: unknown[] = await tx.unsafe(sql, params as postgres.ParameterOrJSON<never>[], {
      prepare: false,
    });
    // Several statements (simple protocol, no parameters) give one row list each: keep the last.
    const rows = result.length > 0 && Array.isArray(result[0])
      ? result[result.length - 1] as unknown[]
      : result;
    return Array.from(rows) as Record<string, unknown>[];
  };
  return {
    query: (sql, params) => run(pool, sql, params),
    transaction: async <T>(fn: (tx: Pick<SqlClient, "query">) => Promise<T>): Promise<T> =>
      await pool.begin((tx) => fn({ query: (sql, params) => run(tx, sql, params) })) as T,
  };
}

/** The URL of the connection a sql.* node names, if granted; else `connection_not_granted` (not retryable). */
function grantedConnection(opts: RealServicesOptions, target: SqlTarget): string {
  const { connection, connectionUrl } = target;
  if (connectionUrl !== undefined && connection === undefined) {
    if (opts.allowInlineConnections === true) return connectionUrl;
    throw new NodeError(
      "connection_not_granted",
      "an inline connectionUrl is refused on this node; name a declared connection (--sql-connection NAME=URL)",
      false,
    );
  }
  const name = connection ?? "default";
  const url = opts.sqlConnections !== undefined && Object.hasOwn(opts.sqlConnections, name)
    ? opts.sqlConnections[name]
    : undefined;
  if (url === undefined) {
    throw new NodeError(
      "connection_not_granted",
      `no SQL connection ${JSON.stringify(name)} is declared on this node (--sql-connection NAME=URL)`,
      false,
    );
  }
  return url;
}

/**
 * The real services. `sql(target)` gives a client for the declared connection a node names (or its inline URL
 * where allowed); pools are cached per URL (at most {@link MAX_POOLS}). Files only inside `filesRoot`; http calls
 * only to public addresses and what `httpAllow` grants.
 *
 * @throws {TypeError} for a bad `httpAllow` entry.
 */
export function realServices(opts: RealServicesOptions = {}): RealServices {
  const pools = new Map<string, { pool: Pool; client: SqlClient }>();
  const closing: Promise<void>[] = [];
  const log = opts.log ?? ((line: string) => console.log(line));
  const poolMax = opts.sqlPoolMax ?? 4;
  const egress = parseEgressRules(opts.httpAllow ?? []);
  if (!egress.ok) throw new TypeError(`httpAllow: ${egress.error}`);
  const my = mysqlServices(opts, poolMax);
  const brokers = brokerServices(opts, opts.brokerFactories);

  return {
    fetch: egressFetch(egress.rules, opts.egress),
    timeout: (ms) => AbortSignal.timeout(ms),
    readTextFile: async (path) => readTextFileBounded(await grantedPath(opts.filesRoot, path)),
    writeFileAtomic: async (path, text) => writeFileAtomic(await grantedPath(opts.filesRoot, path), text),
    log,
    mysql: my.mysql,
    broker: brokers.broker,
    sql(named) {
      const target = grantedConnection(opts, named);
      if (isMysqlUrl(target)) {
        throw new NodeError("connection_scheme", "a mysql:// connection is for the mysql.* nodes", false);
      }
      const hit = pools.get(target);
      if (hit) {
        pools.delete(target);
        pools.set(target, hit);
        return hit.client;
      }
      let pool: Pool;
      try {
        pool = postgres(target, {
          max: poolMax,
          connect_timeout: 10,
          idle_timeout: 60,
          onnotice: () => {},
          types: { bigint: postgres.BigInt },
        });
      } catch (e) {
        throw new NodeError(
          "sql_url_invalid",
          `invalid connection URL: ${e instanceof Error ? e.message : String(e)}`,
          false,
        );
      }
      const entry = { pool, client: sqlClientOf(pool) };
      pools.set(target, entry);
      if (pools.size > MAX_POOLS) {
        const [oldest, old] = pools.entries().next().value!;
        pools.delete(oldest);
        closing.push(old.pool.end({ timeout: 5 }).catch(() => {}));
      }
      return entry.client;
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all([
        ...closing,
        ...all.map((p) => p.pool.end({ timeout: 5 }).catch(() => {})),
        my.close(),
        brokers.close(),
      ]);
    },
  };
}
