/**
 * Headless Chromium for the web console's end-to-end tests: Debian's `chromium` (`/usr/bin/chromium`, which
 * `.ci/run` installs when absent) driven by Playwright (`playwright-core`, which downloads no browser), each
 * test in a fresh profile (`--user-data-dir` in a new temporary folder, removed afterwards). Without Chromium a
 * browser test fails under CI=true and is skipped locally with a warning. Imported only by tests.
 *
 * @example
 * ```ts
 * import { CHROMIUM_FLAGS } from "./browser.ts";
 * if (!CHROMIUM_FLAGS.includes("--disable-background-networking")) throw new Error("no calls home");
 * ```
 *
 * @module
 */
import { type BrowserContext, chromium, type Page } from "npm:playwright-core@1.65.2";
import { waitUntil } from "./wait.ts";

/** The browser: `ENGINE_TEST_CHROMIUM`, else Debian's. */
export const CHROMIUM_PATH = Deno.env.get("ENGINE_TEST_CHROMIUM") ?? "/usr/bin/chromium";

/** How Chromium is started: headless, no sandbox (root in CI), nothing fetched from the network by itself. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Whether the browser is installed. */
export function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

/**
 * Whether a browser test may run: true with Chromium installed; without it, throws under CI=true and warns
 * (false) locally.
 */
export function requireChromium(): boolean {
  if (chromiumInstalled()) return true;
  if (Deno.env.get("CI") === "true") {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH} (CI=true: this must not skip)`);
  }
  console.warn(`skipped locally: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`);
  return false;
}

/** Runs `fn` with a fresh browser profile; always closes the browser and removes the profile. */
export async function withBrowser<T>(fn: (browser: BrowserContext) => Promise<T>): Promise<T> {
  const profile = await Deno.makeTempDir({ prefix: "flowmesh-chromium-" });
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_FLAGS],
    viewport: { width: 1280, height: 860 },
  });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/**
 * Registers a test that needs Chromium: it fails under CI=true when the browser is missing (never a silent
 * skip) and is skipped locally with a warning.
 */
export function browserTest(name: string, fn: (browser: BrowserContext) => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      if (requireChromium()) await withBrowser(fn);
    },
  });
}

/**
 * Collects a page's uncaught errors and console errors — a Content Security Policy refusal among them — (a test
 * asserts there were none). The browser's own line for an API answer that was not a 2xx is left out: a test
 * that expects a 400 or a 409 checks what the page shows of it.
 */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource: the server responded")) {
      errors.push(`console: ${m.text()}`);
    }
  });
  return errors;
}

/** Saves a screenshot also under `FLOWMESH_CONSOLE_SCREENSHOTS` (a folder), when set: how docs/img is made. */
export async function keepScreenshot(page: Page, name: string, fullPage = false): Promise<void> {
  const dir = Deno.env.get("FLOWMESH_CONSOLE_SCREENSHOTS");
  if (dir) await page.screenshot({ path: `${dir}/${name}`, fullPage });
}

/** The width and height of a PNG file (read from its header), or throws when it is not a PNG. */
export async function pngSize(path: string): Promise<{ width: number; height: number; bytes: number }> {
  const bytes = await Deno.readFile(path);
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!signature.every((b, i) => bytes[i] === b)) throw new Error(`${path} is not a PNG`);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return { width: view.getUint32(16), height: view.getUint32(20), bytes: bytes.length };
}

/** Waits until `selector` matches exactly `count` elements (or `at least` that many). */
export async function waitForCount(
  page: Page,
  selector: string,
  count: number,
  opts: { atLeast?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  let seen = -1;
  try {
    await waitUntil(
      `${count} × ${selector}`,
      async () => {
        seen = await page.locator(selector).count();
        return opts.atLeast ? seen >= count : seen === count;
      },
      opts.timeoutMs ?? 15_000,
      100,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (saw ${seen})`);
  }
}
