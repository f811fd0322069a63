/**
 * The grants checked when a workflow is created or updated, where a node's config is static: a file path
 * outside the files root, a SQL connection the node does not declare (or an inline URL it does not accept),
 * an `http` URL at an address egress refuses (unless a placeholder may decide its host). Each refusal is a
 * problem with the path of the fault, so the API answers 400 before anything runs; the same grants are
 * checked again when the node runs (symlinks, DNS answers and templated hosts can only be judged then).
 *
 * @example
 * ```ts
 * import { grantProblems } from "./grant_checks.ts";
 *
 * const problems = grantProblems(
 *   { nodes: [{ type: "source", nodeType: "file.text", config: { path: "../../etc/passwd" } }] },
 *   { filesRoot: "/srv/flowmesh/files", sqlConnections: [], allowInlineConnections: false },
 * );
 * if (problems[0]?.code !== "path_not_granted" || problems[0].path !== "$.nodes[0].config.path") {
 *   throw new Error("an escape from the files root is refused at create");
 * }
 * ```
 *
 * @module
 */
import { isAbsolute, resolve, sep } from "node:path";
import type { Problem } from "../../core/schema.ts";
import { dummyUrl, placeholders, urlHostTemplated } from "../../core/http_placeholders.ts";
import { parseEgressRules, staticEgressRefusal } from "./egress_rules.ts";
import { type BrokerKind, brokerOf } from "../../core/catalog_messaging.ts";
import { grantedBrokerUrl } from "./brokers/services.ts";

/** What a node grants, as far as a static config can be judged against it. */
export interface StaticGrants {
  /** The files root (absolute or relative to the working directory); undefined: no file is granted. */
  filesRoot: string | undefined;
  /** The names of the declared SQL connections. */
  sqlConnections: readonly string[];
  /** Whether an inline `connectionUrl` is accepted. */
  allowInlineConnections: boolean;
  /**
   * Of `sqlConnections`, those that are MySQL / MariaDB (`mysql://`): only mysql.* nodes may name them, and
   * sql.* nodes only the others. Undefined: the kind of a connection is not judged here (only when it runs).
   */
  mysqlConnections?: readonly string[];
  /**
   * The declared broker connections by name (`--broker NAME=URL`). Undefined: messaging nodes' connections
   * are not judged here (only when they run).
   */
  brokers?: Readonly<Record<string, string>>;
  /** Why egress refuses a URL judged without DNS (an IP literal, `localhost`), or undefined when it may go. */
  egressRefusal?: (url: string) => string | undefined;
}

/** The nodes of a definition, as far as this check needs them. */
interface NodeLike {
  type?: unknown;
  nodeType?: unknown;
  config?: unknown;
}

const FILE_KINDS = new Set(["file.text", "file.csv", "file.jsonl"]);

/** Why a static file path is refused, or undefined when it resolves inside the root (lexically). */
function pathRefusal(root: string | undefined, path: string): string | undefined {
  if (root === undefined) return "this node grants no files root";
  const base = resolve(root);
  const target = isAbsolute(path) ? resolve(path) : resolve(base, path);
  const inside = target === base || target.startsWith(base.endsWith(sep) ? base : base + sep);
  return inside ? undefined : "it lies outside the files root";
}

/** The problems of one sql.* node's connection. */
function connectionProblems(
  config: Record<string, unknown>,
  at: string,
  grants: StaticGrants,
  mysqlNode = false,
): Problem[] {
  const { connection } = config;
  // The mysql.* nodes' inline host/username/password (the old engine's) are an inline connection too.
  const inlineKey = mysqlNode && config.connectionUrl === undefined ? "host" : "connectionUrl";
  if (config[inlineKey] !== undefined && connection === undefined) {
    return grants.allowInlineConnections ? [] : [{
      path: `${at}.${inlineKey}`,
      code: "connection_not_granted",
      message:
        `an inline ${inlineKey} is refused on this node; name a declared connection (--sql-connection NAME=URL)`,
    }];
  }
  const name = typeof connection === "string" ? connection : "default";
  if (grants.sqlConnections.includes(name)) {
    if (grants.mysqlConnections === undefined) return [];
    const mysql = grants.mysqlConnections.includes(name);
    if (mysql === mysqlNode) return [];
    return [{
      path: connection === undefined ? at : `${at}.connection`,
      code: "connection_scheme",
      message: mysql
        ? `SQL connection ${JSON.stringify(name)} is MySQL: use the mysql.query / mysql.write nodes`
        : `SQL connection ${JSON.stringify(name)} is not MySQL (mysql://): the mysql.* nodes cannot use it`,
    }];
  }
  return [{
    path: connection === undefined ? at : `${at}.connection`,
    code: "connection_not_granted",
    message: `no SQL connection ${JSON.stringify(name)} is declared on this node (--sql-connection NAME=URL)`,
  }];
}

