/**
 * The audit recorder's batching: events of many requests go to storage in one append (one transaction)
 * after a linger, at once when a batch is full or `flush` is called, one batch at a time.
 */
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { waitUntil } from "../../testing/wait.ts";
import type { AuditEvent } from "../../storage/access_records.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { silentLogger } from "../runtime/logger.ts";
import { AUDIT_BATCH_MAX, AuditRecorder } from "./audit.ts";

/** An audit log that records the size of every append, and can hold them. */
class CountingLog {
  readonly appends: number[] = [];
  readonly memory = new MemoryStorage();
  gate: Promise<void> = Promise.resolve();
  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    this.appends.push(events.length);
    await this.gate;
    await this.memory.appendAudit(events);
  }
  listAudit(limit: number, cursor?: string | null) {
    return this.memory.listAudit(limit, cursor);
  }
  trimAudit(keep: number): Promise<void> {
    return this.memory.trimAudit(keep);
  }
}

function event(i: number): AuditEvent {
  return {
    at: 1_000 + i,
    node: "n1",
    tokenId: null,
    role: null,
    method: "POST",
    route: "/api/v1/workflows/:id/execute",
    path: `/api/v1/workflows/w${i}/execute`,
    status: 200,
    outcome: "ok",
    requestId: null,
  };
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

Deno.test("audit recorder: events of one linger go in one append; flush cuts the linger short", async () => {
  const log = new CountingLog();
  const audit = new AuditRecorder(log, silentLogger, { lingerMs: 60_000 });
  for (let i = 0; i < 30; i++) audit.record(event(i));
  await tick();
  assertEquals(log.appends, [], "lingering");
  await audit.flush();
  assertEquals(log.appends, [30]);
  assertStrictEquals((await log.listAudit(100)).items.length, 30);
  await audit.flush(); // nothing waiting: returns at once
  assertEquals(log.appends, [30]);
});

Deno.test("audit recorder: a full batch goes without the linger, one batch at a time", async () => {
  const log = new CountingLog();
  let open!: () => void;
  log.gate = new Promise((resolve) => open = resolve);
  const audit = new AuditRecorder(log, silentLogger, { lingerMs: 60_000 });
  for (let i = 0; i < AUDIT_BATCH_MAX * 2 + 7; i++) audit.record(event(i));
  await tick();
  assertEquals(log.appends, [AUDIT_BATCH_MAX], "the first full batch at once, the next waits for it");
  open();
  await waitUntil("the second full batch", () => log.appends.length === 2);
  assertEquals(log.appends, [AUDIT_BATCH_MAX, AUDIT_BATCH_MAX]);
  await tick();
  assertEquals(log.appends.length, 2, "the 7 left linger");
  await audit.flush();
  assertEquals(log.appends, [AUDIT_BATCH_MAX, AUDIT_BATCH_MAX, 7]);
});

Deno.test("audit recorder: after the linger the waiting events are appended without a flush", async () => {
  const log = new CountingLog();
  const audit = new AuditRecorder(log, silentLogger, { lingerMs: 5 });
  for (let i = 0; i < 3; i++) audit.record(event(i));
  await waitUntil("the lingering batch", () => log.appends.length === 1);
  assertEquals(log.appends, [3]);
  await audit.flush();
  // lingerMs 0: each event as it comes while none is being appended (the behaviour before the linger).
  const eager = new CountingLog();
  const now = new AuditRecorder(eager, silentLogger, { lingerMs: 0 });
  now.record(event(1));
  assertEquals(eager.appends, [1]);
  await now.flush();
  assert((await eager.listAudit(10)).items.length === 1);
});
