/**
 * The cluster page (`/ui/cluster`): the members with their status, the leader, the shard map (which member
 * owns each shard, at which epoch: each owner has its own border style besides its colour, and its id in the
 * cell), the recent cluster events, and small charts of throughput and p99 (this node's `/metrics`, between
 * two reads) and of the cluster's live executions (every member's, from the stats).
 *
 * @module
 */
import { useRef, useState } from "preact/hooks";
import { call, get, withQuery } from "../lib/api.js";
import { formatCount, formatDuration, formatTime, preview } from "../lib/format.js";
import { between, parseScrape } from "../lib/metrics.js";
import { Spark } from "../components/charts.js";
import { ErrorBanner, html, StatusBadge, usePoll } from "../components/ui.js";

/** How often the page reads the cluster again, in ms. */
const POLL_MS = 2000;
/** Points kept per chart. */
const HISTORY = 60;

function Members({ stats }) {
  const now = stats.at ?? Date.now();
  return html`
    <table data-table="members">
      <caption class="muted">${stats.nodeCount} member(s) · cluster ${stats.clusterName}</caption>
      <thead>
        <tr>
          <th>Member</th>
          <th>Status</th>
          <th>HTTP</th>
          <th>Roles</th>
          <th>Shards</th>
          <th>Live runs</th>
          <th>Heartbeat</th>
        </tr>
      </thead>
      <tbody>${stats.members.map((m) =>
        html`
          <tr data-member=${m.id} data-member-status=${m.status}>
            <td><strong>${m.id}</strong>${m.id === stats.leader
              ? html`
                <span class="badge st-active" data-leader>★ leader</span>
              `
              : ""}
                    ${m.id === stats.selfId
                      ? html`
                        <span class="muted">(this node)</span>
                      `
                      : ""}</td>
            <td>
              <${StatusBadge} status=${m.status} />
            </td>
            <td><code>${m.httpAddress}</code></td>
            <td>${(m.roles ?? []).join(", ")}</td>
            <td>${m.shardCount}</td>
            <td>${formatCount(m.liveExecutions)}</td>
            <td>${m.lastHeartbeat ? `${formatDuration(Math.max(0, now - m.lastHeartbeat))} ago` : "—"}</td>
          </tr>
        `
      )}</tbody>
    </table>
  `;
}

function ShardMap({ shards, members }) {
  const owners = [...new Set(shards.shards.map((s) => s.location).filter(Boolean))].sort();
  const index = new Map(owners.map((o, i) => [o, i % 5]));
  const count = new Map();
  for (const s of shards.shards) count.set(s.location ?? "", (count.get(s.location ?? "") ?? 0) + 1);
  return html`
    <div>
      <p class="row" data-shard-legend>${owners.map((o) =>
        html`<span class=${`shard owner-${index.get(o)}`}><span class="owner">${o}</span>${
          count.get(o)
        } shard(s)</span>`
      )}${count.get("") &&
        html`<span class="shard owner-none"><span class="owner">none</span>${count.get("")} unowned</span>`}
        <span class="muted">${shards.activeShards}/${shards.totalShards} owned · ${members
          .length} member(s)</span></p>
      <div class="shards" role="list" aria-label="shard map" data-shard-map>
          ${shards.shards.map((s) => {
            const label = `shard ${s.shardId}: ${
              s.location ?? "no owner"
            }, epoch ${s.epoch}, ${s.entityCount} running`;
            return html`
              <div role="listitem" class=${`shard owner-${s.location ? index.get(s.location) : "none"}`}
                data-shard=${s.shardId} data-owner=${s.location ?? ""} title=${label} aria-label=${label}>
                        ${s.shardId}<span class="owner">${s.location ?? "—"}</span>e${s.epoch}
                      </div>
            `;
          })}
        </div>
    </div>
  `;
}

function Events({ events }) {
  return html`
    <table data-table="cluster-events">
      <thead>
        <tr>
          <th>At (UTC)</th>
          <th>Type</th>
          <th>Node</th>
          <th>Details</th>
        </tr>
      </thead>
      <tbody>${events.map((e) =>
        html`
          <tr>
            <td>${formatTime(e.at)}</td>
            <td><code>${e.type}</code></td>
            <td>${e.node}</td>
            <td><code>${preview(e.details, 160)}</code></td>
          </tr>
        `
      )}</tbody>
    </table>
  `;
}

/**
 * The page.
 *
 * @example
 * ```js
 * import { ClusterPage } from "./cluster.js";
 * if (typeof ClusterPage !== "function") throw new Error();
 * ```
 * @param {{session: {role: string}}} props
 */
export function ClusterPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [series, setSeries] = useState({ throughput: [], p99: [], live: [] });
  const last = useRef(null);
  usePoll(
    async () => {
      try {
        const [stats, shards, events] = await Promise.all([
          get("/api/v1/cluster/stats"),
          get("/api/v1/cluster/shards"),
          get(withQuery("/api/v1/events", { limit: 30 })),
        ]);
        setData({ stats, shards, events: events.events });
        setError(null);
        const scrape = await call("GET", "/metrics").then((r) => parseScrape(String(r.body)), () => null);
        const at = Date.now();
        const figures = scrape && last.current
          ? between(last.current.scrape, scrape, at - last.current.at)
          : null;
        if (scrape) last.current = { scrape, at };
        const liveNow = stats.members.reduce((n, m) => n + (m.liveExecutions ?? 0), 0);
        const push = (list, v) => [...list, v].slice(-HISTORY);
        setSeries((s) => ({
          throughput: figures ? push(s.throughput, figures.throughput) : s.throughput,
          p99: figures ? push(s.p99, figures.p99) : s.p99,
          live: push(s.live, liveNow),
        }));
      } catch (err) {
        setError(err);
      }
    },
    POLL_MS,
    [],
  );
  return html`<section>
    <h1>Cluster</h1>
    <${ErrorBanner} error=${error} />
    ${
    data && html`
      <p>Leader: <strong data-leader-id>${data.stats.leader ?? "none"}</strong> · this node: <strong>${data
        .stats.selfId}</strong></p>
      <div class="sparks" aria-label="key metrics">
        <${Spark} label="throughput (this node)" points=${series.throughput} unit=" runs/s" />
        <${Spark} label="p99 run duration (this node)" points=${series.p99} unit="" format=${(v) =>
          formatDuration(v * 1000)} />
        <${Spark} label="live executions (cluster)" points=${series.live} unit="" />
      </div>
      <h2>Members</h2>
      <${Members} stats=${data.stats} />
      <h2>Shard map</h2>
      <${ShardMap} shards=${data.shards} members=${data.stats.members} />
      <h2>Recent cluster events</h2>
      <${Events} events=${data.events} />
    `
  }
  </section>`;
}
