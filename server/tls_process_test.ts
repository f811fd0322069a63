/**
 * TLS on a real `deno run server/main.ts` process, with certificates the test makes: `--tls-cert` and
 * `--tls-key` serve HTTPS (probes and an authenticated call, to a client that trusts the test CA), and bad TLS
 * settings stop the process at start with exit code 2 and one line on stderr (never a stack trace).
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { freePort } from "../testing/net.ts";
import { call, spawnServer } from "../testing/process.ts";
import { TestCa, writeTlsFiles } from "../testing/tls.ts";

const ADMIN = "tls-process-admin-token-0123456789";
const ROOT = new URL("..", import.meta.url);

const ca = await TestCa.create();
const dir = await Deno.makeTempDir({ prefix: "flowmesh-tls-process-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const files = await writeTlsFiles(dir, await ca.issue(), ca.cert);

Deno.test("tls process: `server/main.ts --tls-cert --tls-key` serves HTTPS to a client trusting the CA", async () => {
  const server = spawnServer(freePort(), [
    "--storage",
    "memory",
    "--data-dir",
    dir,
    "--log-format",
    "json",
    "--api-token",
    `admin:${ADMIN}`,
    "--tls-cert",
    files.cert,
    "--tls-key",
    files.key,
  ], { caCerts: [ca.cert] });
  try {
    assertMatch(server.url, /^https:\/\//);
    await server.waitReady(30_000);
    assertEquals((await call(server, "GET", "/health")).status, 200);
    const listed = await call(server, "GET", "/api/v1/workflows", {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assertEquals(listed.status, 200, listed.text);
    assertEquals((await call(server, "GET", "/api/v1/workflows")).status, 401);
    const untrusted = await fetch(`${server.url}/health`).then((r) => r.body?.cancel(), (err) => err);
    assert(untrusted instanceof TypeError, `a client without the CA fails: ${untrusted}`);
    const plain = await fetch(`http://127.0.0.1:${server.port}/health`).then(
      (r) => r.body?.cancel(),
      (e) => e,
    );
    assert(plain instanceof TypeError, `plain HTTP fails: ${plain}`);
    assert(server.output.includes(`"url":"${server.url}"`), `logs its https:// URL:\n${server.output}`);
    assert(!server.output.includes(ADMIN), "the token is never logged");
  } finally {
    await server.close();
  }
});

/** Runs `server/main.ts` with `args` to its exit; returns its code and stderr lines. */
async function runMain(args: string[]): Promise<{ code: number; lines: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "server/main.ts", "--port", "0", "--storage", "memory", "--data-dir", dir, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  }).output();
  return { code: out.code, lines: new TextDecoder().decode(out.stderr).trim().split("\n") };
}

Deno.test("tls process: bad TLS settings exit 2 with one line naming the setting, never a stack trace", async () => {
  const notPem = `${dir}/not.pem`;
  await Deno.writeTextFile(notPem, "not a certificate\n");
  const otherKey = `${dir}/other.key`;
  await Deno.writeTextFile(otherKey, (await ca.issue()).key);
  const cases: [string[], RegExp][] = [
    [["--tls-cert", files.cert], /^config error: tls-key: --tls-cert needs --tls-key \(ENGINE_TLS_KEY\)/],
    [["--tls-key", files.key], /^config error: tls-cert: --tls-key needs --tls-cert/],
    [
      ["--tls-cert", `${dir}/nowhere.crt`, "--tls-key", files.key],
      /^config error: tls-cert: cannot read ".*nowhere\.crt": NotFound$/,
    ],
    [
      ["--tls-cert", notPem, "--tls-key", files.key],
      /^config error: tls-cert: ".*not\.pem" holds no PEM certificate/,
    ],
    [
      ["--tls-cert", files.cert, "--tls-key", notPem],
      /^config error: tls-key: ".*not\.pem" holds no valid PEM private key$/,
    ],
    [
      ["--tls-cert", files.cert, "--tls-key", otherKey],
      /^config error: tls-key: .* is not the private key of the certificate/,
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => runMain(args)));
  results.forEach(({ code, lines }, i) => {
    const [args, expected] = cases[i];
    assertEquals(
      { code, lines: lines.length },
      { code: 2, lines: 1 },
      `${args.join(" ")}:\n${lines.join("\n")}`,
    );
    assertMatch(lines[0], expected);
  });
});
