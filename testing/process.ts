/**
 * TEST-ONLY helpers for tests that run the server as a real process
 * (`server/crash_test.ts`): a free port, `deno run -A server/main.ts ...` spawned
 * with its output drained (so the child never blocks on a full pipe), readiness
 * polling, SIGKILL/SIGTERM, HTTP requests with a timeout over a client of their
 * own (closed with the process, so no pooled connection outlives it), and a
 * bounded-concurrency loop.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url);

/** A free TCP port on 127.0.0.1 (listen on 0, read the port, close). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A response whose body was read. */
export interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
}

/** Where requests go: a base URL and (optionally) an HTTP client of its own. */
export interface HttpTarget {
  url: string;
  client?: Deno.HttpClient;
}

/** Options of {@link call}. */
export interface CallOptions {
  json?: unknown;
  headers?: Record<string, string>;
  /** Abort the request after this many ms (default 10,000). */
  timeoutMs?: number;
}

/** Sends one request and reads the whole body; rejects on a connection error or timeout. */
export async function call(
  target: HttpTarget,
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: string | undefined;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${target.url}${path}`, {
    method,
    headers,
    body,
    client: target.client,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json") && text !== "") parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
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
  constructor(readonly args: readonly string[], readonly port: number) {
    this.url = `http://127.0.0.1:${port}`;
    this.child = new Deno.Command(Deno.execPath(), {
      args: [...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    }).spawn();
    this.client = Deno.createHttpClient({});
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

/** Spawns `deno run -A server/main.ts --port <port> <args>`. */
export function spawnServer(port: number, args: readonly string[]): ServerProcess {
  return new ServerProcess(["run", "-A", "server/main.ts", "--port", String(port), ...args], port);
}

/** The nodes of `delayChain`, and the records its sink collects. */
export const DELAY_CHAIN_NODES = ["src", "double", "wait", "inc", "out"];
export const DELAY_CHAIN_OUTPUT = [3, 5, 7, 9, 11];

/** The crash tests' workflow: sequence 1..5 → value*2 → delay → value+1 → collect. */
export function delayChain(id: string, name: string, delayMs: number) {
  return {
    id,
    name,
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 5 } },
      { id: "double", type: "transform", nodeType: "map", config: { expression: "value * 2" } },
      { id: "wait", type: "control", nodeType: "delay", config: { durationMs: delayMs } },
      { id: "inc", type: "transform", nodeType: "map", config: { expression: "value + 1" } },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [
      { source: "src", target: "double" },
      { source: "double", target: "wait" },
      { source: "wait", target: "inc" },
      { source: "inc", target: "out" },
    ],
  };
}
