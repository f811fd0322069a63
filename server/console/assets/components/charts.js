/**
 * The console's charts, plain SVG: an execution's Gantt timeline (a row per node, a bar per attempt; failed
 * attempts hatched, aborted ones dotted, so outcome is never told by colour alone) and small line charts of a
 * figure over time.
 *
 * @module
 */
import { useMemo, useState } from "preact/hooks";
import { formatDuration, formatTime } from "../lib/format.js";
import { timeline } from "../lib/timeline.js";
import { html } from "./ui.js";

/** Rows of the Gantt chart shown at once (a 5,000-node run pages through them). */
const GANTT_ROWS = 100;
const ROW_H = 18;
const LABEL_W = 150;
const CHART_W = 640;

/**
 * An execution's attempts over time.
 *
 * @example
 * ```js
 * import { Gantt } from "./charts.js";
 * if (typeof Gantt !== "function") throw new Error();
 * ```
 * @param {{events: {at: number, type: string, nodeId?: string, attempt?: number}[], now: number, onSelect?: (id: string) => void}} props
 */
export function Gantt({ events, now, onSelect }) {
  const t = useMemo(() => timeline(events), [events]);
  const [page, setPage] = useState(0);
  const rows = useMemo(() => [...new Set(t.bars.map((b) => b.nodeId))], [t]);
  if (t.start === null || t.bars.length === 0) return html`<p class="muted">No attempt yet.</p>`;
  const shown = rows.slice(page * GANTT_ROWS, (page + 1) * GANTT_ROWS);
  const index = new Map(shown.map((id, i) => [id, i]));
  const end = Math.max(t.end ?? t.start, ...t.bars.map((b) => b.end ?? now)) || t.start + 1;
  const span = Math.max(1, end - t.start);
  const x = (at) => LABEL_W + ((at - t.start) / span) * CHART_W;
  const height = shown.length * ROW_H + 24;
  const pages = Math.ceil(rows.length / GANTT_ROWS);
  return html`
    <figure class="gantt">
      <figcaption>
          ${formatTime(t.start)} → ${formatDuration(span)} · ${t.bars.length} attempt(s) of ${rows
            .length} node(s)
          ${pages > 1 && html`
            · rows ${page * GANTT_ROWS + 1}–${page * GANTT_ROWS + shown.length}
                  <button type="button" disabled=${page === 0} onClick=${() =>
                    setPage(page - 1)}>← rows</button>
                  <button type="button" disabled=${page >= pages - 1} onClick=${() =>
                    setPage(page + 1)}>rows →</button>
          `}
        </figcaption>
      <svg width="100%" viewBox=${`0 0 ${LABEL_W + CHART_W + 8} ${height}`} role="img"
        aria-label=${`timeline of ${t.bars.length} attempts`}>
          <defs>
            <pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
              <rect width="6" height="6" class="hatch-bg" /><line x1="0" y1="0" x2="0" y2="6" class="hatch-line" />
            </pattern>
          </defs>
          ${t.marks.map((m) =>
            html`
              <line class=${`gantt-mark mark-${m.type}`} x1=${x(m.at)} x2=${x(m.at)} y1="0" y2=${height - 20}>
                <title>${m.type} at ${formatTime(m.at)}</title>
              </line>
            `
          )}
          ${shown.map((id, i) =>
            html`<text class="gantt-label" x="4" y=${i * ROW_H + 13} onClick=${() => onSelect?.(id)}>${
              id.slice(0, 22)
            }</text>`
          )}
          ${t.bars.filter((b) => index.has(b.nodeId)).map((b) => {
            const x1 = x(b.start);
            const w = Math.max(2, x(b.end ?? now) - x1);
            return html`
              <rect class=${`gantt-bar bar-${b.outcome}`} x=${x1} y=${index.get(b.nodeId) * ROW_H + 3}
                width=${w} height=${ROW_H - 6} data-node-id=${b.nodeId} data-outcome=${b.outcome}>
                <title>${b.nodeId} attempt ${b.attempt}: ${b.outcome}, ${formatDuration(
                  (b.end ?? now) - b.start,
                )}</title>
              </rect>
            `;
          })}
          <text class="gantt-axis" x=${LABEL_W} y=${height - 6}>0</text>
          <text class="gantt-axis" x=${LABEL_W + CHART_W} y=${height - 6} text-anchor="end">${formatDuration(
            span,
          )}</text>
        </svg>
    </figure>
  `;
}

/**
 * A small line chart of `points` (oldest first), with its latest value in words.
 *
 * @example
 * ```js
 * import { Spark } from "./charts.js";
 * const el = Spark({ label: "live executions", points: [1, 3, 2], unit: "" });
 * if (el.type !== "figure") throw new Error();
 * ```
 * @param {{label: string, points: (number | null)[], unit: string, format?: (v: number) => string}} props
 */
export function Spark({ label, points, unit, format }) {
  const w = 220;
  const h = 48;
  const values = points.filter((p) => p !== null && Number.isFinite(p));
  const top = Math.max(1e-9, ...values);
  const step = points.length > 1 ? w / (points.length - 1) : w;
  const coords = points.map((p, i) =>
    p === null ? null : `${(i * step).toFixed(1)},${(h - 4 - (p / top) * (h - 8)).toFixed(1)}`
  )
    .filter(Boolean);
  const latest = values.at(-1);
  const text = latest === undefined ? "—" : `${format ? format(latest) : latest}${unit}`;
  return html`
    <figure class="spark" data-metric=${label}>
      <figcaption>${label}: <strong class="spark-value">${text}</strong></figcaption>
      <svg width=${w} height=${h} viewBox=${`0 0 ${w} ${h}`} role="img" aria-label=${`${label}, latest ${text}`}>
        <polyline class="spark-line" points=${coords.join(" ")} />
      </svg>
    </figure>
  `;
}
