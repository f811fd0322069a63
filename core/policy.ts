/**
 * Retry policy defaults and the backoff they give.
 *
 * @module
 */
import type { RetryPolicy } from "./workflow.ts";

/** The retry policy of a node that sets none: 3 attempts, 1 s, ×2, at most 60 s. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 3,
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maxIntervalMs: 60_000,
});

/** A node's effective policy: its own fields over the defaults. */
export function retryPolicy(partial: Partial<RetryPolicy> | undefined): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, ...(partial ?? {}) };
}

/**
 * The wait before the attempt after `failedAttempt` (1-based): exponential, capped.
 *
 * @example
 * ```ts
 * import { backoffMs, DEFAULT_RETRY_POLICY } from "./policy.ts";
 * if (backoffMs(DEFAULT_RETRY_POLICY, 1) !== 1000 || backoffMs(DEFAULT_RETRY_POLICY, 2) !== 2000) throw new Error();
 * ```
 */
export function backoffMs(policy: RetryPolicy, failedAttempt: number): number {
  const raw = policy.initialIntervalMs * Math.pow(policy.backoffCoefficient, failedAttempt - 1);
  return Math.round(Math.min(policy.maxIntervalMs, raw));
}
