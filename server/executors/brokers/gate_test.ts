import { assert, assertEquals } from "../../../testing/assert.ts";
import { NodeError } from "../executor.ts";
import { Gate } from "./gate.ts";

const signal = new AbortController().signal;

Deno.test("gate: a place given back goes to the longest waiting, not to a newcomer (FIFO)", async () => {
  const gate = new Gate(1, 1, "reads");
  await gate.enter(signal); // a holds it
  const order: string[] = [];
  const track = (name: string, entered: Promise<void>) =>
    entered.then(() => void order.push(name), (e) => void order.push(`${name} refused: ${e.code}`));
  const b = track("b", gate.enter(signal)); // waits
  gate.leave(); // a leaves: the place is b's
  const c = track("c", gate.enter(signal)); // comes later: waits behind b
  const d = track("d", gate.enter(signal)); // one may wait: refused
  await Promise.race([b, c]);
  await d;
  assertEquals(order, ["b", "d refused: broker_error"]);
  assertEquals(gate.held, 1);
  gate.leave(); // b leaves: the place is c's
  await c;
  assertEquals(order, ["b", "d refused: broker_error", "c"]);
  gate.leave();
  assertEquals(gate.held, 0);
});

Deno.test("gate: an aborted wait leaves the line; closing refuses the waiting and later ones", async () => {
  const gate = new Gate(1, 2, "reads");
  await gate.enter(signal);
  const abort = new AbortController();
  const aborted = gate.enter(abort.signal).catch((e) => e);
  const waiting = gate.enter(signal).catch((e) => e);
  abort.abort(new Error("stop"));
  assertEquals((await aborted).message, "stop");
  gate.close();
  for (const e of [await waiting, await gate.enter(signal).catch((e) => e)]) {
    assert(e instanceof NodeError, String(e));
    assertEquals(e.code, "broker_unreachable");
  }
});
