/**
 * The files a node may touch: every file source and sink path resolves inside the node's files root
 * (`--files-root`, default `<data-dir>/files`). A relative path is taken from the root; an absolute path only
 * when it lies inside the root; `..` escapes and symlinks leading out of the root are refused with the
 * non-retryable `path_not_granted`.
 *
 * @example
 * ```ts
 * import { grantedPath } from "./file_grants.ts";
 *
 * const root = await Deno.makeTempDir();
 * if (await grantedPath(root, "out/a.txt") !== `${await Deno.realPath(root)}/out/a.txt`) throw new Error();
 * const refused = await grantedPath(root, "../etc/passwd").then(() => false, (e) => e.code === "path_not_granted");
 * if (!refused) throw new Error("an escape is refused");
 * await Deno.remove(root);
 * ```
 *
 * @module
 */
import { dirname, isAbsolute, resolve, sep } from "node:path";
import { NodeError } from "./executor.ts";

function notGranted(path: string, why: string): NodeError {
  return new NodeError("path_not_granted", `path ${JSON.stringify(path)} is not granted: ${why}`, false);
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The real path of `path`'s deepest existing ancestor (itself when it exists), or undefined. */
async function realAncestor(path: string): Promise<string | undefined> {
  for (let p = path;; p = dirname(p)) {
    try {
      return await Deno.realPath(p);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      if (dirname(p) === p) return undefined;
    }
  }
}

/**
 * The absolute path `path` names under `root`, checked to stay inside it (symlinks followed as far as the path
 * exists). Throws `path_not_granted` otherwise, or when no root is granted (`root` undefined).
 */
export async function grantedPath(root: string | undefined, path: string): Promise<string> {
  if (root === undefined) throw notGranted(path, "this node grants no files root");
  if (typeof path !== "string" || path === "" || path.includes("\0")) throw notGranted(String(path), "empty");
  let realRoot: string;
  try {
    realRoot = await Deno.realPath(root);
  } catch {
    throw notGranted(path, "the files root does not exist");
  }
  const target = isAbsolute(path) ? resolve(path) : resolve(realRoot, path);
  const lexicalRoot = resolve(root);
  if (!inside(realRoot, target) && !inside(lexicalRoot, target)) {
    throw notGranted(path, "it lies outside the files root");
  }
  const relative = inside(realRoot, target)
    ? target.slice(realRoot.length)
    : target.slice(lexicalRoot.length);
  const underReal = realRoot + relative;
  const real = await realAncestor(underReal);
  if (real === undefined || !inside(realRoot, real)) {
    throw notGranted(path, "a link leads out of the files root");
  }
  return underReal;
}
