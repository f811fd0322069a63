/**
 * Inline credentials in stored JSON (workflow definitions, node configs), and how they are hidden: the one
 * set of rules the API's redaction (`server/http/redaction.ts`) and the runtime's scrubbing of a node's
 * errors and log lines (`secrets.ts`) share.
 *
 * Hidden are:
 * - the password of a URL (`postgres://u:pw@h/db`, `https://u:pw@h`), anywhere in a string: it becomes `***`;
 * - the value of a key named like a credential (`password`, `passwd`, `passphrase`, `token`, `secret`,
 *   `apiKey`, `api_key`, `privateKey`, `credentials`, `accessKey`, `secretKey`, `authorization`, `cookie`,
 *   and any name ending in one of these, case and `-`/`_` ignored), and everything inside it;
 * - in a `headers` object, also every header ending in `-Key` (with `Authorization`, `Proxy-Authorization`,
 *   `Cookie`, `Set-Cookie` and `*-Token` already hidden by the rule above).
 *
 * A hidden string or number becomes `"***"`; empty strings, booleans and nulls stay as they are. A
 * `{"$secret": "NAME"}` reference is not a credential: it is kept as it is.
 *
 * @module
 */
import { isSecretRef } from "../../core/secret_ref.ts";
import { transformJson } from "./json_transform.ts";

/** What a hidden value becomes. */
export const REDACTED = "***";

/** Endings of key names (lower case, without `-` and `_`) whose values are credentials. */
const SENSITIVE_ENDINGS = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "privatekey",
  "credential",
  "credentials",
  "accesskey",
  "secretkey",
  "authorization",
  "cookie",
] as const;

/**
 * Whether a key's value is a credential, by its name.
 *
 * @example
 * ```ts
 * import { isSensitiveKey } from "./credentials.ts";
 * if (!isSensitiveKey("api_key") || !isSensitiveKey("dbPassword") || isSensitiveKey("maxTokens")) throw new Error();
 * ```
 */
export function isSensitiveKey(key: string): boolean {
  const name = key.toLowerCase().replace(/[-_\s]/g, "");
  return SENSITIVE_ENDINGS.some((end) => name.endsWith(end));
}

/**
 * Whether a header's value is a credential: the sensitive key names (`Authorization`,
 * `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `*-Token`, ...) and any header ending in `-Key`.
 */
export function isSensitiveHeader(name: string): boolean {
  return isSensitiveKey(name) || name.toLowerCase().endsWith("-key");
}

/** Where a value sits: below a credential (everything hidden), or as a headers object. */
export interface Place {
  hidden: boolean;
  headers: boolean;
}

/** The place at the root of a definition or config. */
export const ROOT_PLACE: Readonly<Place> = Object.freeze({ hidden: false, headers: false });

const HIDDEN_PLACE: Readonly<Place> = Object.freeze({ hidden: true, headers: false });

/** The place of the child `key` of a value at `place`. */
export function childPlace(place: Place, key: string | number): Place {
  if (place.hidden) return HIDDEN_PLACE;
  if (typeof key === "number") return ROOT_PLACE;
  if (isSensitiveKey(key) || (place.headers && isSensitiveHeader(key))) return HIDDEN_PLACE;
  return /headers$/i.test(key) ? { hidden: false, headers: true } : ROOT_PLACE;
}

/** Whether a leaf at a hidden place is shown as `***` (a non-empty string, or a number). */
export function hides(value: unknown): boolean {
  return (typeof value === "string" && value !== "") || typeof value === "number";
}

/** Characters a URL scheme may hold. */
const SCHEME_CHAR = /[A-Za-z0-9+.-]/;

/** Where one URL's password lies in a string: `[start, end)`, and the URL's own text up to its authority's end. */
interface PasswordSpan {
  start: number;
  end: number;
  /** `scheme://user:password@host:port` as written. */
  url: string;
}

/**
 * The spans of the non-empty passwords of the URLs in `text`, in order. A URL is `scheme://authority`; its
 * authority ends at whitespace, `/`, `?` or `#`; the userinfo ends at the authority's last `@`, and the
 * password starts after the userinfo's first `:`. Linear in the text's length.
 */
