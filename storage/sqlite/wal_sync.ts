/**
 * Group fsync of the SQLite store's write-ahead log, off the event loop. The database runs with
 * `synchronous=NORMAL` in WAL mode: a commit writes its frames to the WAL without waiting for the disk, and a
 * checkpoint syncs the WAL before it and the database file after it (SQLite's own rule). What NORMAL alone
 * would lose on a power cut — the commits since the last sync — is closed here: no answer that depends on a
 * commit (the write itself, or any read made after it) is handed out before an fsync of the WAL that started
 * after that commit has completed. The fsync runs on Deno's blocking pool (`FsFile.syncData`), so the node
 * keeps serving while the disk works, and every commit made meanwhile shares the next fsync. The effect on
 * what callers see is `synchronous=FULL`'s (nothing acknowledged or shown before it is on disk), one fsync
 * per group of commits, without holding the event loop for it.
 *
 * A failed fsync leaves the store broken: every later call is refused (`StorageUnavailable`), as PostgreSQL
 * stops on one, since what the page cache holds can no longer be trusted to reach the disk.
 *
 * @module
 */
import { StorageUnavailable } from "../storage.ts";

interface Waiter {
  commit: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Releases answers once the commits they depend on are on disk.
 *
 * @example
 * ```ts
 * import { WalSync } from "./wal_sync.ts";
 * let commits = 0;
 * let syncs = 0;
 * const sync = new WalSync(() => commits, () => Promise.resolve(void syncs++));
 * await sync.after(0); // nothing committed: nothing to wait for
 * commits = 2;
 * await Promise.all([sync.after(1), sync.after(2)]); // one fsync covers both
 * if (syncs !== 1 || sync.synced !== 2) throw new Error(`${syncs} fsyncs, ${sync.synced} commits on disk`);
 * ```
 */
export class WalSync {
  #synced = 0;
  #running = false;
  #waiters: Waiter[] = [];
  #broken: StorageUnavailable | undefined;

  /**
   * @param committed How many commits the database has made so far.
   * @param syncData Flushes the WAL file to disk (`fdatasync`).
   */
  constructor(private readonly committed: () => number, private readonly syncData: () => Promise<void>) {}

  /** How many commits are known to be on disk. */
  get synced(): number {
    return this.#synced;
  }

  /** The failed fsync that broke the store, if one did. */
  get broken(): StorageUnavailable | undefined {
    return this.#broken;
  }

  /** Resolves once commit number `commit` (and every one before it) is on disk; at once if it is. */
  after(commit: number): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (commit <= this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ commit, resolve, reject });
      this.#start();
    });
  }

  /** Starts an fsync unless one runs (that one's end starts the next, if any waiter is left). */
  #start(): void {
    if (this.#running) return;
    this.#running = true;
    const target = this.committed(); // every commit made before the fsync starts is covered by it
    this.syncData().then(() => {
      this.#running = false;
      this.#synced = Math.max(this.#synced, target);
      const left: Waiter[] = [];
      for (const w of this.#waiters) {
        if (w.commit <= this.#synced) w.resolve();
        else left.push(w);
      }
      this.#waiters = left;
      if (left.length > 0) this.#start();
    }, (err) => {
      this.#running = false;
      this.#broken = new StorageUnavailable(
        `SQLite's write-ahead log could not be synced to disk; the store refuses every call until restarted: ${
          (err as Error)?.message ?? err
        }`,
        { cause: err },
      );
      const waiting = this.#waiters;
      this.#waiters = [];
      for (const w of waiting) w.reject(this.#broken);
    });
  }
}
