/**
 * `deno task sim`: the deterministic simulator. It lands with the simulator issue;
 * until then this entry point says so and exits non-zero, so no one mistakes it
 * for a passing run.
 *
 * @module
 */
if (import.meta.main) {
  console.error(
    "deno task sim: not yet — the deterministic simulator lands with its own issue (see docs/ARCHITECTURE.md)",
  );
  Deno.exit(3);
}
