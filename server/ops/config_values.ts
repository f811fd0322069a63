/**
 * The configuration's error and the parsers of its list settings (API tokens, SQL connections, CORS origins):
 * each error is one line naming the setting and the entry, never a token or a connection URL.
 *
 * @module
 */
import { BROKER_SCHEMES, kafkaBrokerList } from "../../core/catalog_messaging.ts";
import { API_ROLES, type ApiRole, type ApiToken } from "../http/auth.ts";

/** A configuration error: one line per problem, each naming its setting (`problems`; the message joins them). */
export class ConfigError extends Error {
  /** Every problem found, one line each. */
  readonly problems: readonly string[];

  /** One problem (`message`), or several (`problems`, then the message is their lines). */
  constructor(message: string, problems?: readonly string[]) {
    super(message);
    this.name = "ConfigError";
    this.problems = problems ?? [message];
  }
}

/**
 * `ROLE:TOKEN` entries, comma-separated. A token is 16 to 512 of `A-Z a-z 0-9 . _ ~ + / = -`; errors never
 * show one.
 */
export function parseTokens(text: string, where: string): ApiToken[] {
  const entries = text.split(",").map((x) => x.trim()).filter((x) => x !== "");
  return entries.map((entry, i) => {
    const colon = entry.indexOf(":");
    const role = entry.slice(0, colon);
    const token = entry.slice(colon + 1);
    if (colon < 0 || !API_ROLES.includes(role as ApiRole)) {
      throw new ConfigError(
        `${where}: entry ${i + 1} must be ROLE:TOKEN with a role of ${API_ROLES.join(", ")}`,
      );
    }
    if (!/^[A-Za-z0-9._~+/=-]{16,512}$/.test(token)) {
      throw new ConfigError(
        `${where}: the ${role} token of entry ${i + 1} must be 16 to 512 of A-Z a-z 0-9 . _ ~ + / = -`,
      );
    }
    return { role: role as ApiRole, token };
  });
}

/** Why an entry after the first may be no entry at all. */
const SPLIT_HINT = " (a comma inside a URL starts a new entry: write it as %2C)";

/**
 * `NAME=URL` connections, comma-separated (a comma inside a URL is written `%2C`), or one entry when `whole`
 * (an item of a list); errors name the entry by its place, never its URL nor its name (a comma inside a
 * password would make a piece of it a name).
 *
 * @example
 * ```ts
 * import { parseConnections } from "./config_values.ts";
 * const c = parseConnections("main=postgres://u:pw@127.0.0.1:5432/app, shop=mysql://127.0.0.1/shop", "--sql-connection");
 * if (Object.keys(c).join() !== "main,shop") throw new Error(JSON.stringify(c));
 * ```
 */
export function parseConnections(text: string, where: string, whole = false): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = (whole ? [text] : text.split(",")).map((x) => x.trim()).filter((x) => x !== "");
  entries.forEach((entry, i) => {
    const eq = entry.indexOf("=");
    const name = entry.slice(0, eq);
    const url = entry.slice(eq + 1);
    if (eq < 0 || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new ConfigError(
        `${where}: entry ${i + 1} must be NAME=URL with a name of A-Z a-z 0-9 _ . -${
          i > 0 ? SPLIT_HINT : ""
        }`,
      );
    }
    let protocol = "";
    try {
      protocol = new URL(url).protocol;
    } catch {
      protocol = "";
    }
    if (!["postgres:", "postgresql:", "mysql:", "mariadb:"].includes(protocol)) {
      throw new ConfigError(
        `${where}: entry ${i + 1} must be a postgres:// or mysql:// URL${i > 0 ? SPLIT_HINT : ""}`,
      );
    }
    out[name] = url;
  });
  return out;
}

/**
 * Broker connections, `NAME=URL` entries separated by commas (a Kafka URL's own commas, as in
 * `kafka://a:9092,b:9092`, stay in its entry; a comma followed by `NAME=` inside a URL starts a new one:
 * write it `%2C`), or one entry when `whole` (an item of a list): each URL of a scheme a messaging node
 * speaks. Errors name the entry by its place, never its URL nor its name (either may be a piece of a
 * password).
 *
 * @example
 * ```ts
 * import { parseBrokerConnections } from "./config_values.ts";
 * const c = parseBrokerConnections("k=kafka://a:9092,b:9092, q=amqp://guest:guest@127.0.0.1:5672", "--broker");
 * if (c.k !== "kafka://a:9092,b:9092" || !c.q.startsWith("amqp://")) throw new Error(JSON.stringify(c));
 * ```
 */
export function parseBrokerConnections(text: string, where: string, whole = false): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = (whole ? [text] : text.split(/,(?=\s*[A-Za-z0-9_.-]{1,64}=)/)).map((x) => x.trim())
    .filter((x) => x !== "");
  entries.forEach((entry, i) => {
    const eq = entry.indexOf("=");
    const name = entry.slice(0, eq);
    const url = entry.slice(eq + 1).trim();
    if (eq < 0 || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new ConfigError(
        `${where}: entry ${i + 1} must be NAME=URL with a name of A-Z a-z 0-9 _ . -${
          i > 0 ? SPLIT_HINT : ""
        }`,
      );
    }
    const why = brokerUrlProblem(url);
    if (why !== undefined) {
      throw new ConfigError(`${where}: entry ${i + 1}: ${why}${i > 0 ? SPLIT_HINT : ""}`);
    }
    out[name] = url;
  });
  return out;
}

/** Why a broker URL cannot be used, or undefined when it can (its password is never shown). */
function brokerUrlProblem(url: string): string | undefined {
  const scheme = /^([a-z]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === "kafka") {
    return kafkaBrokerList(url.slice("kafka://".length)) === undefined
      ? "a kafka:// URL lists host:port addresses, comma-separated"
      : undefined;
  }
  const known = Object.values(BROKER_SCHEMES).flat();
  let protocol = "";
  try {
    protocol = new URL(url).protocol;
  } catch {
    return "not a URL";
  }
  return known.includes(protocol) ? undefined : "must be a kafka://, nats://, amqp(s):// or redis(s):// URL";
}

/** Browser origins, comma-separated: each exactly `http(s)://host[:port]`, no path. */
export function parseOrigins(text: string, where: string): string[] {
  const origins = text.split(",").map((x) => x.trim()).filter((x) => x !== "");
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(`${where}: not an origin (scheme://host[:port]): ${JSON.stringify(origin)}`);
    }
  }
  return [...new Set(origins)];
}
