/**
 * The egress rules without any traffic: parsing `--http-allow` entries, classifying addresses (a property
 * test against a table of ranges written here, independent of ipaddr.js), matching rules, and the static
 * judgement used at workflow create.
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import {
  classifyAddress,
  egressRefusal,
  type EgressRule,
  parseEgressRule,
  parseEgressRules,
  staticEgressRefusal,
} from "./egress_rules.ts";

function rules(...entries: string[]): readonly EgressRule[] {
  const parsed = parseEgressRules(entries);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.rules;
}

Deno.test("egress rules: host, host:port, IP, IP:port, [v6]:port and CIDR entries parse", () => {
  const shape = (entry: string) => {
    const r = parseEgressRule(entry);
    if (!r.ok) throw new Error(`${entry}: ${r.error}`);
    const rule = r.rule;
    return rule.kind === "host"
      ? ["host", rule.host, rule.port]
      : ["net", rule.net[0].toString(), rule.net[1], rule.port];
  };
  assertEquals(shape("example.com"), ["host", "example.com", undefined]);
  assertEquals(shape(" Api.Internal.:8443 "), ["host", "api.internal", 8443]);
  assertEquals(shape("localhost"), ["host", "localhost", undefined]);
  assertEquals(shape("my_service-1"), ["host", "my_service-1", undefined]);
  assertEquals(shape("10.0.0.0/8"), ["net", "10.0.0.0", 8, undefined]);
  assertEquals(shape("fd00::/8"), ["net", "fd00::", 8, undefined]);
  assertEquals(shape("127.0.0.1"), ["net", "127.0.0.1", 32, undefined]);
  assertEquals(shape("127.0.0.1:8080"), ["net", "127.0.0.1", 32, 8080]);
  assertEquals(shape("::1"), ["net", "::1", 128, undefined]);
  assertEquals(shape("[fd00::1]"), ["net", "fd00::1", 128, undefined]);
  assertEquals(shape("[::1]:65535"), ["net", "::1", 128, 65535]);
});

Deno.test("egress rules: a bad entry is one line naming its position", () => {
  const bad = [
    "nonsense/99",
    "10.0.0.0/33",
    "fd00::/129",
    "10.0.0.0/",
    "1.2.3.4/8/9",
    "host:0",
    "host:65536",
    "host:",
    ":80",
    "a b",
    "999.1.1.1",
    "127.1",
    "0x7f.0.0.1",
    "[zz]:80",
    "[::1",
    "http://example.com",
    "*.example.com",
    "fe80::1%eth0",
    "-lead.example",
    `${"a".repeat(64)}.example`,
  ];
  for (const entry of bad) {
    const parsed = parseEgressRules(["10.0.0.0/8", entry]);
    assert(!parsed.ok, `${entry} is refused`);
    assert(parsed.error.startsWith("entry 2 "), parsed.error);
    assert(!parsed.error.includes("\n"), "one line");
  }
  const empty = parseEgressRules(["", "x"]);
  assert(!empty.ok && empty.error === "entry 1 is empty", JSON.stringify(empty));
  const cidr = parseEgressRules(["nonsense/99"]);
  assert(!cidr.ok && cidr.error.startsWith('entry 1 "nonsense/99" is not a CIDR'), JSON.stringify(cidr));
});

Deno.test("egress classification: each refused kind, in v4, v6 and the v6 forms that carry a v4 address", () => {
  const cases: [string, string | undefined][] = [
    ["8.8.8.8", undefined],
    ["2606:4700:4700::1111", undefined],
    ["127.0.0.1", "loopback"],
    ["127.255.1.2", "loopback"],
    ["::1", "loopback"],
    ["10.9.8.7", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", undefined],
    ["192.168.0.1", "private"],
    ["100.64.0.1", "private"],
    ["100.128.0.1", undefined],
    ["fd12:3456::1", "private"],
    ["fc00::1", "private"],
    ["fec0::1", "private"],
    ["169.254.1.1", "link-local"],
    ["fe80::1", "link-local"],
    ["224.0.0.1", "multicast"],
    ["ff02::1", "multicast"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["::", "unspecified"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["192.0.2.1", "reserved"],
    ["198.18.0.1", "reserved"],
    ["2001:db8::1", "reserved"],
    ["100::1", "reserved"],
    ["4000::1", "reserved"],
    ["169.254.169.254", "a cloud metadata address"],
    ["fd00:ec2::254", "a cloud metadata address"],
    ["100.100.100.200", "a cloud metadata address"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "a cloud metadata address"],
    ["::ffff:8.8.8.8", undefined],
    ["::127.0.0.1", "loopback"], // IPv4-compatible
    ["::8.8.8.8", "reserved"], // IPv4-compatible forms are deprecated
    ["::ffff:0:10.0.0.1", "private"], // IPv4-translated
    ["64:ff9b::7f00:1", "loopback"], // NAT64
    ["64:ff9b::8.8.8.8", undefined],
    ["64:ff9b:1::1", "private"], // local-use NAT64
    ["2002:7f00:1::1", "loopback"], // 6to4 of 127.0.0.1
    ["2002:a9fe:a9fe::", "a cloud metadata address"], // 6to4 of 169.254.169.254
    ["2002:808:808::1", undefined],
    ["2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"], // Teredo, client 127.0.0.1
    ["not an address", "not an IP address"],
    ["127.1", "not an IP address"],
  ];
  for (const [address, expected] of cases) assertStrictEquals(classifyAddress(address), expected, address);
});

// ---- the property: an oracle of IPv4 ranges, written here from the RFCs

const V4_REFUSED: [string, number, string][] = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "private"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "reserved"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"],
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];
const METADATA_V4 = ["169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16"];

const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const toText = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
const hex = (n: number) => [Math.floor(n / 65536), n % 65536].map((x) => x.toString(16)).join(":");

/** The expected refusal of an IPv4 address (as an integer) by the table above. */
function oracle(n: number): string | undefined {
  if (METADATA_V4.map(toInt).includes(n)) return "a cloud metadata address";
  if (n === 0xffffffff) return "broadcast";
  const hit = V4_REFUSED.find(([base, prefix]) =>
    Math.floor(n / 2 ** (32 - prefix)) === toInt(base) / 2 ** (32 - prefix)
  );
  return hit?.[2];
}

