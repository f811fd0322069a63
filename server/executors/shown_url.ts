/**
 * How the `http` node's messages show a URL: one function, so the scrubber (`secrets.ts`) knows every form
 * they print of a secret URL.
 *
 * @module
 */

/**
 * `url` as an error message shows it: its origin and path, never its user, password, query or fragment.
 * The URL parser normalises both (scheme and host lower-cased, a default port dropped, dot segments
 * resolved, the path percent-encoded), so the text may differ from the URL as written.
 *
 * @example
 * ```ts
 * import { shownUrl } from "./shown_url.ts";
 * const shown = shownUrl(new URL("HTTPS://u:pw@API.example:443/a/../hook?token=t#f"));
 * if (shown !== "https://api.example/hook") throw new Error(shown);
 * ```
 */
export function shownUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
