/**
 * Runs the CLI (`server/cli/main.ts`) as a real process, the way `deno task cli` does, and reads its exit
 * code, standard output and standard error. `ENGINE_URL` and `ENGINE_TOKEN` are set only as asked (the
 * test's own environment never leaks in). Imported only by tests.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url);

/** What one CLI run did. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Standard output parsed as one JSON document. */
  // deno-lint-ignore no-explicit-any
  json(): any;
}

/** Options of {@link cli}. */
export interface CliOptions {
  /** `ENGINE_URL` (none: unset). */
  url?: string;
  /** `ENGINE_TOKEN` (none: unset). */
  token?: string;
  /** Text on standard input (none: no input). */
  stdin?: string;
  /** Kill the process after this many ms (default 60,000). */
  timeoutMs?: number;
}

/** Spawns `deno run -A server/cli/main.ts <args>` in the repository root, its output piped. */
function spawn(args: readonly string[], opts: CliOptions, stdin: boolean): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "server/cli/main.ts", ...args],
    cwd: ROOT,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      ENGINE_URL: opts.url ?? "",
      ENGINE_TOKEN: opts.token ?? "",
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    },
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  }).spawn();
}

/** Runs `deno run -A server/cli/main.ts <args>` in the repository root. */
export async function cli(args: readonly string[], opts: CliOptions = {}): Promise<CliRun> {
  const child = spawn(args, opts, opts.stdin !== undefined);
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  return {
    code: out.code,
    stdout,
    stderr,
    json() {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`stdout is not one JSON document (exit ${out.code}):\n${stdout}\nstderr:\n${stderr}`);
      }
    },
  };
}

/** A CLI process still running, its standard output read as it comes. */
export interface LiveCli {
  /** Standard output so far. */
  readonly stdout: string;
  /** Resolves once standard output holds `text` (rejects when the process ends without it). */
  waitFor(text: string): Promise<void>;
  /** The run, once the process ended. */
  done: Promise<CliRun>;
}

/** Starts `deno run -A server/cli/main.ts <args>` and reads its output as it comes (see {@link LiveCli}). */
export function spawnCli(args: readonly string[], opts: CliOptions = {}): LiveCli {
  const child = spawn(args, opts, false);
  let stdout = "";
  let ended = false;
  const waiters: { text: string; resolve(): void; reject(e: Error): void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (stdout.includes(w.text)) w.resolve();
      else if (ended) {
        w.reject(new Error(`the CLI ended without printing ${JSON.stringify(w.text)}:\n${stdout}`));
      } else continue;
      waiters.splice(waiters.indexOf(w), 1);
    }
  };
  const readOut = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      check();
    }
  })();
  const readErr = new Response(child.stderr).text();
  const done = (async () => {
    const [status, stderr] = await Promise.all([child.status, readErr, readOut]).then(([s, e]) =>
      [s, e] as const
    );
    ended = true;
    check();
    return {
      code: status.code,
      stdout,
      stderr,
      json: () => JSON.parse(stdout),
    };
  })();
  return {
    get stdout() {
      return stdout;
    },
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ text, resolve, reject });
        check();
      }),
    done,
  };
}
