/**
 * The old Pekko engine's environment variables, read as aliases of ours: `PEKKO_HOSTNAME`, `PEKKO_PORT`,
 * `PEKKO_SEED_NODES`, `PEKKO_ROLES`, `PEKKO_SHARDING_SHARDS` and `PEKKO_LOG_LEVEL`. Our own variable or flag
 * wins when both are set. Each alias that is set gives one warning line naming the old and the new setting
 * (never its value).
 *
 * @module
 */
import type { EngineConfig } from "./config_settings.ts";

/** One old variable and the setting it stands for. */
export interface PekkoAlias {
  /** The old engine's variable. */
  old: string;
  /** Our setting's key. */
  key: keyof EngineConfig;
  /** Our variable and flag, for the warning. */
  env: string;
  flag: string;
  /** The old value in our syntax (the value as given when the syntax is the same). */
  translate: (raw: string) => string;
}

const same = (raw: string) => raw;

/** `pekko://System@host:2551,...` (or a HOCON list of them) as `host:2551,...`; plain `host:port` stays. */
export function pekkoSeeds(raw: string): string {
  return raw.replace(/^\s*\[|\]\s*$/g, "").split(",")
    .map((s) =>
      s.trim().replace(/^"|"$/g, "").replace(/^[a-z][a-z0-9+.-]*:\/\/[^@/]*@/i, "").replace(/\/.*$/, "")
    )
    .filter((s) => s !== "")
    .join(",");
}

/** Pekko's log levels (`DEBUG`, `INFO`, `WARNING`, `ERROR`, `OFF`; any case) as ours; others pass as given. */
export function pekkoLogLevel(raw: string): string {
  const level = raw.trim().toLowerCase();
  if (level === "warning") return "warn";
  if (level === "off") return "error";
  return level;
}

/** Every old variable honoured, in the order their warnings are written. */
export const PEKKO_ALIASES: readonly PekkoAlias[] = [
  { old: "PEKKO_HOSTNAME", key: "host", env: "ENGINE_HTTP_HOST", flag: "--host", translate: same },
  {
    old: "PEKKO_PORT",
    key: "clusterPort",
    env: "ENGINE_CLUSTER_PORT",
    flag: "--cluster-port",
    translate: same,
  },
  { old: "PEKKO_SEED_NODES", key: "seeds", env: "ENGINE_SEEDS", flag: "--seeds", translate: pekkoSeeds },
  {
    old: "PEKKO_ROLES",
    key: "roles",
    env: "ENGINE_ROLES",
    flag: "--roles",
    translate: (raw) => raw.replace(/^\s*\[|\]\s*$/g, "").replace(/"/g, ""),
  },
  { old: "PEKKO_SHARDING_SHARDS", key: "shards", env: "ENGINE_SHARDS", flag: "--shards", translate: same },
  {
    old: "PEKKO_LOG_LEVEL",
    key: "logLevel",
    env: "ENGINE_LOG_LEVEL",
    flag: "--log-level",
    translate: pekkoLogLevel,
  },
];

/** An alias to apply: our setting's key, the value in our syntax, and where it came from (for errors). */
export interface AliasValue {
  key: keyof EngineConfig;
  raw: string;
  where: string;
}

/**
 * The old variables set in `env`: the values to apply (those whose setting has no variable or flag of ours
 * set; `flagged` holds the keys given by flags) and one warning line per variable set.
 *
 * @example
 * ```ts
 * import { resolvePekkoAliases } from "./config_aliases.ts";
 * const env: Record<string, string> = { PEKKO_PORT: "2551", PEKKO_LOG_LEVEL: "INFO", ENGINE_LOG_LEVEL: "debug" };
 * const r = resolvePekkoAliases((n) => env[n], new Set());
 * if (r.values.length !== 1 || r.values[0].key !== "clusterPort") throw new Error();
 * if (r.warnings.length !== 2) throw new Error();
 * ```
 */
export function resolvePekkoAliases(
  env: (name: string) => string | undefined,
  flagged: ReadonlySet<keyof EngineConfig>,
): { values: AliasValue[]; warnings: string[] } {
  const values: AliasValue[] = [];
  const warnings: string[] = [];
  for (const a of PEKKO_ALIASES) {
    const raw = env(a.old);
    if (raw === undefined || raw === "") continue;
    const ours = flagged.has(a.key) ? a.flag : env(a.env) ? a.env : undefined;
    if (ours !== undefined) {
      warnings.push(`${a.old} (old engine) is ignored: ${ours} is set and wins; remove ${a.old}`);
      continue;
    }
    values.push({ key: a.key, raw: a.translate(raw), where: `environment ${a.old} (read as ${a.env})` });
    warnings.push(`${a.old} (old engine) is read as ${a.env} (${a.flag}); set ${a.env} instead`);
  }
  return { values, warnings };
}
