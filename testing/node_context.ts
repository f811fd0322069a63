/**
 * `NodeContext`s over the real services, for the executor tests. Imported only by
 * tests and benches.
 *
 * @module
 */
import { tmpdir } from "node:os";
import type { Json, NodeContext, NodeServices, OutputLimits } from "../server/executors/executor.ts";
import { type RealServices, realServices } from "../server/executors/services.ts";
import { TEST_DATABASE_URL } from "./pg.ts";

/** One line captured from `services.log`. */
export interface LoggedLine {
  line: string;
  fields: Record<string, unknown>;
}

/** What a test may set; everything else gets a default. */
export interface TestContextOptions {
  config?: Record<string, unknown>;
  records?: Json[];
  executionInput?: Json;
  executionId?: string;
  nodeId?: string;
  attempt?: number;
  limits?: Partial<OutputLimits>;
  signal?: AbortSignal;
  /** Services to use instead of new real ones (the caller closes them). */
  services?: NodeServices;
  /** The files root the new services grant (default `TEMP_ROOT`). */
  filesRoot?: string;
}

/** A context plus the captured log lines and a `close()` for the services it made. */
export interface TestNodeContext extends NodeContext {
  logs: LoggedLine[];
  close(): Promise<void>;
}

/** The files root the executor tests grant: the system's temporary directory, where they make their files. */
export const TEMP_ROOT: string = Deno.realPathSync(tmpdir());

/** Limits generous enough for any test that does not test them. */
export const TEST_LIMITS: OutputLimits = { maxRecords: 1_000_000, maxBytes: 64 * 1024 * 1024 };

/**
 * A `NodeContext` for tests, over `realServices` with the test database as the `default` SQL connection
 * with log lines captured in `logs`. Call `close()` when done when it used SQL.
 */
export function testNodeContext(opts: TestContextOptions = {}): TestNodeContext {
  const logs: LoggedLine[] = [];
  let owned: RealServices | undefined;
  const services = opts.services ?? (owned = realServices({
    sqlConnections: { default: TEST_DATABASE_URL },
    filesRoot: opts.filesRoot ?? TEMP_ROOT,
    log: (line, fields) => logs.push({ line, fields }),
  }));
  const executionId = opts.executionId ?? `exec-${crypto.randomUUID()}`;
  const nodeId = opts.nodeId ?? "node-1";
  const records = opts.records ?? [];
  return {
    executionId,
    workflowId: "wf-test",
    nodeId,
    attempt: opts.attempt ?? 1,
    idempotencyKey: `${executionId}:${nodeId}`,
    config: opts.config ?? {},
    inputs: { records, byParent: { parent: records }, byHandle: { in: records } },
    executionInput: opts.executionInput ?? null,
    limits: { ...TEST_LIMITS, ...opts.limits },
    signal: opts.signal ?? new AbortController().signal,
    services,
    logs,
    close: () => owned?.close() ?? Promise.resolve(),
  };
}
