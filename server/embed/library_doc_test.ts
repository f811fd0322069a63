/**
 * docs/LIBRARY.md holds true as a new user meets it: its first script, copied into a folder of its own beside
 * a `flowmesh` link to this repository (no config of ours in reach), runs with `deno run -A hello.ts` and
 * prints the records; the example project runs without our `deno.json` and serves its API when asked.
 */
import { assert, assertEquals } from "../../testing/assert.ts";

const ROOT = new URL("../../", import.meta.url);

/** The first ```ts block after `heading` in a markdown text. */
function codeAfter(markdown: string, heading: string): string {
  const from = markdown.indexOf(heading);
  assert(from >= 0, `no ${heading}`);
  const match = /```ts(?: ignore)?\n([\s\S]*?)```/.exec(markdown.slice(from));
  assert(match, `no ts block after ${heading}`);
  return match[1];
}

async function run(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  return { code: out.code, out: text.decode(out.stdout), err: text.decode(out.stderr) };
}

/** Runs `script` as `hello.ts` in a folder of its own beside a `flowmesh` link to this repository. */
async function runAsUser(script: string): Promise<{ code: number; out: string; err: string }> {
  assert(script.includes('from "../flowmesh/mod.ts"'), script);
  const home = await Deno.makeTempDir({ prefix: "flowmesh-user-" });
  try {
    await Deno.symlink(new URL(".", ROOT).pathname.replace(/\/$/, ""), `${home}/flowmesh`);
    await Deno.mkdir(`${home}/app`);
    await Deno.writeTextFile(`${home}/app/hello.ts`, script);
    return await run(["run", "-A", "hello.ts"], `${home}/app`);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("library doc: the first script runs unchanged from a folder of its own", async () => {
  const doc = await Deno.readTextFile(new URL("docs/LIBRARY.md", ROOT));
  const result = await runAsUser(codeAfter(doc, "## The first script"));
  assertEquals(result.code, 0, result.err);
  assertEquals(result.out.trim(), '[ "A", "B" ]');
});

Deno.test("library doc: the README's embedding example runs from a folder of its own", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const result = await runAsUser(codeAfter(readme, "## In your own program"));
  assertEquals(result.code, 0, result.err);
  assertEquals(result.out.trim(), '[ "A", "B" ]');
});

Deno.test("library doc: the example project runs without our config", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    const main = new URL("docs/examples/embed/main.ts", ROOT).pathname;
    const result = await run(["run", "-A", "--no-config", main], cwd);
    assertEquals(result.code, 0, result.err);
    const lines = result.out.trim().split("\n");
    assertEquals(lines[0], "event 1 ExecutionStarted");
    assert(lines.includes("event 7 NodeSucceeded price"), result.out);
    assertEquals(lines.at(-2), "status completed");
    const priced = JSON.parse(lines.at(-1)!.replace(/^priced /, ""));
    assertEquals(priced.map((o: { total: number }) => o.total), [10.8, 14.4]);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("library doc: the example project serves its API with --serve", async () => {
  const main = new URL("docs/examples/embed/main.ts", ROOT).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", main, "--serve", "0"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  try {
    while (!/serving (\S+)\/ui\//.test(seen)) {
      const { value, done } = await reader.read();
      assert(!done, `ended before serving: ${seen}`);
      seen += value;
    }
    const url = /serving (\S+)\/ui\//.exec(seen)![1];
    const types = await (await fetch(`${url}/api/v1/workflows/node-types`)).json();
    const kind = types.transform.find((k: { type: string }) => k.type === "orders.price");
    assertEquals(kind.custom, true);
    assertEquals(kind.configSchema.properties.currency.enum, ["EUR", "USD", "GBP"]);
    const list = await (await fetch(`${url}/api/v1/workflows`)).json();
    assert(JSON.stringify(list).includes("price-orders"), JSON.stringify(list));
  } finally {
    child.kill("SIGINT");
    await reader.cancel();
    await child.stderr.cancel();
    assertEquals((await child.status).code, 0);
  }
});
