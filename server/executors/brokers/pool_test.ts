import { assert, assertEquals } from "../../../testing/assert.ts";
import { shownBrokerUrl, urlSecrets } from "./pool.ts";

Deno.test("shownBrokerUrl: a password becomes ***, a user without a password (a token) is hidden whole", () => {
  const cases: [string, string][] = [
    ["amqp://guest:s3cret@127.0.0.1:5672/vh", "amqp://guest:***@127.0.0.1:5672/vh"],
    ["redis://:s3cret@127.0.0.1:6379/2", "redis://:***@127.0.0.1:6379/2"],
    ["nats://s3cretT0ken@127.0.0.1:4222", "nats://***@127.0.0.1:4222"],
    ["tls://s3cretT0ken@127.0.0.1:4222", "tls://***@127.0.0.1:4222"],
    ["rediss://s3cret@127.0.0.1:6380", "rediss://***@127.0.0.1:6380"],
    ["nats://127.0.0.1:4222", "nats://127.0.0.1:4222"],
  ];
  for (const [url, shown] of cases) {
    assertEquals(shownBrokerUrl(url), shown);
    assert(!shownBrokerUrl(url).includes("s3cret"), url);
  }
  assertEquals(shownBrokerUrl("kafka://k1:9092,k2:9092"), "(a broker URL)");
});

Deno.test("urlSecrets: the password, else the token, as written and decoded", () => {
  assertEquals(urlSecrets("amqp://guest:p%2Cw@h:5672"), ["p,w", "p%2Cw"]);
  assertEquals(urlSecrets("nats://t0ken@h:4222"), ["t0ken"]);
  assertEquals(urlSecrets("nats://h:4222"), []);
  assertEquals(urlSecrets("kafka://k1:9092,k2:9092"), []);
});
