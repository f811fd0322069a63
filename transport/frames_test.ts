import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { decodeFrame, type Encoded, takeFrame, utf8Length } from "./frames.ts";
import { importSecret, newNonce, parseHandshake, prove, timingSafeEqual, verifyProof } from "./handshake.ts";

const enc = (text: string): Encoded => ({ text, bytes: utf8Length(text) });

Deno.test("frames: utf8Length matches TextEncoder", () => {
  for (const s of ["", "abc", "é", "€", "😀", "a😀b€é", "\ud800", "x\udc00y"]) {
    assertStrictEquals(utf8Length(s), new TextEncoder().encode(s).length, JSON.stringify(s));
  }
});

Deno.test("frames: takeFrame respects the byte and count limits, and always takes one", () => {
  const q = ["1", "22", "333", "4444"].map(enc);
  assertEquals(takeFrame(q, 8, 10), { frame: "[1,22]", count: 2, bytes: 3 });
  assertEquals(takeFrame(q, 1, 10), { frame: "[333]", count: 1, bytes: 3 }, "one even when over");
  assertEquals(takeFrame(q, 100, 10), { frame: "[4444]", count: 1, bytes: 4 });
  assertStrictEquals(q.length, 0);
  const many = Array.from({ length: 5 }, (_, i) => enc(String(i)));
  assertEquals(takeFrame(many, 1000, 2).frame, "[0,1]");
});

Deno.test("frames: decodeFrame tells data, ping and garbage apart", () => {
  assertEquals(decodeFrame("[1,2]"), { kind: "data", items: [1, 2] });
  assertEquals(decodeFrame('{"t":"ping"}'), { kind: "ping" });
  assertStrictEquals(decodeFrame("{").kind, "invalid");
  assertStrictEquals(decodeFrame('{"t":"other"}').kind, "invalid");
});

Deno.test("handshake: proofs verify only with the same secret, nonce and id", async () => {
  const key = await importSecret("s");
  const other = await importSecret(new TextEncoder().encode("t"));
  const nonce = newNonce();
  assertStrictEquals(nonce.length, 32);
  const proof = await prove(key, nonce, "a");
  assert(await verifyProof(key, nonce, "a", proof));
  assert(!(await verifyProof(other, nonce, "a", proof)), "other secret");
  assert(!(await verifyProof(key, newNonce(), "a", proof)), "other nonce");
  assert(!(await verifyProof(key, nonce, "b", proof)), "other id");
  assert(!(await verifyProof(key, nonce, "a", 42)), "not a string");
  assert(!timingSafeEqual(new Uint8Array([1]), new Uint8Array([1, 2])));
  assert(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
});

Deno.test("handshake: parseHandshake accepts only well-formed frames", () => {
  assertEquals(parseHandshake('{"t":"challenge","nonce":"n"}'), { t: "challenge", nonce: "n" });
  assertStrictEquals(parseHandshake('{"t":"auth","nodeId":"a","nonce":"n"}'), undefined, "no hmac");
  assertStrictEquals(parseHandshake('{"t":"ok","nodeId":1,"hmac":"h"}'), undefined);
  assertStrictEquals(parseHandshake(`{"t":"challenge","nonce":"${"x".repeat(300)}"}`), undefined, "too long");
  assertStrictEquals(parseHandshake("[]"), undefined);
  assertStrictEquals(parseHandshake("nope"), undefined);
});
