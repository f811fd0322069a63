/**
 * `deno task cli` against a real node (in process, memory storage), run as a real process: the workflow
 * commands and the usage errors, each in human and `--json` output, with their exit codes.
 */
import { assert, assertEquals, assertMatch, assertStrictEquals } from "../../testing/assert.ts";
import { cli } from "../../testing/cli.ts";
import { n, through, withNode } from "../../testing/server.ts";
import { EXIT } from "./errors.ts";

const NUMBERS = through("numbers", [1, 2, 3, 4, 5], n("big", "transform/filter", { condition: "value > 2" }));

/** The temporary directory of this file's JSON files, removed when the tests end. */
const TMP = await Deno.makeTempDir({ prefix: "flowmesh-cli-" });
globalThis.addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));
let files = 0;

/** Writes a JSON file; returns its path. */
async function jsonFile(value: unknown): Promise<string> {
  const path = `${TMP}/body-${++files}.json`;
  await Deno.writeTextFile(path, JSON.stringify(value));
  return path;
}

Deno.test("cli: workflows create, list, get, update, delete (human and --json)", async () => {
  await withNode(async (node) => {
    const url = node.url;
    const file = await jsonFile(NUMBERS);

    const created = await cli(["workflows", "create", "-f", file], { url });
    assertStrictEquals(created.code, EXIT.ok, created.stderr);
    assertEquals(created.stdout, "workflow created: numbers version 1\n");

    const again = await cli(["workflows", "create", "--file", file, "--json"], { url });
    assertStrictEquals(again.code, EXIT.ok, again.stderr);
    assertEquals(again.json(), {
      message: "workflow unchanged",
      workflowId: "numbers",
      version: 1,
      scheduleStatus: "none",
    });

    // The definition from standard input (-f -).
    const other = await cli(["workflows", "create", "-f", "-"], {
      url,
      stdin: JSON.stringify({ ...NUMBERS, id: "numbers-2", name: "Second" }),
    });
    assertStrictEquals(other.code, EXIT.ok, other.stderr);

    const list = await cli(["workflows", "list"], { url });
    assertStrictEquals(list.code, EXIT.ok, list.stderr);
    const lines = list.stdout.trimEnd().split("\n");
    assertMatch(lines[0], /^ID\s+NAME\s+VERSION\s+NODES\s+EDGES\s+UPDATED$/);
    assertMatch(lines[1], /^numbers\s+test numbers\s+1\s+3\s+2\s+(just now|\d+s ago)$/);
    assertMatch(lines[2], /^numbers-2\s+Second\s+1\s+3\s+2\s/);
    const listed = await cli(["workflows", "list", "--json", "--search", "SECOND"], { url });
    assertEquals(listed.json().map((w: { id: string }) => w.id), ["numbers-2"]);
    const paged = await cli(["workflows", "list", "--json", "--limit", "1"], { url });
    assertEquals(paged.json().length, 1);
    assertMatch(paged.stderr, /^more: add --cursor '[^']+' for the next page\n$/);

    const got = await cli(["workflows", "get", "numbers"], { url });
    assertStrictEquals(got.code, EXIT.ok, got.stderr);
    assertMatch(got.stdout, /^numbers {2}test numbers {2}\(version 1\)\n/);
    assertMatch(got.stdout, /\nbig\s+transform\s+filter\s+src\n/);
    const gotJson = await cli(["workflows", "get", "numbers", "--json"], { url });
    assertEquals(gotJson.json().nodes.map((x: { id: string }) => x.id), ["src", "big", "out"]);

    const changed = await jsonFile({ ...NUMBERS, name: "Numbers, renamed" });
    const updated = await cli(["workflows", "update", "-f", changed], { url });
    assertStrictEquals(updated.code, EXIT.ok, updated.stderr);
    assertEquals(updated.stdout, "workflow updated: numbers version 2\n");
    const v1 = await cli(["workflows", "get", "numbers", "--version", "1", "--json"], { url });
    assertStrictEquals(v1.json().name, "test numbers");

    const deleted = await cli(["workflows", "delete", "numbers"], { url });
    assertStrictEquals(deleted.code, EXIT.ok, deleted.stderr);
    assertEquals(deleted.stdout, "workflow deleted: numbers\n");
  });
});

