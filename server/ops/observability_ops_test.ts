/**
 * The operations files under docs/ops: the Grafana dashboard (JSON) and the Prometheus alert rules (YAML,
 * parsed with npm `yaml`) are checked against the shape Grafana and Prometheus load, every PromQL
 * expression is parsed with Prometheus's own grammar (npm `@prometheus-io/lezer-promql`) and every metric it
 * names must be one this engine exports (read from a node's registry). docs/OBSERVABILITY.md must list
 * every metric and every alert.
 */
import { parser } from "npm:@prometheus-io/lezer-promql@0.315.0";
import { parse as parseYaml } from "npm:yaml@2.9.1";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { Metrics } from "./metrics.ts";

const OPS = new URL("../../docs/ops/", import.meta.url);
const DOC = new URL("../../docs/OBSERVABILITY.md", import.meta.url);

/** Series Prometheus records itself for every scrape target (not exported by the engine). */
const PROMETHEUS_SERIES = new Set(["up"]);

/** The engine's metric families, name → type (a fresh node registry). */
async function exportedFamilies(): Promise<Map<string, string>> {
  const metrics = new Metrics();
  try {
    const json = await metrics.registry.getMetricsAsJSON();
    return new Map(json.map((m) => [m.name, String(m.type)]));
  } finally {
    metrics.close();
  }
}

/** Every series name the engine exports: histograms as their `_bucket`, `_sum` and `_count` series. */
function seriesNames(families: Map<string, string>): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of families) {
    if (type === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    } else names.add(name);
  }
  return names;
}

/** Parses a PromQL expression; fails on a syntax error; returns the metric names its selectors name. */
function metricNames(expr: string, where: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  const errors: number[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector") {
        names.push(expr.slice(node.from, node.to));
      }
    },
  });
  assertEquals(errors, [], `${where}: PromQL syntax error at ${errors[0]} in ${expr}`);
  assert(names.length > 0, `${where}: no metric in ${expr}`);
  return names;
}

