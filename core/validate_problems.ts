/**
 * The problems a workflow validation reports: every code a problem can have, and
 * the collector the validation steps add problems to (with the checks of a field's
 * JSON type, ids, timeouts and retry policies that several steps share).
 *
 * @module
 */
import type { Problem } from "./schema.ts";

/** Every code a workflow problem can have. */
export const PROBLEM_CODES = {
  /** Not an object, or a field of the wrong JSON type. */
  type: "type",
  /** A required field is missing. */
  required: "required",
  /** A workflow or node id is not 1..128 characters of `[A-Za-z0-9._:-]`. */
  idFormat: "id_format",
  /** The workflow has no nodes. */
  emptyGraph: "empty_graph",
  /** Two nodes share an id (reported at the second one). */
  duplicateNodeId: "duplicate_node_id",
  /** Two edges share source, target, source handle and target handle. */
  duplicateEdge: "duplicate_edge",
  /** An edge's source or target names no node. */
  unknownNode: "unknown_node",
  /** The edges form a cycle. */
  cycle: "cycle",
  /** The (`type`, `nodeType`) pair is not in the catalog. */
  unknownNodeKind: "unknown_node_kind",
  /** `type` is not one of source, transform, sink, control. */
  unknownNodeType: "unknown_node_type",
  /** A required config field is missing. */
  configMissing: "config_missing",
  /** A config field has the wrong type. */
  configType: "config_type",
  /** A config field is not one of its allowed values. */
  configEnum: "config_enum",
  /** A config field is out of its bounds. */
  configRange: "config_range",
  /** A custom node kind's config schema refused a value (`defineNodeKind`; the message is the schema's). */
  configInvalid: "config_invalid",
  /** An edge leads into a node kind that takes no input. */
  sourceHasInput: "source_has_input",
  /** An edge leaves a node kind that has no outputs. */
  sinkHasOutput: "sink_has_output",
  /** An edge's source handle is not one of its source kind's outputs. */
  unknownHandle: "unknown_handle",
  /** More nodes than `maxNodes`. */
  tooManyNodes: "too_many_nodes",
  /** More edges than `maxEdges`. */
  tooManyEdges: "too_many_edges",
  /** The JSON text is larger than `maxBytes`. */
  tooLarge: "too_large",
  /** A node's retry policy is malformed. */
  retryPolicy: "retry_policy",
  /** A node's or the workflow's `timeoutMs` is not a positive integer ≤ 7 days. */
  timeout: "timeout",
  /** A malformed `{"$secret": "NAME"}` reference, or one in a node kind that cannot resolve it. */
  secretRef: "secret_ref",
  /** The workflow's `retentionMs` is not an integer from 0 to 10 years. */
  retention: "retention",
} as const;

/** A workflow problem code. */
export type ProblemCode = (typeof PROBLEM_CODES)[keyof typeof PROBLEM_CODES];

/** The longest `timeoutMs` accepted: 7 days. */
export const MAX_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;

/** The longest `retentionMs` accepted: 10 years of 365 days. */
export const MAX_RETENTION_MS = 10 * 365 * 24 * 60 * 60 * 1000;

const ID_FORMAT = /^[A-Za-z0-9._:-]{1,128}$/;
const C = PROBLEM_CODES;

/** A JSON object of a definition being validated. */
export type Json = Record<string, unknown>;

/** Whether a value is a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value's JSON type for messages: `null`, `array`, or its `typeof`. */
export function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** A value for messages: a string quoted (and cut past 60 characters), anything else by its type. */
export function show(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  return typeOf(value);
}

/** A JSON type a field can be expected to have. */
export type Expected = "string" | "boolean" | "object" | "array" | "number";

/** Whether a value has an expected JSON type (a number must be finite). */
export function hasType(value: unknown, expected: Expected): boolean {
  switch (expected) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
  }
}

/** Collects problems; one instance per validation. */
export class Problems {
  readonly list: Problem[] = [];

  /** Adds one problem. */
  add(path: string, code: ProblemCode | string, message: string): void {
    this.list.push({ path, code, message });
  }

