/**
 * The zod schemas the route specs share: any JSON value, the error body, and the parameters many routes take
 * (integers in a range, version numbers, text of a bounded length, execution statuses, pages). Each parameter
 * schema takes the string a request spells and gives the parsed value, with its fault in the API's words
 * (`must be an integer from 1 to 500`); the OpenAPI document shows the parsed type (`integer`, 1..500).
 *
 * Named schemas (`.meta({ id })`) become `components/schemas` entries of the document.
 *
 * @example
 * ```ts
 * import { intQuery, versionParam } from "./schemas.ts";
 * if (intQuery(1, 10).parse("7") !== 7 || intQuery(1, 10).safeParse("1e1").success) throw new Error("integers");
 * if (versionParam.parse("3") !== 3 || versionParam.safeParse("0").success) throw new Error("versions");
 * ```
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { DEFAULT_PAGE, MAX_PAGE } from "./route_helpers.ts";
import { MAX_VERSION } from "./versions.ts";

/** A JSON value, as a schema. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Any JSON value. */
export const Json: z.ZodType<JsonValue> = (z.unknown() as unknown as z.ZodType<JsonValue>)
  // Not walked: a body is JSON already (parsed), and a recursive schema would walk every input record, and
  // overflow the stack on deep nesting (an answer of 500 where the API takes the input as it is).
  .meta({ id: "Json", description: "Any JSON value." });

/** One fault of a request, at its path. */
export const ErrorDetailSchema = z.object({
  path: z.string().describe(
    "Where: a JSON path into the body (`$.nodes[2].config`), `?name`, `path.name`, or " +
      "`headers.Name`.",
  ),
  code: z.string().optional().describe("The problem's code, where it has one."),
  message: z.string(),
}).meta({ id: "ErrorDetail" });

/** The body of every error response. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string().describe("Stable: see docs/API.md's table of error codes."),
    message: z.string().describe("For people."),
    details: z.array(ErrorDetailSchema),
  }),
}).meta({ id: "Error", description: "An error: `{error: {code, message, details}}`." });

/** A string of digits as an integer (anything else is left for the schema to refuse). */
function toInteger(raw: unknown): unknown {
  return typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

/** An integer from `min` to `max` as a request spells it (`"50"`). */
export function intQuery(min: number, max: number) {
  const error = `must be an integer from ${min} to ${max}`;
  return z.preprocess(toInteger, z.int({ error }).min(min, { error }).max(max, { error }));
}

const VERSION_RANGE = `must be an integer from 1 to ${MAX_VERSION}`;

/** A version number as a request spells it: 1 to {@link MAX_VERSION}. */
export const versionParam = z.preprocess(
  (raw) => typeof raw === "string" && /^\d{1,10}$/.test(raw) ? Number(raw) : raw,
  z.int({ error: (issue) => issue.input === undefined ? "is required: a version number" : VERSION_RANGE })
    .min(1, { error: VERSION_RANGE }).max(MAX_VERSION, { error: VERSION_RANGE }),
);

/** Text of at most `max` characters. */
export function textQuery(max: number) {
  return z.string().max(max, { error: `must be at most ${max} characters` });
}

/** `?limit=` of a list: 1 to `max`, `fallback` when absent. */
export function limitQuery(fallback = DEFAULT_PAGE, max = MAX_PAGE) {
  return intQuery(1, max).default(fallback).describe(`The page size: 1 to ${max} (default ${fallback}).`);
}

/** `?cursor=` of a list: the `x-next-cursor` of the page before. */
export const cursorQuery = z.string().optional().describe(
  "Where the page starts: the `x-next-cursor` header of the page before (opaque).",
);

/** An execution's status words; `started` is the old engine's word for `running`. */
export const EXECUTION_STATUS_WORDS = ["running", "completed", "failed", "cancelled", "timed_out"] as const;

/** `?status=`: an execution status word (or `started`, taken as `running`). */
export const statusQuery = z.enum([...EXECUTION_STATUS_WORDS, "started"], {
  error: `must be one of ${EXECUTION_STATUS_WORDS.join(", ")} (or started, for running)`,
}).transform((s) => s === "started" ? "running" : s).describe(
  "Only executions with this status (`started` is taken as `running`).",
);

/** The headers of a list page that has a next one. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "x-next-cursor": "The cursor of the next page (absent on the last page).",
  link: 'The next page\'s relative URL, `<…>; rel="next"` (absent on the last page).',
};

/** An execution's id in a path. */
export const executionIdParam = z.string().describe("The execution's id.");
/** A workflow's id in a path. */
export const workflowIdParam = z.string().describe("The workflow's id.");
