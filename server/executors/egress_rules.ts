/**
 * The addresses the `http` node may call. Public addresses may be called; loopback, private (RFC 1918,
 * carrier-grade NAT, IPv6 unique-local), link-local, multicast, unspecified, broadcast, reserved and cloud
 * metadata addresses are refused, and so are the same inside IPv6 forms that carry an IPv4 address
 * (IPv4-mapped and -compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo) — unless an `--http-allow`
 * rule allows them. A rule is a host name (`api.internal`, matching the URL's host name, whatever it resolves
 * to), a host name and port (`api.internal:8443`), an IP address (`10.1.2.3`, `[fd00::1]`, with a port:
 * `10.1.2.3:8080`, `[fd00::1]:8080`) or a CIDR (`10.0.0.0/8`, `fd00::/8`), matching the resolved address.
 * A cloud metadata address is allowed only by a rule naming exactly it (or its host name), never by a CIDR.
 *
 * IP parsing and ranges are ipaddr.js's (the library express's `proxy-addr` uses).
 *
 * @example
 * ```ts
 * import { egressRefusal, parseEgressRules } from "./egress_rules.ts";
 *
 * const parsed = parseEgressRules(["10.0.0.0/8", "localhost:8080"]);
 * if (!parsed.ok) throw new Error(parsed.error);
 * const to = (host: string, port: number, address: string) => egressRefusal(parsed.rules, { host, port }, address);
 * if (to("example.com", 443, "93.184.215.14") !== undefined) throw new Error("public addresses may be called");
 * if (to("db.internal", 5432, "10.1.2.3") !== undefined) throw new Error("10.0.0.0/8 is granted");
 * if (to("localhost", 8080, "127.0.0.1") !== undefined) throw new Error("localhost:8080 is granted");
 * if (to("localhost", 9090, "127.0.0.1") !== "loopback") throw new Error("not another port");
 * if (to("x.test", 80, "::ffff:192.168.1.1") !== "private") throw new Error("nor a private address in v6 form");
 * ```
 *
 * @module
 */
