/** The command line: which command the words name, global options anywhere, strict options and arguments. */
import { assertEquals, assertStrictEquals, assertThrows } from "../../testing/assert.ts";
import { locate, parseCommandArgs } from "./args.ts";
import { COMMANDS } from "./commands/mod.ts";
import { CliError, EXIT } from "./errors.ts";
import { help } from "./help.ts";

/** The command argv names, and its parsed arguments. */
function parse(argv: string[]) {
  const located = locate(argv, COMMANDS);
  if (located.kind !== "command") return located;
  const rest = argv.filter((_, i) => !located.wordIndexes.includes(i));
  return { name: located.command.name, ...parseCommandArgs(located.command, rest) };
}

/** Asserts argv is a usage error whose message contains `text`. */
function assertUsage(argv: string[], text: string) {
  assertThrows(() => parse(argv), (err: unknown) => {
    assertStrictEquals((err as CliError).exit, EXIT.usage);
    return (err as CliError).message.includes(text);
  });
}

Deno.test("args: command words, global options before or after them, options and arguments", () => {
  assertEquals(parse(["--url", "http://x:1", "executions", "get", "ex-1", "--json"]), {
    name: "executions get",
    args: ["ex-1"],
    opts: { url: "http://x:1", json: true },
  });
  assertEquals(parse(["--json", "run", "wf", "-w", "--input=[1]"]), {
    name: "run",
    args: ["wf"],
    opts: { json: true, watch: true, input: "[1]" },
  });
  // A workflow named like a subcommand is an argument of run.
  assertEquals(parse(["run", "list"]), { name: "run", args: ["list"], opts: {} });
  assertEquals(parse(["executions", "signal", "ex-1", "go", "--data", "-"]), {
    name: "executions signal",
    args: ["ex-1", "go"],
    opts: { data: "-" },
  });
});

Deno.test("args: help of everything, of a group, of a command", () => {
  assertEquals(locate(["--help"], COMMANDS), { kind: "help", prefix: [] });
  assertEquals(locate(["help", "executions", "list"], COMMANDS), {
    kind: "help",
    prefix: ["executions", "list"],
  });
  assertEquals(locate(["schedules", "-h"], COMMANDS), { kind: "help", prefix: ["schedules"] });
  assertEquals(locate(["run", "wf", "--help"], COMMANDS), { kind: "help", prefix: ["run"] });
  assertStrictEquals(help(COMMANDS, ["nope"]), undefined);
  // Every command has a help that names its usage line, and every option in it.
  for (const c of COMMANDS) {
    const text = help(COMMANDS, c.name.split(" "))!;
    assertStrictEquals(text.startsWith(`Usage: deno task cli ${c.name}`), true, text);
    for (const name of Object.keys(c.options ?? {})) {
      assertStrictEquals(text.includes(`--${name}`), true, name);
    }
  }
});

Deno.test("args: usage errors", () => {
  assertUsage([], "no command given");
  assertUsage(["nope"], 'unknown command "nope"');
  assertUsage(["cluster"], "cluster needs a subcommand: status, shards");
  assertUsage(["cluster", "nodes"], 'unknown command "cluster nodes"');
  assertUsage(["workflows", "get"], "missing <workflowId>");
  assertUsage(["executions", "signal", "ex-1"], "missing <name>");
  assertUsage(["cluster", "status", "extra"], 'unexpected argument "extra"');
  assertUsage(["run", "wf", "--nope"], "unknown option --nope");
  assertUsage(["run", "wf", "--input"], "--input <value>' argument missing");
  assertUsage(["workflows", "list", "--json=yes"], "'--json' does not take an argument");
});
