/**
 * The libraries the web console runs on, vendored as the npm registry ships them: each file under
 * `server/console/vendor/` is a byte-for-byte copy of one file of a pinned package (the same version as the
 * `deno.json` import map pins; `vendor_test.ts` checks both), served by the node at `/ui/vendor/…` and named
 * in the page's import map by its bare specifier, so the console's modules import `preact` in the browser as
 * Deno does in the tests. Nothing is fetched from a CDN: a node serves its console offline.
 *
 * @example
 * ```ts
 * import { importMap, VENDOR } from "./vendor.ts";
 * const map = importMap();
 * if (map.imports.preact !== "/ui/vendor/preact@10.29.8/preact.module.js") throw new Error(map.imports.preact);
 * if (!VENDOR.every((v) => v.path.startsWith(`${v.package}@${v.version}/`))) throw new Error("versioned paths");
 * ```
 *
 * @module
 */

/** One vendored module. */
export interface VendorModule {
  /** The bare specifier the console imports it by (`preact/hooks`). */
  specifier: string;
  /** The npm package. */
  package: string;
  /** The pinned version. */
  version: string;
  /** The file inside the package. */
  file: string;
  /** Where it is under `server/console/vendor/` and `/ui/vendor/`: `<package>@<version>/<name>`. */
  path: string;
}

/** Every vendored module. */
export const VENDOR: readonly VendorModule[] = [
  {
    specifier: "preact",
    package: "preact",
    version: "10.29.8",
    file: "dist/preact.module.js",
    path: "preact@10.29.8/preact.module.js",
  },
  {
    specifier: "preact/hooks",
    package: "preact",
    version: "10.29.8",
    file: "hooks/dist/hooks.module.js",
    path: "preact@10.29.8/hooks.module.js",
  },
  {
    specifier: "htm",
    package: "htm",
    version: "3.1.1",
    file: "dist/htm.module.js",
    path: "htm@3.1.1/htm.module.js",
  },
  {
    specifier: "@dagrejs/dagre",
    package: "@dagrejs/dagre",
    version: "3.1.4",
    file: "dist/dagre.esm.js",
    path: "@dagrejs/dagre@3.1.4/dagre.esm.js",
  },
];

/** Where the vendored modules are served. */
export const VENDOR_PREFIX = "/ui/vendor/";

/** The page's import map: each vendored module's specifier → its served path. */
export function importMap(): { imports: Record<string, string> } {
  return { imports: Object.fromEntries(VENDOR.map((v) => [v.specifier, VENDOR_PREFIX + v.path])) };
}
