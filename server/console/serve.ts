/**
 * Serving the web console: `GET /` redirects to `/ui/`; `/ui/assets/…` and `/ui/vendor/…` are its files;
 * every other `/ui/…` path is the page, so a deep link (`/ui/executions/ex-1`) pasted into a browser opens
 * the console there. Every answer carries a strict Content Security Policy (scripts and styles from the node
 * only, the page's one inline import map by its hash, no framing, no other origin), `nosniff` and no referrer.
 * Files are cached by ETag (`If-None-Match` → 304); vendored ones, versioned in their path, for good. The
 * console needs no token to load: it holds no data, and signs in to the API with the user's token.
 *
 * @example
 * ```ts
 * import { consoleHandler, isConsolePath } from "./serve.ts";
 * const serve = consoleHandler();
 * const home = await serve(new Request("http://node/"));
 * if (home.status !== 302 || home.headers.get("location") !== "/ui/") throw new Error("/ redirects");
 * const page = await serve(new Request("http://node/ui/executions/ex-1"));
 * if (page.status !== 200 || !(await page.text()).includes("<title>flowmesh</title>")) throw new Error("a deep link");
 * if (!isConsolePath("http://node/ui/cluster") || isConsolePath("http://node/api/v1/workflows")) throw new Error();
 * ```
 *
 * @module
 */
import { type Asset, type ConsoleAssets, loadAssets } from "./assets.ts";

/** The console's base path. */
export const CONSOLE_BASE = "/ui/";

/** Where the console is read from (tests point it elsewhere). */
export interface ConsoleOptions {
  /** The folder holding `assets/` and `vendor/` (default: this module's). */
  root?: URL;
}

/** The path of a request URL (`http://h:1/ui/x?y` → `/ui/x`) without parsing it whole. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.slice(start).search(/[?#]/);
  return end < 0 ? url.slice(start) : url.slice(start, start + end);
}

/** Whether a request URL is the console's (`/`, `/ui`, `/ui/…`) rather than the API's. */
export function isConsolePath(url: string): boolean {
  const path = pathOf(url);
  return path === "/" || path === "/ui" || path.startsWith(CONSOLE_BASE);
}

/** The security headers of every console answer. */
function securityHeaders(scriptHash: string): Record<string, string> {
  return {
    "content-security-policy": [
      "default-src 'none'",
      `script-src 'self' '${scriptHash}'`,
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "font-src 'self'",
      "manifest-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
  };
}

function errorBody(status: number, code: string, message: string, headers: Record<string, string>): Response {
  return Response.json({ error: { code, message, details: [] } }, { status, headers });
}

/** A file's answer: 304 when the browser has it, else the body (none for HEAD). */
function fileResponse(req: Request, file: Asset, security: Record<string, string>): Response {
  const headers: Record<string, string> = {
    ...security,
    "content-type": file.type,
    etag: file.etag,
    "cache-control": file.immutable ? "public, max-age=31536000, immutable" : "no-cache",
  };
  const seen = req.headers.get("if-none-match");
  if (seen !== null && seen.split(",").some((tag) => tag.trim() === file.etag)) {
    return new Response(null, { status: 304, headers });
  }
  const body = req.method === "HEAD" ? null : file.body as Uint8Array<ArrayBuffer>;
  return new Response(body, {
    status: 200,
    headers: { ...headers, "content-length": String(file.body.length) },
  });
}

/** Answers one console request from the loaded files. */
function answer(req: Request, assets: ConsoleAssets): Response {
  const security = securityHeaders(assets.scriptHash);
  if (req.method !== "GET" && req.method !== "HEAD") {
    return errorBody(405, "method_not_allowed", `${req.method} is not allowed here; use GET, HEAD`, {
      ...security,
      allow: "GET, HEAD",
    });
  }
  const path = pathOf(req.url);
  if (path === "/" || path === "/ui") {
    return new Response(null, { status: 302, headers: { location: CONSOLE_BASE } });
  }
  const file = assets.files.get(path);
  if (file !== undefined) return fileResponse(req, file, security);
  if (path.startsWith("/ui/assets/") || path.startsWith("/ui/vendor/")) {
    return errorBody(404, "asset_not_found", `no console file ${path}`, security);
  }
  return fileResponse(req, assets.page, security);
}

/** The console's request handler (its files are read at the first request, then kept). */
export function consoleHandler(opts: ConsoleOptions = {}): (req: Request) => Promise<Response> {
  let loading: Promise<ConsoleAssets> | undefined;
  return async (req) => {
    loading ??= loadAssets(opts.root).catch((err) => {
      loading = undefined; // try again at the next request
      throw err;
    });
    let assets: ConsoleAssets;
    try {
      assets = await loading;
    } catch (err) {
      return errorBody(500, "console_unavailable", `the console's files cannot be read: ${String(err)}`, {});
    }
    return answer(req, assets);
  };
}
