/**
 * The README's curl walk-through, as the tests that run it read it: the first ```sh block that calls curl.
 *
 * @module
 */

/**
 * The walk-through block of a README's text; throws when it has none.
 *
 * @example
 * ```ts
 * import { readmeWalkthrough } from "./readme.ts";
 * const fence = "`".repeat(3);
 * const text = `# x\n${fence}sh\nls\n${fence}\n${fence}sh\ncurl -s http://127.0.0.1:8080/health\n${fence}\n`;
 * if (!readmeWalkthrough(text).startsWith("curl")) throw new Error("the curl block");
 * ```
 */
export function readmeWalkthrough(readme: string): string {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = blocks.find((b) => b.includes("curl"));
  if (!block) throw new Error("README has no curl walk-through");
  return block;
}
