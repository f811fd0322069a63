/**
 * The console's files, read once into memory: the app (`server/console/assets/`, plain ES modules and CSS,
 * served as they are at `/ui/assets/…`), the vendored libraries (`vendor.ts`, at `/ui/vendor/…`), and the page
 * (`index.html` with the import map put in, and the hash of that inline script for the Content Security
 * Policy). Each file gets its content type and an ETag.
 *
 * @example
 * ```ts
 * import { loadAssets } from "./assets.ts";
 * const assets = await loadAssets();
 * const app = assets.files.get("/ui/assets/app.js");
 * if (app?.type !== "text/javascript; charset=utf-8") throw new Error("the app's entry is served");
 * if (!assets.page.text.includes('<script type="importmap">')) throw new Error("the page has its import map");
 * if (!assets.scriptHash.startsWith("sha256-")) throw new Error(assets.scriptHash);
 * ```
 *
 * @module
 */
import { importMap, VENDOR, VENDOR_PREFIX } from "./vendor.ts";

/** One file as served. */
export interface Asset {
  body: Uint8Array;
  type: string;
  /** A strong ETag of the body. */
  etag: string;
  /** Vendored: its path names its version, so it may be cached for good. */
  immutable: boolean;
}

/** Every file of the console. */
export interface ConsoleAssets {
  /** By served path (`/ui/assets/app.js`, `/ui/vendor/preact@10.29.8/preact.module.js`). */
  files: Map<string, Asset>;
  /** The page every other `/ui/…` path answers with. */
  page: Asset & { text: string };
  /** The CSP source of the page's inline import map (`sha256-…`). */
  scriptHash: string;
}

/** Where the app's files are served. */
export const ASSETS_PREFIX = "/ui/assets/";

/** The content types by extension; other files are not served. */
const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json; charset=utf-8",
};

/** The placeholder in `index.html` the import map replaces. */
const IMPORT_MAP_MARK = "<!-- importmap -->";

function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot);
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

async function asset(body: Uint8Array, type: string, immutable: boolean): Promise<Asset> {
  const digest = await sha256(body);
  return { body, type, etag: `"${base64(digest.slice(0, 12)).replace(/[+/=]/g, "_")}"`, immutable };
}

/** The files under `dir` (recursively), as paths relative to it. */
async function filesUnder(dir: URL, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(new URL(prefix, dir))) {
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory) found.push(...await filesUnder(dir, `${prefix}${entry.name}/`));
    else if (entry.isFile) found.push(prefix + entry.name);
  }
  return found.sort();
}

/** Reads the console's files from `root` (the folder of this module by default). */
export async function loadAssets(root: URL = new URL("./", import.meta.url)): Promise<ConsoleAssets> {
  const files = new Map<string, Asset>();
  const appDir = new URL("assets/", root);
  for (const name of await filesUnder(appDir)) {
    const type = TYPES[extensionOf(name)];
    if (type === undefined || name === "index.html") continue;
    files.set(ASSETS_PREFIX + name, await asset(await Deno.readFile(new URL(name, appDir)), type, false));
  }
  for (const v of VENDOR) {
    const body = await Deno.readFile(new URL(`vendor/${v.path}`, root));
    files.set(VENDOR_PREFIX + v.path, await asset(body, TYPES[".js"], true));
  }
  const mapText = JSON.stringify(importMap());
  const template = await Deno.readTextFile(new URL("index.html", appDir));
  if (!template.includes(IMPORT_MAP_MARK)) throw new Error(`index.html has no ${IMPORT_MAP_MARK}`);
  // Every module preloaded at once: no waterfall of imports, one round trip for the whole console.
  const preload = [...files.keys()].filter((path) => path.endsWith(".js"))
    .map((path) => `<link rel="modulepreload" href="${path}" />`).join("\n    ");
  const text = template.replace(
    IMPORT_MAP_MARK,
    `<script type="importmap">${mapText}</script>\n    ${preload}`,
  );
  const page = { ...await asset(new TextEncoder().encode(text), TYPES[".html"], false), text };
  const scriptHash = `sha256-${base64(await sha256(new TextEncoder().encode(mapText)))}`;
  return { files, page, scriptHash };
}
