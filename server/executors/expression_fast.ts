/**
 * A fast path for the simple expressions most workflows use (`value * 2`,
 * `amount > 10 and status = "ok"`, `price * qty`): a JSONata AST made only of
 * field paths, literals, the variables `$index` / `$record` / `$input`, arithmetic,
 * comparison, `and` / `or`, `&`, unary minus, `? :` and parentheses is compiled
 * once into a plain JavaScript closure. It is evaluated synchronously, with no
 * allocation beyond its result.
 *
 * The closure never guesses: whenever JSONata's semantics depend on something it
 * does not model (an array or object operand, a number to format, a non-finite
 * result, an operation JSONata rejects), it returns {@link SLOW} and the caller
 * evaluates the expression with JSONata itself. `expression_fast_test.ts` checks
 * this against JSONata on generated expressions and records.
 *
 * @module
 */
import type { Json } from "../../core/json.ts";

/** "Ask JSONata": the fast path does not decide this case. */
export const SLOW: unique symbol = Symbol("slow");

/** What a fast closure sees: the JSONata input (an object), the record, its index and the execution input. */
export interface FastScope {
  input: Json;
  record: Json;
  index: number;
  executionInput: Json;
}

/** A compiled fast expression: JSON (or `undefined`, JSONata's "nothing") or {@link SLOW}. */
export type FastExpression = (scope: FastScope) => Json | undefined | typeof SLOW;

/** A JSONata AST node, as `jsonata(text).ast()` returns it (only the fields read here). */
interface AstNode {
  type: string;
  value?: unknown;
  position?: number;
  lhs?: AstNode;
  rhs?: AstNode;
  steps?: AstNode[];
  expression?: AstNode;
  expressions?: AstNode[];
  condition?: AstNode;
  then?: AstNode;
  else?: AstNode;
}

/** The fields each supported node type may have; any other field (a predicate, a stage, a group...) is unsupported. */
const ALLOWED: Record<string, ReadonlySet<string>> = {
  number: new Set(["type", "value", "position"]),
  string: new Set(["type", "value", "position"]),
  value: new Set(["type", "value", "position"]),
  variable: new Set(["type", "value", "position"]),
  name: new Set(["type", "value", "position"]),
  path: new Set(["type", "steps"]),
  binary: new Set(["type", "value", "position", "lhs", "rhs"]),
  unary: new Set(["type", "value", "position", "expression"]),
  block: new Set(["type", "position", "expressions"]),
  condition: new Set(["type", "position", "condition", "then", "else"]),
};

type Value = Json | undefined | typeof SLOW;
type Fn = (s: FastScope) => Value;

/** A primitive JSONata handles the same way JavaScript does. */
function isPrimitive(v: Value): v is string | number | boolean | null {
  return v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

/** JSONata's boolean cast, for primitives and "nothing"; `SLOW` for anything else. */
function truth(v: Value): boolean | typeof SLOW {
  if (v === undefined || v === null) return false;
  switch (typeof v) {
    case "boolean":
      return v;
    case "number":
      return v !== 0;
    case "string":
      return v.length > 0;
  }
  return SLOW;
}

/** `$string` of a primitive, when it is simple to get right; `SLOW` otherwise. */
function text(v: Value): string | typeof SLOW {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "boolean" || v === null) return String(v);
  if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
  return SLOW;
}

function isPlainObject(v: unknown): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function compileNode(node: AstNode): Fn | undefined {
  const allowed = ALLOWED[node.type];
  if (!allowed) return undefined;
  for (const key of Object.keys(node)) {
    if (!allowed.has(key)) return undefined;
  }
  switch (node.type) {
    case "number":
    case "string":
    case "value": {
      const v = node.value;
      if (!isPrimitive(v as Value)) return undefined;
      return () => v as Json;
    }
    case "variable":
      return compileVariable(String(node.value));
    case "path":
      return compilePath(node.steps ?? []);
    case "block":
      return node.expressions?.length === 1 ? compileNode(node.expressions[0]) : undefined;
    case "unary": {
      if (node.value !== "-" || !node.expression) return undefined;
      const inner = compileNode(node.expression);
      if (!inner) return undefined;
      return (s) => {
        const v = inner(s);
        if (v === undefined) return undefined;
        return typeof v === "number" ? -v : SLOW;
      };
    }
    case "condition": {
      if (!node.condition || !node.then) return undefined;
      const cond = compileNode(node.condition);
      const then = compileNode(node.then);
      const otherwise = node.else ? compileNode(node.else) : () => undefined;
      if (!cond || !then || !otherwise) return undefined;
      return (s) => {
        const c = cond(s);
        if (c === SLOW) return SLOW;
        const t = truth(c);
        if (t === SLOW) return SLOW;
        return t ? then(s) : otherwise(s);
      };
    }
    case "binary":
      return compileBinary(node);
  }
  return undefined;
}