Deno.test("cli: a refusal is exit 1 with the API's code, message and paths", async () => {
  await withNode(async (node) => {
    const url = node.url;
    const missing = await cli(["workflows", "get", "nope"], { url });
    assertStrictEquals(missing.code, EXIT.refused);
    assertEquals(missing.stdout, "");
    assertEquals(missing.stderr, "error: workflow_not_found (404): no workflow nope\n");
    const missingJson = await cli(["workflows", "get", "nope", "--json"], { url });
    assertStrictEquals(missingJson.code, EXIT.refused);
    assertEquals(missingJson.json(), {
      error: { code: "workflow_not_found", message: "no workflow nope", details: [] },
    });

    const bad = await jsonFile({ ...NUMBERS, nodes: [{ id: "a", type: "source", nodeType: "filter" }] });
    const invalid = await cli(["workflows", "create", "-f", bad], { url });
    assertStrictEquals(invalid.code, EXIT.refused);
    assertMatch(invalid.stderr, /^error: validation_failed \(400\): the workflow has \d+ problem\(s\)\n/);
    assertMatch(invalid.stderr, /\n {2}at \$\.nodes\[0\]\.nodeType \[unknown_node_kind\]: /);

    const runMissing = await cli(["run", "nope"], { url });
    assertStrictEquals(runMissing.code, EXIT.refused);
    assertMatch(runMissing.stderr, /^error: workflow_not_found \(404\)/);
  });
});

Deno.test("cli: bad usage is exit 2; help is exit 0", async () => {
  const cases: [string[], RegExp][] = [
    [[], /no command given/],
    [["frob"], /unknown command "frob"/],
    [["workflows"], /workflows needs a subcommand: list, get, create, update, delete/],
    [["workflows", "frob"], /unknown command "workflows frob"/],
    [["run"], /run: missing <workflowId>/],
    [["run", "x", "--bogus"], /run: unknown option --bogus/],
    [["run", "x", "--watch", "--json"], /--watch is for people/],
    [["workflows", "get", "a", "b"], /unexpected argument "b"/],
    [["workflows", "create"], /--file \(-f\) is required/],
    [
      ["workflows", "create", "-f", "/nonexistent/wf.json"],
      /cannot read \/nonexistent\/wf.json: no such file/,
    ],
    [["workflows", "list", "--limit", "0"], /--limit: "0" is not a whole number from 1 to 500/],
    [["workflows", "list", "--url", "localhost:8080"], /--url: "localhost:8080" is not an http\(s\) URL/],
    [["executions", "list", "--from", "yesterday"], /--from: "yesterday" is not a time/],
    [["run", "x", "--interval", "5s"], /--interval: "5s" is not a duration from 50 ms to 1000 ms/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args, { url: "http://127.0.0.1:9" });
    assertStrictEquals(r.code, EXIT.usage, `${args.join(" ")}: ${r.stderr}`);
    assertMatch(r.stderr, /^usage error: /);
    assertMatch(r.stderr, message);
    assertEquals(r.stdout, "");
  }
  const overview = await cli(["--help"]);
  assertStrictEquals(overview.code, EXIT.ok);
  for (
    const word of ["workflows list", "run <workflowId>", "executions signal", "cluster shards", "Exit codes:"]
  ) {
    assert(overview.stdout.includes(word), `${word} in:\n${overview.stdout}`);
  }
  const runHelp = await cli(["run", "--help"]);
  assertStrictEquals(runHelp.code, EXIT.ok);
  assertMatch(runHelp.stdout, /^Usage: deno task cli run <workflowId> \[options\]\n/);
  assertMatch(runHelp.stdout, /\n {2}-w, --watch +show the nodes' states live/);
  const groupHelp = await cli(["help", "executions"]);
  assertStrictEquals(groupHelp.code, EXIT.ok);
  assertMatch(groupHelp.stdout, /The executions commands:\n {2}executions list/);
});

Deno.test("cli: a node that cannot be reached is exit 3", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now
  const url = `http://127.0.0.1:${port}`;
  const human = await cli(["workflows", "list"], { url });
  assertStrictEquals(human.code, EXIT.unreachable);
  assertMatch(human.stderr, new RegExp(`^error: unreachable: cannot reach http://127\\.0\\.0\\.1:${port}: `));
  const json = await cli(["cluster", "status", "--json", "--url", url]);
  assertStrictEquals(json.code, EXIT.unreachable);
  assertStrictEquals(json.json().error.code, "unreachable");
});

Deno.test("cli: a 5xx answer is exit 3 with the API's code", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () =>
    Response.json(
      { error: { code: "storage_unavailable", message: "storage is down", details: [] } },
      { status: 503, headers: { "retry-after": "1" } },
    ));
  try {
    const r = await cli(["executions", "list"], { url: `http://127.0.0.1:${server.addr.port}` });
    assertStrictEquals(r.code, EXIT.unreachable);
    assertEquals(r.stderr, "error: storage_unavailable (503): storage is down\n");
  } finally {
    await server.shutdown();
  }
});