/** The IPv6 forms that carry `n`: IPv4-mapped (dotted and hex), NAT64 and 6to4. */
function v6Forms(n: number): string[] {
  const [hi, lo] = [Math.floor(n / 65536), n % 65536].map((x) => x.toString(16));
  return [`::ffff:${toText(n)}`, `::ffff:${hex(n)}`, `64:ff9b::${hex(n)}`, `2002:${hi}:${lo}::1`];
}

Deno.test("egress classification property: every refused IPv4 address and its v6 forms are refused", () => {
  const inRange = fc.integer({ min: 0, max: V4_REFUSED.length - 1 }).chain((i) => {
    const [base, prefix] = V4_REFUSED[i];
    return fc.integer({ min: 0, max: 2 ** (32 - prefix) - 1 }).map((host) => toInt(base) + host);
  });
  fc.assert(
    fc.property(inRange, (n) => {
      const expected = oracle(n);
      assert(expected !== undefined);
      assertStrictEquals(classifyAddress(toText(n)), expected, toText(n));
      for (const form of v6Forms(n)) assertStrictEquals(classifyAddress(form), expected, form);
      assertStrictEquals(egressRefusal([], { host: "x.test", port: 80 }, toText(n)), expected);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("egress classification property: a public IPv4 address and its v6 forms are allowed", () => {
  const publicV4 = fc.integer({ min: 0, max: 0xffffffff }).filter((n) => oracle(n) === undefined);
  fc.assert(
    fc.property(publicV4, (n) => {
      assertStrictEquals(classifyAddress(toText(n)), undefined, toText(n));
      for (const form of v6Forms(n)) assertStrictEquals(classifyAddress(form), undefined, form);
      assertStrictEquals(egressRefusal([], { host: "x.test", port: 443 }, toText(n)), undefined);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("egress rules: host rules match the name, IP and CIDR rules the address; metadata needs its own", () => {
  const to = (allow: readonly EgressRule[], host: string, port: number, address: string) =>
    egressRefusal(allow, { host, port }, address);
  assertStrictEquals(to([], "db.internal", 5432, "10.1.2.3"), "private");
  assertStrictEquals(to(rules("10.0.0.0/8"), "db.internal", 5432, "10.1.2.3"), undefined);
  assertStrictEquals(to(rules("10.0.0.0/8"), "db.internal", 5432, "::ffff:10.1.2.3"), undefined);
  assertStrictEquals(to(rules("10.0.0.0/8"), "db.internal", 5432, "172.16.0.1"), "private");
  assertStrictEquals(to(rules("db.internal"), "DB.Internal.", 5432, "10.1.2.3"), undefined);
  assertStrictEquals(to(rules("db.internal"), "other.internal", 5432, "10.1.2.3"), "private");
  assertStrictEquals(to(rules("db.internal:5432"), "db.internal", 5433, "10.1.2.3"), "private");
  assertStrictEquals(to(rules("10.1.2.3:5432"), "db.internal", 5432, "10.1.2.3"), undefined);
  assertStrictEquals(to(rules("10.1.2.3:5432"), "db.internal", 5433, "10.1.2.3"), "private");
  assertStrictEquals(to(rules("[fd00::1]:443"), "x", 443, "fd00::1"), undefined);
  assertStrictEquals(to(rules("fd00::/8"), "x", 443, "fd00::1"), undefined);
  assertStrictEquals(to(rules("fd00::/8"), "x", 443, "10.0.0.1"), "private");
  const meta = "a cloud metadata address";
  assertStrictEquals(to(rules("169.254.0.0/16", "0.0.0.0/0"), "x", 80, "169.254.169.254"), meta);
  assertStrictEquals(to(rules("fd00::/8"), "x", 80, "fd00:ec2::254"), meta);
  assertStrictEquals(to(rules("169.254.169.254"), "x", 80, "169.254.169.254"), undefined);
  assertStrictEquals(
    to(rules("metadata.google.internal"), "metadata.google.internal", 80, "169.254.169.254"),
    undefined,
  );
  assertStrictEquals(to([], "x", 80, "8.8.8.8"), undefined);
});

Deno.test("egress rules: the static judgement refuses IP literals and localhost outside the rules", () => {
  assertEquals(
    staticEgressRefusal("http://127.0.0.1:8080/x?secret=1", []),
    "127.0.0.1 is loopback, not allowed (--http-allow)",
  );
  assertEquals(
    staticEgressRefusal("http://[::ffff:127.0.0.1]/", []),
    "::ffff:7f00:1 is loopback, not allowed (--http-allow)",
  );
  assertEquals(
    staticEgressRefusal("http://localhost:3000/", []),
    "localhost is loopback, not allowed (--http-allow)",
  );
  assertEquals(
    staticEgressRefusal("http://app.localhost/", []),
    "app.localhost is loopback, not allowed (--http-allow)",
  );
  assertEquals(
    staticEgressRefusal("https://169.254.169.254/", rules("169.254.0.0/16")),
    "169.254.169.254 is a cloud metadata address, not allowed (--http-allow)",
  );
  for (
    const [url, allow] of [
      ["https://example.com/", []],
      ["http://db.internal/", []], // judged only when it runs, by its resolved address
      ["http://127.0.0.1:8080/", ["127.0.0.1"]],
      ["http://127.0.0.1:8080/", ["127.0.0.1:8080"]],
      ["http://localhost:3000/", ["localhost"]],
      ["http://localhost:3000/", ["127.0.0.0/8"]],
      ["http://10.0.0.5/", ["10.0.0.0/8"]],
      ["https://8.8.8.8/", []],
      ["not a url", []],
      ["ftp://127.0.0.1/", []],
    ] as const
  ) {
    assertStrictEquals(
      staticEgressRefusal(url, rules(...allow)),
      undefined,
      `${url} with ${allow.join(",")}`,
    );
  }
  assert(staticEgressRefusal("http://127.0.0.1:8081/", rules("127.0.0.1:8080")) !== undefined);
});
