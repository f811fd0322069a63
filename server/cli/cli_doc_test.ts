/** docs/CLI.md stays true: it names every command and every option, and lists every exit code. */
import { assert } from "../../testing/assert.ts";
import { GLOBAL_OPTIONS } from "./args.ts";
import { COMMANDS } from "./commands/mod.ts";
import { EXIT } from "./errors.ts";
import { EXIT_INTERRUPTED } from "./follow.ts";
import { EXIT_INTERNAL } from "./main.ts";

const ROOT = new URL("../../", import.meta.url);
const canRead = Deno.permissions.querySync({ name: "read", path: ROOT }).state === "granted";

Deno.test({
  name: "cli docs: every command, option and exit code is in docs/CLI.md",
  ignore: !canRead,
  fn() {
    const doc = Deno.readTextFileSync(new URL("docs/CLI.md", ROOT));
    for (const c of COMMANDS) {
      const [group, verb] = c.name.split(" ");
      const named = verb === undefined
        ? doc.includes(`cli ${group} `)
        : doc.includes(`${group} ${verb}`) || new RegExp(`${group} [a-z|\\\\]*\\b${verb}\\b`).test(doc);
      assert(named, `docs/CLI.md does not show "${c.name}"`);
      for (const option of Object.keys({ ...c.options, ...GLOBAL_OPTIONS })) {
        assert(doc.includes(`--${option}`), `docs/CLI.md does not name --${option} (${c.name})`);
      }
    }
    const table = doc.slice(doc.indexOf("## Exit codes"), doc.indexOf("## Workflows"));
    for (const code of [...Object.values(EXIT), EXIT_INTERRUPTED, EXIT_INTERNAL]) {
      assert(
        new RegExp(`^\\| ${code} +\\|`, "m").test(table),
        `exit code ${code} is not in docs/CLI.md's table`,
      );
    }
  },
});
