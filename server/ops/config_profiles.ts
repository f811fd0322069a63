/**
 * Configuration profiles (`--profile dev|prod`, `ENGINE_PROFILE`): a JSON file of settings in `config/`
 * read under the config file, the environment and the flags, and, for `prod`, the settings a production node
 * refuses (each one line): memory storage, no API tokens, `--insecure-no-auth`, a cluster member without a
 * strong cluster secret, plain HTTP on a non-loopback host unless `--allow-plain-http` waives it (a proxy in
 * front terminates TLS).
 *
 * @module
 */
import type { EngineConfig } from "./config_settings.ts";

/** The profiles, each a file `config/<name>.json`. */
export const PROFILES = ["dev", "prod"] as const;

/** A profile's name. */
export type Profile = typeof PROFILES[number];

/** The shortest cluster secret a `prod` member accepts. */
export const PROD_MIN_SECRET = 32;

/** Where a profile's settings are: `config/<profile>.json` at the repository root. */
export function profileUrl(profile: Profile): URL {
  return new URL(`../../config/${profile}.json`, import.meta.url);
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost): only this machine can reach it. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * What a `prod` node refuses in a configuration: one line per unsafe setting, naming it and the way out.
 *
 * @example
 * ```ts
 * import { prodProblems } from "./config_profiles.ts";
 * import { DEFAULT_CONFIG } from "./config_settings.ts";
 * const lines = prodProblems({ ...DEFAULT_CONFIG, storage: "memory" });
 * if (!lines.some((l) => l.startsWith("storage:")) || !lines.some((l) => l.startsWith("api-token:"))) {
 *   throw new Error(lines.join("\n"));
 * }
 * ```
 */
export function prodProblems(config: EngineConfig): string[] {
  const problems: string[] = [];
  if (config.storage === "memory") {
    problems.push(
      "storage: prod refuses memory storage (nothing survives a restart); use embedded or postgres",
    );
  }
  if (config.apiTokens.length === 0) {
    problems.push("api-token: prod needs API tokens (--api-token ROLE:TOKEN, ENGINE_API_TOKENS)");
  }
  if (config.insecureNoAuth) {
    problems.push("insecure-no-auth: prod refuses serving without tokens");
  }
  const clustered = config.clusterPort > 0 || config.seeds.length > 0;
  if (clustered && (config.clusterSecret ?? "").length < PROD_MIN_SECRET) {
    problems.push(
      `cluster-secret: a prod cluster member needs a cluster secret of at least ${PROD_MIN_SECRET} characters ` +
        "(--cluster-secret, ENGINE_CLUSTER_SECRET)",
    );
  }
  if (!config.tlsCert && !isLoopback(config.host) && !config.allowPlainHttp) {
    problems.push(
      `tls: prod serves plain HTTP on ${config.host}; give --tls-cert and --tls-key, or --allow-plain-http when ` +
        "a proxy in front terminates TLS",
    );
  }
  return problems;
}
