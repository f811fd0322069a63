/**
 * A run's page (`/ui/executions/{id}`): the workflow's DAG coloured by each node's live state (polled every
 * second while the run is live: its view, and only the events after the last one seen), the selected node's
 * attempts, times, error and output, the attempts' Gantt timeline, and the steering buttons of the role.
 *
 * @module
 */
import { useMemo, useRef, useState } from "preact/hooks";
import { apiPath, get } from "../lib/api.js";
import { formatDuration, formatTime } from "../lib/format.js";
import { uiPath } from "../lib/router.js";
import { DagView } from "../components/dag_view.js";
import { Gantt } from "../components/charts.js";
import { NodeDetails, RunActions } from "../components/run_parts.js";
import { ErrorBanner, html, Link, StatusBadge, usePoll } from "../components/ui.js";

/** How often a live run is read again, in ms. */
export const POLL_MS = 1000;

/** The events shown in the raw list (the newest). */
const RAW_EVENTS = 50;

function live(view) {
  return view.status === "running" || view.status === "paused" || view.queued === true;
}

function Summary({ view }) {
  return html`
    <dl class="facts" data-run-summary>
      <dt>Status</dt>
      <dd><${StatusBadge} status=${view.status} />${view.queued
        ? " (queued for a concurrency slot)"
        : ""}</dd>
      <dt>Workflow</dt>
      <dd>
        <${Link} href=${uiPath("workflows", view.workflowId)}>${view.workflowId}<//> v${view.version}</dd>
        <dt>Started</dt><dd>${formatTime(view.startTime)}</dd>
        <dt>Ended</dt><dd>${formatTime(view.endTime)}</dd>
        <dt>Duration</dt><dd>${formatDuration(view.duration)}</dd>
        <dt>Trigger</dt><dd>${view.trigger?.kind ?? "api"}${view.trigger?.scheduleId
          ? ` ${view.trigger.scheduleId}`
          : ""}</dd>
        ${view.parent && html`
          <dt>Parent</dt>
          <dd>
            <${Link} href=${uiPath("executions", view.parent.executionId)}>${view.parent.executionId}<//></dd>
        `}
        ${view.reopened && html`
          <dt>Reopened</dt>
          <dd>${view.reopened} time(s)</dd>
        `}
      </dl>
      ${view.error &&
        html`<div class="error-banner" data-run-error><strong>${view.error.code}</strong>: ${view.error.message}
    ${view.error.nodeId ? ` (node ${view.error.nodeId})` : ""}</div>`}
  `;
}

function Counts({ nodes }) {
  const counts = new Map();
  for (const n of nodes) counts.set(n.status, (counts.get(n.status) ?? 0) + 1);
  return html`<p class="row" data-node-counts>${
    [...counts].map(([s, n]) => html`<span><${StatusBadge} status=${s} /> ${n}</span>`)
  }</p>`;
}

/**
 * The page.
 *
 * @example
 * ```js
 * import { RunPage } from "./run.js";
 * if (typeof RunPage !== "function") throw new Error();
 * ```
 * @param {{session: {role: string}, id: string}} props
 */
export function RunPage({ session, id }) {
  const [view, setView] = useState(null);
  const [definition, setDefinition] = useState(null);
  const [events, setEvents] = useState([]);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(null);
  const [round, setRound] = useState(0);
  const lastSeq = useRef(0);
  const defKey = useRef("");
  usePoll(
    async () => {
      try {
        const v = await get(apiPath("executions", id));
        const key = `${v.workflowId}@${v.version}`;
        // Read together; the DAG is drawn as soon as the view and its definition are in, the timeline after.
        const definitionRead = defKey.current === key
          ? null
          : get(apiPath("workflows", v.workflowId, "versions", String(v.version)));
        const eventsRead = get(`${apiPath("executions", id, "events")}?after=${lastSeq.current}`);
        eventsRead.catch(() => {}); // awaited below; a failure is reported there
        if (definitionRead !== null) {
          setDefinition(await definitionRead);
          defKey.current = key;
        }
        setView(v);
        const more = await eventsRead;
        if (more.events.length > 0) {
          lastSeq.current = more.events.at(-1).seq;
          setEvents((old) => [...old, ...more.events]);
        }
        setError(null);
        return live(v) ? undefined : "stop";
      } catch (err) {
        setError(err);
        return err.status === 404 ? "stop" : undefined;
      }
    },
    POLL_MS,
    [id, round],
  );
  const states = useMemo(() => new Map((view?.nodes ?? []).map((n) => [n.nodeId, n.status])), [view]);
  if (!view || !definition) {
    return html`<section aria-busy=${error ? "false" : "true"}><h1>Run ${id}</h1>${
      error ? html`<${ErrorBanner} error=${error} />` : html`<p>Loading…</p>`
    }</section>`;
  }
  const node = selected ? view.nodes.find((n) => n.nodeId === selected) : null;
  const steered = (v) => {
    setView(v);
    setRound(round + 1);
  };
  return html`
    <section data-run=${view.executionId} data-status=${view.status}>
      <h1>Run <code>${view.executionId}</code> <${StatusBadge} status=${view.status} /></h1>
      <${ErrorBanner} error=${error} />
      <${Counts} nodes=${view.nodes} />
      <${DagView} nodes=${definition.nodes} edges=${definition.edges} states=${states} selected=${selected}
        onSelect=${setSelected} label=${`DAG of run ${view.executionId}, nodes coloured by state`} />
      <div class="grid2 below">
        <div>
          <${Summary} view=${view} />
          <${RunActions} session=${session} view=${view} selected=${selected} onDone=${steered} />
        </div>
        <${NodeDetails} executionId=${view.executionId} node=${node} />
      </div>
      <h2>Timeline</h2>
      <${Gantt} events=${events} now=${Date.now()} onSelect=${setSelected} />
      <details>
        <summary>Events (${events.length}; the last ${Math.min(RAW_EVENTS, events.length)})</summary>
        <pre class="json" data-json="events">${events.slice(-RAW_EVENTS).map((e) => JSON.stringify(e)).join(
          "\n",
        )}</pre>
      </details>
    </section>
  `;
}
