/**
 * The producer one Kafka URL shares among its concurrent sends: made on first use, used by every send, and
 * replaced only when a send finds it broken (a lost connection, a timeout, a fenced idempotent producer). A
 * replaced producer is not closed under the sends still using it: it is closed once they have all settled,
 * or after a drain bound.
 *
 * @example
 * ```ts
 * import { SharedClient } from "./kafka_producer.ts";
 * const closed: number[] = [];
 * let made = 0;
 * const shared = new SharedClient(() => {
 *   const n = ++made;
 *   return { n, close: () => Promise.resolve(void closed.push(n)) };
 * }, 60_000);
 * const a = shared.lease();
 * const b = shared.lease();
 * a.retire(); // broken: the next lease gets a new client…
 * if (shared.lease().client.n !== 2) throw new Error("a retired client is not lent again");
 * a.done();
 * if (closed.join() !== "") throw new Error("…but b still uses the old one");
 * b.done();
 * if (closed.join() !== "1") throw new Error("closed once b is done");
 * await shared.close();
 * if (closed.join() !== "1,2") throw new Error(closed.join());
 * ```
 *
 * @module
 */

/** A client that can be closed (`force`: without waiting for what it has in flight). */
export interface ClosableClient {
  close(force?: boolean): Promise<void>;
}

/** One use of the shared client: `done` once the use is over (the library settled it), once. */
export interface Lease<C> {
  readonly client: C;
  /** The use is over. */
  done(): void;
  /** The client is broken: later leases get a new one; this one is closed once no lease uses it. */
  retire(): void;
}

interface Slot<C> {
  client: C;
  inUse: number;
  retired: boolean;
  closed: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** A client made on first use and shared by every lease, until one retires it. */
export class SharedClient<C extends ClosableClient> {
  #current: Slot<C> | undefined;
  /** Retired clients some lease still uses. */
  #draining = new Set<Slot<C>>();

  /** `make` makes a client; a retired one still in use is closed anyway after `drainMs`. */
  constructor(readonly make: () => C, readonly drainMs: number) {}

  /** The current client (made now if there is none), counted as in use until the lease is `done`. */
  lease(): Lease<C> {
    const slot = this.#current ??= { client: this.make(), inUse: 0, retired: false, closed: false };
    slot.inUse++;
    let done = false;
    return {
      client: slot.client,
      done: () => {
        if (done) return;
        done = true;
        slot.inUse--;
        if (slot.retired && slot.inUse === 0) this.#closeSlot(slot);
      },
      retire: () => this.#retire(slot),
    };
  }

  #retire(slot: Slot<C>): void {
    if (slot.retired) return;
    slot.retired = true;
    if (this.#current === slot) this.#current = undefined;
    if (slot.inUse === 0) return this.#closeSlot(slot);
    this.#draining.add(slot);
    // A send that never settles does not keep a broken client open for ever.
    const timer = setTimeout(() => this.#closeSlot(slot), this.drainMs);
    Deno.unrefTimer(timer);
    slot.timer = timer;
  }

  #closeSlot(slot: Slot<C>): void {
    if (slot.closed) return;
    slot.closed = true;
    clearTimeout(slot.timer);
    this.#draining.delete(slot);
    void slot.client.close(true).catch(() => {});
  }

  /** Closes every client, the current one and those draining, at once. */
  async close(): Promise<void> {
    const slots = [...this.#draining, ...(this.#current ? [this.#current] : [])];
    this.#current = undefined;
    this.#draining.clear();
    await Promise.all(slots.map(async (slot) => {
      if (slot.closed) return;
      slot.closed = true;
      clearTimeout(slot.timer);
      await slot.client.close(true).catch(() => {});
    }));
  }
}
