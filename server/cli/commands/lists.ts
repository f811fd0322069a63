/**
 * Paged lists: one page (`--limit`, `--cursor`) or every page (`--all`, bounded), the next cursor told on
 * standard error, so standard output stays one document.
 *
 * @module
 */
import type { Query } from "../client.ts";
import type { Context, Options } from "../command.ts";
import { flag, opt } from "../command.ts";
import { usageError } from "../errors.ts";
import { parseIntOption } from "../input.ts";

/** The most pages `--all` reads (of 500 items: 50,000). */
export const MAX_ALL_PAGES = 100;

/** The paging options of a list command. */
export const PAGE_OPTIONS: Options = {
  limit: { type: "string", value: "N", help: "items per page, 1 to 500 (default 50)" },
  cursor: {
    type: "string",
    value: "CURSOR",
    help: "the page after this cursor (a list prints it when there is more)",
  },
  all: { type: "boolean", help: `every page (up to ${MAX_ALL_PAGES} pages of 500), as one list` },
};

/** Reads a list route's page(s) as the options ask; prints the next cursor to stderr when there is one. */
export async function readList<T>(ctx: Context, path: string, query: Query): Promise<T[]> {
  const all = flag(ctx, "all");
  const limitText = opt(ctx, "limit");
  if (all && opt(ctx, "cursor") !== undefined) throw usageError("--all and --cursor do not go together");
  const limit = limitText === undefined
    ? (all ? 500 : undefined)
    : parseIntOption(limitText, "--limit", 1, 500);
  let cursor = opt(ctx, "cursor");
  const items: T[] = [];
  for (let page = 0; page < (all ? MAX_ALL_PAGES : 1); page++) {
    const a = await ctx.client.request<T[]>("GET", path, { query: { ...query, limit, cursor } });
    items.push(...a.body);
    const next = a.headers.get("x-next-cursor");
    if (next === null) return items;
    cursor = next;
  }
  ctx.io.err(`more: add --cursor '${cursor}' for the next page`);
  return items;
}
