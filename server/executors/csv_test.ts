import { assert, assertEquals, assertStrictEquals, assertThrows } from "../../testing/assert.ts";
import { NodeError } from "./executor.ts";
import { formatCsvField, formatCsvRow, parseCsv } from "./csv.ts";

const code = (c: string) => (e: unknown) => e instanceof NodeError && e.code === c && !e.retryable;

Deno.test("parseCsv: plain rows, CRLF and LF, no trailing empty row", () => {
  assertEquals(parseCsv("a,b\r\n1,2\r\n"), [["a", "b"], ["1", "2"]]);
  assertEquals(parseCsv("a,b\n1,2"), [["a", "b"], ["1", "2"]]);
  assertEquals(parseCsv("a\rb\r"), [["a"], ["b"]]);
  assertEquals(parseCsv(""), []);
  assertEquals(parseCsv("\ufeffx,y\n"), [["x", "y"]]);
});

Deno.test("parseCsv: quotes, escaped quotes, delimiters and newlines inside quotes", () => {
  const text = 'name,note\n"Smith, J","said ""hi""\nthen left"\n"",x\n';
  assertEquals(parseCsv(text), [["name", "note"], ["Smith, J", 'said "hi"\nthen left'], ["", "x"]]);
  assertEquals(parseCsv('a,"b\r\nc",d'), [["a", "b\r\nc", "d"]]);
  assertEquals(parseCsv('5" screen,x'), [['5" screen', "x"]]);
});

Deno.test("parseCsv: empty fields, blank lines skipped, a lone quoted empty kept", () => {
  assertEquals(parseCsv("a,,c\n,\n\n\nx"), [["a", "", "c"], ["", ""], ["x"]]);
  assertEquals(parseCsv('""\n'), [[""]]);
  assertEquals(parseCsv("a,"), [["a", ""]]);
});

Deno.test("parseCsv: custom delimiter", () => {
  assertEquals(parseCsv('a;b;"c;d"\n1;2;3', ";"), [["a", "b", "c;d"], ["1", "2", "3"]]);
  assertEquals(parseCsv("a\tb,c", "\t"), [["a", "b,c"]]);
  assertThrows(() => parseCsv("a", '"'), code("csv_delimiter"));
});

Deno.test("parseCsv: unterminated quote and junk after a closing quote fail", () => {
  assertThrows(
    () => parseCsv('a\n"open,b\nc'),
    (e) => code("csv_parse")(e) && (e as Error).message.includes("line 2"),
  );
  assertThrows(() => parseCsv('"a"b,c'), code("csv_parse"));
});

Deno.test("formatCsvField quotes only when needed and round-trips", () => {
  assertStrictEquals(formatCsvField("plain"), "plain");
  assertStrictEquals(formatCsvField("a,b"), '"a,b"');
  assertStrictEquals(formatCsvField('say "x"'), '"say ""x"""');
  assertStrictEquals(formatCsvField("a;b", ","), "a;b");
  assertStrictEquals(formatCsvField("a;b", ";"), '"a;b"');
  const row = ["a,b", 'q"q', "line\nbreak", "", "x\r\ny"];
  assertEquals(parseCsv(formatCsvRow(row) + "\r\n"), [row]);
  assert(formatCsvRow(["1", "2"], "|") === "1|2");
});
