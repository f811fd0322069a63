/**
 * The command line: which command the words name (`executions list`), and its arguments and options,
 * parsed strictly with `node:util` parseArgs (an unknown option, a missing value or a missing argument is a
 * usage error, exit 2). Global options (`--url`, `--token`, `--json`, `--help`) may come anywhere.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Command, Options } from "./command.ts";
import { usageError } from "./errors.ts";

/** The options every command takes. */
export const GLOBAL_OPTIONS: Options = {
  url: {
    type: "string",
    value: "URL",
    help: "the node's base URL (default: $ENGINE_URL, else http://127.0.0.1:8080)",
  },
  token: {
    type: "string",
    value: "TOKEN",
    help: "an API token, sent as 'Authorization: Bearer' (default: $ENGINE_TOKEN); never printed",
  },
  json: { type: "boolean", help: "print the API's JSON, one document, instead of tables" },
  help: { type: "boolean", short: "h", help: "show the help of the command" },
};

/** What the command line asks for. */
export type Located =
  /** A command, with the indexes of its words in argv. */
  | { kind: "command"; command: Command; wordIndexes: number[] }
  /** Help: of a command, of a group of commands (`executions`), or of everything (`prefix` empty). */
  | { kind: "help"; prefix: string[] };

/** The global options that take a value. */
const VALUED = new Set(
  Object.entries(GLOBAL_OPTIONS).filter(([, o]) => o.type === "string").map(([k]) => `--${k}`),
);

/** The leading words of argv (global options and their values skipped), with their indexes. */
function leadingWords(argv: readonly string[]): { words: string[]; indexes: number[] } {
  const words: string[] = [];
  const indexes: number[] = [];
  for (let i = 0; i < argv.length && words.length < 3; i++) {
    const a = argv[i];
    if (a === "--") break;
    if (VALUED.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) {
      if (
        a.startsWith("--") && VALUED.has(a.split("=")[0]) || a === "--json" || a === "--help" || a === "-h"
      ) {
        continue;
      }
      break; // a command's option: the command's words came before it
    }
    words.push(a);
    indexes.push(i);
  }
  return { words, indexes };
}

/** Whether argv asks for help (`--help`, `-h`, before any `--`). */
function asksHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** The command (or the help) argv names among `commands`; a usage error for unknown words. */
export function locate(argv: readonly string[], commands: readonly Command[]): Located {
  const { words, indexes } = leadingWords(argv);
  if (words[0] === "help") return { kind: "help", prefix: words.slice(1) };
  const help = asksHelp(argv);
  const byName = new Map(commands.map((c) => [c.name, c]));
  const command = byName.get(words.slice(0, 2).join(" ")) ?? byName.get(words[0] ?? "");
  if (command) {
    const size = command.name.split(" ").length;
    if (help) return { kind: "help", prefix: command.name.split(" ") };
    return { kind: "command", command, wordIndexes: indexes.slice(0, size) };
  }
  if (words.length === 0) {
    if (help) return { kind: "help", prefix: [] };
    throw usageError("no command given; see --help");
  }
  const group = commands.filter((c) => c.name.startsWith(`${words[0]} `));
  if (group.length === 0) throw usageError(`unknown command ${JSON.stringify(words[0])}; see --help`);
  if (help) return { kind: "help", prefix: [words[0]] };
  const verbs = group.map((c) => c.name.split(" ")[1]).join(", ");
  if (words.length === 1) throw usageError(`${words[0]} needs a subcommand: ${verbs}`);
  throw usageError(`unknown command "${words[0]} ${words[1]}"; ${words[0]} has ${verbs}`);
}

/** A command's parsed arguments. */
export interface ParsedArgs {
  args: string[];
  opts: Record<string, string | boolean | undefined>;
}

/** Parses argv (without the command's words) for `command`; a usage error on any fault. */
export function parseCommandArgs(command: Command, argv: readonly string[]): ParsedArgs {
  const options = { ...GLOBAL_OPTIONS, ...command.options };
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(options).map((
          [k, o],
        ) => [k, o.short ? { type: o.type, short: o.short } : { type: o.type }]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    const unknown = /^Unknown option '([^']+)'/.exec(e.message);
    const why = e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && unknown
      ? `unknown option ${unknown[1]}`
      : e.message.split("\n")[0];
    throw usageError(`${command.name}: ${why}; see ${command.name} --help`);
  }
  const specs = command.args ?? [];
  const required = specs.filter((a) => !a.optional).length;
  const args = parsed.positionals;
  if (args.length < required) {
    const missing = specs.slice(args.length).filter((a) => !a.optional).map((a) => `<${a.name}>`);
    throw usageError(`${command.name}: missing ${missing.join(" ")}; see ${command.name} --help`);
  }
  if (args.length > specs.length) {
    throw usageError(`${command.name}: unexpected argument ${JSON.stringify(args[specs.length])}`);
  }
  return { args, opts: parsed.values as Record<string, string | boolean | undefined> };
}
