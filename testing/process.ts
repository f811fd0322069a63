/**
 * Helpers for tests that run the server as a real process (`server/crash_test.ts`,
 * `server/cluster/cluster_process_test.ts`, `server/outage_test.ts`): `deno run -A
 * server/main.ts ...` spawned with its output drained (so the child never blocks on a
 * full pipe), readiness polling, SIGKILL/SIGTERM, HTTP requests with a timeout over a
 * client of their own (closed with the process, so no pooled connection outlives it),
 * a bounded-concurrency loop, and reads that retry or poll until an execution ends.
 * Imported only by tests and benches.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { type HttpTarget, type Reply, request, type RequestOptions } from "./http.ts";
import { sleep } from "./wait.ts";

const ROOT = new URL("..", import.meta.url);

/** Options of {@link call}. */
export type CallOptions = Omit<RequestOptions, "raw">;

/** Sends one request and reads the whole body; aborts it after `timeoutMs` (default 10,000). */
export function call(
  target: HttpTarget,
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<Reply> {
  return request(target, method, path, { ...opts, timeoutMs: opts.timeoutMs ?? 10_000 });
}

/** Runs `fn` over `items` with at most `width` calls in flight. */
export async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** The most output kept per process (the tail), for failure messages. */
const MAX_OUTPUT = 64 * 1024;

/** Options of a {@link ServerProcess}. */
export interface ServerProcessOptions {
  /** The server speaks HTTPS (`--tls-cert`): its URL is `https://…`, its client trusts these PEM certificates. */
  caCerts?: string[];
  /** The process's whole environment (default: this process's, plus `NO_COLOR` and `DENO_NO_UPDATE_CHECK`). */
  env?: Record<string, string>;
}

/** A server running as a child process. */
export class ServerProcess implements HttpTarget {
  readonly child: Deno.ChildProcess;
  readonly url: string;
  readonly client: Deno.HttpClient;
  /** Set once the process exited. */
  exited: Deno.CommandStatus | undefined;
  readonly #drained: Promise<void>;
  #output = "";
  #status: Promise<Deno.CommandStatus>;

  /** Spawns `deno <args>` in the repository root; `port` is the port the args make it listen on. */
  constructor(readonly args: readonly string[], readonly port: number, options: ServerProcessOptions = {}) {
    this.url = `${options.caCerts ? "https" : "http"}://127.0.0.1:${port}`;
    this.child = new Deno.Command(Deno.execPath(), {
      args: [...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: options.env ?? { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      clearEnv: options.env !== undefined,
    }).spawn();
    this.client = Deno.createHttpClient({ caCerts: options.caCerts });
    this.#status = this.child.status.then((s) => this.exited = s);
    this.#drained = Promise.all([this.#drain(this.child.stdout), this.#drain(this.child.stderr)])
      .then(() => {});
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.#output += decoder.decode(chunk, { stream: true });
        if (this.#output.length > 2 * MAX_OUTPUT) this.#output = this.#output.slice(-MAX_OUTPUT);
      }
    } catch { /* the process is gone */ }
  }

  /** The tail of the process's stdout and stderr, interleaved. */
  get output(): string {
    return this.#output.slice(-MAX_OUTPUT);
  }

  /**
   * Polls GET /health/ready until 200; returns how long it took in ms. Fails
   * early (with the output) when the process exits, and after `timeoutMs`.
   */
  async waitReady(timeoutMs: number): Promise<number> {
    const started = performance.now();
    for (;;) {
      if (this.exited) {
        throw new Error(`the server exited (${JSON.stringify(this.exited)}) before ready:\n${this.output}`);
      }
      const r = await call(this, "GET", "/health/ready", { timeoutMs: 2_000 }).catch(() => undefined);
      if (r?.status === 200) return performance.now() - started;
      if (performance.now() - started > timeoutMs) {
        throw new Error(`the server was not ready after ${timeoutMs} ms (last: ${r?.text}):\n${this.output}`);
      }
      await sleep(50);
    }
  }

  /** Sends a signal (default SIGKILL) and waits for the exit and the end of its output. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    if (!this.exited) {
      try {
        this.child.kill(signal);
      } catch { /* already exited */ }
    }
    const status = await this.#status;
    await this.#drained;
    return status;
  }

  /** Stops the process if still running (SIGKILL) and releases everything. Never throws. */
  async close(): Promise<void> {
    await this.kill("SIGKILL").catch(() => {});
    try {
      this.client.close();
    } catch { /* closed */ }
  }
}

/** Spawns `deno run -A server/main.ts --port <port> <args>` (HTTPS, trusting `options.caCerts`, if given). */
export function spawnServer(
  port: number,
  args: readonly string[],
  options: ServerProcessOptions = {},
): ServerProcess {
  return new ServerProcess(["run", "-A", "server/main.ts", "--port", String(port), ...args], port, options);
}

/** GET with up to 5 retries, `pauseMs` apart, on connection errors and timeouts (a fresh process may drop the very first requests). */
export async function getRetrying(target: HttpTarget, path: string, pauseMs = 100): Promise<Reply> {
  for (let attempt = 0;; attempt++) {
    try {
      return await call(target, "GET", path);
    } catch (err) {
      if (attempt >= 5) throw err;
      await sleep(pauseMs);
    }
  }
}

/** Polls an execution every `pauseMs` until it ends (fails after `deadline`, a `Date.now()`); returns its view. */
export async function waitEnded(
  target: HttpTarget,
  executionId: string,
  deadline: number,
  pauseMs = 100,
): Promise<Reply["body"]> {
  for (;;) {
    const r = await getRetrying(target, `/api/v1/executions/${executionId}`, pauseMs);
    assertEquals(r.status, 200, `GET ${executionId}: ${r.text}`);
    if (r.body.status !== "running") return r.body;
    if (Date.now() > deadline) throw new Error(`${executionId} still running: ${r.text}`);
    await sleep(pauseMs);
  }
}
