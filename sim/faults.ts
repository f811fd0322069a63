/**
 * Faults: what can go wrong, drawn from the seed. A run's fault mix is a subset
 * of the allowed kinds (`--faults`), and its episodes (kind, target, start,
 * length) are drawn from the seed too; the injector carries them out on the
 * virtual clock, then `healAll()` removes every fault at the start of the heal
 * phase.
 *
 * Kinds:
 * - `crash`: the node dies (memory, timers, connections lost) and restarts later as a fresh incarnation;
 * - `leave`: graceful leave (hands its shards over), rejoining later;
 * - `partition`: network partitions between nodes: symmetric, one-way, or one node isolated;
 * - `loss`: message loss, duplication, delay and reordering on the whole network;
 * - `storage`: one node's storage calls fail (some after taking effect: lost acks), or it is
 *   partitioned from storage (calls time out);
 * - `slow`: one node's storage calls are slow;
 * - `pause`: one node stops (a GC pause or SIGSTOP): its callbacks are deferred until it resumes;
 * - `skew`: one node's clock jumps ahead or behind.
 *
 * @module
 */
import type { MemoryNetwork } from "../transport/memory.ts";
import type { Envelope } from "../transport/transport.ts";
import { NO_STORAGE_FAULTS, type StorageFaults } from "./faulty_storage.ts";
import type { SimNode } from "./node.ts";
import type { Random } from "./random.ts";
import type { Scheduler } from "./scheduler.ts";

/** Every fault kind. */
export const FAULT_KINDS = [
  "crash",
  "leave",
  "partition",
  "loss",
  "storage",
  "slow",
  "pause",
  "skew",
] as const;

/** A fault kind. */
export type FaultKind = typeof FAULT_KINDS[number];

/** One fault: `kind` hits `node` from `at` for `durationMs`. */
export interface FaultEpisode {
  at: number;
  kind: FaultKind;
  node: string;
  durationMs: number;
  /** Kind-specific choices, drawn with the episode. */
  variant: string;
  other: string;
  /** 0..1, kind-specific strength (loss rate, failure rate, slowness, skew). */
  severity: number;
}

/** Parses `--faults crash,partition` (`all` or empty: every kind). */
export function parseFaultKinds(text: string | undefined): FaultKind[] {
  if (!text || text === "all") return [...FAULT_KINDS];
  if (text === "none") return [];
  const kinds = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) {
      throw new Error(`unknown fault kind ${k}; known: ${FAULT_KINDS.join(", ")}`);
    }
  }
  return kinds as FaultKind[];
}

/**
 * Draws a run's fault episodes: a mix (each allowed kind kept with probability
 * 0.7, at least one), then about one episode per `everyMs` of the fault phase.
 */
export function planFaults(
  rng: Random,
  allowed: readonly FaultKind[],
  nodes: readonly string[],
  faultPhaseMs: number,
  everyMs = 6_000,
): FaultEpisode[] {
  if (allowed.length === 0 || faultPhaseMs < 3_000) return [];
  let mix = allowed.filter(() => rng.chance(0.7));
  if (mix.length === 0) mix = [rng.pick(allowed)];
  const count = Math.max(1, Math.round((faultPhaseMs / everyMs) * (0.5 + rng.next())));
  const out: FaultEpisode[] = [];
  for (let i = 0; i < count; i++) {
    const node = rng.pick(nodes);
    const others = nodes.filter((n) => n !== node);
    out.push({
      at: rng.int(2_000, faultPhaseMs - 1_000),
      kind: rng.pick(mix),
      node,
      other: others.length > 0 ? rng.pick(others) : node,
      durationMs: rng.int(500, 8_000),
      variant: rng.pick(["a", "b", "c"]),
      severity: rng.next(),
    });
  }
  return out.sort((a, b) => a.at - b.at || (a.node < b.node ? -1 : 1));
}

