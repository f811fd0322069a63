/**
 * The bounds of one consume, as the adapters apply them: at most `maxMessages` messages and `maxBytes` bytes
 * of values (UTF-8). The first message that would pass either is refused, and so is every one after it: the
 * adapter gives those back to the broker, so a batch is always a prefix of what the broker handed over.
 *
 * @example
 * ```ts
 * import { BatchBounds } from "./bounds.ts";
 * const b = new BatchBounds(10, 5);
 * if (!b.take("abc") || b.take("abc") || b.take("a")) throw new Error("stops at the first overflow");
 * if (b.count !== 1 || b.bytes !== 3 || !b.stopped) throw new Error();
 * ```
 *
 * @module
 */

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

/** What one consume may still take: messages and bytes, refusing from the first that would pass them. */
export class BatchBounds {
  /** How many messages were taken. */
  count = 0;
  /** How many bytes of values were taken. */
  bytes = 0;
  #stopped = false;

  constructor(readonly maxMessages: number, readonly maxBytes: number) {}

  /** Whether nothing more is taken (the count is reached, or a message was refused). */
  get stopped(): boolean {
    return this.#stopped || this.count >= this.maxMessages;
  }

  /** How many more messages may be taken. */
  get room(): number {
    return this.stopped ? 0 : this.maxMessages - this.count;
  }

  /** Takes a message whose value is `value`, or refuses it (and every later one) when it would pass a bound. */
  take(value: string): boolean {
    if (this.stopped) return false;
    const size = utf8Length(value);
    if (this.bytes + size > this.maxBytes) {
      this.#stopped = true;
      return false;
    }
    this.count++;
    this.bytes += size;
    return true;
  }
}
