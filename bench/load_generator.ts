/**
 * The load harness's generator: executions submitted over lean keep-alive HTTP
 * pools (see `http_client.ts`), each waited for, offered closed-loop (a fixed
 * number of workers) or open-loop at a rate, with their latencies and engine
 * overhead collected.
 *
 * @module
 */
import { LeanPool } from "./http_client.ts";

/** One finished execution's timings. */
export interface Sample {
  latencyMs: number;
  overheadPerTransitionMs: number;
}

/** How the load is offered (the load harness's options hold these). */
export interface LoadShape {
  mode: "closed" | "rate";
  /** Closed loop: the workers, each waiting for its execution before the next. */
  concurrency: number;
  /** Open loop: submissions per second. */
  rate: number;
  /** Open loop: outstanding executions at most; beyond it a submission is dropped. */
  maxInFlight: number;
}

/** The generator's HTTP client: a lean keep-alive pool per node, `size` connections each. */
export class NodePools {
  readonly #pools = new Map<string, LeanPool>();

  constructor(readonly size: number) {}

  /** The pool of the node at `url` (made on first use). */
  for(url: string): LeanPool {
    let pool = this.#pools.get(url);
    if (!pool) this.#pools.set(url, pool = new LeanPool(url, this.size));
    return pool;
  }

  /** Closes every pool. */
  close(): void {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
  }
}

/** One execution through `url`, waiting for its end; returns its latency and engine overhead. */
export async function runOne(
  pools: NodePools,
  url: string,
  workflowId: string,
  key: string,
): Promise<Sample | undefined> {
  const t0 = performance.now();
  const r = await pools.for(url).request(
    "POST",
    `/api/v1/workflows/${workflowId}/execute?wait=60000`,
    { "idempotency-key": key, "content-type": "application/json" },
    "{}",
  );
  const latencyMs = performance.now() - t0;
  const body = JSON.parse(r.body);
  if (r.status !== 200 || body.status !== "completed") return undefined;
  // Time per node transition: the end-to-end latency over the execution's transitions (its start and one
  // per node). Node work in the standard workload takes microseconds, so this bounds the engine's overhead
  // per transition (decide, run, append, commit) from above: it also holds HTTP and the generator's own
  // time. The delay workload's includes its 100 ms.
  const nodes = body.nodes as unknown[];
  return { latencyMs, overheadPerTransitionMs: latencyMs / (nodes.length + 1) };
}

/** Twenty executions one after another, round the nodes: compiles plans and expressions, fills pools. */
export async function warmUpPlans(
  pools: NodePools,
  urls: readonly string[],
  workflowId: string,
): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await runOne(pools, urls[i % urls.length], workflowId, `warm-${i}-${Date.now()}`);
  }
}

/**
 * Offers the load to the nodes at `urls` (read live: a node removed from the array gets no more work) and
 * collects the samples.
 */
export class LoadGenerator {
  /** The executions that completed. */
  samples: Sample[] = [];
  /** Executions that failed or did not complete. */
  failed = 0;
  /** Open loop: submissions dropped because too many were outstanding. */
  dropped = 0;
  #seq = 0;
  #inFlight = 0;
  readonly #prefix = `load-${Date.now()}`;

  constructor(
    private readonly pools: NodePools,
    private readonly urls: readonly string[],
    private readonly workflowId: string,
    private readonly shape: LoadShape,
  ) {}

  /** Discards the samples and counts so far (after the warm-up). */
  reset(): void {
    this.samples = [];
    this.failed = this.dropped = 0;
  }

  /** Offers the load (closed loop or open-loop rate) until `end` (a `performance.now()` time). */
  async drive(end: number): Promise<void> {
    const o = this.shape;
    if (o.mode === "closed") {
      await Promise.all(Array.from({ length: o.concurrency }, async () => {
        while (performance.now() < end) await this.#one();
      }));
    } else {
      const pending: Promise<void>[] = [];
      const interval = 1000 / o.rate;
      for (let next = performance.now(); next < end; next += interval) {
        const wait = next - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        if (this.#inFlight >= o.maxInFlight) this.dropped++;
        else pending.push(this.#one());
      }
      await Promise.all(pending);
    }
  }

  /** One execution on the next node in turn. */
  async #one(): Promise<void> {
    const n = this.#seq++;
    this.#inFlight++;
    try {
      const s = await runOne(
        this.pools,
        this.urls[n % this.urls.length],
        this.workflowId,
        `${this.#prefix}-${n}`,
      )
        .catch(() => undefined);
      if (s) this.samples.push(s);
      else this.failed++;
    } finally {
      this.#inFlight--;
    }
  }
}
