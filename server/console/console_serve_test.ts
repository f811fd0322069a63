/**
 * Serving the web console from a real node over HTTP: `/` redirects to `/ui/`, every `/ui/…` path answers the
 * page (deep links), files come with their types, a strict Content Security Policy whose one inline hash is
 * the import map's, ETags (304 on a match) and immutable caching of the versioned vendored files; nothing in
 * the page or the app's modules points to another origin; the console loads without a token on a node with
 * tokens (the API still needs one); a node without the api-gateway role serves it too.
 */
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { getJson, withNode } from "../../testing/server.ts";
import { VENDOR } from "./vendor.ts";

/** A GET without following redirects: status, headers and text. */
async function fetchRaw(url: string, init: RequestInit = {}) {
  const res = await fetch(url, { redirect: "manual", ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

Deno.test("console: / redirects to /ui/; deep links answer the page with a strict CSP", async () => {
  await withNode(async (node) => {
    const root = await fetchRaw(`${node.url}/`);
    assertEquals([root.status, root.headers.get("location")], [302, "/ui/"]);
    assertEquals((await fetchRaw(`${node.url}/ui`)).headers.get("location"), "/ui/");
    for (
      const path of [
        "/ui/",
        "/ui/workflows/wf%201",
        "/ui/executions/sch-1%40170",
        "/ui/cluster",
        "/ui/x/y/z?q=1",
      ]
    ) {
      const page = await fetchRaw(`${node.url}${path}`);
      assertEquals(page.status, 200, path);
      assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
      assert(page.text.includes('<div id="app">'), path);
      const csp = page.headers.get("content-security-policy") ?? "";
      assertMatch(csp, /default-src 'none'/);
      assertMatch(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
      assertMatch(csp, /style-src 'self'(;|$)/);
      assertMatch(csp, /connect-src 'self'/);
      assertMatch(csp, /frame-ancestors 'none'/);
      assert(!csp.includes("unsafe"), csp);
      assertEquals(page.headers.get("x-content-type-options"), "nosniff");
      assertEquals(page.headers.get("cache-control"), "no-cache");
    }
    // The CSP's hash is the import map's: the page's one inline script.
    const page = await fetchRaw(`${node.url}/ui/`);
    const map = /<script type="importmap">([^<]*)<\/script>/.exec(page.text)![1];
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(map)));
    const hash = btoa(String.fromCharCode(...digest));
    assert(page.headers.get("content-security-policy")!.includes(`'sha256-${hash}'`));
    assertEquals((page.text.match(/<script(?![^>]*\bsrc=)[^>]*>/g) ?? []).length, 1, "one inline script");
    assertEquals(JSON.parse(map).imports.preact, "/ui/vendor/preact@10.29.8/preact.module.js");
  });
});

Deno.test("console: files have types and ETags; vendored files are immutable; no other origin anywhere", async () => {
  await withNode(async (node) => {
    const app = await fetchRaw(`${node.url}/ui/assets/app.js`);
    assertEquals([app.status, app.headers.get("content-type")], [200, "text/javascript; charset=utf-8"]);
    const etag = app.headers.get("etag")!;
    assertMatch(etag, /^"[\w-]+"$/);
    const again = await fetchRaw(`${node.url}/ui/assets/app.js`, { headers: { "if-none-match": etag } });
    assertEquals([again.status, again.text], [304, ""]);
    const css = await fetchRaw(`${node.url}/ui/assets/style.css`);
    assertEquals(css.headers.get("content-type"), "text/css; charset=utf-8");
    for (const v of VENDOR) {
      const file = await fetchRaw(`${node.url}/ui/vendor/${v.path}`);
      assertEquals(file.status, 200, v.path);
      assertEquals(file.headers.get("cache-control"), "public, max-age=31536000, immutable");
    }
    const missing = await fetchRaw(`${node.url}/ui/assets/nope.js`);
    assertEquals([missing.status, JSON.parse(missing.text).error.code], [404, "asset_not_found"]);
    for (const path of ["/ui/assets/..%2f..%2fdeno.json", "/ui/vendor/..%2f..%2f..%2fdeno.json"]) {
      const escape = await fetchRaw(`${node.url}${path}`);
      assertEquals(escape.status, 404, path);
      assert(!escape.text.includes("@flowmesh/engine"), "a path never leaves the console's files");
    }
    const head = await fetch(`${node.url}/ui/assets/app.js`, { method: "HEAD" });
    assertEquals([head.status, await head.text()], [200, ""]);
    const post = await fetchRaw(`${node.url}/ui/`, { method: "POST" });
    assertEquals([post.status, post.headers.get("allow")], [405, "GET, HEAD"]);

    // The page, the app's modules and the vendored ones name no other origin (XML namespaces aside): no CDN,
    // no font service.
    const texts = [(await fetchRaw(`${node.url}/ui/`)).text];
    for (const entry of Deno.readDirSync(new URL("./assets/", import.meta.url))) {
      if (entry.isFile) texts.push(Deno.readTextFileSync(new URL(`./assets/${entry.name}`, import.meta.url)));
    }
    for (const folder of ["lib", "components", "pages"]) {
      for (const entry of Deno.readDirSync(new URL(`./assets/${folder}/`, import.meta.url))) {
        texts.push(Deno.readTextFileSync(new URL(`./assets/${folder}/${entry.name}`, import.meta.url)));
      }
    }
    for (const v of VENDOR) texts.push(Deno.readTextFileSync(new URL(`./vendor/${v.path}`, import.meta.url)));
    for (const text of texts) {
      const urls = text.match(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[/"']/gi) ?? [];
      assertEquals(urls.filter((u) => !u.includes("www.w3.org")), [], "no URL of another origin");
    }
  });
});

Deno.test("console: on a node with tokens the console loads without one; the API does not", async () => {
  const token = "viewer-token-0123456789abcdef";
  await withNode(
    async (node) => {
      assertEquals((await fetchRaw(`${node.url}/ui/executions/x`)).status, 200);
      assertEquals((await fetchRaw(`${node.url}/ui/assets/app.js`)).status, 200);
      assertEquals((await fetchRaw(`${node.url}/`)).status, 302);
      const anonymous = await getJson(node, "/api/v1/whoami");
      assertEquals(anonymous.status, 401);
      const me = await getJson(node, "/api/v1/whoami", { authorization: `Bearer ${token}` });
      assertEquals(me.status, 200, me.text);
      assertEquals(me.body.authEnabled, true);
      assertEquals(me.body.role, "viewer");
      assertMatch(me.body.tokenId, /^[0-9a-f]{8}$/);
      assert(!me.text.includes(token), "the token is never served back");
    },
    {},
    { apiTokens: [{ role: "viewer", token }] },
  );
});

Deno.test("console: whoami on a node without tokens says admin, auth off", async () => {
  await withNode(async (node) => {
    const me = await getJson(node, "/api/v1/whoami");
    assertEquals(me.body, {
      authEnabled: false,
      role: "admin",
      tokenId: null,
      node: node.cluster.opts.nodeId,
    });
  });
});

Deno.test("console: a node without the api-gateway role serves the console, not the API", async () => {
  await withNode(
    async (node) => {
      assertEquals((await fetchRaw(`${node.url}/ui/cluster`)).status, 200);
      assertEquals((await fetchRaw(`${node.url}/`)).status, 302);
      const api = await fetchRaw(`${node.url}/api/v1/whoami`);
      assertEquals([api.status, JSON.parse(api.text).error.code], [503, "not_a_gateway"]);
    },
    {},
    { roles: ["coordinator", "worker"] },
  );
});
