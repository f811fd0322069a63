import { assert, assertEquals } from "../../testing/assert.ts";
import {
  credentialValues,
  isSensitiveHeader,
  isSensitiveKey,
  redactJson,
  redactUrlPasswords,
  restoreUrlPasswords,
  urlTarget,
} from "./credentials.ts";

Deno.test("credentials: key names that hold credentials, case and separators ignored", () => {
  for (
    const key of [
      "password",
      "Password",
      "db_password",
      "passwd",
      "token",
      "accessToken",
      "refresh-token",
      "secret",
      "clientSecret",
      "apiKey",
      "api_key",
      "X-API-KEY",
      "privateKey",
      "private_key",
      "credentials",
      "authorization",
      "Cookie",
    ]
  ) {
    assert(isSensitiveKey(key), key);
  }
  for (
    const key of ["name", "maxTokens", "tokenizer", "secretName", "url", "keyField", "limit", "$secretive"]
  ) {
    assert(!isSensitiveKey(key), key);
  }
  for (
    const header of ["Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Foo-Key"]
  ) {
    assert(isSensitiveHeader(header), header);
  }
  assert(isSensitiveHeader("x-auth-token"));
  assert(!isSensitiveHeader("Accept") && !isSensitiveHeader("X-Keyboard"));
});

Deno.test("credentials: URL passwords, anywhere in a string, become ***", () => {
  const cases: [string, string][] = [
    ["postgres://u:pw@h/db", "postgres://u:***@h/db"],
    ["https://u:pw@h", "https://u:***@h"],
    ["https://u:p@ss:w@h:8443/x?y#z", "https://u:***@h:8443/x?y#z"],
    ["see mysql://a:b@c and redis://:only@r:6379", "see mysql://a:***@c and redis://:***@r:6379"],
    ["https://user@h/x", "https://user@h/x"],
    ["https://h:8080/a@b", "https://h:8080/a@b"],
    ["https://u:@h", "https://u:@h"],
    ["://u:p@h", "://u:p@h"],
    ["plain text", "plain text"],
  ];
  for (const [text, shown] of cases) {
    assertEquals(redactUrlPasswords(text), shown, text);
    assertEquals(redactUrlPasswords(shown), shown, `idempotent: ${shown}`);
    assertEquals(restoreUrlPasswords(shown, text), text, `restored: ${text}`);
  }
  const found: string[] = [];
  redactUrlPasswords("a://u:one@h b://v:two@i", (p) => found.push(p));
  assertEquals(found, ["one", "two"]);
  assertEquals(restoreUrlPasswords("a://u:changed@h", "a://u:old@h"), "a://u:changed@h", "a new password");
});

Deno.test("credentials: a URL's stored password is restored only for the same scheme, host, port and user", () => {
  const stored = "postgres://app:old@db.internal:5432/app";
  const kept = [
    "postgres://app:***@db.internal:5432/app2?sslmode=require",
    "POSTGRES://app:***@DB.internal:5432/app",
  ];
  for (const incoming of kept) {
    let refused = 0;
    const restored = restoreUrlPasswords(incoming, stored, { refused: () => refused++ });
    assertEquals([restored.includes(":old@"), refused], [true, 0], incoming);
  }
  assertEquals(
    restoreUrlPasswords("https://u:***@API.example:443/v2", "https://u:old@api.example/v1"),
    "https://u:old@API.example:443/v2",
    "a default port and the host's case are the same target",
  );
  const moved = [
    "postgres://app:***@attacker.example:5432/app",
    "postgres://app:***@db.internal:6543/app",
    "postgres://root:***@db.internal:5432/app",
    "mysql://app:***@db.internal:5432/app",
    "https://u:***@db.internal:5432/app",
  ];
  for (const incoming of moved) {
    let refused = 0;
    assertEquals(restoreUrlPasswords(incoming, stored, { refused: () => refused++ }), incoming, incoming);
    assertEquals(refused, 1, incoming);
  }
  let refused = 0;
  const untrusted = restoreUrlPasswords(stored.replace(":old@", ":***@"), stored, {
    trusted: false,
    refused: () => refused++,
  });
  assertEquals([untrusted, refused], ["postgres://app:***@db.internal:5432/app", 1], "the owner moved");
  // Positions: a URL inserted before the stored one does not take its password.
  refused = 0;
  assertEquals(
    restoreUrlPasswords(`x://e:***@evil/ ${stored.replace(":old@", ":***@")}`, stored, {
      refused: () => refused++,
    }),
    `x://e:***@evil/ ${stored.replace(":old@", ":***@")}`,
  );
  assertEquals(refused, 1, "the inserted URL is refused; the next has no stored counterpart and stays ***");
  assertEquals(urlTarget("not a url://u:pw@h"), "not a url://u:***@h", "no URL: the text, password hidden");
});

Deno.test("credentials: a long string without a URL is scanned in linear time", () => {
  const text = "a".repeat(500_000) + "://" + "b".repeat(500_000);
  assertEquals(redactUrlPasswords(text), text);
  const many = "x://u:p@h ".repeat(50_000);
  assertEquals(redactUrlPasswords(many), "x://u:***@h ".repeat(50_000));
});

Deno.test("credentials: redactJson hides fields, headers and URL passwords, keeps secret refs", () => {
  const config = {
    url: "https://svc:pw1@api.example/v1",
    headers: { Authorization: "Bearer tok", "X-Tenant-Key": "tk", Accept: "application/json", Cookie: "" },
    body: { user: "u", password: "pw2", nested: [{ api_key: 12345 }], credentials: { a: "c1", b: ["c2"] } },
    token: { $secret: "API_TOKEN" },
    enabled: true,
  };
  assertEquals(redactJson(config), {
    url: "https://svc:***@api.example/v1",
    headers: { Authorization: "***", "X-Tenant-Key": "***", Accept: "application/json", Cookie: "" },
    body: { user: "u", password: "***", nested: [{ api_key: "***" }], credentials: { a: "***", b: ["***"] } },
    token: { $secret: "API_TOKEN" },
    enabled: true,
  });
  assertEquals(config.headers.Authorization, "Bearer tok", "the input is not modified");
  assertEquals(credentialValues(config).sort(), ["12345", "Bearer tok", "c1", "c2", "pw1", "pw2", "tk"]);
});