  /** An optional field: when present, it must have the expected JSON type. */
  optional(obj: Json, key: string, expected: Expected, path: string): boolean {
    const value = obj[key];
    if (value === undefined) return true;
    if (hasType(value, expected)) return true;
    this.add(`${path}.${key}`, C.type, `${key} must be ${article(expected)}, got ${typeOf(value)}`);
    return false;
  }

  /** A required string field: present and a string. Returns it when it is one. */
  requiredString(obj: Json, key: string, path: string, what: string): string | undefined {
    const value = obj[key];
    if (value === undefined || value === null) {
      this.add(`${path}.${key}`, C.required, `${what} is required`);
      return undefined;
    }
    if (typeof value !== "string") {
      this.add(`${path}.${key}`, C.type, `${what} must be a string, got ${typeOf(value)}`);
      return undefined;
    }
    return value;
  }

  /** An id: 1..128 characters of `[A-Za-z0-9._:-]`. */
  id(value: string, path: string, what: string): void {
    if (!ID_FORMAT.test(value)) {
      this.add(path, C.idFormat, `${what} ${show(value)} must be 1 to 128 characters of A-Z a-z 0-9 . _ : -`);
    }
  }

  /** An optional `timeoutMs`: a positive integer ≤ {@link MAX_TIMEOUT_MS}. */
  timeout(value: unknown, path: string): void {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > MAX_TIMEOUT_MS) {
      this.add(
        path,
        C.timeout,
        `timeoutMs must be a positive integer of milliseconds ≤ ${MAX_TIMEOUT_MS} (7 days), got ${
          typeof value === "number" ? value : typeOf(value)
        }`,
      );
    }
  }

  /** An optional `retentionMs`: an integer from 0 (kept forever) to {@link MAX_RETENTION_MS}. */
  retention(value: unknown, path: string): void {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_RETENTION_MS) {
      this.add(
        path,
        C.retention,
        `retentionMs must be an integer of milliseconds from 0 (kept forever) to ${MAX_RETENTION_MS} (10 years), got ${
          typeof value === "number" ? value : typeOf(value)
        }`,
      );
    }
  }

  /** An optional retry policy: each field of its type and in its bounds. */
  retry(value: unknown, path: string): void {
    if (value === undefined) return;
    if (!isObject(value)) {
      this.add(path, C.retryPolicy, `retry must be an object, got ${typeOf(value)}`);
      return;
    }
    const num = (key: string): number | undefined => {
      const v = value[key];
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !Number.isFinite(v)) {
        this.add(`${path}.${key}`, C.retryPolicy, `${key} must be a number, got ${typeOf(v)}`);
        return undefined;
      }
      return v;
    };
    const maxAttempts = num("maxAttempts");
    if (
      maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100)
    ) {
      this.add(
        `${path}.maxAttempts`,
        C.retryPolicy,
        `maxAttempts must be an integer from 1 to 100, got ${maxAttempts}`,
      );
    }
    const initial = num("initialIntervalMs");
    if (initial !== undefined && initial < 0) {
      this.add(`${path}.initialIntervalMs`, C.retryPolicy, `initialIntervalMs must be ≥ 0, got ${initial}`);
    }
    const coefficient = num("backoffCoefficient");
    if (coefficient !== undefined && coefficient < 1) {
      this.add(
        `${path}.backoffCoefficient`,
        C.retryPolicy,
        `backoffCoefficient must be ≥ 1, got ${coefficient}`,
      );
    }
    const max = num("maxIntervalMs");
    if (max !== undefined) {
      if (max < 0) {
        this.add(`${path}.maxIntervalMs`, C.retryPolicy, `maxIntervalMs must be ≥ 0, got ${max}`);
      } else if (initial !== undefined && initial >= 0 && max < initial) {
        this.add(
          `${path}.maxIntervalMs`,
          C.retryPolicy,
          `maxIntervalMs (${max}) must be ≥ initialIntervalMs (${initial})`,
        );
      }
    }
  }
}

function article(expected: Expected): string {
  return expected === "array" || expected === "object" ? `an ${expected}` : `a ${expected}`;
}
