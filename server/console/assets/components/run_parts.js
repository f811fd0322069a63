/**
 * The parts of a run's page: the selected node's details (state, attempts, times, error, and its output's
 * first records, paged on the server) and the steering buttons an operator gets (cancel, pause or resume,
 * retry, rerun from a node, send a signal), each offered only when the run's state allows it.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { allows, apiPath, call, get, withQuery } from "../lib/api.js";
import { formatCount, formatDuration, formatTime, preview } from "../lib/format.js";
import { ErrorBanner, html, StatusBadge } from "./ui.js";

/** Records per page of an output preview. */
const PREVIEW_PAGE = 20;

function OutputPreview({ executionId, nodeId }) {
  const [offset, setOffset] = useState(0);
  const [out, setOut] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setError(null);
    const path = withQuery(apiPath("executions", executionId, "nodes", nodeId, "output"), {
      offset,
      limit: PREVIEW_PAGE,
    });
    get(path).then(setOut, setError);
  }, [executionId, nodeId, offset]);
  if (error) return html`<p class="muted">Output: ${error.message}</p>`;
  if (!out) return html`<p class="muted">Loading output…</p>`;
  const last = Math.min(out.total, offset + out.records.length);
  return html`
    <div data-output=${nodeId}>
      <h3>Output <span class="muted">records ${out.total === 0 ? 0 : offset + 1}–${last} of ${formatCount(
        out.total,
      )}</span></h3>
      <ol start=${offset + 1} class="records">${out.records.map((r) =>
        html`<li><code>${preview(r, 300)}</code></li>`
      )}</ol>
      <div class="row">
        <button type="button" disabled=${offset === 0} onClick=${() =>
          setOffset(Math.max(0, offset - PREVIEW_PAGE))}>← records</button>
        <button type="button" disabled=${last >= out.total} onClick=${() =>
          setOffset(offset + PREVIEW_PAGE)}>records →</button>
      </div>
    </div>
  `;
}

/**
 * The selected node of a run.
 *
 * @example
 * ```js
 * import { NodeDetails } from "./run_parts.js";
 * if (typeof NodeDetails !== "function") throw new Error();
 * ```
 * @param {{executionId: string, node: any}} props
 */
export function NodeDetails({ executionId, node }) {
  if (!node) {
    return html`<p class="muted">Select a node (click it, or focus the graph and use the arrow keys and Enter).</p>`;
  }
  return html`<div class="panel" data-node-details=${node.nodeId} aria-live="polite">
    <h2>${node.nodeId} <${StatusBadge} status=${node.status} /></h2>
    <dl class="facts">
      <dt>Kind</dt><dd>${node.type}/${node.nodeType}</dd>
      <dt>Attempts</dt><dd data-field="attempts">${node.attempts}</dd>
      <dt>Started</dt><dd>${formatTime(node.startTime)}</dd>
      <dt>Ended</dt><dd>${formatTime(node.endTime)}</dd>
      <dt>Duration</dt><dd>${formatDuration(node.duration)}</dd>
      <dt>Records</dt><dd>${formatCount(node.recordsProcessed)}</dd>
      ${
    node.branch !== undefined && html`
      <dt>Branch</dt>
      <dd>${node.branch}</dd>
    `
  }
      ${
    node.children && html`
      <dt>Children</dt>
      <dd>${node.children.ended}/${node.children.count} ended,
              ${node.children.failed} failed, ${node.children.running} running</dd>
    `
  }
    </dl>
    ${
    node.error &&
    html`<div class="error-banner" data-node-error><strong>${node.error.code}</strong>: ${node.error.message}</div>`
  }
    ${
    node.status === "completed" && html`<${OutputPreview} executionId=${executionId} nodeId=${node.nodeId} />`
  }
  </div>`;
}

const LIVE = new Set(["running", "paused"]);

