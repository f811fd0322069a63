/**
 * A lean HTTP/1.1 client for the load generator: keep-alive connections over
 * `Deno.connect`, one request at a time per connection, `Content-Length` and
 * chunked bodies. `fetch` costs the generator several times the CPU per request,
 * and the generator shares the machine's cores with the node it measures.
 *
 * @module
 */

/** A response: status, lower-cased headers, body text. */
export interface LeanResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF2 = [13, 10, 13, 10];
/** Bound on one response (headers and body). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

function indexOfSeq(buf: Uint8Array, seq: number[], from: number, to: number): number {
  outer: for (let i = from; i + seq.length <= to; i++) {
    for (let j = 0; j < seq.length; j++) if (buf[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

/** One keep-alive connection; requests on it run one after another. */
export class LeanConnection {
  #conn: Deno.TcpConn | undefined;
  #buf = new Uint8Array(64 * 1024);
  #len = 0;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(readonly host: string, readonly port: number) {}

  /** Sends one request and reads its response; queued behind the connection's previous request. */
  request(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body = "",
  ): Promise<LeanResponse> {
    const run = this.#chain.then(() => this.#request(method, path, headers, body));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #request(method: string, path: string, headers: Record<string, string>, body: string) {
    if (!this.#conn) {
      this.#conn = await Deno.connect({ hostname: this.host, port: this.port });
      this.#conn.setNoDelay(true);
      this.#len = 0;
    }
    const payload = encoder.encode(body);
    let head =
      `${method} ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\ncontent-length: ${payload.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const headBytes = encoder.encode(head + "\r\n");
    const out = new Uint8Array(headBytes.length + payload.length);
    out.set(headBytes);
    out.set(payload, headBytes.length);
    try {
      for (let off = 0; off < out.length;) off += await this.#conn.write(out.subarray(off));
      return await this.#read();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  async #fill(): Promise<void> {
    if (this.#len === this.#buf.length) {
      if (this.#buf.length * 2 > MAX_RESPONSE_BYTES) throw new Error("response too large");
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf.subarray(0, this.#len));
      this.#buf = bigger;
    }
    const n = await this.#conn!.read(this.#buf.subarray(this.#len));
    if (n === null) throw new Error("connection closed by the server");
    this.#len += n;
  }

  #consume(n: number): void {
    this.#buf.copyWithin(0, n, this.#len);
    this.#len -= n;
  }

  async #read(): Promise<LeanResponse> {
    let end: number;
    while ((end = indexOfSeq(this.#buf, CRLF2, 0, this.#len)) < 0) await this.#fill();
    const lines = decoder.decode(this.#buf.subarray(0, end)).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    this.#consume(end + 4);
    let body: string;
    const length = headers.get("content-length");
    if (length !== undefined) {
      const n = Number(length);
      while (this.#len < n) await this.#fill();
      body = decoder.decode(this.#buf.subarray(0, n));
      this.#consume(n);
    } else if (headers.get("transfer-encoding")?.includes("chunked")) {
      const parts: string[] = [];
      for (;;) {
        let eol: number;
        while ((eol = indexOfSeq(this.#buf, [13, 10], 0, this.#len)) < 0) await this.#fill();
        const size = parseInt(decoder.decode(this.#buf.subarray(0, eol)), 16);
        this.#consume(eol + 2);
        while (this.#len < size + 2) await this.#fill();
        if (size === 0) {
          this.#consume(2);
          break;
        }
        parts.push(decoder.decode(this.#buf.subarray(0, size)));
        this.#consume(size + 2);
      }
      body = parts.join("");
    } else {
      throw new Error("a response without Content-Length or chunked encoding");
    }
    if (headers.get("connection") === "close") this.close();
    return { status, headers, body };
  }

  /** Closes the connection (the next request opens a new one). */
  close(): void {
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    this.#conn = undefined;
    this.#len = 0;
  }
}

/**
 * A pool of keep-alive connections to one base URL: a request takes an idle
 * connection, or opens one (up to `size`), or waits for one.
 *
 * @example
 * ```ts ignore
 * const pool = new LeanPool("http://127.0.0.1:8080", 64);
 * const r = await pool.request("GET", "/health");
 * pool.close();
 * ```
 */
export class LeanPool {
  #idle: LeanConnection[] = [];
  #all: LeanConnection[] = [];
  #waiting: ((c: LeanConnection) => void)[] = [];
  readonly host: string;
  readonly port: number;

  constructor(baseUrl: string, readonly size: number) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
  }

  async request(method: string, path: string, headers?: Record<string, string>, body?: string) {
    const conn = await this.#take();
    try {
      return await conn.request(method, path, headers, body);
    } finally {
      this.#give(conn);
    }
  }

  #take(): Promise<LeanConnection> {
    const idle = this.#idle.pop();
    if (idle) return Promise.resolve(idle);
    if (this.#all.length < this.size) {
      const c = new LeanConnection(this.host, this.port);
      this.#all.push(c);
      return Promise.resolve(c);
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #give(conn: LeanConnection): void {
    const next = this.#waiting.shift();
    if (next) next(conn);
    else this.#idle.push(conn);
  }

  /** Closes every connection. */
  close(): void {
    for (const c of this.#all) c.close();
  }
}
