/**
 * What the CLI reads besides its arguments: JSON given inline or in a file (`-`: standard input), times and
 * durations. Every fault is a usage error (exit 2) that names the option.
 *
 * @module
 */
import { parseDuration } from "../../core/duration.ts";
import { usageError } from "./errors.ts";
import { truncate } from "./format.ts";

/** The largest JSON file read, in bytes. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;

/** Reads a whole stream, at most {@link MAX_INPUT_BYTES}. */
async function readAll(stream: ReadableStream<Uint8Array>, what: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > MAX_INPUT_BYTES) throw usageError(`${what}: over ${MAX_INPUT_BYTES} bytes`);
    chunks.push(chunk);
  }
  return new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

/** The text of a file (`-`: standard input), bounded. */
async function readSource(source: string, what: string): Promise<string> {
  if (source === "-") return await readAll(Deno.stdin.readable, `${what} (standard input)`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(source, { read: true });
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message.split("\n")[0];
    throw usageError(`${what}: cannot read ${truncate(source, 100)}: ${why}`);
  }
  return await readAll(file.readable, `${what} ${source}`);
}

/** JSON text parsed; a usage error naming `what` and `source` otherwise. */
function parse(text: string, what: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usageError(
      `${what}: ${truncate(source, 100)} is not JSON: ${(err as Error).message.split("\n")[0]}`,
    );
  }
}

/**
 * JSON from a file (`-`: standard input); `inline` also takes the value itself when it is JSON
 * (`'{"n": 1}'`, `42`, `"text"`), which wins over a file of that name.
 */
export async function readJson(value: string, what: string, inline = false): Promise<unknown> {
  if (inline && value !== "-") {
    try {
      return JSON.parse(value);
    } catch { /* a file name */ }
  }
  return parse(await readSource(value, what), what, value === "-" ? "standard input" : value);
}

/**
 * A time: epoch milliseconds, an ISO 8601 date (`2026-12-06T18:00:00Z`), or a duration before `now`
 * (`30m`: 30 minutes ago).
 *
 * @example
 * ```ts
 * import { parseTime } from "./input.ts";
 * if (parseTime("30m", "--from", 10_000_000) !== 8_200_000) throw new Error();
 * if (parseTime("1970-01-01T00:00:01Z", "--from", 0) !== 1_000) throw new Error();
 * ```
 */
export function parseTime(text: string, what: string, now: number): number {
  if (/^\d+$/.test(text)) return Number(text);
  const ago = parseDuration(text);
  if (ago !== undefined) return Math.max(0, now - ago);
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isFinite(at) && at >= 0) return at;
  throw usageError(
    `${what}: ${JSON.stringify(text)} is not a time (epoch ms, an ISO date, or 30m for 30 minutes ago)`,
  );
}

/**
 * A duration option (`250ms`, `30s`, `5m`, `1h`, or milliseconds) within `[min, max]` ms.
 *
 * @example
 * ```ts
 * import { parseDurationOption } from "./input.ts";
 * if (parseDurationOption("2s", "--timeout", 1, 10_000) !== 2_000) throw new Error();
 * ```
 */
export function parseDurationOption(text: string, what: string, min: number, max: number): number {
  const ms = /^\d+$/.test(text) ? Number(text) : parseDuration(text);
  if (ms === undefined || ms < min || ms > max) {
    throw usageError(
      `${what}: ${JSON.stringify(text)} is not a duration from ${min} ms to ${max} ms (30s, 5m, …)`,
    );
  }
  return ms;
}

/**
 * A whole number option within `[min, max]`.
 *
 * @example
 * ```ts
 * import { parseIntOption } from "./input.ts";
 * if (parseIntOption("20", "--limit", 1, 500) !== 20) throw new Error();
 * ```
 */
export function parseIntOption(text: string, what: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    throw usageError(`${what}: ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`);
  }
  return n;
}
