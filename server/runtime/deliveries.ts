/**
 * Settling what consumer nodes hold (`Delivery`): committed once the output of the attempt that took it is
 * durably in the history, released when it will not be. Each is settled at most once by the runtime; a
 * failure to settle is logged (the broker then redelivers: at-least-once).
 *
 * @example
 * ```ts
 * import { settleDeliveries } from "./deliveries.ts";
 * const seen: string[] = [];
 * const d = { commit: async () => void seen.push("c"), release: async () => void seen.push("r") };
 * const item = { command: { type: "FireTimer" as const, timerId: "t" }, delivery: d };
 * settleDeliveries([item], "release", () => {});
 * if (seen.join() !== "r" || item.delivery !== undefined) throw new Error();
 * ```
 *
 * @module
 */
import type { Delivery } from "../executors/broker.ts";

/** Something that may hold a delivery: a pending command, an attempt's result. */
export interface HoldsDelivery {
  delivery?: Delivery;
}

/** Called when a settle rejects: the broker redelivers what it held. */
export type SettleFailed = (action: "commit" | "release", err: unknown) => void;

/** Settles one delivery (not waited for: a broker's ack must never hold up a pump). */
export function settle(delivery: Delivery, action: "commit" | "release", failed: SettleFailed): void {
  let p: Promise<void>;
  try {
    p = delivery[action]();
  } catch (err) {
    failed(action, err);
    return;
  }
  p.catch((err) => failed(action, err));
}

/** Settles and forgets the delivery each holder carries, so none is settled twice. */
export function settleDeliveries(
  holders: Iterable<HoldsDelivery>,
  action: "commit" | "release",
  failed: SettleFailed,
): void {
  for (const h of holders) {
    const d = h.delivery;
    if (d === undefined) continue;
    h.delivery = undefined;
    settle(d, action, failed);
  }
}