function SignalForm({ act }) {
  const [name, setName] = useState("");
  const [payload, setPayload] = useState("");
  const send = (e) => {
    e.preventDefault();
    let body = {};
    try {
      if (payload.trim() !== "") body = { payload: JSON.parse(payload) };
    } catch (err) {
      act(null, null, { code: "malformed_json", message: `the payload is not JSON: ${err.message}` });
      return;
    }
    act(["signals", name.trim()], body);
  };
  return html`
    <form class="toolbar" onSubmit=${send} aria-label="send a signal">
      <label>Signal name <input name="signal" required value=${name} onInput=${(e) =>
        setName(e.currentTarget.value)} size="10" /></label>
      <label>Payload (JSON) <input name="payload" value=${payload} onInput=${(e) =>
        setPayload(e.currentTarget.value)} size="14" /></label>
      <button type="submit" disabled=${name.trim() === ""} data-action="signal">Send signal</button>
    </form>
  `;
}

/**
 * The steering buttons of a run (operator and admin only; nothing for a viewer).
 *
 * @example
 * ```js
 * import { RunActions } from "./run_parts.js";
 * if (RunActions({ session: { role: "viewer" }, view: { status: "failed", nodes: [] } }) !== null) throw new Error();
 * ```
 * @param {{session: {role: string}, view: any, selected?: string | null, onDone?: (view: any) => void}} props
 */
export function RunActions({ session, view, selected, onDone }) {
  if (!allows(session.role, "operator")) return null;
  return html`<${Actions} view=${view} selected=${selected} onDone=${onDone} />`;
}

function Actions({ view, selected, onDone }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [from, setFrom] = useState(selected ?? view.nodes[0]?.nodeId ?? "");
  useEffect(() => {
    if (selected) setFrom(selected);
  }, [selected]);
  const act = async (path, body = {}, fault = null) => {
    setError(fault);
    if (path === null) return;
    setBusy(true);
    try {
      const r = await call("POST", apiPath("executions", view.executionId, ...path), body);
      onDone?.(r.body);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  const live = LIVE.has(view.status);
  const failed = ["failed", "cancelled", "timed_out"].includes(view.status);
  return html`<div class="panel" role="group" aria-label="steer this run">
    <div class="row">
      ${
    view.status === "running" && html`<button type="button" disabled=${busy} onClick=${() =>
      act(["pause"])} data-action="pause">❚❚ Pause</button>`
  }
      ${
    view.status === "paused" && html`<button type="button" disabled=${busy} onClick=${() =>
      act(["resume"])} data-action="resume">▶ Resume</button>`
  }
      ${
    live && !confirming && html`
      <button type="button" class="danger" disabled=${busy} onClick=${() => setConfirming(true)}
        data-action="cancel">⊘ Cancel…</button>
    `
  }
      ${
    live && confirming && html`
      <button type="button" class="danger" disabled=${busy} onClick=${() =>
        act(["cancel"], { reason: "cancelled from the console" })}
        data-action="confirm-cancel">Confirm cancel</button>
      <button type="button" onClick=${() => setConfirming(false)}>Keep running</button>
    `
  }
      ${
    failed && html`
      <button type="button" class="primary" disabled=${busy} onClick=${() => act(["retry"])}
        data-action="retry">↻ Retry failed nodes</button>
    `
  }
      ${
    !live && html`
      <span class="row">
        <label>Rerun from <select value=${from} onChange=${(e) =>
          setFrom(e.currentTarget.value)} name="fromNode">
                ${view.nodes.map((n) => html`<option value=${n.nodeId}>${n.nodeId}</option>`)}
              </select></label>
        <button type="button" disabled=${busy || from === ""} onClick=${() =>
          act(["rerun"], { fromNode: from })} data-action="rerun">⟲ Rerun</button>
      </span>
    `
  }
    </div>
    ${live && html`<${SignalForm} act=${act} />`}
    <${ErrorBanner} error=${error} />
  </div>`;
}
