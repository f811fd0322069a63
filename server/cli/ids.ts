/**
 * Short ids back to whole ones. Tables show ids shortened (`shortId` in `format.ts`); a command given an
 * id the node does not know (404 `execution_not_found` / `schedule_not_found`) that has the short form
 * (`ex-6f260d08`) looks for the one id the text is a short form of, and goes on with it. Two or more candidates are a usage error (exit 2) naming
 * them; none leaves the API's 404 as it was. The search is bounded: at most {@link MAX_PAGES} pages.
 *
 * @module
 */
import { type ApiClient, apiPath } from "./client.ts";
import { CliError, usageError } from "./errors.ts";

/** The most pages of a list read while looking for a short id. */
export const MAX_PAGES = 20;
/** The shortest text looked up as a short id. */
export const MIN_SHORT = 4;

/**
 * Whether `short` is a short form of `full`: as many `@`-separated pieces, each a prefix of the other's.
 *
 * @example
 * ```ts
 * import { matchesShort } from "./ids.ts";
 * if (!matchesShort("ck-2075aa@ex-f3bc11", "ck-20@ex-f3")) throw new Error();
 * if (matchesShort("ex-f3bc11", "ex-f4")) throw new Error();
 * ```
 */
export function matchesShort(full: string, short: string): boolean {
  const f = full.split("@");
  const s = short.split("@");
  return f.length === s.length && s.every((piece, i) => f[i].startsWith(piece));
}

/**
 * Whether `text` is an id as tables print it shortened: each `@` piece a word, a dash and 8 hex digits
 * (`ex-6f260d08`). Only such a text is looked up: a whole id that is gone (a schedule deleted before, say)
 * is never taken for the start of another one.
 *
 * @example
 * ```ts
 * import { looksShort } from "./ids.ts";
 * if (!looksShort("ck-2075aa11@ex-f3bc1100") || looksShort("nightly") || looksShort("ex-f3")) throw new Error();
 * ```
 */
export function looksShort(text: string): boolean {
  return text.length >= MIN_SHORT && text.split("@").every((piece) => /^[A-Za-z]+-[0-9a-f]{8}$/.test(piece));
}

/** One page of ids: the ids and the next cursor (`null`: the last page). */
type Page = { ids: string[]; next: string | null };

/** The ids `short` stands for, at most two (two: ambiguous), reading pages of `list`. */
async function candidates(short: string, list: (cursor: string | null) => Promise<Page>): Promise<string[]> {
  const found = new Set<string>();
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const { ids, next } = await list(cursor);
    for (const id of ids) if (matchesShort(id, short)) found.add(id);
    if (found.size > 1 || next === null) break;
    cursor = next;
  }
  return [...found];
}

/** A page of executions whose id starts with `q`. */
async function executionPage(client: ApiClient, q: string, cursor: string | null): Promise<Page> {
  const a = await client.request<{ executionId: string }[]>("GET", apiPath("executions"), {
    query: { q, limit: 500, cursor: cursor ?? undefined },
  });
  return { ids: a.body.map((e) => e.executionId), next: a.headers.get("x-next-cursor") };
}

/** A page of schedules. */
async function schedulePage(client: ApiClient, cursor: string | null): Promise<Page> {
  const a = await client.request<{ scheduleId: string }[]>("GET", apiPath("schedules"), {
    query: { limit: 500, cursor: cursor ?? undefined },
  });
  return { ids: a.body.map((s) => s.scheduleId), next: a.headers.get("x-next-cursor") };
}

/** Runs `fn` with `text`; on the `notFound` 404, with the one id `text` is a short form of. */
async function withResolved<T>(
  text: string,
  notFound: string,
  search: () => Promise<string[]>,
  fn: (id: string) => Promise<T>,
): Promise<T> {
  try {
    return await fn(text);
  } catch (err) {
    if (!(err instanceof CliError) || err.code !== notFound || !looksShort(text)) throw err;
    const found = (await search()).filter((id) => id !== text);
    if (found.length === 0) throw err;
    if (found.length > 1) {
      throw usageError(`${text} is the start of more than one id (${found.join(", ")}); give more of it`);
    }
    return await fn(found[0]);
  }
}

/** Runs `fn` with an execution id, whole or short (see the module doc). */
export function withExecutionId<T>(client: ApiClient, text: string, fn: (id: string) => Promise<T>) {
  const first = text.split("@")[0]; // every id `text` is a short form of starts with its first piece
  return withResolved(
    text,
    "execution_not_found",
    () => candidates(text, (c) => executionPage(client, first, c)),
    fn,
  );
}

/** Runs `fn` with a schedule id, whole or short (see the module doc). */
export function withScheduleId<T>(client: ApiClient, text: string, fn: (id: string) => Promise<T>) {
  return withResolved(text, "schedule_not_found", () => candidates(text, (c) => schedulePage(client, c)), fn);
}
