/** docs/CONFIGURATION.md is what `deno task docs:config` renders from the settings table: it cannot drift. */
import { assert, assertEquals } from "../../testing/assert.ts";
import { CONFIGURATION_DOC, renderConfigurationDoc } from "./config_doc.ts";
import { SETTINGS } from "./config.ts";

async function formatted(markdown: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(markdown));
  await writer.close();
  const out = await child.output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("docs/CONFIGURATION.md is generated from the settings (run `deno task docs:config`)", async () => {
  const onDisk = await Deno.readTextFile(new URL(`../../${CONFIGURATION_DOC}`, import.meta.url));
  assertEquals(onDisk, await formatted(renderConfigurationDoc()));
  for (const s of SETTINGS) {
    assert(onDisk.includes(`\`${s.flag}\``) && onDisk.includes(`\`${s.env}\``), `${s.flag} is listed`);
  }
});
