/**
 * `deno task sim`: the deterministic simulator's command line.
 *
 * ```sh
 * deno task sim --seed 42 --nodes 5 --duration 10m --faults crash,partition,loss
 * deno task sim --seeds 1000 --nodes 3 --duration 30s      # a swarm: summary + failing seeds
 * deno task sim --seed 7 --shrink                           # smallest failing reproduction
 * deno task sim --seed 3 --no-steering --no-schedules       # the workload without sub-workflows and steering
 * deno task sim --seed 3 --no-messaging                     # … without the producers and consumers
 * deno task sim --scaling                                   # completed/s for 1, 2, 3, 5, 10 nodes
 * ```
 *
 * `--json` prints machine-readable output. Exit status: 0 when every run kept
 * every invariant, 1 when one did not, 2 on bad arguments.
 *
 * @module
 */
import { parseDuration } from "../core/duration.ts";
import { FAULT_KINDS, parseFaultKinds } from "./faults.ts";
import { KNOWN_ISSUES } from "./invariants.ts";
import { DEFAULT_RUN, type RunOptions, type RunReport, runSimulation } from "./run.ts";
import { replayCommand, scaling, shrink, swarm } from "./swarm.ts";

/** Parsed command line. */
export interface Cli {
  options: RunOptions;
  seeds: number | null;
  json: boolean;
  shrink: boolean;
  scaling: boolean;
}

/** Parses the arguments (throws on bad ones). */
export function parseArgs(args: readonly string[]): Cli {
  const o: RunOptions = { ...DEFAULT_RUN, faults: [...FAULT_KINDS] };
  const cli: Cli = { options: o, seeds: null, json: false, shrink: false, scaling: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = (v: string) => {
      if (!/^\d+$/.test(v)) throw new Error(`${flag}: not a non-negative integer: ${v}`);
      return Number(v);
    };
    switch (flag) {
      case "--seed":
        o.seed = int(value());
        break;
      case "--seeds":
        cli.seeds = int(value());
        break;
      case "--nodes":
        o.nodes = Math.max(1, int(value()));
        break;
      case "--duration": {
        const v = value();
        const ms = /^\d+$/.test(v) ? Number(v) : parseDuration(v);
        if (ms === undefined) throw new Error(`--duration: not a duration: ${v} (try 30s, 10m)`);
        o.durationMs = ms;
        break;
      }
      case "--faults":
        o.faults = parseFaultKinds(value());
        break;
      case "--rate":
        o.rate = Math.max(1, int(value()));
        break;
      case "--shards":
        o.shardCount = Math.max(1, int(value()));
        break;
      case "--heal-bound": {
        const v = value();
        const ms = /^\d+$/.test(v) ? Number(v) : parseDuration(v);
        if (ms === undefined) throw new Error(`--heal-bound: not a duration: ${v}`);
        o.healBoundMs = ms;
        break;
      }
      case "--json":
        cli.json = true;
        break;
      case "--shrink":
        cli.shrink = true;
        break;
      case "--scaling":
        cli.scaling = true;
        break;
      case "--unsafe-disable-fencing":
        o.unsafeDisableFencing = true;
        break;
      case "--unsafe-fire-apart":
        o.unsafeFireApart = true;
        break;
      case "--unsafe-child-ids":
        o.unsafeChildIds = true;
        break;
      case "--unsafe-early-ack":
        o.unsafeEarlyAck = true;
        break;
      case "--no-schedules":
        o.schedules = false;
        break;
      case "--no-steering":
        o.steering = false;
        break;
      case "--no-messaging":
        o.messaging = false;
        break;
      default:
        throw new Error(`unknown argument ${a}`);
    }
  }
  return cli;
}

const fmtP = (p: { n: number; p50: number | null; p99: number | null; max: number | null }) =>
  p.n === 0 ? "n/a (none measured)" : `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms (n=${p.n})`;

/** The schedules' line of the report. */
function fmtSchedules(r: RunReport): string {
  const s = r.scheduleStats;
  if (s === null) return "none checked";
  return `${s.schedules} schedules: ${s.started} ticks started, ${s.skipped} skipped, ${s.buffered} buffered, ` +
    `${s.passedOver} passed over; fire lag ${fmtP(s.fireLagMs)}; after heal max ${
      s.fireLagAfterHealMs.max ?? "n/a"
    } ms`;
}

/** The steering line of the report. */
function fmtSteering(r: RunReport): string {
  const s = r.steeringStats;
  const refused = Object.entries(s.refused).map(([k, v]) => `${k}×${v}`).join(", ") || "none";
  return `${s.children} children (${s.childrenCancelled} cancelled), ${s.collected} children nodes ` +
    `collected; ${s.paused} paused, ` +
    `${s.resumed} resumed, ${s.reopened} reopened; refused: ${refused}`;
}

/** The messaging line of the report. */
function fmtMessaging(r: RunReport): string {
  const m = r.messagingStats;
  return `${m.published} published, ${m.delivered} delivered in ${m.deliveries} batches, ${m.acked} acked ` +
    `(${m.acksChecked} commits checked); given back: ${m.released} released, ${m.closed} on a crash, ` +
    `${m.expired} expired; ${m.redelivered} redelivered, ${m.duplicates} recorded twice; left: ` +
    `${m.available} available, ${m.held} held`;
}

