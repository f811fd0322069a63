/**
 * A workflow's page (`/ui/workflows/{id}`, `?version=n` for an older version): its DAG drawn from the
 * definition, the definition's JSON, its version history, its latest runs, and — by role — a run button
 * (operator) and the JSON editor (admin, `?edit=1`).
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { allows, apiPath, call, getPage, withQuery } from "../lib/api.js";
import { formatDuration, formatTime } from "../lib/format.js";
import { navigate, uiPath } from "../lib/router.js";
import { DagView } from "../components/dag_view.js";
import { ErrorBanner, html, Link, StatusBadge } from "../components/ui.js";
import { WorkflowEditorPage } from "./workflow_editor.js";

function Versions({ id, shown }) {
  const [versions, setVersions] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    getPage(withQuery(apiPath("workflows", id, "versions"), { limit: 20 })).then(setVersions, setError);
  }, [id]);
  return html`<section aria-labelledby="versions-h">
    <h2 id="versions-h">Versions</h2>
    <${ErrorBanner} error=${error} />
    ${
    versions && html`
      <table data-table="versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Stored</th>
            <th>Nodes</th>
            <th>Hash</th>
          </tr>
        </thead>
        <tbody>${versions.items.map((v) =>
          html`
            <tr aria-current=${v.version === shown ? "true" : undefined}>
              <td>
                <${Link} href=${withQuery(uiPath("workflows", id), { version: v.version })}>v${v.version}<//>
                        ${v.version === shown ? " (shown)" : ""}</td>
                      <td>${formatTime(v.createdAt)}</td><td>${v.nodeCount}</td><td><code>${v.hash.slice(
                        0,
                        10,
                      )}</code></td>
                    </tr>
          `
        )}</tbody>
      </table>
          ${versions.next &&
            html`<p class="muted">Older versions: GET ${apiPath("workflows", id, "versions")}</p>`}
    `
  }
  </section>`;
}

function RecentRuns({ id }) {
  const [runs, setRuns] = useState(null);
  useEffect(() => {
    getPage(withQuery("/api/v1/executions", { workflowId: id, limit: 10 })).then(
      setRuns,
      () => setRuns(null),
    );
  }, [id]);
  return html`<section aria-labelledby="runs-h">
    <h2 id="runs-h">Latest runs</h2>
    ${runs && runs.items.length === 0 && html`<p class="muted">Never run.</p>`}
    ${
    runs && runs.items.length > 0 && html`
      <table data-table="recent-runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Status</th>
            <th>Started</th>
            <th>Took</th>
          </tr>
        </thead>
        <tbody>${runs.items.map((r) =>
          html`
            <tr>
              <td>
                <${Link} href=${uiPath("executions", r.executionId)}>${r.executionId}<//></td>
                      <td><${StatusBadge} status=${r.status} /></td><td>${formatTime(r.startTime)}</td>
                      <td>${formatDuration(r.duration)}</td></tr>
          `
        )}</tbody>
      </table>
      <${Link} href=${withQuery("/ui/executions", { workflowId: id })}>All runs of ${id}<//>
    `
  }
  </section>`;
}

function RunForm({ id, version }) {
  const [input, setInput] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (e) => {
    e.preventDefault();
    setError(null);
    let body = {};
    try {
      if (input.trim() !== "") body = { input: JSON.parse(input) };
    } catch (err) {
      setError({ code: "malformed_json", message: `the input is not JSON: ${err.message}` });
      return;
    }
    if (version !== null) body.version = version;
    setBusy(true);
    try {
      const r = await call("POST", withQuery(apiPath("workflows", id, "execute"), { view: "id" }), body);
      navigate(uiPath("executions", r.body.executionId));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`
    <form class="toolbar" onSubmit=${run} aria-label="run this workflow">
      <label>Input (JSON, optional)
          <input name="input" value=${input} placeholder='{"batch": 1}' onInput=${(e) =>
            setInput(e.currentTarget.value)} />
        </label>
      <button type="submit" class="primary" disabled=${busy} data-action="run">▶ Run${version !== null
        ? ` v${version}`
        : ""}</button>
      <${ErrorBanner} error=${error} />
    </form>
  `;
}

/**
 * The page.
 *
 * @example
 * ```js
 * import { WorkflowPage } from "./workflow.js";
 * if (typeof WorkflowPage !== "function") throw new Error();
 * ```
 * @param {{session: {role: string}, id: string, query: URLSearchParams}} props
 */
export function WorkflowPage({ session, id, query }) {
  const asked = query.get("version");
  const [loaded, setLoaded] = useState(/** @type {{definition: any, version: number} | null} */ (null));
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(null);
  useEffect(() => {
    call("GET", withQuery(apiPath("workflows", id), { version: asked }))
      .then(
        (r) => setLoaded({ definition: r.body, version: Number(r.headers.get("x-workflow-version")) }),
        setError,
      );
  }, [id, asked]);
  if (error) {
    return html`
      <section>
        <h1>Workflow ${id}</h1>
        <${ErrorBanner} error=${error} />
      </section>
    `;
  }
  if (!loaded) {
    return html`
      <section aria-busy="true">
        <h1>Workflow ${id}</h1>
        <p>Loading…</p>
      </section>
    `;
  }
  if (query.get("edit") === "1" && allows(session.role, "admin")) {
    return html`<${WorkflowEditorPage} session=${session} id=${id} initial=${loaded.definition} />`;
  }
  const d = loaded.definition;
  const node = selected && d.nodes.find((n) => n.id === selected);
  return html`<section>
    <div class="row">
      <h1>${d.name} <span class="muted">${id} · v${loaded.version}</span></h1>
      ${
    allows(session.role, "admin") &&
    html`<${Link} href=${
      withQuery(uiPath("workflows", id), { edit: 1 })
    } class="nav" data-action="edit">✎ Edit JSON<//>`
  }
    </div>
    ${d.description && html`<p>${d.description}</p>`}
    ${
    allows(session.role, "operator") &&
    html`<${RunForm} id=${id} version=${asked === null ? null : loaded.version} />`
  }
    <${DagView} nodes=${d.nodes} edges=${d.edges} selected=${selected} onSelect=${setSelected}
      label=${`DAG of ${id} version ${loaded.version}`} />
    <div class="grid2 below">
      <div>
        ${
    node && html`
      <div class="panel" aria-live="polite">
        <h2>${node.id}</h2>
        <pre class="json">${JSON.stringify(node, null, 2)}</pre>
      </div>
    `
  }
        <details open=${!node}><summary>Definition JSON</summary><pre class="json" data-json="definition">${
    JSON.stringify(d, null, 2)
  }</pre></details>
      </div>
      <div>
        <${Versions} id=${id} shown=${loaded.version} />
        <${RecentRuns} id=${id} />
      </div>
    </div>
  </section>`;
}