/** The problems of one messaging node's broker connection. */
function brokerProblems(
  kind: BrokerKind,
  config: Record<string, unknown>,
  at: string,
  grants: StaticGrants & { brokers: Readonly<Record<string, string>> },
): Problem[] {
  const { connection } = config;
  const inlineKey = config.url !== undefined
    ? "url"
    : kind === "kafka" && config.brokers !== undefined
    ? "brokers"
    : undefined;
  if (inlineKey !== undefined && connection === undefined) {
    return grants.allowInlineConnections ? [] : [{
      path: `${at}.${inlineKey}`,
      code: "connection_not_granted",
      message:
        `an inline ${inlineKey} is refused on this node; name a declared connection (--broker NAME=URL)`,
    }];
  }
  const name = typeof connection === "string" ? connection : "default";
  const where = connection === undefined ? at : `${at}.connection`;
  if (!Object.hasOwn(grants.brokers, name)) {
    return [{
      path: where,
      code: "connection_not_granted",
      message: `no broker connection ${JSON.stringify(name)} is declared on this node (--broker NAME=URL)`,
    }];
  }
  try {
    grantedBrokerUrl(grants, { kind, connection: name });
    return [];
  } catch (e) {
    return [{ path: where, code: "connection_scheme", message: (e as Error).message }];
  }
}

/** The problems of one node's config against the grants. */
function nodeProblems(node: NodeLike, at: string, grants: StaticGrants): Problem[] {
  const config = node.config as Record<string, unknown> | undefined;
  if (!config || typeof config !== "object" || typeof node.nodeType !== "string") return [];
  if (FILE_KINDS.has(node.nodeType) && typeof config.path === "string") {
    const why = pathRefusal(grants.filesRoot, config.path);
    return why === undefined ? [] : [{
      path: `${at}.path`,
      code: "path_not_granted",
      message: `path ${JSON.stringify(config.path)} is not granted: ${why}`,
    }];
  }
  // transform/sql.query runs over its input records in process: it names no connection.
  if (node.nodeType.startsWith("sql.") && node.type !== "transform") {
    return connectionProblems(config, at, grants);
  }
  if (node.nodeType.startsWith("mysql.")) return connectionProblems(config, at, grants, true);
  const broker = brokerOf(node.nodeType);
  if (broker !== undefined && grants.brokers !== undefined) {
    return brokerProblems(broker, config, at, { ...grants, brokers: grants.brokers });
  }
  if (node.nodeType === "http" && typeof config.url === "string" && grants.egressRefusal) {
    // A templated host is only known when the node runs (and egress checks every call then); a URL with
    // placeholders elsewhere is judged with them filled by a dummy value.
    if (urlHostTemplated(config.url)) return [];
    const url = placeholders(config.url).length === 0 ? config.url : dummyUrl(config.url);
    const why = url === undefined ? undefined : grants.egressRefusal(url);
    return why === undefined ? [] : [{ path: `${at}.url`, code: "egress_denied", message: why }];
  }
  return [];
}

/** Every grant a definition's static configs break, each with the path of its fault. */
export function grantProblems(definition: { nodes?: unknown }, grants: StaticGrants): Problem[] {
  const nodes = Array.isArray(definition.nodes) ? definition.nodes as NodeLike[] : [];
  return nodes.flatMap((node, i) =>
    node && typeof node === "object" ? nodeProblems(node, `$.nodes[${i}].config`, grants) : []
  );
}

/** A node's grants as configured: the files root, the SQL connections' names, `--http-allow`'s entries. */
export interface GrantSettings {
  filesRoot: string;
  sqlConnections: readonly string[];
  /** Of `sqlConnections`, the `mysql://` ones. */
  mysqlConnections?: readonly string[];
  /** The declared broker connections (`--broker NAME=URL`). */
  brokers?: Readonly<Record<string, string>>;
  allowInlineConnections: boolean;
  httpAllow: readonly string[];
}

/**
 * The check a node runs on every definition it stores: {@link grantProblems} against its settings, egress
 * rules parsed once.
 *
 * @throws {TypeError} on an `httpAllow` entry that does not parse (the configuration checked it before).
 */
export function definitionGrantCheck(
  settings: GrantSettings,
): (definition: { nodes?: unknown }) => Problem[] {
  const parsed = parseEgressRules(settings.httpAllow);
  if (!parsed.ok) throw new TypeError(`httpAllow: ${parsed.error}`);
  const grants: StaticGrants = {
    filesRoot: settings.filesRoot,
    sqlConnections: settings.sqlConnections,
    mysqlConnections: settings.mysqlConnections,
    brokers: settings.brokers ?? {},
    allowInlineConnections: settings.allowInlineConnections,
    egressRefusal: (url) => staticEgressRefusal(url, parsed.rules),
  };
  return (definition) => grantProblems(definition, grants);
}