function compileVariable(name: string): Fn | undefined {
  const pick = name === "index"
    ? (s: FastScope) => s.index
    : name === "record"
    ? (s: FastScope) => s.record
    : name === "input"
    ? (s: FastScope) => s.executionInput
    : undefined;
  if (!pick) return undefined;
  return (s) => {
    const v = pick(s);
    return isPrimitive(v) ? v : SLOW;
  };
}

function compilePath(steps: AstNode[]): Fn | undefined {
  if (steps.length === 0 || steps.length > 8) return undefined;
  const names: string[] = [];
  for (const step of steps) {
    if (step.type !== "name" || typeof step.value !== "string") return undefined;
    for (const key of Object.keys(step)) {
      if (!ALLOWED.name.has(key)) return undefined;
    }
    names.push(step.value);
  }
  return (s) => {
    let v: unknown = s.input;
    for (const name of names) {
      if (!isPlainObject(v)) return SLOW;
      v = Object.hasOwn(v, name) ? v[name] : undefined;
      if (v === undefined) return undefined;
    }
    return isPrimitive(v as Value) ? (v as Json) : SLOW;
  };
}

function compileBinary(node: AstNode): Fn | undefined {
  if (!node.lhs || !node.rhs) return undefined;
  const lhs = compileNode(node.lhs);
  const rhs = compileNode(node.rhs);
  if (!lhs || !rhs) return undefined;
  switch (node.value) {
    case "+":
    case "-":
    case "*":
    case "/":
    case "%": {
      const op = arithmetic[node.value];
      return (s) => {
        const a = lhs(s);
        const b = rhs(s);
        if (a === SLOW || b === SLOW) return SLOW;
        if (typeof a !== "number" || typeof b !== "number") {
          // Nothing and a number (or nothing) is nothing; any other operand is JSONata's to judge.
          const numberOrNothing = (v: Value) => v === undefined || typeof v === "number";
          return (a === undefined || b === undefined) && numberOrNothing(a) && numberOrNothing(b)
            ? undefined
            : SLOW;
        }
        const r = op(a, b);
        return Number.isFinite(r) ? r : SLOW;
      };
    }
    case "=":
    case "!=": {
      const negate = node.value === "!=";
      return (s) => {
        const a = lhs(s);
        const b = rhs(s);
        if (a === SLOW || b === SLOW) return SLOW;
        if (a === undefined || b === undefined) return false;
        if (!isPrimitive(a) || !isPrimitive(b)) return SLOW;
        return negate ? a !== b : a === b;
      };
    }
    case "<":
    case "<=":
    case ">":
    case ">=": {
      const op = ordering[node.value];
      return (s) => {
        const a = lhs(s);
        const b = rhs(s);
        if (a === SLOW || b === SLOW) return SLOW;
        const ta = typeof a;
        const tb = typeof b;
        if (ta === "undefined" || tb === "undefined") {
          const comparable = (t: string) => t === "undefined" || t === "number" || t === "string";
          return comparable(ta) && comparable(tb) ? undefined : SLOW;
        }
        if ((ta !== "number" && ta !== "string") || ta !== tb) return SLOW;
        return op(a as number, b as number);
      };
    }
    case "and":
    case "or": {
      const isAnd = node.value === "and";
      return (s) => {
        const a = lhs(s);
        if (a === SLOW) return SLOW;
        const ta = truth(a);
        if (ta === SLOW) return SLOW;
        if (isAnd ? !ta : ta) return ta;
        const b = rhs(s);
        if (b === SLOW) return SLOW;
        return truth(b);
      };
    }
    case "&":
      return (s) => {
        const a = lhs(s);
        const b = rhs(s);
        if (a === SLOW || b === SLOW) return SLOW;
        const x = text(a);
        const y = text(b);
        return x === SLOW || y === SLOW ? SLOW : x + y;
      };
  }
  return undefined;
}

const arithmetic: Record<string, (a: number, b: number) => number> = {
  "+": (a, b) => a + b,
  "-": (a, b) => a - b,
  "*": (a, b) => a * b,
  "/": (a, b) => a / b,
  "%": (a, b) => a % b,
};

const ordering: Record<string, (a: number | string, b: number | string) => boolean> = {
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  ">": (a, b) => a > b,
  ">=": (a, b) => a >= b,
};

/**
 * Compiles a JSONata AST into a fast closure, or returns `undefined` when it uses
 * anything beyond the simple subset (functions, predicates, arrays, objects...).
 *
 * @example
 * ```ts
 * import jsonata from "npm:jsonata@2.2.2";
 * import { compileFast, SLOW } from "./expression_fast.ts";
 * const fast = compileFast(jsonata("value * 2").ast())!;
 * const r = fast({ input: { value: 21 }, record: 21, index: 0, executionInput: null });
 * if (r === SLOW || r !== 42) throw new Error("expected 42");
 * ```
 */
export function compileFast(ast: unknown): FastExpression | undefined {
  if (typeof ast !== "object" || ast === null) return undefined;
  return compileNode(ast as AstNode);
}
