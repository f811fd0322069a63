import { assert, assertEquals } from "../../testing/assert.ts";
import { NodeError, type NodeServices } from "./executor.ts";
import {
  loadSecrets,
  NodeSecrets,
  scrubbedServices,
  Scrubber,
  SecretsError,
  secretSource,
} from "./secrets.ts";

const VALUE = "v4lue-that-must-not-show";

/** What `fn` throws, asserted an instance of `type`. */
function thrown<E extends Error>(fn: () => unknown, type: new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    assert(err instanceof type, `expected a ${type.name}, got ${err}`);
    return err;
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`);
}

/** Runs `fn`, expecting a SecretsError; returns its message, asserted free of `VALUE`. */
function refusal(fn: () => unknown): string {
  const err = thrown(fn, SecretsError);
  assert(!err.message.includes(VALUE), err.message);
  assert(!err.message.includes("\n"), "one line");
  return err.message;
}

Deno.test("secrets: ENGINE_SECRET_<NAME> variables over the secrets file", () => {
  const file = JSON.stringify({ A: "from-file", B: "only-in-file" });
  const secrets = loadSecrets({
    env: { ENGINE_SECRET_A: "from-env", ENGINE_SECRET_EMPTY: "", ENGINE_SECRETS_FILE: "/x", PATH: "/bin" },
    file: "/etc/flowmesh/secrets.json",
    readFile: () => file,
  });
  assertEquals(secrets.names().sort(), ["A", "B"]);
  assertEquals([secrets.get("A"), secrets.get("B"), secrets.get("C")], [
    "from-env",
    "only-in-file",
    undefined,
  ]);
  assertEquals(loadSecrets({ env: {} }).names(), []);
});

Deno.test("secrets: a bad file, name or value is one line that never shows a value", () => {
  const read = (text: string) => () => text;
  const file = "/run/secrets.json";
  assertEquals(
    refusal(() =>
      loadSecrets({
        env: {},
        file,
        readFile: () => {
          throw new Deno.errors.NotFound(VALUE);
        },
      })
    ),
    `secrets file ${file}: cannot be read (not found)`,
  );
  assertEquals(
    refusal(() => loadSecrets({ env: {}, file, readFile: read(`{"A": ${VALUE}}`) })),
    `secrets file ${file}: not valid JSON`,
  );
  for (const text of ["[]", "null", `"${VALUE}"`, "5"]) {
    assertEquals(
      refusal(() => loadSecrets({ env: {}, file, readFile: read(text) })),
      `secrets file ${file}: must be a JSON object {"NAME": "value"}`,
    );
  }
  assert(
    refusal(() => loadSecrets({ env: {}, file, readFile: read(`{"A": 5}`) })).includes("secret A must be"),
  );
  assert(
    refusal(() => loadSecrets({ env: {}, file, readFile: read(`{"lower": "${VALUE}"}`) })).includes(
      '"lower"',
    ),
  );
  assert(
    refusal(() => loadSecrets({ env: {}, file, readFile: read(`{"__proto__": "${VALUE}"}`) })).includes(
      "__proto__",
    ),
  );
  assert(
    refusal(() => loadSecrets({ env: { "ENGINE_SECRET_a-b": VALUE } })).startsWith(
      "environment ENGINE_SECRET_a-b",
    ),
  );
  refusal(() => secretSource({ A: "x".repeat(64 * 1024 + 1) }));
});

Deno.test("NodeSecrets: references resolved in a copy; the plan's config is kept and remembered", () => {
  const secrets = new NodeSecrets(secretSource({ TOKEN: VALUE, URL: "https://svc:pw-long@h/x" }));
  const config = {
    url: { $secret: "URL" },
    headers: { Authorization: { $secret: "TOKEN" }, Accept: "json" },
    list: [1, { $secret: "TOKEN" }],
  };
  const prepared = secrets.prepare(config);
  assertEquals(prepared.config, {
    url: "https://svc:pw-long@h/x",
    headers: { Authorization: VALUE, Accept: "json" },
    list: [1, VALUE],
  });
  assertEquals(config.url, { $secret: "URL" }, "the plan keeps the reference");
  assertEquals(prepared.scrub!.text(`failed with ${VALUE}, https://svc:pw-long@h/x`), "failed with ***, ***");
  assertEquals(prepared.scrub!.text("the password pw-long alone"), "the password *** alone");

  const plain = { sql: "select 1" };
  assertEquals(secrets.prepare(plain), { config: plain }, "nothing to hide: the config itself");
  const inline = { connectionUrl: "postgres://u:inline-pw@h/db" };
  const p = secrets.prepare(inline);
  assert(p.config === inline && p.scrub!.text("inline-pw") === "***");
  assert(secrets.prepare(inline).scrub === p.scrub, "remembered per config object");
});

