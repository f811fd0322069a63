/**
 * What every SQL role shares: the database, and the wrapper that turns a driver
 * error meaning "the backend is not there" into `StorageUnavailable`.
 *
 * @module
 */
import type { Kysely } from "npm:kysely@0.29.9";
import type { Database } from "./schema.ts";

/** The database of a SQL storage and its error classification, shared by its roles. */
export class SqlContext {
  /**
   * @param db The database (a PostgreSQL server or the embedded PGlite).
   * @param classify Turns a driver error into `StorageUnavailable` when the backend is unreachable;
   * otherwise returns it.
   */
  constructor(readonly db: Kysely<Database>, private readonly classify: (err: unknown) => unknown) {}

  /** Runs one storage operation, rethrowing its error as `classify` tells. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.classify(err);
    }
  }
}
