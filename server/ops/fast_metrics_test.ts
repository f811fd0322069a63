import fc from "npm:fast-check@4.11.0";
import { Counter, Histogram, Registry } from "npm:prom-client@15.1.3";
import { assertStrictEquals, assertThrows } from "../../testing/assert.ts";
import { FastCounter, FastHistogram } from "./fast_metrics.ts";

const BUCKETS = [0.001, 0.01, 0.1, 1, 10];
const sample = fc.tuple(
  fc.constantFrom("a", "b", "c"),
  fc.constantFrom("x", "y"),
  fc.double({ min: 0, max: 20, noNaN: true }),
);

Deno.test("FastHistogram and FastCounter render exactly what prom-client's own render for the same samples", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(sample, { maxLength: 60 }), async (samples) => {
      const theirs = new Registry();
      const ours = new Registry();
      const config = { name: "t_seconds", help: "A test.", labelNames: ["kind", "outcome"] };
      const h1 = new Histogram({ ...config, buckets: BUCKETS, registers: [theirs] });
      const h2 = new FastHistogram({ ...config, buckets: BUCKETS, registers: [ours] });
      const c1 = new Counter({ name: "t_total", help: "Counts.", labelNames: ["kind"], registers: [theirs] });
      const c2 = new FastCounter({
        name: "t_total",
        help: "Counts.",
        labelNames: ["kind"],
        registers: [ours],
      });
      const u1 = new Histogram({
        name: "u_seconds",
        help: "Unlabelled.",
        buckets: BUCKETS,
        registers: [theirs],
      });
      const u2 = new FastHistogram({
        name: "u_seconds",
        help: "Unlabelled.",
        buckets: BUCKETS,
        registers: [ours],
      });
      for (const [kind, outcome, v] of samples) {
        h1.labels(kind, outcome).observe(v);
        h2.labels(kind, outcome).observe(v);
        c1.labels(kind).inc(v);
        c2.labels(kind).inc(v);
        u1.observe(v);
        u2.observe(v);
      }
      assertStrictEquals(await ours.metrics(), await theirs.metrics());
    }),
    { numRuns: 100 },
  );
});

Deno.test("fast metrics refuse what prom-client refuses: decreasing counters, non-finite values, bad label counts", () => {
  const r = new Registry();
  const c = new FastCounter({ name: "c_total", help: "C.", labelNames: ["k"], registers: [r] });
  const h = new FastHistogram({ name: "h_seconds", help: "H.", buckets: [1], registers: [r] });
  assertThrows(() => c.labels("a").inc(-1));
  assertThrows(() => c.labels("a", "b"));
  assertThrows(() => h.observe(Number.NaN));
  assertThrows(() => new FastHistogram({ name: "bad", help: "B.", buckets: [2, 1], registers: [] }));
});
