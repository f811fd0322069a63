/**
 * The schedules page (`/ui/schedules`): every schedule with its next tick, its last tick and that tick's run;
 * a schedule's details show its next fire times and recent fires with their runs. An admin may pause and
 * resume a schedule, an operator may run it now (trigger).
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { allows, apiPath, call, get, getPage, withQuery } from "../lib/api.js";
import { formatTime } from "../lib/format.js";
import { uiPath } from "../lib/router.js";
import { ErrorBanner, html, Link, Pager, StatusBadge, useCursors } from "../components/ui.js";

function what(s) {
  if (s.kind === "cron") return `cron ${s.cronExpression} (${s.timezone})`;
  if (s.kind === "fixed_rate" || s.kind === "fixed_delay") return `${s.kind} every ${s.interval}`;
  return s.kind;
}

function RunLink({ id }) {
  return id ? html`<${Link} href=${uiPath("executions", id)}>${id}<//>` : html`<span class="muted">—</span>`;
}

function Details({ id }) {
  const [s, setS] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get(apiPath("schedules", id)).then(setS, setError);
  }, [id]);
  if (error) return html`<${ErrorBanner} error=${error} />`;
  if (!s) return html`<p class="muted">Loading…</p>`;
  return html`
    <div class="grid2" data-schedule-details=${id}>
      <div>
        <h3>Next fire times (UTC)</h3>
        <ol>${(s.nextFireTimes ?? []).map((t) => html`<li>${formatTime(t)}</li>`)}</ol>
      </div>
      <div>
        <h3>Recent fires</h3>
        <table>
          <thead>
            <tr>
              <th>Tick</th>
              <th>Outcome</th>
              <th>Reason</th>
              <th>Run</th>
            </tr>
          </thead>
          <tbody>${(s.recentFires ?? []).map((f) =>
            html`
              <tr>
                <td>${formatTime(f.tickAt)}</td>
                <td>${f.outcome}</td>
                <td>${f.reason}</td>
                <td>
                  <${RunLink} id=${f.executionId} />
                </td>
              </tr>
            `
          )}</tbody>
        </table>
      </div>
    </div>
  `;
}

function Row({ s, session, onChanged, open, onToggle }) {
  const [error, setError] = useState(null);
  const act = async (action) => {
    setError(null);
    try {
      await call("POST", apiPath("schedules", s.scheduleId, action), {});
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return html`
    <tr data-schedule-id=${s.scheduleId}>
      <td><button type="button" aria-expanded=${open
        ? "true"
        : "false"} aria-label=${`details of ${s.scheduleId}`} onClick=${onToggle}>${open ? "▾" : "▸"}</button>
            ${s.scheduleId}</td>
      <td>
        <${Link} href=${uiPath("workflows", s.workflowId)}>${s.workflowId}<//></td>
          <td>${what(s)}</td><td><${StatusBadge} status=${s.status} /></td>
          <td>${formatTime(s.nextTickAt)}</td><td>${formatTime(s.lastTickAt)}</td>
          <td><${RunLink} id=${s.lastExecutionId} /></td><td data-field="runs">${s.runs}</td>
          <td class="row">
            ${allows(session.role, "admin") && s.status === "active" &&
              html`<button type="button" onClick=${() => act("pause")} data-action="pause">❚❚ Pause</button>`}
            ${allows(session.role, "admin") && s.status === "paused" &&
              html`<button type="button" onClick=${() =>
                act("resume")} data-action="resume">▶ Resume</button>`}
            ${allows(session.role, "operator") &&
              html`<button type="button" onClick=${() =>
                act("trigger")} data-action="trigger">Run now</button>`}
            <${ErrorBanner} error=${error} />
          </td>
        </tr>
        ${open && html`
          <tr>
            <td colspan="9">
              <${Details} key=${`${s.runs}:${s.version}`} id=${s.scheduleId} />
            </td>
          </tr>
        `}
  `;
}

/**
 * The page.
 *
 * @example
 * ```js
 * import { SchedulesPage } from "./schedules.js";
 * if (typeof SchedulesPage !== "function") throw new Error();
 * ```
 * @param {{session: {role: string}}} props
 */
export function SchedulesPage({ session }) {
  const cursors = useCursors();
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [round, setRound] = useState(0);
  const [open, setOpen] = useState(null);
  useEffect(() => {
    getPage(withQuery("/api/v1/schedules", { limit: 50, cursor: cursors.cursor })).then(setPage, setError);
  }, [cursors.cursor, round]);
  return html`<section>
    <h1>Schedules</h1>
    <${ErrorBanner} error=${error} />
    ${page && page.items.length === 0 && html`<p class="muted">No schedule.</p>`}
    ${
    page && page.items.length > 0 && html`
      <table data-table="schedules">
        <thead>
          <tr>
            <th>Schedule</th>
            <th>Workflow</th>
            <th>When</th>
            <th>Status</th>
            <th>Next tick (UTC)</th>
            <th>Last tick</th>
            <th>Last run</th>
            <th>Runs</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>${page.items.map((s) =>
          html`
            <${Row} key=${s.scheduleId} s=${s} session=${session} onChanged=${() => setRound(round + 1)}
              open=${open === s.scheduleId} onToggle=${() =>
                setOpen(open === s.scheduleId ? null : s.scheduleId)} />
          `
        )}</tbody>
      </table>
    `
  }
    ${
    page && html`
      <${Pager} hasPrevious=${cursors.hasPrevious} next=${page.next} onFirst=${cursors.first}
        onPrevious=${cursors.previous} onNext=${() =>
          page.next && cursors.next(page.next)} label="schedule pages" />
    `
  }
  </section>`;
}
