/**
 * What a `.dockerignore` keeps out of the build context, with Docker's rules: patterns are paths from the
 * context's root (a leading `/` is dropped), `*` and `?` stay inside one path segment, `**` spans any number
 * of segments, a pattern that matches a folder excludes what is under it, a `!` pattern takes a path back, and
 * the last pattern that matches a path decides. `deploy/deploy_static_test.ts` uses it to check that every file
 * the node loads is in the image.
 *
 * @module
 */

/** One pattern: the regular expression of its path, and whether it takes paths back (`!`). */
interface Rule {
  re: RegExp;
  keep: boolean;
}

/** The regular expression of one pattern (without its `!`). */
function patternRegExp(pattern: string): RegExp {
  const p = pattern.replace(/^\/+/, "").replace(/\/+$/, "").replace(/^\.\//, "");
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "*" && p[i + 1] === "*") {
      const slash = p[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * A predicate from a `.dockerignore`'s text: `true` when the path (relative to the context root,
 * `/`-separated) is left out of the build context.
 *
 * @example
 * ```ts
 * import { dockerignore } from "./dockerignore.ts";
 * const ignored = dockerignore(".git\n**\/*_test.ts\ndocs\n!docs/keep.md\n");
 * if (!ignored(".git/HEAD") || !ignored("server/a_test.ts") || !ignored("a_test.ts")) throw new Error("out");
 * if (ignored("server/a.ts") || ignored("docs/keep.md") || !ignored("docs/other.md")) throw new Error("in");
 * ```
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules: Rule[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    const keep = t.startsWith("!");
    rules.push({ re: patternRegExp(keep ? t.slice(1).trim() : t), keep });
  }
  return (path) => {
    const parts = path.split("/");
    // The path and each folder above it: a pattern naming a folder excludes its contents.
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let excluded = false;
    for (const rule of rules) {
      if (candidates.some((c) => rule.re.test(c))) excluded = !rule.keep;
    }
    return excluded;
  };
}
