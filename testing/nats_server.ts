/**
 * A NATS server of a test's own, on spare loopback ports (`/usr/sbin/nats-server`), for what the shared one
 * on 4222 must never go through: an outage (killed and started again on the same port and store), a server
 * without JetStream. Without the binary a test is skipped locally with a line saying so, but fails under
 * CI=true. Imported only by tests.
 *
 * @example
 * ```ts
 * import { NATS_SERVER_BIN } from "./nats_server.ts";
 * if (!NATS_SERVER_BIN.endsWith("nats-server")) throw new Error(NATS_SERVER_BIN);
 * ```
 *
 * @module
 */
import { freePort } from "./net.ts";

/** Where the nats-server binary is expected. */
export const NATS_SERVER_BIN = "/usr/sbin/nats-server";

/** A nats-server this test started. */
export interface SpareNats {
  /** `nats://127.0.0.1:<port>`. */
  url: string;
  /** Its monitoring endpoint, `http://127.0.0.1:<port>` (`/connz`, `/healthz`). */
  monitor: string;
  /** Kills it (SIGKILL), keeping its port and store for `start`. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and store; resolves once it is healthy. */
  start(): Promise<void>;
  /** Kills it and removes its store. */
  stop(): Promise<void>;
}

/** Polls `fn` every 50 ms until it is true, failing after `ms`. */
async function until(fn: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a nats-server on spare loopback ports (with JetStream in a temporary store when `jetstream`),
 * resolving once it is healthy.
 *
 * @example
 * ```ts
 * import { startSpareNats } from "./nats_server.ts";
 * if (typeof startSpareNats !== "function") throw new Error();
 * ```
 */
export async function startSpareNats(options: { jetstream: boolean }): Promise<SpareNats> {
  const port = freePort();
  const monitorPort = freePort();
  const store = await Deno.makeTempDir({ prefix: "flowmesh_nats_" });
  const args = ["-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)];
  if (options.jetstream) args.push("-js", "-sd", store);
  const monitor = `http://127.0.0.1:${monitorPort}`;
  let process: Deno.ChildProcess | undefined;
  const kill = async () => {
    const running = process;
    process = undefined;
    if (!running) return;
    try {
      running.kill("SIGKILL");
    } catch {
      // It has ended already.
    }
    await running.status;
  };
  const start = async () => {
    if (process) return;
    process = new Deno.Command(NATS_SERVER_BIN, { args, stdout: "null", stderr: "null" }).spawn();
    const healthy = async () => {
      const response = await fetch(`${monitor}/healthz`);
      await response.body?.cancel();
      return response.ok;
    };
    await until(healthy, 10_000, `nats-server on ${port}`);
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    monitor,
    kill,
    start,
    stop: async () => {
      await kill();
      await Deno.remove(store, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Registers a test that starts its own nats-server: without {@link NATS_SERVER_BIN} it is skipped locally
 * (with a line saying so) and fails under CI=true.
 *
 * @example
 * ```ts
 * import { spareNatsTest } from "./nats_server.ts";
 * if (typeof spareNatsTest !== "function") throw new Error();
 * ```
 */
export function spareNatsTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const present = await Deno.stat(NATS_SERVER_BIN).then((s) => s.isFile, () => false);
      if (!present) {
        if (Deno.env.get("CI") === "true") {
          throw new Error(`${NATS_SERVER_BIN} is missing (CI=true: this must not skip)`);
        }
        console.warn(`skipped locally: ${NATS_SERVER_BIN} is missing`);
        return;
      }
      await fn();
    },
  });
}
