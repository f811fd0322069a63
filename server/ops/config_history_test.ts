/** `--max-history-events` / `ENGINE_MAX_HISTORY_EVENTS`: the engine's bound of an execution's history. */
import { assert, assertStrictEquals } from "../../testing/assert.ts";
import { ConfigError, DEFAULT_CONFIG, loadConfig } from "./config.ts";

const noFile = (path: string): string => {
  throw new Error(`no file ${path}`);
};

Deno.test("config: --max-history-events sets the history bound (default 100,000; at least 100)", () => {
  assertStrictEquals(DEFAULT_CONFIG.maxHistoryEvents, 100_000);
  const flag = loadConfig(["--max-history-events", "5000"], () => undefined, noFile);
  assertStrictEquals(flag.config.maxHistoryEvents, 5000);
  const env = loadConfig([], (name) => name === "ENGINE_MAX_HISTORY_EVENTS" ? "2500" : undefined, noFile);
  assertStrictEquals(env.config.maxHistoryEvents, 2500);
  let refused: unknown;
  try {
    loadConfig(["--max-history-events", "99"], () => undefined, noFile);
  } catch (err) {
    refused = err;
  }
  assert(refused instanceof ConfigError, `a bound under 100 is refused: ${refused}`);
  assert(refused.message.includes("--max-history-events"), refused.message);
});