import ipaddr from "npm:ipaddr.js@2.5.0";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** One `--http-allow` entry: a host name (matching the URL's host), or an address range (the resolved one). */
export type EgressRule =
  | { readonly kind: "host"; readonly host: string; readonly port?: number; readonly text: string }
  | {
    readonly kind: "net";
    readonly net: readonly [Address, number];
    readonly port?: number;
    readonly text: string;
  };

/** Why an address is refused: the phrase after "<address> is". */
export type EgressRefusal =
  | "loopback"
  | "private"
  | "link-local"
  | "multicast"
  | "unspecified"
  | "broadcast"
  | "reserved"
  | "a cloud metadata address"
  | "not an IP address";

/** Where a connection goes: the URL's host name (lower-case, without brackets or a final dot) and port. */
export interface EgressTarget {
  host: string;
  port: number;
}

/** A parsed rule, or why the entry is not one. */
export type RuleParse = { ok: true; rule: EgressRule } | { ok: false; error: string };

/** Parsed rules, or the first bad entry (one line naming its position). */
export type RulesParse = { ok: true; rules: readonly EgressRule[] } | { ok: false; error: string };

/**
 * Cloud metadata services: AWS, GCP, Azure, Oracle and others at 169.254.169.254 (and AWS's IPv6 one), the
 * ECS task metadata, Alibaba's, and Azure's wire server.
 */
export const METADATA_ADDRESSES: readonly string[] = [
  "169.254.169.254",
  "169.254.170.2",
  "100.100.100.200",
  "168.63.129.16",
  "fd00:ec2::254",
];

const METADATA = new Set(METADATA_ADDRESSES.map((a) => ipaddr.parse(a).toNormalizedString()));

const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

const V4_CLASSES: Record<string, EgressRefusal | undefined> = {
  unspecified: "unspecified",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local",
  loopback: "loopback",
  carrierGradeNat: "private",
  private: "private",
  reserved: "reserved",
};

const V6_CLASSES: Record<string, EgressRefusal | undefined> = {
  unspecified: "unspecified",
  loopback: "loopback",
  multicast: "multicast",
  linkLocal: "link-local",
  uniqueLocal: "private",
  deprecatedSiteLocal: "private",
  rfc6052: "private", // 64:ff9b:1::/48, local-use NAT64 (the /96 carries an IPv4 address, judged by it)
  reserved: "reserved",
  discard: "reserved",
  benchmarking: "reserved",
  deprecatedOrchid: "reserved",
  orchid2: "reserved",
  droneRemoteIdProtocolEntityTags: "reserved",
  segmentRouting: "reserved",
};

/** A strict IPv4 (four decimal parts) or IPv6 address, brackets allowed around IPv6; else undefined. */
export function parseAddress(text: string): Address | undefined {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  const v6Text = hexTail(bare);
  if (v6Text !== undefined && v6Text.includes(":") && ipaddr.IPv6.isValid(v6Text)) {
    const v6 = ipaddr.IPv6.parse(v6Text);
    return v6.zoneId === undefined ? v6 : undefined;
  }
  return undefined;
}

/**
 * An IPv6 text with a dotted IPv4 tail (`::ffff:1.2.3.4`) in hex (`::ffff:102:304`): ipaddr.js reads any
 * dotted tail as IPv4-mapped (`::1.2.3.4` too, which is IPv4-compatible). Undefined for a bad tail.
 */
function hexTail(text: string): string | undefined {
  const m = /^(.*:)([^:]*\.[^:]*)$/.exec(text);
  if (!m) return text;
  if (!ipaddr.IPv4.isValidFourPartDecimal(m[2])) return undefined;
  const [a, b, c, d] = ipaddr.IPv4.parse(m[2]).octets;
  return `${m[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

function v4Of(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/**
 * The IPv4 address an IPv6 one carries: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated
 * (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4
 * (`2002:AABB:CCDD::`).
 */
export function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = address.parts;
  const zeros = (n: number) => p.slice(0, n).every((x) => x === 0);
  if (zeros(5) && p[5] === 0xffff) return v4Of(p[6], p[7]);
  if (zeros(4) && p[4] === 0xffff && p[5] === 0) return v4Of(p[6], p[7]);
  if (zeros(6) && (p[6] !== 0 || p[7] > 1)) return v4Of(p[6], p[7]);
  if (p[0] === 0x64 && p[1] === 0xff9b && p.slice(2, 6).every((x) => x === 0)) return v4Of(p[6], p[7]);
  if (p[0] === 0x2002) return v4Of(p[1], p[2]);
  return undefined;
}

function classifyV4(address: ipaddr.IPv4): EgressRefusal | undefined {
  if (METADATA.has(address.toNormalizedString())) return "a cloud metadata address";
  return V4_CLASSES[address.range()];
}

function classifyV6(address: ipaddr.IPv6): EgressRefusal | undefined {
  if (METADATA.has(address.toNormalizedString())) return "a cloud metadata address";
  const range: string = address.range();
  if (range === "unspecified" || range === "loopback") return V6_CLASSES[range];
  const v4 = embeddedIPv4(address);
  if (v4 !== undefined) {
    const compatible = address.parts.slice(0, 6).every((x) => x === 0);
    // IPv4-compatible addresses are deprecated (RFC 4291): refused even around a public IPv4 address.
    return classifyV4(v4) ?? (compatible ? "reserved" : undefined);
  }
  if (range === "teredo") {
    const p = address.parts;
    return classifyV4(v4Of(p[2], p[3])) ?? classifyV4(v4Of(~p[6] & 0xffff, ~p[7] & 0xffff));
  }
  if (range in V6_CLASSES) return V6_CLASSES[range];
  // Global unicast is 2000::/3; the rest of the unicast space is unassigned.
  return (address.parts[0] & 0xe000) === 0x2000 ? undefined : "reserved";
}

/** Why an address may not be called without a rule, or undefined for a public address. */
export function classifyAddress(address: string): EgressRefusal | undefined {
  const parsed = parseAddress(address);
  if (parsed === undefined) return "not an IP address";
  return parsed.kind() === "ipv4" ? classifyV4(parsed as ipaddr.IPv4) : classifyV6(parsed as ipaddr.IPv6);
}

function parsePort(text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  const n = /^\d{1,5}$/.test(text) ? Number(text) : 0;
  return n >= 1 && n <= 65535 ? n : null;
}

function parseCidr(text: string): RuleParse {
  const [addressText, prefixText] = text.split("/", 2);
  const address = parseAddress(addressText);
  const bits = address?.kind() === "ipv4" ? 32 : 128;
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (address === undefined || prefix < 0 || prefix > bits || text.split("/").length !== 2) {
    return {
      ok: false,
      error: `${JSON.stringify(text)} is not a CIDR (an IPv4 or IPv6 address, "/", a prefix length)`,
    };
  }
  return { ok: true, rule: { kind: "net", net: [address, prefix], text } };
}

function ipRule(address: Address, port: number | undefined, text: string): RuleParse {
  const bits = address.kind() === "ipv4" ? 32 : 128;
  return { ok: true, rule: { kind: "net", net: [address, bits], text, ...(port ? { port } : {}) } };
}

function hostRule(name: string, port: number | undefined, text: string): RuleParse {
  const host = normalHost(name);
  // An all-numeric (or hex) last label is an IPv4 address to a URL parser, never a host name.
  if (!HOST_NAME.test(host) || /(^|\.)(\d+|0x[0-9a-f]*)$/.test(host)) {
    return { ok: false, error: `${JSON.stringify(text)} is not a host, host:port, IP address or CIDR` };
  }
  return { ok: true, rule: { kind: "host", host, text, ...(port ? { port } : {}) } };
}

/** Parses one `--http-allow` entry: `host`, `host:port`, `IP`, `IP:port`, `[v6]`, `[v6]:port` or a CIDR. */
export function parseEgressRule(entry: string): RuleParse {
  const text = entry.trim();
  if (text === "") return { ok: false, error: "is empty" };
  if (text.includes("/")) return parseCidr(text);
  const whole = parseAddress(text);
  if (whole !== undefined) return ipRule(whole, undefined, text);
  const m = /^(\[[^\]]*\]|[^:[\]]+)(?::([^:]*))?$/.exec(text);
  const port = parsePort(m?.[2]);
  if (!m || port === null) {
    return { ok: false, error: `${JSON.stringify(text)} is not a host, host:port, IP address or CIDR` };
  }
  const address = parseAddress(m[1]);
  if (address !== undefined) return ipRule(address, port, text);
  if (m[1].startsWith("[")) {
    return { ok: false, error: `${JSON.stringify(text)}: not an IPv6 address in [ ]` };
  }
  return hostRule(m[1], port, text);
}

/** Parses `--http-allow` entries; a bad one is reported by its position (`entry 2: …`). */
export function parseEgressRules(entries: readonly string[]): RulesParse {
  const rules: EgressRule[] = [];
  for (const [i, entry] of entries.entries()) {
    const parsed = parseEgressRule(entry);
    if (!parsed.ok) return { ok: false, error: `entry ${i + 1} ${parsed.error}` };
    rules.push(parsed.rule);
  }
  return { ok: true, rules };
}

/** A host name as rules compare it: lower-case, without IPv6 brackets or a final dot. */
export function normalHost(host: string): string {
  const lower = host.toLowerCase();
  const bare = lower.startsWith("[") && lower.endsWith("]") ? lower.slice(1, -1) : lower;
  return bare.endsWith(".") ? bare.slice(0, -1) : bare;
}

/** Whether a host rule names the target's host (and port, when it names one). */
export function hostAllowed(rules: readonly EgressRule[], target: EgressTarget): boolean {
  const host = normalHost(target.host);
  return rules.some((r) =>
    r.kind === "host" && r.host === host && (r.port === undefined || r.port === target.port)
  );
}

function netAllows(rule: EgressRule, address: Address, port: number, metadata: boolean): boolean {
  if (rule.kind !== "net" || (rule.port !== undefined && rule.port !== port)) return false;
  const [net, prefix] = rule.net;
  if (metadata && prefix !== (net.kind() === "ipv4" ? 32 : 128)) return false;
  return net.kind() === address.kind() && address.match(net, prefix);
}

/**
 * Why a connection to `address` for `target` is refused, or undefined when it may go: a host rule naming the
 * target allows any address; a public address needs no rule; any other needs an IP or CIDR rule holding it (or
 * the IPv4 address it carries), and a metadata address one naming exactly it.
 */
export function egressRefusal(
  rules: readonly EgressRule[],
  target: EgressTarget,
  address: string,
): EgressRefusal | undefined {
  if (hostAllowed(rules, target)) return undefined;
  const parsed = parseAddress(address);
  if (parsed === undefined) return "not an IP address";
  const why = classifyAddress(address);
  if (why === undefined) return undefined;
  const carried = parsed.kind() === "ipv6" ? embeddedIPv4(parsed as ipaddr.IPv6) : undefined;
  const candidates = carried ? [parsed, carried] : [parsed];
  const metadata = why === "a cloud metadata address";
  const allowed = rules.some((r) => candidates.some((a) => netAllows(r, a, target.port, metadata)));
  return allowed ? undefined : why;
}

/** The port a URL connects to: its own, else 443 for https and 80 for http. */
export function portOf(url: URL): number {
  return url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

/** The sentence a refusal says: `<address> is <why>, not allowed (--http-allow)`. */
export function refusalText(address: string, why: EgressRefusal): string {
  return `${address} is ${why}, not allowed (--http-allow)`;
}

/**
 * Why a URL would be refused judged without DNS, for the checks at workflow create: an IP-literal host or
 * `localhost` (and `*.localhost`, which resolve to loopback) outside the rules. Undefined when the URL may
 * go (or can only be judged when it runs, or is no http(s) URL: other checks report that).
 *
 * @example
 * ```ts
 * import { staticEgressRefusal } from "./egress_rules.ts";
 *
 * if (staticEgressRefusal("http://169.254.169.254/latest/meta-data", []) === undefined) throw new Error();
 * if (staticEgressRefusal("http://localhost:8080/", []) === undefined) throw new Error();
 * if (staticEgressRefusal("https://example.com/", []) !== undefined) throw new Error();
 * ```
 */
export function staticEgressRefusal(url: string, rules: readonly EgressRule[]): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
  const target = { host: normalHost(parsed.hostname), port: portOf(parsed) };
  if (parseAddress(target.host) !== undefined) {
    const why = egressRefusal(rules, target, target.host);
    return why === undefined ? undefined : refusalText(target.host, why);
  }
  if (target.host !== "localhost" && !target.host.endsWith(".localhost")) return undefined;
  const loopbackAllowed = egressRefusal(rules, target, "127.0.0.1") === undefined ||
    egressRefusal(rules, target, "::1") === undefined;
  return loopbackAllowed ? undefined : refusalText(target.host, "loopback");
}
