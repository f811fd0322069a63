/**
 * The CLI's help texts, made from the commands' own descriptions: one command's (`run --help`), a group's
 * (`executions --help`) and the overview (`--help`), with the global options, the environment and the exit
 * codes.
 *
 * @module
 */
import { GLOBAL_OPTIONS } from "./args.ts";
import type { Command, Options } from "./command.ts";

/** How the CLI is run, for the usage lines. */
export const PROGRAM = "deno task cli";

/** The exit codes, as the help and docs/CLI.md list them. */
export const EXIT_CODES_HELP = [
  "  0  done",
  "  1  the API refused the request (4xx): its code, message and paths are printed",
  "  2  usage error: unknown command or option, missing argument, unreadable input file, ambiguous short id",
  "  3  the node cannot be reached, did not answer in time, or failed (5xx)",
  "  4  the execution waited for ended failed, cancelled or timed_out (run; executions get --wait)",
  "  5  --timeout ran out while the execution was still running (run; executions get --wait)",
];

/** Option lines, aligned: `  -f, --file FILE   help`. */
function optionLines(options: Options): string[] {
  const heads = Object.entries(options).map(([name, o]) =>
    `  ${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`
  );
  const width = Math.max(...heads.map((h) => h.length));
  return Object.values(options).map((o, i) => `${heads[i].padEnd(width)}  ${o.help}`);
}

/** The usage line of a command. */
function usageLine(c: Command): string {
  const args = (c.args ?? []).map((a) => a.optional ? `[<${a.name}>]` : `<${a.name}>`).join(" ");
  const options = Object.keys(c.options ?? {}).length > 0 ? " [options]" : "";
  return `${PROGRAM} ${c.name}${args ? ` ${args}` : ""}${options}`;
}

/** The help of one command. */
export function commandHelp(c: Command): string {
  const lines = [`Usage: ${usageLine(c)}`, "", c.summary];
  if (c.details?.length) lines.push("", ...c.details);
  if (c.args?.length) {
    const width = Math.max(...c.args.map((a) => a.name.length + 2));
    lines.push("", "Arguments:", ...c.args.map((a) => `  ${`<${a.name}>`.padEnd(width)}  ${a.help}`));
  }
  if (c.options && Object.keys(c.options).length > 0) lines.push("", "Options:", ...optionLines(c.options));
  lines.push("", "Global options:", ...optionLines(GLOBAL_OPTIONS));
  if (c.examples?.length) lines.push("", "Examples:", ...c.examples.map((e) => `  ${PROGRAM} ${e}`));
  return lines.join("\n");
}

/** The list of commands (all, or those starting with `prefix`), with their summaries. */
function commandList(commands: readonly Command[]): string[] {
  const heads = commands.map(usageLine).map((u) => u.slice(PROGRAM.length + 1));
  const width = Math.max(...heads.map((h) => h.length));
  return commands.map((c, i) => `  ${heads[i].padEnd(width)}  ${c.summary}`);
}

/** The help for `prefix`: one command's, a group's, or the overview (empty prefix). */
export function help(commands: readonly Command[], prefix: readonly string[]): string | undefined {
  const name = prefix.join(" ");
  const exact = commands.find((c) => c.name === name);
  if (exact) return commandHelp(exact);
  const group = commands.filter((c) => name === "" || c.name.startsWith(`${name} `));
  if (group.length === 0) return undefined;
  const lines = [
    `Usage: ${PROGRAM} ${name ? `${name} ` : ""}<command> [arguments] [options]`,
    "",
    name ? `The ${name} commands:` : "Drives a flowmesh node over its HTTP API. Commands:",
    ...commandList(group),
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
  ];
  if (name === "") {
    lines.push(
      "",
      "Environment:",
      "  ENGINE_URL    the node's base URL (--url wins)",
      "  ENGINE_TOKEN  an API token (--token wins); prefer it to --token, which other users may see in ps",
      "",
      "Exit codes:",
      ...EXIT_CODES_HELP,
      "",
      `'${PROGRAM} <command> --help' shows a command's arguments, options and examples; docs/CLI.md has them all.`,
    );
  }
  return lines.join("\n");
}
