/**
 * The TLS settings: `--tls-cert`/`--tls-key`/`--tls-ca` and their variables, the one-line errors of a
 * certificate without its key (and the like), of files that cannot be read or are not PEM, of a key that is
 * not the certificate's, and the warning about API tokens in clear. The files are made by the test.
 */
import { assert, assertEquals, assertMatch, assertStrictEquals } from "../../testing/assert.ts";
import { TestCa, writeTlsFiles } from "../../testing/tls.ts";
import { ConfigError, isLoopback, loadConfig } from "./config.ts";
import { clearTokensWarning, readTls } from "./tls.ts";

const noEnv = () => undefined;
const noFile = (path: string): string => {
  throw new Error(`no file ${path}`);
};

/** The message of the ConfigError `fn` throws (fails when it throws nothing or something else). */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert(!err.message.includes("\n"), `one line: ${err.message}`);
    return err.message;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

const ca = await TestCa.create();
const issued = await ca.issue();
const other = await ca.issue();
const dir = await Deno.makeTempDir({ prefix: "flowmesh-tls-" });
const files = await writeTlsFiles(dir, issued, ca.cert);
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
/** A file for every way of being wrong. */
const bad = {
  missing: `${dir}/missing.pem`,
  text: `${dir}/text.pem`,
  broken: `${dir}/broken.pem`,
  otherKey: `${dir}/other.key`,
};
await Deno.writeTextFile(bad.text, "this is not PEM\n");
await Deno.writeTextFile(
  bad.broken,
  "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
);
await Deno.writeTextFile(bad.otherKey, other.key);

Deno.test("tls config: --tls-cert, --tls-key, --tls-ca and ENGINE_TLS_* are read as paths", () => {
  const flags = loadConfig(
    ["--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", files.ca!],
    noEnv,
    noFile,
  ).config;
  assertEquals([flags.tlsCert, flags.tlsKey, flags.tlsCa], [files.cert, files.key, files.ca]);
  const env: Record<string, string> = { ENGINE_TLS_CERT: "/etc/n.crt", ENGINE_TLS_KEY: "/etc/n.key" };
  const fromEnv = loadConfig([], (n) => env[n], noFile).config;
  assertEquals([fromEnv.tlsCert, fromEnv.tlsKey, fromEnv.tlsCa], ["/etc/n.crt", "/etc/n.key", undefined]);
});

Deno.test("tls config: a certificate without its key, a key without its certificate, a CA alone: one line each", () => {
  assertMatch(
    configError(() => loadConfig(["--tls-cert", "n.crt"], noEnv, noFile)),
    /^tls-key: --tls-cert needs --tls-key \(ENGINE_TLS_KEY\)/,
  );
  assertMatch(
    configError(() => loadConfig([], (n) => n === "ENGINE_TLS_KEY" ? "n.key" : undefined, noFile)),
    /^tls-cert: --tls-key needs --tls-cert \(ENGINE_TLS_CERT\)/,
  );
  assertMatch(configError(() => loadConfig(["--tls-ca", "ca.crt"], noEnv, noFile)), /^tls-ca: .*--tls-cert/);
  assertMatch(
    configError(() => readTls({ tlsCert: "n.crt", tlsKey: undefined, tlsCa: undefined })),
    /^tls-key:/,
  );
});

Deno.test("tls files: read and checked; the CA defaults to the certificate itself", () => {
  const own = readTls({ tlsCert: files.cert, tlsKey: files.key, tlsCa: undefined });
  assert(own);
  assertStrictEquals(own.cert, issued.chain);
  assertStrictEquals(own.key, issued.key);
  assertEquals(own.ca, [issued.chain]);
  const given = readTls({ tlsCert: files.cert, tlsKey: files.key, tlsCa: files.ca });
  assertEquals(given?.ca, [ca.cert]);
  assertStrictEquals(readTls({ tlsCert: undefined, tlsKey: undefined, tlsCa: undefined }), undefined);
});

Deno.test("tls files: unreadable, not PEM, broken PEM, or a key of another certificate: one line naming the setting", () => {
  const read = (tlsCert: string, tlsKey: string, tlsCa?: string) =>
    configError(() => readTls({ tlsCert, tlsKey, tlsCa }));
  assertEquals(read(bad.missing, files.key), `tls-cert: cannot read "${bad.missing}": NotFound`);
  assertEquals(read(files.cert, bad.missing), `tls-key: cannot read "${bad.missing}": NotFound`);
  assertMatch(read(bad.text, files.key), /^tls-cert: ".*text\.pem" holds no PEM certificate/);
  assertMatch(
    read(bad.broken, files.key),
    /^tls-cert: certificate 1 of ".*broken\.pem" is not a valid X\.509 PEM$/,
  );
  assertMatch(read(files.cert, bad.text), /^tls-key: ".*text\.pem" holds no valid PEM private key$/);
  assertMatch(read(files.cert, bad.broken), /^tls-key: ".*broken\.pem" holds no valid PEM private key$/);
  assertMatch(read(files.cert, files.cert), /^tls-key: .* holds no valid PEM private key$/);
  const mismatch = read(files.cert, bad.otherKey);
  assertMatch(mismatch, /^tls-key: ".*other\.key" is not the private key of the certificate in --tls-cert$/);
  assertMatch(read(files.cert, files.key, bad.text), /^tls-ca: ".*text\.pem" holds no PEM certificate/);
  assertMatch(read(files.cert, files.key, bad.missing), /^tls-ca: cannot read/);
  // The key's text is never part of an error.
  const keyBody = other.key.split("\n")[1];
  assert(!mismatch.includes(keyBody));
});

Deno.test("tls: API tokens on a non-loopback host without TLS are warned about; with TLS or on loopback not", () => {
  const apiTokens = [{ role: "admin" as const, token: "admin-token-0123456789" }];
  const warn = (host: string, tlsCert?: string, tokens = apiTokens) =>
    clearTokensWarning({ host, apiTokens: tokens, tlsCert }, isLoopback(host));
  assertEquals(
    warn("0.0.0.0"),
    "API tokens travel in clear: 0.0.0.0 is not a loopback address and TLS is off; " +
      "give --tls-cert and --tls-key, or terminate TLS in front of the node",
  );
  assert(warn("10.1.2.3") !== undefined);
  assert(!warn("0.0.0.0")!.includes(apiTokens[0].token), "never the token");
  for (const host of ["127.0.0.1", "localhost", "::1"]) assertStrictEquals(warn(host), undefined, host);
  assertStrictEquals(warn("0.0.0.0", files.cert), undefined, "TLS on");
  assertStrictEquals(warn("0.0.0.0", undefined, []), undefined, "no tokens (refused or --insecure-no-auth)");
});
