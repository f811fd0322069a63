/**
 * Counters and histograms for the engine's hot paths. prom-client's own hash the
 * label values and validate them on every `observe` / `inc` (about a microsecond
 * each, several per execution); these keep one child per label set, found once,
 * whose `inc` / `observe` is a few numeric writes. They plug into a prom-client
 * `Registry` as custom metrics: the registry renders them at scrape time in the
 * same text format as its own.
 *
 * @module
 */
import type { Registry } from "npm:prom-client@15.1.3";

/** How one of these metrics is declared (a subset of prom-client's options). */
export interface FastMetricConfig {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registers: Registry[];
}

/** One sample as prom-client's registry renders it. */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** What `get()` returns (prom-client's `MetricObjectWithValues`). */
export interface FastMetricValues {
  name: string;
  help: string;
  type: "counter" | "histogram";
  values: Sample[];
  aggregator: "sum";
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  if (values.length !== names.length) {
    throw new Error(`assertion: ${names.length} label values expected, got ${values.length}`);
  }
  const labels: Record<string, string> = {};
  names.forEach((n, i) => labels[n] = values[i]);
  return labels;
}

abstract class FastMetric<Child> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly aggregator = "sum" as const;
  protected children: Map<string, { labels: Record<string, string>; child: Child }> = new Map();

  constructor(config: FastMetricConfig) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames ?? [];
  }

  /** Registers with `registers` (subclasses call it last in their constructor). */
  protected register(registers: Registry[]): void {
    // prom-client's Registry takes any object with a name and get(); it is typed for its own classes.
    for (const r of registers) r.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  /** The children to render; an unlabelled metric always has its one child (0 before any sample). */
  protected entries(): { labels: Record<string, string>; child: Child }[] {
    if (this.labelNames.length === 0) this.labels();
    return [...this.children.values()];
  }

  protected abstract make(): Child;

  /** The child of one set of label values (found once; keep it on a hot path). */
  labels(...values: string[]): Child {
    const key = values.join("\u0000");
    let entry = this.children.get(key);
    if (!entry) {
      entry = { labels: labelsOf(this.labelNames, values), child: this.make() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  /** Forgets every child (an unlabelled metric starts again from zero). */
  reset(): void {
    this.children.clear();
  }
}

/** A counter child. */
export class CounterChild {
  value = 0;
  inc(by = 1): void {
    if (!(by >= 0)) throw new Error(`assertion: a counter cannot decrease (inc ${by})`);
    this.value += by;
  }
}

/**
 * A counter.
 *
 * @example
 * ```ts
 * import { Registry } from "npm:prom-client@15.1.3";
 * import { FastCounter } from "./fast_metrics.ts";
 * const registry = new Registry();
 * const c = new FastCounter({ name: "jobs_total", help: "Jobs.", labelNames: ["kind"], registers: [registry] });
 * c.labels("a").inc();
 * if (!(await registry.metrics()).includes('jobs_total{kind="a"} 1')) throw new Error();
 * ```
 */
export class FastCounter extends FastMetric<CounterChild> {
  readonly type = "counter" as const;
  constructor(config: FastMetricConfig) {
    super(config);
    this.register(config.registers);
  }
  protected make(): CounterChild {
    return new CounterChild();
  }
  /** Increments the unlabelled counter. */
  inc(by = 1): void {
    this.labels().inc(by);
  }
  get(): Promise<FastMetricValues> {
    const values = this.entries().map(({ labels, child }) => ({ labels, value: child.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: "sum" });
  }
}

/** A histogram child: per-bucket counts (not cumulative), the sum and the count. */
export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new Error(`assertion: a histogram observes finite numbers (${value})`);
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A histogram with fixed buckets (upper bounds, ascending).
 *
 * @example
 * ```ts
 * import { Registry } from "npm:prom-client@15.1.3";
 * import { FastHistogram } from "./fast_metrics.ts";
 * const registry = new Registry();
 * const h = new FastHistogram({ name: "wait_seconds", help: "Waits.", buckets: [0.1, 1], registers: [registry] });
 * h.observe(0.5);
 * if (!(await registry.metrics()).includes('wait_seconds_bucket{le="1"} 1')) throw new Error();
 * ```
 */
export class FastHistogram extends FastMetric<HistogramChild> {
  readonly type = "histogram" as const;
  readonly buckets: readonly number[];

  constructor(config: FastMetricConfig & { buckets: readonly number[] }) {
    super(config);
    this.buckets = [...config.buckets];
    for (let i = 1; i < this.buckets.length; i++) {
      if (!(this.buckets[i] > this.buckets[i - 1])) {
        throw new Error(`assertion: buckets must ascend: ${this.buckets}`);
      }
    }
    this.register(config.registers);
  }

  protected make(): HistogramChild {
    return new HistogramChild(this.buckets);
  }

  /** Observes into the unlabelled histogram. */
  observe(value: number): void {
    this.labels().observe(value);
  }

  get(): Promise<FastMetricValues> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, child } of this.entries()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += child.counts[i];
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: "+Inf", ...labels }, value: child.count, metricName: bucket });
      values.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: "sum" });
  }
}
