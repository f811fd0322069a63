/**
 * The container's health probe (the Dockerfile's `HEALTHCHECK`, compose.yaml's `healthcheck`): one
 * `GET /health/ready` to the node running in the same container; exit code 0 when it answers 200, 1 otherwise
 * (not ready yet, storage away, no answer within 3 s).
 *
 * It finds the node the way the node finds its own settings, through `loadConfig` with no flags: the
 * `ENGINE_*` variables (and `ENGINE_CONFIG`'s file), so the container's environment is the one source of
 * both. A listen address of `0.0.0.0` (or `::`) is probed on the loopback address; with `ENGINE_TLS_CERT` the
 * probe speaks HTTPS and trusts `ENGINE_TLS_CA` (else the node's own certificate).
 *
 * ```sh
 * deno run --allow-net --allow-env --allow-read deploy/healthcheck.ts   # exit 0: ready
 * ```
 *
 * @module
 */
import { type EngineConfig, loadConfig } from "../server/ops/config.ts";

/** The route probed: the node's readiness (200 once storage answers and its shards are recovered, else 503). */
export const READY_PATH = "/health/ready";

/** How long the probe waits for the answer, in ms. */
export const PROBE_TIMEOUT_MS = 3_000;

/**
 * The URL of a node's readiness route, from its configuration: a wildcard listen address becomes the
 * loopback one, an IPv6 address goes in brackets, TLS makes it `https`.
 *
 * @example
 * ```ts
 * import { probeUrl } from "./healthcheck.ts";
 * const url = probeUrl({ host: "0.0.0.0", port: 8080, tlsCert: undefined });
 * if (url !== "http://127.0.0.1:8080/health/ready") throw new Error(url);
 * const v6 = probeUrl({ host: "fd00::1", port: 8443, tlsCert: "/etc/flowmesh/node.crt" });
 * if (v6 !== "https://[fd00::1]:8443/health/ready") throw new Error(v6);
 * ```
 */
export function probeUrl(config: Pick<EngineConfig, "host" | "port" | "tlsCert">): string {
  let host = config.host.replace(/^\[|\]$/g, "");
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "::") host = "::1";
  if (host.includes(":")) host = `[${host}]`;
  return `${config.tlsCert ? "https" : "http"}://${host}:${config.port}${READY_PATH}`;
}

/** What one probe found. */
export interface ProbeResult {
  ok: boolean;
  /** The one line the probe prints. */
  line: string;
}

/** GETs `url` once, within {@link PROBE_TIMEOUT_MS}; `ok` when the answer is 200. */
export async function probe(url: string, caCerts?: string[]): Promise<ProbeResult> {
  const client = caCerts ? Deno.createHttpClient({ caCerts }) : undefined;
  try {
    const res = await fetch(url, { client, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = (await res.text()).slice(0, 300);
    return { ok: res.status === 200, line: `${url}: ${res.status} ${body}` };
  } catch (err) {
    return { ok: false, line: `${url}: ${(err as Error).name}: ${(err as Error).message.split("\n")[0]}` };
  } finally {
    client?.close();
  }
}

if (import.meta.main) {
  let config: EngineConfig;
  try {
    config = loadConfig([], (name) => Deno.env.get(name), (path) => Deno.readTextFileSync(path)).config;
  } catch (err) {
    console.error(`healthcheck: config error: ${(err as Error).message}`);
    Deno.exit(1);
  }
  const caFile = config.tlsCa ?? config.tlsCert;
  const result = await probe(probeUrl(config), caFile ? [Deno.readTextFileSync(caFile)] : undefined);
  (result.ok ? console.log : console.error)(`healthcheck: ${result.line}`);
  Deno.exit(result.ok ? 0 : 1);
}
