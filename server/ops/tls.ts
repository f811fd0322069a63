/**
 * The node's TLS material: `--tls-cert` and `--tls-key` (served on the HTTP and cluster ports) and `--tls-ca`
 * (what a member trusts when it dials another), read from their PEM files and checked at start, so that a
 * missing file, a file that is not PEM, or a key that is not the certificate's stops the node with one line
 * naming the setting (a `ConfigError`), never a stack trace. And the warning a node logs when API tokens
 * would travel in clear.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { ConfigError } from "./config_values.ts";
import type { EngineConfig } from "./config_settings.ts";

/** PEM text of the node's certificate and key, and of the certificates it trusts when dialing members. */
export interface TlsMaterial {
  /** The certificate (chain), PEM, as read from `--tls-cert`. */
  cert: string;
  /** Its private key, PEM. */
  key: string;
  /** Certificates trusted (besides the default roots) when dialing a member: `--tls-ca`, else `cert`. */
  ca: string[];
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

function readPem(setting: string, path: string, readFile: (path: string) => string): string {
  try {
    return readFile(path);
  } catch (err) {
    const why = err instanceof Error ? err.name === "Error" ? err.message : err.name : String(err);
    throw new ConfigError(`${setting}: cannot read ${JSON.stringify(path)}: ${why.split("\n")[0]}`);
  }
}

/** The certificates of a PEM file, parsed; a `ConfigError` naming `setting` if there are none or one is bad. */
function certificates(setting: string, path: string, pem: string): X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new ConfigError(`${setting}: ${JSON.stringify(path)} holds no PEM certificate (BEGIN CERTIFICATE)`);
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new ConfigError(
        `${setting}: certificate ${i + 1} of ${JSON.stringify(path)} is not a valid X.509 PEM`,
      );
    }
  });
}

/**
 * Reads and checks the TLS files of `config`; undefined when TLS is off (no `tlsCert`). Throws a one-line
 * `ConfigError` when a file cannot be read, holds no valid PEM certificate or private key, or the key is not
 * the certificate's. The key's text never appears in an error.
 *
 * @example
 * ```ts
 * import { readTls } from "./tls.ts";
 * import { ConfigError } from "./config_values.ts";
 * if (readTls({ tlsCert: undefined, tlsKey: undefined, tlsCa: undefined }) !== undefined) throw new Error();
 * try {
 *   readTls({ tlsCert: "node.crt", tlsKey: "node.key", tlsCa: undefined }, () => "not pem");
 *   throw new Error("accepted");
 * } catch (err) {
 *   if (!(err instanceof ConfigError) || !err.message.startsWith("tls-cert: ")) throw err;
 * }
 * ```
 */
export function readTls(
  config: Pick<EngineConfig, "tlsCert" | "tlsKey" | "tlsCa">,
  readFile: (path: string) => string = Deno.readTextFileSync,
): TlsMaterial | undefined {
  if (config.tlsCert === undefined && config.tlsKey === undefined) return undefined;
  if (config.tlsCert === undefined || config.tlsKey === undefined) throw new ConfigError(pairMessage(config));
  const cert = readPem("tls-cert", config.tlsCert, readFile);
  const [leaf] = certificates("tls-cert", config.tlsCert, cert);
  const key = readPem("tls-key", config.tlsKey, readFile);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError(`tls-key: ${JSON.stringify(config.tlsKey)} holds no valid PEM private key`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      `tls-key: ${JSON.stringify(config.tlsKey)} is not the private key of the certificate in --tls-cert`,
    );
  }
  let ca = [cert];
  if (config.tlsCa !== undefined) {
    const text = readPem("tls-ca", config.tlsCa, readFile);
    certificates("tls-ca", config.tlsCa, text);
    ca = [text];
  }
  return { cert, key, ca };
}

/** The one-line complaint about a certificate without its key, or a key without its certificate. */
function pairMessage(config: Pick<EngineConfig, "tlsCert" | "tlsKey">): string {
  return config.tlsCert === undefined
    ? "tls-cert: --tls-key needs --tls-cert (ENGINE_TLS_CERT), the certificate of the key"
    : "tls-key: --tls-cert needs --tls-key (ENGINE_TLS_KEY), the certificate's private key";
}

/**
 * Checks that the TLS settings come together: a certificate with its key, and `tlsCa` only with them.
 * Throws a one-line `ConfigError` otherwise (`validateConfig` runs it).
 *
 * @example
 * ```ts
 * import { checkTlsSettings } from "./tls.ts";
 * checkTlsSettings({ tlsCert: "node.crt", tlsKey: "node.key", tlsCa: undefined });
 * let refused = false;
 * try {
 *   checkTlsSettings({ tlsCert: "node.crt", tlsKey: undefined, tlsCa: undefined });
 * } catch {
 *   refused = true;
 * }
 * if (!refused) throw new Error("a certificate without its key is refused");
 * ```
 */
export function checkTlsSettings(config: Pick<EngineConfig, "tlsCert" | "tlsKey" | "tlsCa">): void {
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError(pairMessage(config));
  }
  if (config.tlsCa !== undefined && config.tlsCert === undefined) {
    throw new ConfigError(
      "tls-ca: --tls-ca is for members dialing each other over TLS; give --tls-cert and --tls-key too",
    );
  }
}

/**
 * The warning a node logs when it serves API tokens in clear on a non-loopback host (tokens, no TLS);
 * undefined otherwise (TLS, no tokens, or `loopback`: the host is a loopback address).
 *
 * @example
 * ```ts
 * import { clearTokensWarning } from "./tls.ts";
 * const apiTokens = [{ role: "admin" as const, token: "t".repeat(16) }];
 * const config = { host: "0.0.0.0", apiTokens, tlsCert: undefined };
 * if (clearTokensWarning(config, false) === undefined) throw new Error("tokens in clear on a network");
 * if (clearTokensWarning({ ...config, tlsCert: "node.crt" }, false) !== undefined) throw new Error("TLS");
 * ```
 */
export function clearTokensWarning(
  config: Pick<EngineConfig, "host" | "apiTokens" | "tlsCert">,
  loopback: boolean,
): string | undefined {
  if (config.apiTokens.length === 0 || config.tlsCert !== undefined || loopback) return undefined;
  return `API tokens travel in clear: ${config.host} is not a loopback address and TLS is off; ` +
    "give --tls-cert and --tls-key, or terminate TLS in front of the node";
}
