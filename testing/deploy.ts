/**
 * The deployment files as the tests of `deploy/` read them: the Dockerfile's declarations, the `serve` task of
 * deno.json, compose.yaml with test values for its required variables, and the configuration a service's
 * environment gives the node (through the node's own `loadConfig`). Imported only by tests.
 *
 * @module
 */
import { type ComposeFile, type ComposeService, loadCompose } from "../deploy/compose.ts";
import { type ImageSpec, imageSpec } from "../deploy/dockerfile.ts";
import { type EngineConfig, loadConfig } from "../server/ops/config.ts";
import { SETTINGS } from "../server/ops/config_settings.ts";

/** The repository's root. */
export const REPO: URL = new URL("../", import.meta.url);

/** A file of the repository, by its path from the root. */
export function readRepo(path: string): string {
  return Deno.readTextFileSync(new URL(path, REPO));
}

/** The Dockerfile's last stage. */
export function dockerImage(): ImageSpec {
  return imageSpec(readRepo("Dockerfile"));
}

/** deno.json's `serve` task: its `--allow-*` flags and the script it runs. */
export function serveTask(): { permissions: string[]; script: string } {
  const task: string = JSON.parse(readRepo("deno.json")).tasks.serve;
  const argv = task.trim().split(/\s+/);
  if (argv[0] !== "deno" || argv[1] !== "run") throw new Error(`serve is not "deno run ...": ${task}`);
  return { permissions: argv.filter((a) => a.startsWith("--allow-")).sort(), script: argv[argv.length - 1] };
}

/** Whether an `ENGINE_*` variable is one the node reads: a setting's, `ENGINE_CONFIG`, or a secret's. */
export function isNodeVariable(name: string): boolean {
  return SETTINGS.some((s) => s.env === name) || name === "ENGINE_CONFIG" ||
    /^ENGINE_SECRET_[A-Z0-9_]{1,64}$/.test(name);
}

/** Test values of compose.yaml's required variables. */
export const COMPOSE_VARS: Readonly<Record<string, string>> = Object.freeze({
  POSTGRES_PASSWORD: "compose-test-pg-password",
  FLOWMESH_CLUSTER_SECRET: "compose-test-cluster-secret",
  FLOWMESH_ADMIN_TOKEN: "compose-test-admin-token-0123",
  FLOWMESH_VIEWER_TOKEN: "compose-test-viewer-token-0123",
});

/** compose.yaml, interpolated with `vars` (default {@link COMPOSE_VARS}). */
export function composeFile(vars: Readonly<Record<string, string>> = COMPOSE_VARS): ComposeFile {
  return loadCompose(readRepo("compose.yaml"), (name) => vars[name]);
}

/** The engine services of a compose file: those that give the node an id. */
export function engineServices(file: ComposeFile): ComposeService[] {
  return Object.values(file.services).filter((s) => s.environment.ENGINE_NODE_ID !== undefined);
}

/** The environment a service's container has: the image's `ENV`, then the service's `environment`. */
export function containerEnv(image: ImageSpec, service: ComposeService): Record<string, string> {
  return { ...image.env, ...service.environment };
}

/** The node's configuration from an environment alone (no flags), as `server/main.ts` reads it. */
export function configFromEnv(env: Readonly<Record<string, string>>): EngineConfig {
  return loadConfig([], (name) => env[name], (path) => Deno.readTextFileSync(path)).config;
}

/**
 * The `deno` arguments the image runs: its ENTRYPOINT after `/tini --` and `deno`, then its CMD. Throws when
 * they are not in exec form or do not run `deno`.
 */
export function imageDenoArgs(image: ImageSpec): string[] {
  if (image.entrypoint?.form !== "exec") throw new Error("ENTRYPOINT must be in exec form");
  let argv = [...image.entrypoint.argv];
  if (argv[0] === "/tini") argv = argv.slice(argv[1] === "--" ? 2 : 1);
  if (argv[0] !== "deno") throw new Error(`ENTRYPOINT runs ${argv[0]}, not deno`);
  const cmd = image.cmd;
  if (cmd && cmd.form !== "exec") throw new Error("CMD must be in exec form (arguments to the ENTRYPOINT)");
  return [...argv.slice(1), ...(cmd?.argv ?? [])];
}