/** Applies episodes to the simulated world, and removes them all at heal. */
export class FaultInjector {
  readonly storage = new Map<string, StorageFaults>();
  readonly skews = new Map<string, number>();
  /** Counts of injected faults by kind (skipped ones not counted). */
  readonly injected = new Map<string, number>();
  /** Crash times (for failover measurements): node, time, incarnation. */
  readonly crashes: { node: string; at: number }[] = [];
  /** Told just before a node crashes (failover measurements). */
  onCrash: ((node: string) => void) | null = null;
  #loss: { drop: number; duplicate: number; delayMs: number } | null = null;
  #healed = false;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly network: MemoryNetwork,
    private readonly nodes: readonly SimNode[],
    private readonly rng: Random,
    private readonly latency: [number, number],
    private readonly trace: (line: string) => void,
    /** Most nodes down (crashed or left) at once. */
    private readonly maxDown: number,
  ) {
    network.decide = (e) => this.#decide(e);
  }

  /** The storage faults of `node` now. */
  storageFaults(node: string): StorageFaults {
    return this.storage.get(node) ?? NO_STORAGE_FAULTS;
  }

  #decide(_e: Envelope) {
    const [lo, hi] = this.latency;
    const base = lo + this.rng.next() * (hi - lo);
    const loss = this.#loss;
    if (!loss) return { delayMs: base };
    return {
      drop: this.rng.chance(loss.drop),
      duplicate: this.rng.chance(loss.duplicate),
      delayMs: base + this.rng.next() * loss.delayMs,
    };
  }

  #node(id: string): SimNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  #count(kind: string): void {
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
  }

  /** Schedules every episode. */
  schedule(episodes: readonly FaultEpisode[]): void {
    for (const ep of episodes) this.scheduler.at(ep.at, () => this.#begin(ep));
  }

  #begin(ep: FaultEpisode): void {
    if (this.#healed) return;
    const s = this.scheduler;
    const end = (fn: () => void) => s.after(ep.durationMs, () => (this.#healed ? undefined : fn()));
    const node = this.#node(ep.node);
    const down = this.nodes.filter((n) => n.state !== "up").length;
    const label = `${ep.kind}/${ep.variant} ${ep.node}${ep.kind === "partition" ? `,${ep.other}` : ""}`;
    switch (ep.kind) {
      case "crash":
      case "leave": {
        if (node.state !== "up" || down >= this.maxDown) return this.trace(`fault skipped ${label}`);
        this.#count(ep.kind);
        this.trace(`fault ${label} for ${ep.durationMs}`);
        if (ep.kind === "crash") {
          this.crashes.push({ node: node.id, at: s.now });
          this.onCrash?.(node.id);
          node.crash();
        } else void node.leave(10_000);
        end(() => void this.restart(node));
        return;
      }
      case "partition": {
        if (ep.node === ep.other) return this.trace(`fault skipped ${label}`);
        this.#count(ep.kind);
        this.trace(`fault ${label} for ${ep.durationMs}`);
        const pairs: [string, string][] = [];
        if (ep.variant === "a") {
          this.network.partition(ep.node, ep.other);
          pairs.push([ep.node, ep.other]);
        } else if (ep.variant === "b") {
          this.network.partitionOneWay(ep.node, ep.other);
          pairs.push([ep.node, ep.other]);
        } else {
          for (const o of this.nodes) {
            if (o.id === ep.node) continue;
            this.network.partition(ep.node, o.id);
            pairs.push([ep.node, o.id]);
          }
        }
        end(() => {
          for (const [a, b] of pairs) this.network.heal(a, b);
          this.trace(`fault healed partition ${ep.node}`);
        });
        return;
      }
      case "loss": {
        this.#count(ep.kind);
        this.#loss = {
          drop: 0.05 + 0.3 * ep.severity,
          duplicate: 0.1 * ep.severity,
          delayMs: 300 * ep.severity,
        };
        this.trace(`fault ${label} for ${ep.durationMs}`);
        end(() => {
          this.#loss = null;
          this.trace(`fault healed loss`);
        });
        return;
      }
      case "storage":
      case "slow": {
        this.#count(ep.kind);
        const f: StorageFaults = { ...this.storageFaults(ep.node) };
        if (ep.kind === "slow") f.slowMs = Math.round(50 + 1_500 * ep.severity);
        else if (ep.variant === "a") f.partitioned = true;
        else f.failRate = 0.05 + 0.5 * ep.severity;
        this.storage.set(ep.node, f);
        this.trace(`fault ${label} for ${ep.durationMs} ${JSON.stringify(f)}`);
        end(() => {
          this.storage.delete(ep.node);
          this.trace(`fault healed storage ${ep.node}`);
        });
        return;
      }
      case "pause": {
        this.#count(ep.kind);
        this.trace(`fault ${label} for ${ep.durationMs}`);
        s.pause(ep.node, s.now + ep.durationMs);
        return;
      }
      case "skew": {
        this.#count(ep.kind);
        const skew = Math.round((ep.variant === "a" ? -1 : 1) * (50 + 1_500 * ep.severity));
        this.skews.set(ep.node, skew);
        this.trace(`fault ${label} for ${ep.durationMs} skew ${skew}`);
        end(() => this.skews.delete(ep.node));
        return;
      }
    }
  }

  /** Starts a down node, retrying every second until it is up (or the run heals it). */
  async restart(node: SimNode): Promise<void> {
    if (node.state === "leaving") {
      await new Promise<void>((r) => this.scheduler.after(500, r));
      return this.restart(node);
    }
    if (node.state !== "down") return;
    if (await node.start()) return;
    await new Promise<void>((r) => this.scheduler.after(1_000, r));
    return this.restart(node);
  }

  /** The heal phase: every fault removed, every node brought back. */
  healAll(): void {
    this.#healed = true;
    this.#loss = null;
    this.network.healAll();
    this.storage.clear();
    this.skews.clear();
    this.scheduler.resumeAll();
    for (const n of this.nodes) if (n.state !== "up" && n.state !== "starting") void this.restart(n);
    this.trace("heal");
  }
}
