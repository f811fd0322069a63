/**
 * CSV per RFC 4180, both ways: a parser (quoted fields, `""` escapes, delimiters and
 * line breaks inside quotes, CRLF, LF or CR line ends, any one-character delimiter)
 * and a row formatter that quotes only the fields that need it.
 *
 * @module
 */
import { NodeError } from "./executor.ts";

/** Line end of written CSV, as RFC 4180 says. */
export const CSV_LINE_END = "\r\n";

/**
 * Checks a delimiter: one character, not a quote or a line break.
 *
 * @throws {NodeError} `csv_delimiter`, not retryable.
 */
export function checkDelimiter(delimiter: string): void {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === "\r" || delimiter === "\n") {
    throw new NodeError(
      "csv_delimiter",
      `CSV delimiter must be one character other than a quote or a line break, got ${
        JSON.stringify(delimiter)
      }`,
      false,
    );
  }
}

function parseError(message: string): NodeError {
  return new NodeError("csv_parse", `invalid CSV: ${message}`, false);
}

/**
 * Parses CSV text into rows of fields. A leading byte-order mark is dropped; an
 * empty line (not even `""`) is skipped, so a final line break adds no row. A quote
 * inside an unquoted field is kept as a literal character.
 *
 * @throws {NodeError} `csv_parse` on an unterminated quoted field or text right after a closing quote.
 */
export function parseCsv(text: string, delimiter = ","): string[][] {
  checkDelimiter(delimiter);
  const rows: string[][] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let row: string[] = [];
  let field = "";
  let quoted = false; // the current field was quoted
  let atFieldStart = true;

  const endRow = () => {
    if (row.length === 0 && field === "" && !quoted) return; // blank line
    row.push(field);
    rows.push(row);
    row = [];
    field = "";
    quoted = false;
    atFieldStart = true;
  };

  while (i < n) {
    const c = text[i];
    if (c === '"' && atFieldStart) {
      const startLine = line;
      let value = "";
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw parseError(`unterminated quoted field starting on line ${startLine}`);
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      for (let k = value.indexOf("\n"); k >= 0; k = value.indexOf("\n", k + 1)) line++;
      if (i < n && text[i] !== delimiter && text[i] !== "\n" && text[i] !== "\r") {
        throw parseError(`unexpected ${JSON.stringify(text[i])} after a closing quote on line ${line}`);
      }
      field = value;
      quoted = true;
      atFieldStart = false;
    } else if (c === delimiter) {
      row.push(field);
      field = "";
      quoted = false;
      atFieldStart = true;
      i++;
    } else if (c === "\n" || c === "\r") {
      endRow();
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
    } else {
      let j = i + 1;
      while (j < n) {
        const d = text[j];
        if (d === delimiter || d === "\n" || d === "\r") break;
        j++;
      }
      field += text.slice(i, j);
      atFieldStart = false;
      i = j;
    }
  }
  // A delimiter just before the end leaves an empty last field.
  if (row.length > 0 || field !== "" || quoted) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** One field, quoted when it holds the delimiter, a quote or a line break. */
export function formatCsvField(value: string, delimiter = ","): string {
  if (value.includes(delimiter) || value.includes('"') || value.includes("\n") || value.includes("\r")) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

/** One row of fields, without its line end. */
export function formatCsvRow(fields: readonly string[], delimiter = ","): string {
  return fields.map((f) => formatCsvField(f, delimiter)).join(delimiter);
}
