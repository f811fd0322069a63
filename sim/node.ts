/**
 * One simulated node, assembled like `server/start.ts` assembles a real one —
 * storage, commit group, engine, workflow service, the owner-side scheduler
 * (fed the engine's scheduled-run ends), cluster member, shard routing, RPC
 * forwarding and the API handler — with the real-world parts
 * replaced: a virtual `Clock` instead of `systemClock`, a `FaultyStorage` view of
 * the shared `MemoryStorage`, a `MemoryTransport` instead of WebSockets, seeded
 * ids instead of `crypto.randomUUID`, fake node services (a deterministic
 * `fetch`, in-memory files, no SQL, the fake broker) instead of `realServices`, and no socket:
 * clients call the API handler directly.
 *
 * A crash drops the incarnation: its clock, storage view and transport die, and
 * a restart builds fresh ones (nothing in memory survives).
 *
 * @module
 */
import { ROLES } from "../core/cluster.ts";
import { CommitGroup } from "../storage/commit_group.ts";
import type { MemoryNetwork, MemoryTransport } from "../transport/memory.ts";
import { Rpc } from "../transport/rpc.ts";
import { createApi } from "../server/http/api.ts";
import { ClusterMember, DEFAULT_CLUSTER_OPTIONS } from "../server/cluster/member.ts";
import { Engine } from "../server/runtime/engine.ts";
import { RpcForwarder, serveForwarded } from "../server/http/forwarding.ts";
import { silentLogger } from "../server/runtime/logger.ts";
import type { Executor, NodeServices } from "../server/executors/executor.ts";
import { SIM_CATALOG, simExecutorFor } from "./custom_kinds.ts";
import { ShardRouting } from "../server/http/routing.ts";
import { WorkflowService } from "../server/runtime/workflows.ts";
import type { ScheduleFire } from "../core/schedule.ts";
import { Scheduler as ScheduleRunner } from "../server/runtime/scheduler.ts";
import { ScheduledRunEnds } from "../server/runtime/schedule_observer.ts";
import type { FakeBroker, Session } from "./fake_broker.ts";
import { FaultyStorage, type StorageWorld } from "./faulty_storage.ts";
import { earlyAck, fireApart, freshChildIds } from "./planted.ts";
import type { Random } from "./random.ts";
import type { Scheduler, SimClock } from "./scheduler.ts";

/** What every node of a simulation shares. */
export interface NodeWorld extends StorageWorld {
  network: MemoryNetwork;
  shardCount: number;
  /** The fake `fetch` behind the http node. */
  fetch: typeof fetch;
  /** The node's clock skew now (read on every `now()`). */
  skew(node: string): number;
  rng: Random;
  /** A node's scheduler recorded a tick (started with its fire lag, skipped or buffered). */
  onScheduleFire(node: string, fire: ScheduleFire, lagMs: number | null): void;
  /** TEST-ONLY planted bug: scheduled runs start apart from their fire (`planted.ts` `fireApart`). */
  unsafeFireApart: boolean;
  /** TEST-ONLY planted bug: a relaunched child gets a fresh id (`planted.ts` `freshChildIds`). */
  unsafeChildIds: boolean;
  /** The child ids submitted so far, by every engine (for `freshChildIds`). */
  childIdsSubmitted: Set<string>;
  /** The broker behind the messaging nodes (each incarnation has its own session). */
  broker: FakeBroker;
  /** TEST-ONLY planted bug: consumers ack at consume time (`planted.ts` `earlyAck`). */
  unsafeEarlyAck: boolean;
}

/** One incarnation's parts. */
interface Incarnation {
  n: number;
  clock: SimClock;
  storage: FaultyStorage;
  engine: Engine;
  schedules: ScheduleRunner;
  cluster: ClusterMember;
  transport: MemoryTransport;
  rpc: Rpc;
  api: ((req: Request) => Promise<Response>) | null;
}

/** A node's lifecycle state. */
export type NodeState = "down" | "starting" | "up" | "leaving";

/** Fake node services: deterministic fetch, in-memory files, no SQL, the incarnation's broker session. */
function fakeServices(world: NodeWorld, clock: SimClock, session: Session): NodeServices {
  const files = new Map<string, string>();
  return {
    fetch: world.fetch,
    // Virtual time, never a real timer: the run stays deterministic however long it takes in wall time.
    timeout: (ms) => {
      const c = new AbortController();
      clock.setTimer(ms, () => c.abort(new DOMException("timed out", "TimeoutError")));
      return c.signal;
    },
    readTextFile: (path) =>
      files.has(path) ? Promise.resolve(files.get(path)!) : Promise.reject(new Error(`no file ${path}`)),
    writeFileAtomic: (path, text) => {
      files.set(path, text);
      return Promise.resolve();
    },
    sql: (_target) => {
      throw new Error("no SQL in the simulator");
    },
    broker: (target) => world.unsafeEarlyAck ? earlyAck(session.client(target)) : session.client(target),
    log: () => {},
  };
}

/** A simulated node. */
export class SimNode {
  state: NodeState = "down";
  #inc: Incarnation | null = null;
  #incarnations = 0;
  #rng: Random;

  constructor(readonly id: string, private readonly world: NodeWorld) {
    this.#rng = world.rng.fork(`node/${id}`);
  }

  /** The engine of the live incarnation. */
  get engine(): Engine | null {
    return this.#inc?.engine ?? null;
  }

  /** The cluster member of the live incarnation. */
  get cluster(): ClusterMember | null {
    return this.#inc?.cluster ?? null;
  }

