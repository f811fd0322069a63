/**
 * The bounds of one consume, as the adapters apply them: at most `maxMessages` messages and `maxBytes` bytes,
 * each message measured by the request's `measure` (by default its value's UTF-8 bytes; the executor counts
 * the record it becomes, as JSON). The first message that would pass either bound is refused, and so is every
 * one after it: the adapter gives those back to the broker, so a batch is always a prefix of what the broker
 * handed over.
 *
 * @example
 * ```ts
 * import { BatchBounds } from "./bounds.ts";
 * import { valueBytes } from "./bounds.ts";
 * const b = new BatchBounds(10, 5, valueBytes);
 * const m = (value: string) => ({ value, position: {} });
 * if (!b.take(m("abc")) || b.take(m("abc")) || b.take(m("a"))) throw new Error("stops at the first overflow");
 * if (b.count !== 1 || b.bytes !== 3 || !b.stopped) throw new Error();
 * ```
 *
 * @module
 */
import type { ConsumedMessage } from "../broker.ts";

/** The UTF-8 length of a text (a lone surrogate counts as U+FFFD, as the encoder writes it). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** The default measure of a message: its value's UTF-8 bytes. */
export function valueBytes(message: ConsumedMessage): number {
  return utf8Length(message.value);
}

/**
 * What one consume may still take: messages and bytes (each message of type `T` counted by `measure`),
 * refusing from the first that would pass them.
 */
export class BatchBounds<T = ConsumedMessage> {
  /** How many messages were taken. */
  count = 0;
  /** How many bytes were taken, as `measure` counts them. */
  bytes = 0;
  #stopped = false;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
    readonly measure: (message: T) => number,
  ) {}

  /** Whether nothing more is taken (the count is reached, or a message was refused). */
  get stopped(): boolean {
    return this.#stopped || this.count >= this.maxMessages;
  }

  /** How many more messages may be taken. */
  get room(): number {
    return this.stopped ? 0 : this.maxMessages - this.count;
  }

  /** Takes a message, or refuses it (and every later one) when it would pass a bound. */
  take(message: T): boolean {
    if (this.stopped) return false;
    const size = this.measure(message);
    if (this.bytes + size > this.maxBytes) {
      this.#stopped = true;
      return false;
    }
    this.count++;
    this.bytes += size;
    return true;
  }
}