function passwordSpans(text: string): PasswordSpan[] {
  const spans: PasswordSpan[] = [];
  let from = 0;
  for (;;) {
    const sep = text.indexOf("://", from);
    if (sep < 0) return spans;
    const start = sep + 3;
    let end = start;
    while (end < text.length && !/[\s/?#]/.test(text[end])) end++;
    const scanned = from;
    from = end > start ? end : start;
    if (sep === 0 || !SCHEME_CHAR.test(text[sep - 1])) continue;
    const authority = text.slice(start, end);
    const at = authority.lastIndexOf("@");
    const colon = authority.indexOf(":");
    if (at < 0 || colon < 0 || colon >= at || colon + 1 === at) continue;
    let scheme = sep - 1;
    while (scheme > scanned && SCHEME_CHAR.test(text[scheme - 1])) scheme--;
    spans.push({ start: start + colon + 1, end: start + at, url: text.slice(scheme, end) });
  }
}

/**
 * Where a URL sends what goes with it: its scheme, host and port (`withUser`: and its user name), never its
 * password, path or query. Parsed, so `HTTPS://API.example:443` and `https://api.example` are the same
 * target; a text that is no URL is its own target, its passwords hidden.
 *
 * @example
 * ```ts
 * import { urlTarget } from "./credentials.ts";
 * if (urlTarget("HTTPS://svc:pw@API.example:443/v1?x") !== urlTarget("https://api.example/v2")) throw new Error();
 * if (urlTarget("postgres://app:pw@db/app", true) === urlTarget("postgres://root:pw@db/app", true)) throw new Error();
 * ```
 */
export function urlTarget(text: string, withUser = false): string {
  try {
    const url = new URL(text);
    const user = withUser ? `${url.username}@` : "";
    return `${url.protocol}//${user}${url.host.toLowerCase()}`;
  } catch {
    return redactUrlPasswords(text);
  }
}

/**
 * `text` with the password of every URL in it replaced by `***`; `found` is told each password hidden
 * (other than `***` itself).
 *
 * @example
 * ```ts
 * import { redactUrlPasswords } from "./credentials.ts";
 * const shown = redactUrlPasswords("postgres://app:s3cret@db:5432/app and https://h/x?u=1");
 * if (shown !== "postgres://app:***@db:5432/app and https://h/x?u=1") throw new Error(shown);
 * ```
 */
export function redactUrlPasswords(text: string, found?: (password: string) => void): string {
  if (!text.includes("://")) return text;
  const spans = passwordSpans(text);
  if (spans.length === 0) return text;
  let out = "";
  let last = 0;
  for (const { start, end } of spans) {
    const password = text.slice(start, end);
    if (password !== REDACTED) found?.(password);
    out += text.slice(last, start) + REDACTED;
    last = end;
  }
  return out + text.slice(last);
}

/** How {@link restoreUrlPasswords} may restore. */
export interface RestoreOptions {
  /** False: no password is restored (the text's owner changed where it sends it); default true. */
  trusted?: boolean;
  /** Told each `***` password left as it is although the stored text had one at that position. */
  refused?: () => void;
}

/**
 * `incoming` with each URL password that is `***` replaced by the password of the URL at the same position
 * (counting URLs with a password) in `stored`, when it has one and that URL has the same scheme, host, port
 * and user ({@link urlTarget}): a stored password is never handed to another server or account. A `***`
 * password not restored so is left as it is and reported to `refused`.
 *
 * @example
 * ```ts
 * import { restoreUrlPasswords } from "./credentials.ts";
 * const kept = restoreUrlPasswords("postgres://app:***@db/app2", "postgres://app:s3cret@db/app");
 * if (kept !== "postgres://app:s3cret@db/app2") throw new Error(kept);
 * let refused = 0;
 * const moved = restoreUrlPasswords("postgres://app:***@other/app", "postgres://app:s3cret@db/app", {
 *   refused: () => refused++,
 * });
 * if (moved !== "postgres://app:***@other/app" || refused !== 1) throw new Error(moved);
 * ```
 */
export function restoreUrlPasswords(incoming: string, stored: string, options: RestoreOptions = {}): string {
  if (!incoming.includes("://") || !stored.includes("://")) return incoming;
  const mine = passwordSpans(incoming);
  const theirs = passwordSpans(stored);
  let out = "";
  let last = 0;
  mine.forEach(({ start, end, url }, i) => {
    if (i >= theirs.length || incoming.slice(start, end) !== REDACTED) return;
    if (options.trusted === false || urlTarget(url, true) !== urlTarget(theirs[i].url, true)) {
      options.refused?.();
      return;
    }
    out += incoming.slice(last, start) + stored.slice(theirs[i].start, theirs[i].end);
    last = end;
  });
  return last === 0 ? incoming : out + incoming.slice(last);
}

/**
 * A copy of `value` with every inline credential hidden (see the module's rules); `found` is told each
 * hidden value (a number as its text). Idempotent: hiding a hidden value again changes nothing.
 *
 * @example
 * ```ts
 * import { redactJson } from "./credentials.ts";
 * const shown = redactJson({
 *   url: "https://u:pw@api.example/x",
 *   headers: { Authorization: "Bearer abc", "X-Api-Key": "k", Accept: "json" },
 *   password: { $secret: "DB_PASSWORD" },
 * });
 * const expected = {
 *   url: "https://u:***@api.example/x",
 *   headers: { Authorization: "***", "X-Api-Key": "***", Accept: "json" },
 *   password: { $secret: "DB_PASSWORD" },
 * };
 * if (JSON.stringify(shown) !== JSON.stringify(expected)) throw new Error(JSON.stringify(shown));
 * ```
 */
export function redactJson(value: unknown, found?: (hidden: string) => void): unknown {
  return transformJson(value, ROOT_PLACE as Place, (v, place) => {
    if (isSecretRef(v)) return { value: v };
    if (place.hidden && hides(v)) {
      if (v !== REDACTED) found?.(String(v));
      return { value: REDACTED };
    }
    if (typeof v === "string") return { value: place.hidden ? v : redactUrlPasswords(v, found) };
    return { descend: (key) => childPlace(place, key) };
  });
}

/**
 * The inline credentials inside `value`: what {@link redactJson} hides, each once.
 *
 * @example
 * ```ts
 * import { credentialValues } from "./credentials.ts";
 * const found = credentialValues({ connectionUrl: "postgres://u:pw@h/db", headers: { Cookie: "c=1" } });
 * if (JSON.stringify(found) !== '["pw","c=1"]') throw new Error(JSON.stringify(found));
 * ```
 */
export function credentialValues(value: unknown): string[] {
  const found = new Set<string>();
  redactJson(value, (hidden) => found.add(hidden));
  return [...found];
}
