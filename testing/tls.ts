/**
 * Throwaway TLS material for tests, made at test time with `@peculiar/x509` over WebCrypto (ECDSA P-256; no
 * `openssl` binary, no network): a certificate authority, server certificates it issues for `localhost` and
 * `127.0.0.1` (or other names), a self-signed certificate, and PEM files of them in a directory. Everything
 * is valid from a minute ago for a day. Imported only by tests and benches.
 *
 * @example
 * ```ts
 * import { TestCa } from "./tls.ts";
 * const ca = await TestCa.create();
 * const { cert, key } = await ca.issue();
 * const options = { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} };
 * const server = Deno.serve(options, () => new Response("ok"));
 * const client = Deno.createHttpClient({ caCerts: [ca.cert] });
 * const res = await fetch(`https://127.0.0.1:${server.addr.port}/`, { client });
 * if ((await res.text()) !== "ok") throw new Error("served over TLS");
 * client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */
// @peculiar/x509 2.x resolves its services with tsyringe, which needs the Reflect metadata polyfill first.
import "npm:reflect-metadata@0.2.2";
import * as x509 from "npm:@peculiar/x509@2.2.0";
import { join } from "node:path";

x509.cryptoProvider.set(crypto);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 3_600_000;

/** The hosts a test certificate is for by default: the loopback name and address tests use. */
export const TEST_HOSTS: readonly string[] = ["localhost", "127.0.0.1"];

/** A certificate (PEM; with its issuer's certificate after it in `chain`) and its private key (PKCS#8 PEM). */
export interface TestCertificate {
  /** The certificate alone. */
  cert: string;
  /** The certificate followed by its issuer's (a full chain); the certificate alone when self-signed. */
  chain: string;
  /** Its private key, PKCS#8 PEM. */
  key: string;
}

/** The paths of PEM files written by {@link writeTlsFiles}. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** The CA certificate, when one was given. */
  ca?: string;
}

function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]) as Promise<CryptoKeyPair>;
}

function serial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  bytes[0] &= 0x7f; // a positive serial number
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 60_000), notAfter: new Date(now + DAY_MS) };
}

async function keyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** The subject alternative names of `hosts`: an IP address as such, anything else as a DNS name. */
function altNames(hosts: readonly string[]): x509.SubjectAlternativeNameExtension {
  const ip = (h: string) => /^[\d.]+$/.test(h) || h.includes(":");
  return new x509.SubjectAlternativeNameExtension(
    hosts.map((h) => ({ type: ip(h) ? "ip" as const : "dns" as const, value: h })),
  );
}

/** The extensions of a server (and client) certificate for `hosts`. */
function leafExtensions(hosts: readonly string[]): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    altNames(hosts),
  ];
}

/** A throwaway certificate authority that issues server certificates. */
export class TestCa {
  private constructor(
    /** The CA's certificate (PEM): what a client that trusts this CA is given. */
    readonly cert: string,
    private readonly certificate: x509.X509Certificate,
    private readonly keys: CryptoKeyPair,
  ) {}

  /** A new CA named `name`. */
  static async create(name = "flowmesh test CA"): Promise<TestCa> {
    const keys = await newKeys();
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${name}`,
      ...validity(),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new TestCa(certificate.toString("pem"), certificate, keys);
  }

  /** A server certificate for `hosts` (default `localhost` and `127.0.0.1`) signed by this CA. */
  async issue(hosts: readonly string[] = TEST_HOSTS): Promise<TestCertificate> {
    const keys = await newKeys();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${hosts[0] ?? "flowmesh"}`,
      issuer: this.certificate.subject,
      ...validity(),
      signingKey: this.keys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        ...leafExtensions(hosts),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate, false),
      ],
    });
    const cert = certificate.toString("pem");
    return { cert, chain: `${cert}\n${this.cert}\n`, key: await keyPem(keys.privateKey) };
  }
}

/** A self-signed server certificate for `hosts` (default `localhost`, `127.0.0.1`): its own trust anchor. */
export async function selfSignedCertificate(hosts: readonly string[] = TEST_HOSTS): Promise<TestCertificate> {
  const keys = await newKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${hosts[0] ?? "flowmesh"}`,
    ...validity(),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: leafExtensions(hosts),
  });
  const cert = certificate.toString("pem");
  return { cert, chain: cert, key: await keyPem(keys.privateKey) };
}

/**
 * Writes `certificate` (its full chain) and key, and `ca` when given, as PEM files `name.crt`, `name.key` and
 * `name-ca.crt` in `dir`; returns their paths.
 */
export async function writeTlsFiles(
  dir: string,
  certificate: TestCertificate,
  ca?: string,
  name = "node",
): Promise<TlsFiles> {
  const files: TlsFiles = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await Deno.writeTextFile(files.cert, certificate.chain);
  await Deno.writeTextFile(files.key, certificate.key, { mode: 0o600 });
  if (ca !== undefined) {
    files.ca = join(dir, `${name}-ca.crt`);
    await Deno.writeTextFile(files.ca, ca);
  }
  return files;
}
