/**
 * Waiting in tests: a sleep that an abort cuts short, and polling until a condition holds.
 * Imported only by tests and benches.
 *
 * @example
 * ```ts
 * import { sleep, waitUntil } from "./wait.ts";
 * let ready = false;
 * setTimeout(() => ready = true, 20);
 * await sleep(1);
 * const ms = await waitUntil("the flag", () => ready, 1_000);
 * if (ms < 0) throw new Error("negative wait");
 * ```
 *
 * @module
 */

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const id = setTimeout(done, ms);
    function done() {
      clearTimeout(id);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Polls `predicate` every `pollMs` until it holds; returns how long that took in ms. Throws, naming
 * `what`, after `timeoutMs`.
 */
export async function waitUntil(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  pollMs = 10,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await predicate()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(pollMs);
  }
}
