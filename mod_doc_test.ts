/**
 * The public API's documentation: `deno doc --lint mod.ts` finds nothing, so every symbol the embedding entry
 * exports (and every property of its interfaces) has JSDoc, and no public type refers to one mod.ts does not
 * export.
 */
import { assert } from "./testing/assert.ts";

const ROOT = new URL(".", import.meta.url);

/** The `error[…]` diagnostics of a `deno doc --lint` output, each with the lines that locate it. */
function diagnostics(output: string): string[] {
  const lines = output.split("\n");
  const found: string[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith("error[")) found.push(lines.slice(i, i + 4).join("\n"));
  });
  return found;
}

/** `deno <args>` at the repository root, colours off: its status and its output (stdout then stderr). */
async function deno(args: string[]): Promise<{ success: boolean; code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    success: out.success,
    code: out.code,
    output: decoder.decode(out.stdout) + decoder.decode(out.stderr),
  };
}

Deno.test("deno doc --lint mod.ts: no errors", async () => {
  // NO_COLOR: plain text, so each diagnostic line starts with `error[`.
  const { output, ...out } = await deno(["doc", "--lint", "mod.ts"]);
  const errors = diagnostics(output);
  const shown = errors.slice(0, 10).join("\n\n");
  assert(
    out.success && errors.length === 0 && !output.includes("error["),
    `deno doc --lint mod.ts: exit ${out.code}, ${errors.length} error(s); the first:\n\n${shown || output}`,
  );
});

Deno.test("deno publish --dry-run: the package (name, version, exports, license, README) publishes", async () => {
  const { output, ...out } = await deno(["publish", "--dry-run", "--allow-dirty"]);
  assert(out.success && output.includes("Success Dry run complete"), output.slice(0, 4000));
  for (const file of ["/mod.ts", "/README.md", "/LICENSE", "/deno.json"]) {
    assert(output.includes(`${ROOT.href.replace(/\/$/, "")}${file}`), `${file} is published`);
  }
  assert(!output.includes("_test.ts"), "tests are not published");
});