Deno.test("NodeSecrets: an unknown name fails the node, not retryable, naming the secret only", () => {
  for (const source of [secretSource({ OTHER: VALUE }), undefined]) {
    const err = thrown(() => new NodeSecrets(source).prepare({ a: { $secret: "MISSING" } }), NodeError);
    assertEquals([err.code, err.retryable], ["secret_not_found", false]);
    assert(err.message.includes("MISSING") && !err.message.includes(VALUE), err.message);
  }
});

Deno.test("Scrubber: values, their encoded forms, in text and in JSON keys and strings", () => {
  const scrub = new Scrubber([`a"b c/d`, "", "***"]);
  assertEquals(scrub.text(`raw a"b c/d, url a%22b%20c%2Fd, json a\\"b c/d`), "raw ***, url ***, json ***");
  const records = [{ k: `x a"b c/d y`, n: 1, [`a"b c/d`]: true }, "plain"];
  assertEquals(scrub.json(records), [{ k: "x *** y", n: 1, "***": true }, "plain"]);
  const untouched = [{ a: 1 }];
  assert(scrub.json(untouched) === untouched, "unchanged JSON is not copied");
  assert(new Scrubber([]).empty);
  assert(new Scrubber(["abc", "x"]).empty, "values under 4 characters are not scrubbed");
  assertEquals(new Scrubber(["abcd"]).text("abcde"), "***e");
});

Deno.test("Scrubber: a secret http(s) URL is also hidden in the normalised forms messages print", () => {
  const secret = "HTTPS://u:pw-long@Discord.COM:443/api/./webhooks/123/Super Secret%7eTok3n?wait=true#top";
  const scrub = new Scrubber([secret]);
  const path = "/api/webhooks/123/Super%20Secret%7eTok3n";
  const printed = [
    `POST https://discord.com${path} answered 404: Cannot POST ${path}`, // shownUrl, and the path alone
    `GET https://u:pw-long@discord.com${path}?wait=true#top`, // href
    `GET https://discord.com${path}?wait=true`, // origin, path and query
    `requested ${path}?wait=true`, // path and query
    `Cannot POST /api/webhooks/123/Super Secret~Tok3n`, // the path decoded
    JSON.stringify({ url: `https://discord.com${path}` }), // in JSON
  ];
  assertEquals(printed.map((t) => scrub.text(t)), [
    "POST *** answered 404: Cannot POST ***",
    "GET ***",
    "GET ***",
    "requested ***",
    "Cannot POST ***",
    '{"url":"***"}',
  ]);
  // A short path alone is not hidden (it would turn every "/api" into ***); the query form still is.
  const short = new Scrubber(["https://hooks.example/x?key=k3y-value"]);
  assertEquals(short.text("GET https://hooks.example/x: /x and /x?key=k3y-value"), "GET ***: /x and ***");
  // Other schemes and plain text get no URL forms.
  assertEquals(new Scrubber(["postgres://db.example/app"]).text("db.example/app"), "db.example/app");
  assertEquals(new Scrubber(["not a url /abcdef"]).text("/abcdef"), "/abcdef");
});

Deno.test("scrubbedServices: log lines and their fields are scrubbed, other services are the same", async () => {
  const lines: [string, Record<string, unknown>][] = [];
  const base: NodeServices = {
    fetch: () => Promise.resolve(new Response("ok")),
    readTextFile: () => Promise.resolve("text"),
    writeFileAtomic: () => Promise.resolve(),
    sql: () => {
      throw new Error("no sql");
    },
    log: (line, fields) => lines.push([line, fields]),
    timeout: (ms) => AbortSignal.timeout(ms),
  };
  const services = scrubbedServices(base, new Scrubber([VALUE]));
  services.log(`[n] ${VALUE}`, { record: { token: VALUE }, n: 1 });
  assertEquals(lines, [["[n] ***", { record: { token: "***" }, n: 1 }]]);
  assertEquals(await services.readTextFile("x"), "text");
  assertEquals(await (await services.fetch("http://127.0.0.1")).text(), "ok");
});