  /** Which incarnation is live (0: never started). */
  get incarnation(): number {
    return this.#inc?.n ?? 0;
  }

  /** Builds a fresh incarnation and starts it (engine, then cluster); false when the start failed. */
  async start(): Promise<boolean> {
    if (this.state !== "down") return false;
    this.state = "starting";
    const world = this.world;
    const n = ++this.#incarnations;
    const rng = this.#rng.fork(`inc/${n}`);
    const scheduler: Scheduler = world.scheduler;
    const base = scheduler.clock(this.id);
    const clock: SimClock = {
      owner: this.id,
      get dead() {
        return base.dead;
      },
      kill: () => base.kill(),
      now: () => base.now() + world.skew(this.id),
      setTimer: (ms, fn) => base.setTimer(ms, fn),
      clearTimer: (h) => base.clearTimer(h),
    };
    const storage = new FaultyStorage(this.id, world, rng.fork("storage"));
    const commitGroup = new CommitGroup(storage);
    const idRng = rng.fork("ids");
    const withCpu = (e: Executor | undefined): Executor | undefined =>
      e && (async (ctx) => {
        const delay = world.cpu(this.id, world.cost.cpuPerAttemptMs);
        await new Promise<void>((r) => clock.setTimer(delay, r));
        return await e(ctx);
      });
    const runEnds = new ScheduledRunEnds();
    const engine = new Engine({
      storage,
      clock,
      newId: () => idRng.id(),
      executorFor: (type, nodeType) => withCpu(simExecutorFor(type, nodeType)),
      services: fakeServices(world, clock, world.broker.session(this.id, n, clock)),
      nodeName: this.id,
      log: silentLogger,
      shardCount: world.shardCount,
      appender: commitGroup,
      observer: runEnds,
      catalog: SIM_CATALOG,
    });
    if (world.unsafeChildIds) freshChildIds(engine, world.childIdsSubmitted);
    const workflows = new WorkflowService(storage, () => clock.now(), undefined, SIM_CATALOG);
    const schedules = new ScheduleRunner({
      engine: world.unsafeFireApart ? fireApart(engine, storage) : engine,
      store: storage,
      workflows,
      clock,
      log: silentLogger,
      runEnds,
      observer: { fire: (fire, lagMs) => world.onScheduleFire(this.id, fire, lagMs) },
    });
    schedules.start();
    const transport = world.network.join(this.id);
    const rpcRng = rng.fork("rpc");
    const rpc = new Rpc(transport, { newId: () => rpcRng.id(), timers: clock, logger: silentLogger });
    const cluster = new ClusterMember(
      {
        ...DEFAULT_CLUSTER_OPTIONS,
        nodeId: this.id,
        address: this.id,
        httpAddress: this.id,
        roles: ROLES,
        shardCount: world.shardCount,
      },
      storage,
      engine,
      clock,
      silentLogger,
    );
    const inc: Incarnation = { n, clock, storage, engine, schedules, cluster, transport, rpc, api: null };
    this.#inc = inc;
    try {
      await engine.start({ claimAllShards: false });
      const routing = new ShardRouting(engine, cluster, new RpcForwarder(rpc), clock, 5_000);
      inc.api = createApi({
        engine,
        workflows,
        schedules,
        storage,
        log: silentLogger,
        storageHealthy: () => storage.ping(),
        cluster,
        routing,
      });
      serveForwarded(rpc, inc.api);
      await cluster.start();
    } catch (err) {
      if (this.#inc === inc) {
        world.trace(`${this.id} start failed: ${String(err)}`);
        this.#drop(inc);
      }
      return false;
    }
    if (this.#inc !== inc) return false; // crashed while starting
    this.state = "up";
    world.trace(`${this.id} up #${n}`);
    return true;
  }

  /** Crash: the incarnation's memory, timers, connections and pending answers are gone. */
  crash(): void {
    const inc = this.#inc;
    if (!inc) return;
    this.world.trace(`${this.id} crash #${inc.n}`);
    this.#drop(inc);
  }

  #drop(inc: Incarnation): void {
    inc.clock.kill();
    inc.storage.kill();
    // Its connection to the broker closes: what its consumers held is delivered again.
    this.world.broker.disconnect(this.id, inc.n);
    inc.rpc.close();
    void inc.transport.close();
    void inc.schedules.stop();
    void inc.engine.stop();
    void inc.cluster.stop();
    inc.api = null;
    if (this.#inc === inc) this.#inc = null;
    this.state = "down";
  }

  /** Graceful leave: hands its shards over (up to `timeoutMs`), then stops. */
  async leave(timeoutMs = 10_000): Promise<void> {
    const inc = this.#inc;
    if (!inc || this.state !== "up") return;
    this.state = "leaving";
    this.world.trace(`${this.id} leaving #${inc.n}`);
    try {
      await inc.cluster.leave(timeoutMs);
    } catch { /* storage may be down: leave anyway */ }
    if (this.#inc === inc) {
      this.world.trace(`${this.id} left #${inc.n}`);
      this.#drop(inc);
    }
  }

  /**
   * A client's call to this node's API: `undefined` when the node does not
   * answer (down, or it crashed before answering); the caller times out.
   */
  handle(req: Request): Promise<Response | undefined> {
    const inc = this.#inc;
    if (!inc || !inc.api || this.state === "down") return Promise.resolve(undefined);
    return inc.api(req).then(
      (res) => (this.#inc === inc ? res : new Promise<undefined>(() => {})),
      (err) => {
        this.world.trace(`${this.id} api threw ${String(err)}`);
        return undefined;
      },
    );
  }
}
