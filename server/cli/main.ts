/**
 * `deno task cli`: drives a running node over its HTTP API. `deno task cli --help` lists the commands;
 * docs/CLI.md describes each, its output and the exit codes.
 *
 * @module
 */
import { locate, parseCommandArgs } from "./args.ts";
import { ApiClient, baseUrl } from "./client.ts";
import type { Io } from "./command.ts";
import { COMMANDS } from "./commands/mod.ts";
import { CliError, describeError, EXIT, usageError } from "./errors.ts";
import { help } from "./help.ts";

/** The node the CLI talks to without `--url` or `ENGINE_URL` (the server's default address). */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** The exit code of a failure that is none of the documented ones (a bug in the CLI). */
export const EXIT_INTERNAL = 70;

/** The environment the CLI reads. */
export type Env = (name: string) => string | undefined;

/** Runs one command: parses, calls the node, prints; resolves with the exit code. */
export async function main(argv: readonly string[], env: Env, io: Io): Promise<number> {
  let json = false;
  try {
    const located = locate(argv, COMMANDS);
    if (located.kind === "help") {
      const text = help(COMMANDS, located.prefix);
      if (text === undefined) throw usageError(`no command ${located.prefix.join(" ")}; see --help`);
      io.out(text);
      return EXIT.ok;
    }
    const { command, wordIndexes } = located;
    const rest = argv.filter((_, i) => !wordIndexes.includes(i));
    const { args, opts } = parseCommandArgs(command, rest);
    json = opts.json === true;
    const client = clientOf(opts, env);
    return await command.run({ client, args, opts, json, io });
  } catch (err) {
    if (!(err instanceof CliError)) {
      io.err(`internal error: ${(err as Error)?.stack ?? err}`);
      return EXIT_INTERNAL;
    }
    for (const line of describeError(err)) io.err(line);
    if (err.code === "unauthenticated" && !hasToken(argv, env)) {
      io.err("hint: this node needs an API token: --token, or ENGINE_TOKEN");
    }
    if (json && err.exit !== EXIT.usage) io.out(JSON.stringify(err.body, null, 2));
    return err.exit;
  }
}

/** Whether a token is given (by option or environment). */
function hasToken(argv: readonly string[], env: Env): boolean {
  return argv.some((a) => a === "--token" || a.startsWith("--token=")) || !!env("ENGINE_TOKEN");
}

/** The API client of the options and environment (`--url` over `ENGINE_URL`, `--token` over `ENGINE_TOKEN`). */
function clientOf(opts: Record<string, string | boolean | undefined>, env: Env): ApiClient {
  const given = (opts.url as string | undefined) ?? (env("ENGINE_URL") || DEFAULT_URL);
  const url = baseUrl(given);
  if (url === undefined) {
    throw usageError(
      `${opts.url !== undefined ? "--url" : "ENGINE_URL"}: ${
        JSON.stringify(given)
      } is not an http(s) URL such as ${DEFAULT_URL}`,
    );
  }
  const token = (opts.token as string | undefined) ?? (env("ENGINE_TOKEN") || undefined);
  if (token !== undefined && !/^[!-~]+$/.test(token)) {
    throw usageError(
      `${opts.token !== undefined ? "--token" : "ENGINE_TOKEN"} must be printable ASCII without spaces`,
    );
  }
  return new ApiClient({ url, token });
}

/** The real terminal: standard output and error, the clock, Ctrl-C. */
function terminal(): Io {
  const encoder = new TextEncoder();
  const interrupts = new AbortController();
  let interrupted = false;
  Deno.addSignalListener("SIGINT", () => {
    // A second Ctrl-C ends at once; the first lets a wait end cleanly (restoring the cursor).
    if (interrupted) Deno.exit(130);
    interrupted = true;
    interrupts.abort();
  });
  const writeTo = (file: typeof Deno.stdout, text: string) => {
    const bytes = encoder.encode(text);
    try {
      for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
    } catch (err) {
      // The reader went away (`| head`): nothing more to say.
      if (err instanceof Deno.errors.BrokenPipe) Deno.exit(EXIT.ok);
      throw err;
    }
  };
  const write = (text: string) => writeTo(Deno.stdout, text);
  return {
    out: (line) => write(`${line}\n`),
    err: (line) => writeTo(Deno.stderr, `${line}\n`),
    write,
    isTerminal: Deno.stdout.isTerminal(),
    rows: () => {
      try {
        return Deno.consoleSize().rows || 24;
      } catch {
        return 24;
      }
    },
    columns: () => {
      try {
        return Deno.consoleSize().columns || 80;
      } catch {
        return 80;
      }
    },
    now: () => Date.now(),
    sleep: (ms) =>
      new Promise((resolve) => {
        const id = setTimeout(done, ms);
        function done() {
          clearTimeout(id);
          interrupts.signal.removeEventListener("abort", done);
          resolve();
        }
        interrupts.signal.addEventListener("abort", done, { once: true });
      }),
    interrupted: interrupts.signal,
  };
}

if (import.meta.main) {
  const code = await main(Deno.args, (name) => Deno.env.get(name), terminal());
  Deno.exit(code);
}