/** The human-readable report of one run. */
export function formatReport(r: RunReport, o: RunOptions): string {
  const faults = Object.entries(r.faultsInjected).map(([k, v]) => `${k}×${v}`).join(", ") || "none";
  const lines = [
    `seed:              ${r.seed}`,
    `nodes:             ${r.nodes}`,
    `fault phase:       ${r.durationMs / 1000} s simulated (faults allowed: ${
      r.faultsAllowed.join(",") || "none"
    })`,
    `faults injected:   ${faults}`,
    `executions:        ${r.submitted} submitted, ${r.acknowledged} acknowledged, ${r.finished} finished`,
    `client retries:    ${r.clientRetries}; signals sent: ${r.signalsSent}`,
    `throughput:        ${r.throughputPerSimSecond} executions finished per simulated second`,
    `latency:           ${fmtP(r.latencyMs)} (submission to terminal state, simulated)`,
    `failover detect:   ${fmtP(r.failover.detectionMs)}`,
    `failover takeover: ${fmtP(r.failover.takeoverMs)}`,
    `first progress:    ${fmtP(r.failover.firstProgressMs)}`,
    `schedules:         ${fmtSchedules(r)}`,
    `steering:          ${fmtSteering(r)}`,
    `messaging:         ${fmtMessaging(r)}`,
    `converged:         ${
      r.convergedAfterHealMs === null
        ? `NOT within ${o.healBoundMs} ms of heal`
        : `${r.convergedAfterHealMs} ms after heal`
    }`,
    `simulated/wall:    ${r.simulatedMs} ms / ${r.wallMs} ms = ${r.simPerWall}x`,
    `events:            ${r.events} scheduler events, ${r.traceLines} trace lines`,
    `trace hash:        ${r.traceHash}`,
    `result:            ${r.ok ? "OK: every invariant held" : `FAILED: ${r.violations.length} violation(s)`}`,
  ];
  for (const v of r.violations) {
    lines.push(
      `  - [${v.invariant}] at ${v.at} ms${v.known ? ` (known issue ${v.known})` : ""}: ${v.message}`,
    );
  }
  const known = [...new Set(r.violations.map((v) => v.known).filter((k) => k !== undefined))];
  for (const k of known) lines.push(`  ${k}: ${KNOWN_ISSUES[k!]}`);
  if (!r.ok) lines.push(`replay:            ${replayCommand(o)}`);
  return lines.join("\n");
}

/** Runs the command line; returns the exit status. */
export async function main(
  args: readonly string[],
  print: (s: string) => void = console.log,
): Promise<number> {
  let cli: Cli;
  try {
    cli = parseArgs(args);
  } catch (err) {
    print(`deno task sim: ${(err as Error).message}`);
    return 2;
  }
  const o = cli.options;
  if (cli.scaling) {
    const rows = await scaling();
    if (cli.json) print(JSON.stringify(rows));
    else {
      print("nodes  completed/s  speedup  old engine claim  wall");
      for (const r of rows) {
        print(
          `${String(r.nodes).padStart(5)}  ${String(r.completedPerSimSecond).padStart(11)}  ${
            r.speedup.toFixed(2).padStart(6)
          }x  ${
            r.oldEngineClaim === null ? "               -" : `${r.oldEngineClaim.toFixed(1).padStart(15)}x`
          }  ${r.wallMs} ms`,
        );
      }
    }
    return 0;
  }
  if (cli.seeds !== null) {
    const s = await swarm(o, o.seed, cli.seeds);
    if (cli.json) print(JSON.stringify(s));
    else {
      print(
        `runs: ${s.runs}, passed: ${s.passed}, failed: ${s.failed.length} (${s.knownOnly} only by known issues)`,
      );
      print(
        `simulated ${Math.round(s.simulatedMs / 1000)} s in ${s.wallMs} ms wall (${
          (s.simulatedMs / s.wallMs).toFixed(1)
        }x)`,
      );
      for (const [k, n] of Object.entries(s.byInvariant).sort()) print(`  ${k.padEnd(28)} ${n} run(s)`);
      for (const f of s.failed) {
        print(`seed ${f.seed}${f.knownOnly ? " (known issues only)" : ""}: ${f.violations[0]}`);
        print(`  replay: ${f.command}`);
      }
    }
    return s.failed.length === 0 ? 0 : 1;
  }
  if (cli.shrink) {
    const s = await shrink(o, { any: true });
    if (cli.json) print(JSON.stringify({ options: s.options, runs: s.runs, report: s.report }));
    else {
      print(formatReport(s.report, s.options));
      print(`shrunk in ${s.runs} run(s); smallest reproduction: ${replayCommand(s.options)}`);
    }
    return s.report.ok ? 0 : 1;
  }
  const r = await runSimulation(o);
  print(cli.json ? JSON.stringify(r) : formatReport(r, o));
  return r.ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
