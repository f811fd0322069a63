/**
 * The workflows page: every live workflow, searched by text in its id or name (`?q=` on the server), paged by
 * cursor; an admin may create one from pasted JSON.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { allows, getPage, withQuery } from "../lib/api.js";
import { formatTime } from "../lib/format.js";
import { navigate, uiPath } from "../lib/router.js";
import { ErrorBanner, html, Link, Pager, useCursors } from "../components/ui.js";

/**
 * The page.
 *
 * @example
 * ```js
 * import { WorkflowsPage } from "./workflows.js";
 * if (typeof WorkflowsPage !== "function") throw new Error();
 * ```
 * @param {{session: {role: string}, query: URLSearchParams}} props
 */
export function WorkflowsPage({ session, query }) {
  const q = query.get("q") ?? "";
  const [text, setText] = useState(q);
  const cursors = useCursors();
  const [page, setPage] = useState(/** @type {{items: any[], next: string | null} | null} */ (null));
  const [error, setError] = useState(null);
  useEffect(() => {
    setError(null);
    getPage(withQuery("/api/v1/workflows", { q, limit: 50, cursor: cursors.cursor }))
      .then(setPage, setError);
  }, [q, cursors.cursor]);
  const search = (e) => {
    e.preventDefault();
    navigate(withQuery("/ui/workflows", { q: text.trim() }), { replace: true });
  };
  return html`<section>
    <div class="row">
      <h1>Workflows</h1>
      ${
    allows(session.role, "admin") &&
    html`<${Link} href="/ui/workflows/new" class="nav" data-action="new-workflow">+ New workflow<//>`
  }
    </div>
    <form class="toolbar" role="search" onSubmit=${search}>
      <label>Search id or name
        <input type="search" name="q" value=${text} onInput=${(e) => setText(e.currentTarget.value)} />
      </label>
      <button type="submit">Search</button>
    </form>
    <${ErrorBanner} error=${error} />
    ${
    page &&
    html`
      <table data-table="workflows">
        <caption class="muted">${page.items.length} workflow(s) on this page${q
          ? ` matching “${q}”`
          : ""}</caption>
        <thead>
          <tr>
            <th>Id</th>
            <th>Name</th>
            <th>Version</th>
            <th>Nodes</th>
            <th>Edges</th>
            <th>Stored</th>
          </tr>
        </thead>
        <tbody>
                ${page.items.map((w) =>
                  html`
                    <tr data-workflow-id=${w.id}>
                      <td>
                        <${Link} href=${uiPath("workflows", w.id)}>${w.id}<//></td>
                                  <td>${w.name}</td><td>${w.version}</td><td>${w.nodeCount}</td><td>${w
                                    .edgeCount}</td>
                                  <td>${formatTime(w.createdAt)}</td>
                                </tr>
                  `
                )}
              </tbody>
      </table>
      <${Pager} hasPrevious=${cursors.hasPrevious} next=${page.next} onFirst=${cursors.first}
        onPrevious=${cursors.previous} onNext=${() =>
          page.next && cursors.next(page.next)} label="workflow pages" />
    `
  }
  </section>`;
}
