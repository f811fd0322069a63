import { assert, assertEquals } from "../../testing/assert.ts";
import {
  credentialValues,
  isSensitiveHeader,
  isSensitiveKey,
  redactJson,
  redactUrlPasswords,
  restoreUrlPasswords,
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
  assertEquals(restoreUrlPasswords("a://u:***@new-host/x", "a://u:old@h/x"), "a://u:old@new-host/x");
  assertEquals(restoreUrlPasswords("a://u:changed@h", "a://u:old@h"), "a://u:changed@h", "a new password");
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
