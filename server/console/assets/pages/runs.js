/**
 * The runs page (`/ui/executions`): every execution, newest first, filtered on the server by workflow,
 * status, start-time window (UTC) and the start of the id, paged by keyset cursor. The filters live in the address,
 * so a filtered list can be pasted (`/ui/executions?status=failed&workflowId=orders`).
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { getPage, withQuery } from "../lib/api.js";
import { formatDuration, formatTime } from "../lib/format.js";
import { navigate, uiPath } from "../lib/router.js";
import { ErrorBanner, html, Link, Pager, StatusBadge, useCursors } from "../components/ui.js";

/** The status words of the filter (the index says `running` for paused runs too). */
const STATUSES = ["", "running", "completed", "failed", "cancelled", "timed_out"];

/** The filters, as they are in the address. */
const FIELDS = ["workflowId", "status", "from", "to", "q"];

/** A `datetime-local` value read as UTC, in epoch ms (undefined when empty or unreadable). */
function utcMs(value) {
  if (!value) return undefined;
  const ms = Date.parse(`${value}${value.length === 16 ? ":00" : ""}Z`);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The page.
 *
 * @example
 * ```js
 * import { RunsPage } from "./runs.js";
 * if (typeof RunsPage !== "function") throw new Error();
 * ```
 * @param {{session: {role: string}, query: URLSearchParams}} props
 */
export function RunsPage({ query }) {
  const applied = Object.fromEntries(FIELDS.map((f) => [f, query.get(f) ?? ""]));
  const [form, setForm] = useState(applied);
  const cursors = useCursors();
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [loads, setLoads] = useState(0);
  useEffect(() => {
    setError(null);
    const path = withQuery("/api/v1/executions", {
      workflowId: applied.workflowId,
      status: applied.status,
      from: utcMs(applied.from),
      to: utcMs(applied.to),
      q: applied.q,
      limit: 50,
      cursor: cursors.cursor,
    });
    getPage(path).then(setPage, setError);
  }, [query.toString(), cursors.cursor, loads]);
  const apply = (e) => {
    e.preventDefault();
    navigate(withQuery("/ui/executions", form), { replace: true });
  };
  const field = (name) => ({
    name,
    value: form[name],
    onInput: (e) => setForm({ ...form, [name]: e.currentTarget.value }),
  });
  return html`<section>
    <h1>Runs</h1>
    <form class="toolbar" role="search" aria-label="filter runs" onSubmit=${apply}>
      <label>Workflow id <input ...${field("workflowId")} size="16" /></label>
      <label>Status
        <select ...${field("status")} onChange=${(e) => setForm({ ...form, status: e.currentTarget.value })}>
          ${STATUSES.map((s) => html`<option value=${s}>${s === "" ? "any" : s}</option>`)}
        </select>
      </label>
      <label>Started from (UTC) <input type="datetime-local" step="1" ...${field("from")} /></label>
      <label>to (UTC) <input type="datetime-local" step="1" ...${field("to")} /></label>
      <label>Id starts with <input type="search" ...${field("q")} size="14" /></label>
      <button type="submit" class="primary">Filter</button>
      <button type="button" onClick=${() => setLoads(loads + 1)}>↻ Refresh</button>
    </form>
    <${ErrorBanner} error=${error} />
    ${
    page && html`
      <table data-table="runs">
        <caption class="muted">${page.items
          .length} run(s) on this page, newest first${page.next && page.items.length < 50
          ? " (the id filter examines at most 5,000 runs a page: more may follow)"
          : ""}</caption>
        <thead>
          <tr>
            <th>Run</th>
            <th>Workflow</th>
            <th>Version</th>
            <th>Status</th>
            <th>Started (UTC)</th>
            <th>Took</th>
            <th>Events</th>
          </tr>
        </thead>
        <tbody>${page.items.map((r) =>
          html`
            <tr data-execution-id=${r.executionId} data-status=${r.status}>
              <td>
                <${Link} href=${uiPath("executions", r.executionId)}>${r.executionId}<//></td>
                      <td><${Link} href=${uiPath("workflows", r.workflowId)}>${r.workflowId}<//></td>
                      <td>${r.version}</td><td><${StatusBadge} status=${r.status} /></td>
                      <td>${formatTime(r.startTime)}</td><td>${formatDuration(r.duration)}</td><td>${r
                        .logsCount}</td>
                    </tr>
          `
        )}</tbody>
      </table>
      <${Pager} hasPrevious=${cursors.hasPrevious} next=${page.next} onFirst=${cursors.first}
        onPrevious=${cursors.previous} onNext=${() =>
          page.next && cursors.next(page.next)} label="run pages" />
    `
  }
  </section>`;
}
