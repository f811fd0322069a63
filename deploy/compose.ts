/**
 * Reads a Compose file the way `docker compose` does for what the deployment checks need: YAML with merge
 * keys (`<<: *anchor`), `${VAR}` interpolation of every string value (`$VAR`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, `$$` for a `$`), each
 * service's `environment` as a map (from a map or a `KEY=value` list), its ports (short or long syntax) and
 * durations (`1m30s`). Used by `deploy/deploy_static_test.ts` and `deploy/compose_topology_test.ts`.
 *
 * @module
 */
import { parse } from "npm:yaml@2.9.1";

/** A Compose file that cannot be read: bad YAML, a required variable unset, a malformed value. */
export class ComposeError extends Error {
  override name = "ComposeError";
}

/** One published port: `published` on the host (`hostIp` if given) to `target` in the container. */
export interface PortMapping {
  target: number;
  published: number | undefined;
  hostIp: string | undefined;
}

/** A service, with its environment as a map and everything else as written (interpolated). */
export interface ComposeService {
  name: string;
  environment: Record<string, string>;
  ports: PortMapping[];
  // deno-lint-ignore no-explicit-any
  raw: Record<string, any>;
}

/** A read Compose file. */
export interface ComposeFile {
  services: Record<string, ComposeService>;
  // deno-lint-ignore no-explicit-any
  raw: Record<string, any>;
}

/** Variables for interpolation: a name → its value, `undefined` when unset. */
export type Vars = (name: string) => string | undefined;

/**
 * Interpolates one string as Compose does.
 *
 * @example
 * ```ts
 * import { interpolate } from "./compose.ts";
 * const vars = (n: string) => ({ A: "x", EMPTY: "" } as Record<string, string>)[n];
 * const out = interpolate("$A ${A} ${EMPTY:-d} ${EMPTY-d} ${NONE-d} ${A:+alt} $$A", vars);
 * if (out !== "x x d  d alt $A") throw new Error(out);
 * let failed = "";
 * try { interpolate("${NONE:?set NONE}", vars); } catch (e) { failed = (e as Error).message; }
 * if (!failed.includes("NONE")) throw new Error("a required variable");
 * ```
 */
export function interpolate(text: string, vars: Vars): string {
  const re =
    /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;
  return text.replace(re, (whole, dollar, braced, op, arg, bare) => {
    if (dollar === "$") return "$";
    const name = braced ?? bare;
    if (name === undefined) throw new ComposeError(`bad interpolation ${whole}`);
    const value = vars(name);
    const set = value !== undefined;
    const nonEmpty = set && value !== "";
    const inner = (s: string) => interpolate(s ?? "", vars);
    switch (op) {
      case undefined:
        return value ?? "";
      case ":-":
        return nonEmpty ? value! : inner(arg);
      case "-":
        return set ? value! : inner(arg);
      case ":?":
      case "?":
        if (op === ":?" ? !nonEmpty : !set) {
          throw new ComposeError(`required variable ${name} is missing a value: ${inner(arg)}`);
        }
        return value!;
      case ":+":
        return nonEmpty ? inner(arg) : "";
      case "+":
        return set ? inner(arg) : "";
      default:
        throw new ComposeError(`bad interpolation ${whole}`);
    }
  });
}

/** Interpolates every string in a parsed tree. */
function interpolateTree(value: unknown, vars: Vars): unknown {
  if (typeof value === "string") return interpolate(value, vars);
  if (Array.isArray(value)) return value.map((v) => interpolateTree(v, vars));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateTree(v, vars)]));
  }
  return value;
}

/** A service's `environment` (map or `KEY=value` list) as a map of strings. */
function environmentOf(service: string, env: unknown): Record<string, string> {
  if (env === undefined || env === null) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => {
      const s = String(e);
      const i = s.indexOf("=");
      if (i <= 0) throw new ComposeError(`services.${service}.environment: not KEY=value: ${s}`);
      return [s.slice(0, i), s.slice(i + 1)];
    }));
  }
  if (typeof env === "object") {
    return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? "" : String(v)]));
  }
  throw new ComposeError(`services.${service}.environment: a map or a list`);
}

/**
 * One port entry, short (`"8080"`, `"8081:8080"`, `"127.0.0.1:8081:8080/tcp"`) or long
 * (`{target, published, host_ip}`).
 *
 * @example
 * ```ts
 * import { parsePort } from "./compose.ts";
 * const p = parsePort("127.0.0.1:8081:8080");
 * if (p.hostIp !== "127.0.0.1" || p.published !== 8081 || p.target !== 8080) throw new Error(JSON.stringify(p));
 * ```
 */
export function parsePort(entry: unknown): PortMapping {
  if (entry && typeof entry === "object") {
    const e = entry as Record<string, unknown>;
    return {
      target: Number(e.target),
      published: e.published === undefined ? undefined : Number(e.published),
      hostIp: e.host_ip === undefined ? undefined : String(e.host_ip),
    };
  }
  const text = String(entry).replace(/\/(tcp|udp)$/, "");
  const m = /^(?:(?:(\[[^\]]+\]|[^:]+):)?(\d+):)?(\d+)$/.exec(text);
  if (!m) throw new ComposeError(`port: not [[ip:]published:]target: ${text}`);
  return {
    target: Number(m[3]),
    published: m[2] === undefined ? undefined : Number(m[2]),
    hostIp: m[1],
  };
}

/**
 * A Compose duration (`30s`, `1m30s`, `500ms`, `1h`) in ms.
 *
 * @example
 * ```ts
 * import { durationMs } from "./compose.ts";
 * if (durationMs("1m30s") !== 90_000 || durationMs("500ms") !== 500) throw new Error("durations");
 * ```
 */
export function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  let total = 0;
  let rest = text.trim();
  if (rest === "") throw new ComposeError("empty duration");
  while (rest !== "") {
    const m = /^(\d+(?:\.\d+)?)(ms|us|h|m|s)/.exec(rest);
    if (!m) throw new ComposeError(`not a duration: ${text}`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/**
 * Reads a Compose file's text with the given variables.
 *
 * @example
 * ```ts
 * import { loadCompose } from "./compose.ts";
 * const text = "x-env: &env\n  A: ${A:?set A}\nservices:\n  web:\n    environment:\n      <<: *env\n      B: 2\n";
 * const file = loadCompose(text, (n) => (n === "A" ? "1" : undefined));
 * const env = file.services.web.environment;
 * if (env.A !== "1" || env.B !== "2") throw new Error(JSON.stringify(env));
 * ```
 */
export function loadCompose(text: string, vars: Vars): ComposeFile {
  let doc: unknown;
  try {
    doc = parse(text, { merge: true });
  } catch (err) {
    throw new ComposeError(`not YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new ComposeError("not a mapping");
  // deno-lint-ignore no-explicit-any
  const raw = interpolateTree(doc, vars) as Record<string, any>;
  const services: Record<string, ComposeService> = {};
  for (const [name, s] of Object.entries(raw.services ?? {})) {
    // deno-lint-ignore no-explicit-any
    const service = (s ?? {}) as Record<string, any>;
    services[name] = {
      name,
      environment: environmentOf(name, service.environment),
      ports: (service.ports ?? []).map(parsePort),
      raw: service,
    };
  }
  return { services, raw };
}
