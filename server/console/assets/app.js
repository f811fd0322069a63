/**
 * The web console's entry: signs in (with an API token when the node has tokens, kept for this tab only),
 * draws the shell (skip link, navigation, the signed-in role, the theme switch) and the page the address
 * names. Loaded by `/ui/…` pages only; it touches the document when imported.
 *
 * @module
 */
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorBanner, html, Link } from "./components/ui.js";
import { apiPath, call, readEarly, setToken } from "./lib/api.js";
import { match, onNavigate } from "./lib/router.js";
import { ClusterPage } from "./pages/cluster.js";
import { RunPage } from "./pages/run.js";
import { RunsPage } from "./pages/runs.js";
import { SchedulesPage } from "./pages/schedules.js";
import { WorkflowEditorPage } from "./pages/workflow_editor.js";
import { WorkflowPage } from "./pages/workflow.js";
import { WorkflowsPage } from "./pages/workflows.js";

/** The navigation's sections: label, path, and the pages that belong to each. */
const SECTIONS = [
  ["Workflows", "/ui/workflows", ["workflows", "workflow", "workflow_new"]],
  ["Runs", "/ui/executions", ["runs", "run"]],
  ["Schedules", "/ui/schedules", ["schedules"]],
  ["Cluster", "/ui/cluster", ["cluster"]],
];

/** The themes the switch goes through (`auto` follows the system's setting). */
const THEMES = ["auto", "light", "dark"];

function applyTheme(theme) {
  if (theme === "auto") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", theme);
}

function ThemeSwitch() {
  const [theme, setTheme] = useState(() => localStorage.getItem("flowmesh.theme") ?? "auto");
  useEffect(() => {
    applyTheme(theme);
    localStorage.setItem("flowmesh.theme", theme);
  }, [theme]);
  const next = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  return html`
    <button type="button" class="theme" onClick=${() => setTheme(next)}
      aria-label=${`theme: ${theme}; switch to ${next}`}>◐ ${theme}</button>
  `;
}

function SignIn({ onSignedIn, reason }) {
  const [token, setValue] = useState("");
  const [error, setError] = useState(reason ?? null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setToken(token.trim());
    try {
      onSignedIn((await call("GET", "/api/v1/whoami")).body);
    } catch (err) {
      setToken(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main id="main" class="signin">
      <h1>Sign in</h1>
      <p>This node checks API tokens. Paste a token (viewer, operator or admin); it is kept for this tab only.</p>
      <form onSubmit=${submit}>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required value=${token}
          onInput=${(e) => setValue(e.currentTarget.value)} />
        <button type="submit" disabled=${busy || token.trim() === ""}>Sign in</button>
      </form>
      <${ErrorBanner} error=${error} />
    </main>
  `;
}

function Page({ route, session, query }) {
  switch (route.page) {
    case "workflows":
      return html`<${WorkflowsPage} session=${session} query=${query} />`;
    case "workflow_new":
      return html`<${WorkflowEditorPage} session=${session} />`;
    case "workflow":
      return html`<${WorkflowPage} key=${route.id} session=${session} id=${route.id} query=${query} />`;
    case "runs":
      return html`<${RunsPage} session=${session} query=${query} />`;
    case "run":
      return html`<${RunPage} key=${route.id} session=${session} id=${route.id} />`;
    case "cluster":
      return html`<${ClusterPage} session=${session} />`;
    case "schedules":
      return html`<${SchedulesPage} session=${session} />`;
    default:
      return html`
        <section>
          <h1>Not found</h1>
          <p>No console page at this address.</p>
        </section>
      `;
  }
}

function Shell({ session, onSignOut }) {
  const [where, setWhere] = useState(() => location.pathname + location.search);
  const main = useRef(null);
  useEffect(() =>
    onNavigate(() => {
      setWhere(location.pathname + location.search);
      main.current?.focus({ preventScroll: true });
    }), []);
  const route = match(location.pathname);
  const query = new URLSearchParams(location.search);
  const section = SECTIONS.find((s) => s[2].includes(route.page));
  useEffect(() => {
    document.title = `${section?.[0] ?? "flowmesh"}${route.id ? ` · ${route.id}` : ""} · flowmesh`;
  }, [where]);
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <span class="brand">flowmesh</span>
      <nav aria-label="sections">
        ${SECTIONS.map(([label, href, pages]) =>
          html`<${Link} href=${href} class="nav" aria-current=${
            pages.includes(route.page) ? "page" : undefined
          }>${label}<//>`
        )}
      </nav>
      <span class="who" data-role=${session.role}>
        node <strong>${session.node}</strong> · role <strong class="role">${session.role}</strong>
      </span>
      <${ThemeSwitch} />
      ${session.authEnabled && html`<button type="button" onClick=${onSignOut}>Sign out</button>`}
    </header>
    <main id="main" ref=${main} tabindex="-1">
      <${Page} key=${where} route=${route} session=${session} query=${query} />
    </main>
  `;
}

function App() {
  const [session, setSession] = useState(undefined);
  const [failure, setFailure] = useState(null);
  useEffect(() => {
    whoami.then((r) => setSession(r.body)).catch((err) => {
      if (err.status === 401) {
        setToken(null);
        setSession(null);
      } else setFailure(err);
    });
  }, []);
  if (failure) {
    const hint = failure.code === "not_a_gateway"
      ? "This node serves no API (it has no api-gateway role): open the console on a gateway member."
      : "The node's API did not answer.";
    return html`
      <main id="main">
        <h1>flowmesh</h1>
        <p>${hint}</p>
        <${ErrorBanner} error=${failure} />
      </main>
    `;
  }
  if (session === undefined) {
    return html`
      <main id="main" aria-busy="true">
        <p>Loading…</p>
      </main>
    `;
  }
  if (session === null) return html`<${SignIn} onSignedIn=${setSession} />`;
  const signOut = () => {
    setToken(null);
    setSession(null);
  };
  return html`<${Shell} session=${session} onSignOut=${signOut} />`;
}

// The sign-in's read, and a run page's first one (its view, the largest), start before the first drawing.
const whoami = call("GET", "/api/v1/whoami");
whoami.catch(() => {}); // handled by App
const first = match(location.pathname);
if (first.page === "run" && first.id !== undefined) readEarly(apiPath("executions", first.id));

applyTheme(localStorage.getItem("flowmesh.theme") ?? "auto");
render(html`<${App} />`, document.getElementById("app"));
