/**
 * Config schemas of node kinds, and the pure check that applies one to a node's
 * config: defaults filled in, numeric strings coerced only where the field says so,
 * every problem reported with its path.
 *
 * @module
 */
import { isSecretRef } from "./secret_ref.ts";

/** The JSON type a config field holds. */
export type FieldType = "string" | "number" | "integer" | "boolean" | "array" | "object" | "any";

/** One config field of a node kind (the old palette's `{type, required, default, label}`, extended). */
export interface FieldSpec {
  type: FieldType;
  required?: boolean;
  default?: unknown;
  label: string;
  description?: string;
  /** Accept a numeric string ("10") where a number is meant (the old UI sent strings). */
  coerce?: boolean;
  /** Allowed values. */
  enum?: readonly (string | number)[];
  /** Inclusive bounds for numbers and integers. */
  min?: number;
  max?: number;
  /** Upper bound on a string's length or an array's items. */
  maxLength?: number;
  /** The field holds an expression in the engine's expression language. */
  expression?: boolean;
}

/** A config schema: field name to its spec. */
export type ConfigSchema = Readonly<Record<string, FieldSpec>>;

/** A problem found in user input: where, what, and a stable code. */
export interface Problem {
  /** JSON path of the fault, e.g. `$.nodes[2].config.limit`. */
  path: string;
  code: string;
  message: string;
}

/** The result of checking a config: the normalised config and the problems found. */
export interface ConfigCheck {
  config: Record<string, unknown>;
  problems: Problem[];
}

const NUMERIC = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

const article = (type: string) => /^[aeiou]/.test(type) ? "an" : "a";

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/**
 * Checks `config` against `schema`. Unknown keys are kept (UI tools add their own).
 *
 * @example
 * ```ts
 * import { checkConfig } from "./schema.ts";
 * const r = checkConfig({ limit: { type: "integer", coerce: true, label: "Limit" } }, { limit: "10" }, "$.config");
 * if (r.config.limit !== 10 || r.problems.length !== 0) throw new Error("coercion");
 * ```
 */
export function checkConfig(schema: ConfigSchema, config: unknown, path: string): ConfigCheck {
  const problems: Problem[] = [];
  if (config === undefined || config === null) config = {};
  if (typeOf(config) !== "object") {
    return {
      config: {},
      problems: [{ path, code: "config_type", message: `config must be an object, got ${typeOf(config)}` }],
    };
  }
  const input = config as Record<string, unknown>;
  const out: Record<string, unknown> = { ...input };
  for (const [key, spec] of Object.entries(schema)) {
    const at = `${path}.${key}`;
    let value = input[key];
    if (value === undefined || value === null || value === "") {
      if (spec.default !== undefined) out[key] = spec.default;
      else if (spec.required) {
        problems.push({ path: at, code: "config_missing", message: `${key} (${spec.label}) is required` });
      } else delete out[key];
      continue;
    }
    if (isSecretRef(value)) {
      // Resolved when the node runs, to a string: it stands where a free string may.
      if ((spec.type === "string" || spec.type === "any") && !spec.enum) out[key] = value;
      else {
        problems.push({
          path: at,
          code: "config_type",
          message: `${key} cannot be a secret reference: a secret is a string, and ${key} must be ${
            spec.enum ? `one of ${spec.enum.join(", ")}` : `${article(spec.type)} ${spec.type}`
          }`,
        });
      }
      continue;
    }
    if ((spec.type === "number" || spec.type === "integer") && typeof value === "string") {
      if (spec.coerce && NUMERIC.test(value)) value = Number(value);
      else {
        problems.push({
          path: at,
          code: "config_type",
          message: `${key} must be ${article(spec.type)} ${spec.type}${
            spec.coerce ? " or a numeric string" : ""
          }, got "${value}"`,
        });
        continue;
      }
    }
    const actual = typeOf(value);
    const ok = spec.type === "any" ||
      (spec.type === "integer"
        ? typeof value === "number" && Number.isInteger(value)
        : actual === spec.type) ||
      (spec.type === "number" && actual === "number");
    if (!ok || (typeof value === "number" && !Number.isFinite(value))) {
      problems.push({
        path: at,
        code: "config_type",
        message: `${key} must be ${article(spec.type)} ${spec.type}, got ${actual}`,
      });
      continue;
    }
    if (spec.enum && !spec.enum.includes(value as string | number)) {
      problems.push({
        path: at,
        code: "config_enum",
        message: `${key} must be one of ${spec.enum.join(", ")}`,
      });
      continue;
    }
    if (typeof value === "number") {
      if (spec.min !== undefined && value < spec.min) {
        problems.push({ path: at, code: "config_range", message: `${key} must be ≥ ${spec.min}` });
        continue;
      }
      if (spec.max !== undefined && value > spec.max) {
        problems.push({ path: at, code: "config_range", message: `${key} must be ≤ ${spec.max}` });
        continue;
      }
    }
    if (spec.maxLength !== undefined && (typeof value === "string" || Array.isArray(value))) {
      if (value.length > spec.maxLength) {
        problems.push({ path: at, code: "config_range", message: `${key} is longer than ${spec.maxLength}` });
        continue;
      }
    }
    out[key] = value;
  }
  return { config: out, problems };
}
