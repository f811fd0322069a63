/**
 * `deno task serve`: starts one node. With no configuration, a single node on
 * http://127.0.0.1:8080. See `--help` for every setting.
 *
 * @module
 */
import { ConfigError, loadConfig, usage } from "./ops/config.ts";
import { createLogger } from "./ops/log.ts";
import { startNode } from "./start.ts";

if (import.meta.main) {
  let loaded;
  try {
    loaded = loadConfig(Deno.args, (name) => Deno.env.get(name), (path) => Deno.readTextFileSync(path));
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.problems) console.error(`config error: ${line}`);
      Deno.exit(2);
    }
    throw err;
  }
  if (loaded.help) {
    console.log(usage());
    Deno.exit(0);
  }
  // One line per old engine variable (`PEKKO_*`) set, whatever the log level.
  const { logFormat: format, nodeId: node0 } = loaded.config;
  for (const line of loaded.warnings) createLogger({ level: "warn", format }, { node: node0 }).warn(line);
  let node;
  try {
    node = await startNode(loaded.config);
  } catch (err) {
    if (err instanceof ConfigError) { // found only at start: an unreadable or invalid TLS file, say
      for (const line of err.problems) console.error(`config error: ${line}`);
      Deno.exit(2);
    }
    console.error(`start-up failed: ${String((err as Error)?.message ?? err).split("\n")[0]}`);
    Deno.exit(1);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    node.log.info("stopping", { handOff: node.clustered });
    await node.leave();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
