/**
 * The control kinds that steer an execution from inside it: `switch` (many-way branch), `terminate` (end the
 * run), `workflow.run` (a sub-workflow) and `foreach` (a sub-workflow per record). Pure data, like the rest
 * of the catalog (`catalog.ts` lists them).
 *
 * @module
 */
import type { NodeKindSpec } from "./catalog.ts";
import type { Problem } from "./schema.ts";

/** The handle a `switch` takes when no case matches. */
export const SWITCH_DEFAULT = "default";
/** Most cases of one `switch`. */
export const MAX_SWITCH_CASES = 64;
/** The default and the largest `maxItems` of a `foreach`. */
export const FOREACH_MAX_ITEMS = { default: 10_000, max: 100_000 } as const;
/** The default and the largest `maxConcurrency` of a `foreach`. */
export const FOREACH_MAX_CONCURRENCY = { default: 10, max: 1_000 } as const;
/** How deep sub-workflows nest: a child of a child … at most this many levels below a top execution. */
export const MAX_WORKFLOW_DEPTH = 8;

const HANDLE = /^[A-Za-z0-9_.-]{1,64}$/;

/** The case handles of a switch's config, in order (only well-formed ones). */
export function switchCases(config: Record<string, unknown>): { handle: string; when: string }[] {
  const cases = Array.isArray(config.cases) ? config.cases : [];
  return cases.flatMap((c) =>
    c !== null && typeof c === "object" && typeof c.handle === "string" && typeof c.when === "string"
      ? [{ handle: c.handle, when: c.when }]
      : []
  );
}

/**
 * The output handles of a switch: its cases' handles, then `default`.
 *
 * @example
 * ```ts
 * import { switchHandles } from "./catalog_control.ts";
 * const h = switchHandles({ cases: [{ handle: "big", when: "value > 10" }] });
 * if (h.join() !== "big,default") throw new Error(h.join());
 * ```
 */
export function switchHandles(config: Record<string, unknown>): string[] {
  return [...switchCases(config).map((c) => c.handle), SWITCH_DEFAULT];
}

function switchCheck(config: Record<string, unknown>, path: string): Problem[] {
  const cases = config.cases;
  if (!Array.isArray(cases)) return [];
  const problems: Problem[] = [];
  if (cases.length === 0 || cases.length > MAX_SWITCH_CASES) {
    problems.push({
      path: `${path}.cases`,
      code: "config_range",
      message: `a switch has 1 to ${MAX_SWITCH_CASES} cases`,
    });
  }
  const seen = new Set<string>();
  cases.forEach((c, i) => {
    const at = `${path}.cases[${i}]`;
    if (c === null || typeof c !== "object" || Array.isArray(c)) {
      problems.push({ path: at, code: "config_type", message: "a case is an object {handle, when}" });
      return;
    }
    if (typeof c.handle !== "string" || !HANDLE.test(c.handle) || c.handle === SWITCH_DEFAULT) {
      problems.push({
        path: `${at}.handle`,
        code: "config_type",
        message: `handle is 1..64 characters of [A-Za-z0-9_.-], not "${SWITCH_DEFAULT}"`,
      });
    } else if (seen.has(c.handle)) {
      problems.push({ path: `${at}.handle`, code: "config_range", message: `handle ${c.handle} repeats` });
    } else seen.add(c.handle);
    if (typeof c.when !== "string" || c.when.trim() === "") {
      problems.push({ path: `${at}.when`, code: "config_type", message: "when is an expression (a string)" });
    }
  });
  return problems;
}

const workflowField = {
  type: "string",
  required: true,
  maxLength: 128,
  label: "Workflow",
  description: "the id of the workflow to run",
} as const;
const versionField = {
  type: "integer",
  coerce: true,
  min: 1,
  label: "Version",
  description: "a pinned version of that workflow; default: its latest version when the child starts",
} as const;

function foreachCheck(config: Record<string, unknown>, path: string): Problem[] {
  if (config.failurePolicy === "fail_fast" && config.toleratedFailureCount !== undefined) {
    return [{
      path: `${path}.toleratedFailureCount`,
      code: "config_range",
      message: "toleratedFailureCount applies to failurePolicy continue",
    }];
  }
  return [];
}

/** The control kinds of this module, in palette order. */
export const CONTROL_KINDS: readonly NodeKindSpec[] = [
  {
    type: "control",
    nodeType: "switch",
    displayName: "Switch",
    icon: "split",
    description:
      "Evaluates its cases in order over its input; routes the input to the first case that holds, else to default.",
    behaviour: "condition",
    local: true,
    acceptsInput: true,
    outputs: [SWITCH_DEFAULT],
    outputsOf: switchHandles,
    config: {
      cases: {
        type: "array",
        required: true,
        maxLength: MAX_SWITCH_CASES,
        label: "Cases",
        description: "[{handle, when}]: `when` is an expression like a condition's",
      },
    },
    check: switchCheck,
  },
  {
    type: "control",
    nodeType: "terminate",
    displayName: "Terminate",
    icon: "octagon",
    description:
      "Ends the execution at once, as completed or as failed with a reason; nodes still running are cancelled.",
    behaviour: "terminate",
    acceptsInput: true,
    outputs: [],
    config: {
      status: { type: "string", default: "completed", enum: ["completed", "failed"], label: "End as" },
      reason: { type: "string", default: "terminated", maxLength: 1000, label: "Reason" },
    },
  },
  {
    type: "control",
    nodeType: "workflow.run",
    displayName: "Sub-workflow",
    icon: "workflow",
    description:
      "Runs another workflow as a child execution with this node's input records as its input; emits the child's output.",
    behaviour: "children",
    acceptsInput: true,
    outputs: ["out"],
    config: { workflow: workflowField, version: versionField },
  },
  {
    type: "control",
    nodeType: "foreach",
    displayName: "For each",
    icon: "repeat",
    description:
      "Runs a workflow once per input record (the record is the child's input), at most maxConcurrency at once; emits the children's outputs in input order.",
    behaviour: "children",
    acceptsInput: true,
    outputs: ["out"],
    config: {
      workflow: workflowField,
      version: versionField,
      maxConcurrency: {
        type: "integer",
        coerce: true,
        default: FOREACH_MAX_CONCURRENCY.default,
        min: 1,
        max: FOREACH_MAX_CONCURRENCY.max,
        label: "Children at once",
      },
      maxItems: {
        type: "integer",
        coerce: true,
        default: FOREACH_MAX_ITEMS.default,
        min: 0,
        max: FOREACH_MAX_ITEMS.max,
        label: "Most items",
      },
      failurePolicy: {
        type: "string",
        default: "fail_fast",
        enum: ["fail_fast", "continue"],
        label: "On a failed child",
      },
      toleratedFailureCount: {
        type: "integer",
        coerce: true,
        min: 0,
        label: "Failed children tolerated",
        description: "with continue: the node fails when more children fail; default: no limit",
      },
    },
    check: foreachCheck,
  },
];