/** Grafana's variables, replaced by what Grafana would put there, so the query is plain PromQL. */
function grafanaToPromql(expr: string): string {
  return expr.replaceAll("$__rate_interval", "5m").replaceAll("$__interval", "1m").replaceAll(
    "$instance",
    ".*",
  );
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

Deno.test("ops: the PromQL checker itself rejects bad syntax and finds metric names", () => {
  assertEquals(
    metricNames('sum by (le) (rate(http_request_duration_seconds_bucket{route!="x"}[5m])) / up', "t"),
    ["http_request_duration_seconds_bucket", "up"],
  );
  let failed = false;
  try {
    metricNames("sum(rate(workflow_execution_total[5m]) ", "t");
  } catch {
    failed = true;
  }
  assert(failed, "an unclosed parenthesis is a syntax error");
});

Deno.test("ops: the Grafana dashboard is well-formed and queries only metrics the engine exports", async () => {
  const exported = seriesNames(await exportedFamilies());
  // deno-lint-ignore no-explicit-any
  const dash: any = JSON.parse(await Deno.readTextFile(new URL("grafana-dashboard.json", OPS)));
  // The dashboard model Grafana imports: these top-level fields, typed.
  assert(typeof dash === "object" && dash !== null && !Array.isArray(dash), "an object");
  assertStrictEquals(typeof dash.title, "string");
  assert(/^[A-Za-z0-9_-]{1,40}$/.test(dash.uid), `uid ${dash.uid}`);
  assert(
    Number.isInteger(dash.schemaVersion) && dash.schemaVersion >= 36,
    `schemaVersion ${dash.schemaVersion}`,
  );
  assert(isObject(dash.time) && typeof dash.time.from === "string" && typeof dash.time.to === "string");
  assert(Array.isArray(dash.tags) && dash.tags.every((t: unknown) => typeof t === "string"));
  assert(isObject(dash.templating) && Array.isArray(dash.templating.list));
  assert(Array.isArray(dash.panels) && dash.panels.length > 0);

  const variables = new Set(dash.templating.list.map((v: { name: string }) => v.name));
  assertEquals([...variables].sort(), ["datasource", "instance"]);
  const checked: string[] = [];
  for (const v of dash.templating.list) {
    if (v.type !== "query") continue;
    const m = /^label_values\((\w+), *(\w+)\)$/.exec(v.query.query);
    assert(m, `variable ${v.name}: ${v.query.query}`);
    assert(exported.has(m[1]), `variable ${v.name} reads ${m[1]}, which the engine does not export`);
  }

  const ids = new Set<number>();
  const rows: string[] = [];
  const boxes: { x: number; y: number; w: number; h: number; title: string }[] = [];
  for (const p of dash.panels) {
    assert(Number.isInteger(p.id) && p.id > 0 && !ids.has(p.id), `panel id ${p.id}`);
    ids.add(p.id);
    assert(typeof p.title === "string" && p.title.length > 0, `panel ${p.id} has a title`);
    const g = p.gridPos as { x: number; y: number; w: number; h: number };
    assert(
      isObject(g) && [g.x, g.y, g.w, g.h].every(Number.isInteger) && g.x >= 0 && g.y >= 0 && g.w >= 1 &&
        g.h >= 1 && g.x + g.w <= 24,
      `panel ${p.title}: gridPos ${JSON.stringify(g)}`,
    );
    for (const b of boxes) {
      const overlap = g.x < b.x + b.w && b.x < g.x + g.w && g.y < b.y + b.h && b.y < g.y + g.h;
      assert(!overlap, `panels ${b.title} and ${p.title} overlap`);
    }
    boxes.push({ ...g, title: p.title });
    if (p.type === "row") {
      assertEquals([g.w, g.h], [24, 1], `row ${p.title}`);
      rows.push(p.title);
      continue;
    }
    assert(["timeseries", "stat", "gauge", "bargauge", "table", "heatmap"].includes(p.type), p.type);
    assertEquals(p.datasource, { type: "prometheus", uid: "${datasource}" }, p.title);
    assert(Array.isArray(p.targets) && p.targets.length > 0, `${p.title} has queries`);
    const refIds = p.targets.map((t: { refId: string }) => t.refId);
    assertEquals(new Set(refIds).size, refIds.length, `${p.title}: refIds unique`);
    for (const t of p.targets) {
      assert(typeof t.expr === "string" && t.expr.length > 0, `${p.title}/${t.refId}`);
      for (const name of metricNames(grafanaToPromql(t.expr), `${p.title}/${t.refId}`)) {
        assert(
          exported.has(name) || PROMETHEUS_SERIES.has(name),
          `${p.title}: ${name} is not a metric the engine exports`,
        );
        checked.push(name);
      }
    }
  }
  assertEquals(rows, [
    "Cluster overview",
    "Executions",
    "Latency",
    "Failover and rebalance",
    "Storage",
    "Process",
  ]);
  for (
    const needed of [
      "workflow_entity_count",
      "workflow_execution_total",
      "workflow_execution_duration_seconds_bucket",
      "http_request_duration_seconds_bucket",
      "workflow_routing_latency_seconds_bucket",
      "workflow_failover_total",
      "workflow_rebalance_total",
      "workflow_storage_append_duration_seconds_bucket",
      "workflow_commit_group_batch_size_sum",
      "cluster_member_count",
      "shard_count",
    ]
  ) {
    assert(checked.includes(needed), `the dashboard shows ${needed}`);
  }
});

Deno.test("ops: the alert rules are a valid Prometheus rule file over metrics the engine exports", async () => {
  const exported = seriesNames(await exportedFamilies());
  const doc = parseYaml(await Deno.readTextFile(new URL("alerts.yml", OPS)));
  assert(isObject(doc) && Array.isArray(doc.groups) && doc.groups.length > 0, "groups");
  assertEquals(Object.keys(doc), ["groups"]);
  const groupNames = new Set<string>();
  const alerts = new Map<string, Record<string, unknown>>();
  const duration = /^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;
  for (const group of doc.groups) {
    assert(isObject(group) && typeof group.name === "string" && group.name !== "", "a group has a name");
    assert(!groupNames.has(group.name), `group ${group.name} is unique`);
    groupNames.add(group.name);
    assert(Array.isArray(group.rules) && group.rules.length > 0, `${group.name} has rules`);
    for (const rule of group.rules) {
      assert(isObject(rule), `${group.name}: a rule is a map`);
      for (const key of Object.keys(rule)) {
        assert(
          ["alert", "expr", "for", "keep_firing_for", "labels", "annotations"].includes(key),
          `${rule.alert}: unknown key ${key}`,
        );
      }
      const name = rule.alert as string;
      assert(typeof name === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name), `alert name ${name}`);
      assert(!alerts.has(name), `alert ${name} is unique`);
      alerts.set(name, rule);
      assert(typeof rule.expr === "string", `${name}: expr`);
      if (rule.for !== undefined) {
        assert(typeof rule.for === "string" && rule.for !== "" && duration.test(rule.for), `${name}: for`);
      }
      assert(isObject(rule.labels) && Object.values(rule.labels).every((v) => typeof v === "string"));
      assert(["critical", "warning", "info"].includes(rule.labels.severity as string), `${name}: severity`);
      assert(
        isObject(rule.annotations) && Object.values(rule.annotations).every((v) => typeof v === "string"),
      );
      assert(typeof rule.annotations.summary === "string", `${name}: summary`);
      for (const metric of metricNames(rule.expr, name)) {
        assert(
          exported.has(metric) || PROMETHEUS_SERIES.has(metric),
          `${name}: ${metric} is not a metric the engine exports`,
        );
      }
    }
  }
  // What the rules must cover: error rate, p99 latency, a node unreachable, storage down.
  for (
    const [name, metric] of [
      ["FlowmeshExecutionErrorRate", "workflow_execution_total"],
      ["FlowmeshHttpErrorRate", "http_requests_total"],
      ["FlowmeshHttpLatencyP99", "http_request_duration_seconds_bucket"],
      ["FlowmeshNodeUnreachable", "up"],
      ["FlowmeshStorageDown", "workflow_storage_up"],
    ]
  ) {
    const rule = alerts.get(name);
    assert(rule, `an alert ${name}`);
    assert(metricNames(rule.expr as string, name).includes(metric), `${name} uses ${metric}`);
  }
});

Deno.test("ops: docs/OBSERVABILITY.md lists every metric the engine exports and every alert", async () => {
  const doc = await Deno.readTextFile(DOC);
  const families = await exportedFamilies();
  for (const [name, type] of families) {
    const row = doc.split("\n").find((l) => l.startsWith(`| \`${name}\``));
    assert(row, `docs/OBSERVABILITY.md has a row for ${name}`);
    assert(row.includes(` ${type} `), `the row of ${name} says ${type}: ${row}`);
  }
  const rules = parseYaml(await Deno.readTextFile(new URL("alerts.yml", OPS))) as {
    groups: { rules: { alert: string }[] }[];
  };
  for (const group of rules.groups) {
    for (const rule of group.rules) assert(doc.includes(`\`${rule.alert}\``), `the doc names ${rule.alert}`);
  }
});
