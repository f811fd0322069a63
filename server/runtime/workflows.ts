/**
 * Workflow definitions: validation (the core's, plus expression syntax), content
 * hashes, and versioned create/update/delete over storage with the API's
 * semantics (identical re-post 200, different definition 409, PUT a new version).
 *
 * @module
 */
import { findKind } from "../../core/catalog.ts";
import { BUILTIN_CATALOG, type Catalog } from "../../core/catalog_set.ts";
import { hash128 } from "../../core/ids.ts";
import { canonicalJson } from "../../core/json.ts";
import type { Problem } from "../../core/schema.ts";
import { validateWorkflow, type WorkflowLimits } from "../../core/validate.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import type { StoredWorkflow, WorkflowStore } from "../../storage/storage.ts";
import { BoundedCache } from "../../core/cache.ts";
import { validateExpression } from "../executors/expression.ts";
import { referenceProblems } from "./workflow_refs.ts";

/** A definition that passed every check, with its content hash. */
export interface CheckedWorkflow {
  definition: WorkflowDefinition;
  hash: string;
}

/** The outcome of a write. */
export type WorkflowWrite =
  | { ok: true; status: "created" | "updated" | "unchanged"; workflow: StoredWorkflow }
  | { ok: false; code: "validation_failed"; problems: Problem[] }
  | { ok: false; code: "workflow_exists"; current: StoredWorkflow }
  | { ok: false; code: "workflow_not_found" }
  | { ok: false; code: "id_mismatch"; message: string }
  | { ok: false; code: "workflow_conflict" };

/**
 * Expression fields that do not parse, as problems with their paths. Works on
 * the raw input, so these problems are reported together with the structural ones.
 */
function expressionProblems(input: unknown): Problem[] {
  const problems: Problem[] = [];
  const key = (input as { concurrency?: { key?: unknown } } | null)?.concurrency?.key;
  if (typeof key === "string" && key.trim() !== "") {
    const error = validateExpression(key);
    if (error) problems.push({ path: "$.concurrency.key", code: "expression_invalid", message: error });
  }
  const nodes = (input as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return problems;
  nodes.forEach((node: unknown, i) => {
    if (!node || typeof node !== "object") return;
    const { type, nodeType, config } = node as { type?: unknown; nodeType?: unknown; config?: unknown };
    const kind = typeof type === "string" && typeof nodeType === "string"
      ? findKind(type, nodeType)
      : undefined;
    if (!kind || !config || typeof config !== "object") return;
    const values = config as Record<string, unknown>;
    const check = (text: unknown, path: string) => {
      if (typeof text !== "string" || text === "") return;
      const error = validateExpression(text);
      if (error) problems.push({ path, code: "expression_invalid", message: error });
    };
    for (const [key, spec] of Object.entries(kind.config)) {
      if (spec.expression) check(values[key], `$.nodes[${i}].config.${key}`);
    }
    if (kind.nodeType === "map" && values.fields && typeof values.fields === "object") {
      for (const [field, expr] of Object.entries(values.fields as Record<string, unknown>)) {
        const path = `$.nodes[${i}].config.fields.${field}`;
        if (typeof expr !== "string") {
          problems.push({
            path,
            code: "config_type",
            message: `field ${field} must be an expression string`,
          });
        } else check(expr, path);
      }
    }
  });
  return problems;
}

/**
 * Validates a posted definition completely (within `limits`, the defaults when absent); on success returns it
 * normalised with its hash.
 */
export function checkWorkflow(
  input: unknown,
  limits?: Partial<WorkflowLimits>,
  catalog: Catalog = BUILTIN_CATALOG,
): {
  ok: true;
  value: CheckedWorkflow;
} | {
  ok: false;
  problems: Problem[];
} {
  const result = validateWorkflow(input, limits, catalog);
  const expressions = result.ok || !result.problems.some((p) => p.code === "too_large")
    ? expressionProblems(input)
    : [];
  if (!result.ok) return { ok: false, problems: [...result.problems, ...expressions] };
  if (expressions.length > 0) return { ok: false, problems: expressions };
  return { ok: true, value: { definition: result.workflow, hash: hash128(canonicalJson(result.workflow)) } };
}

/** Workflows whose latest version `latestForExecute` keeps in memory. */
const LATEST_CACHE = 1_000;

/** Workflow definitions over a storage. */
export class WorkflowService {
  #latest = new BoundedCache<string, StoredWorkflow>(LATEST_CACHE);

  /**
   * @param grantCheck the node's grants judged on a valid definition's static configs (files, SQL, egress):
   * its problems refuse the write like validation's.
   */
  constructor(
    private readonly storage: WorkflowStore,
    private readonly now: () => number,
    private readonly grantCheck: (definition: WorkflowDefinition) => Problem[] = () => [],
    /** The node kinds definitions may use (default: the built-in ones). */
    readonly catalog: Catalog = BUILTIN_CATALOG,
    /** The bounds on a definition (default: `DEFAULT_WORKFLOW_LIMITS`). */
    readonly limits?: Partial<WorkflowLimits>,
  ) {}

  /** Validation, then the grants. */
  #check(input: unknown): ReturnType<typeof checkWorkflow> {
    const checked = checkWorkflow(input, this.limits, this.catalog);
    if (!checked.ok) return checked;
    const problems = this.grantCheck(checked.value.definition);
    return problems.length > 0 ? { ok: false, problems } : checked;
  }

  /** The problems of the sub-workflows a definition names: unknown ones, and cycles back to it. */
  #references(definition: WorkflowDefinition): Promise<Problem[]> {
    return referenceProblems(definition, (id, version) => this.storage.getWorkflow(id, version));
  }

  /**
   * The latest version to start an execution of, from memory when this node read it before. It may be stale
   * (another node updated or deleted the workflow): the execution's creating append is made with
   * `requireLatestVersion`, and a `workflow_changed` refusal calls {@link forgetLatest} and asks again.
   */
  async latestForExecute(id: string): Promise<StoredWorkflow | undefined> {
    const cached = this.#latest.get(id);
    if (cached) return cached;
    const w = await this.storage.getWorkflow(id);
    if (w) this.#latest.set(id, w);
    return w;
  }

  /** Drops the cached latest version of `id` (it changed). */
  forgetLatest(id: string): void {
    this.#latest.delete(id);
  }

  /** POST: creates version 1 (or the next one after a delete); identical re-post is `unchanged`. */
  async create(input: unknown): Promise<WorkflowWrite> {
    const checked = this.#check(input);
    if (!checked.ok) return { ok: false, code: "validation_failed", problems: checked.problems };
    const { definition, hash } = checked.value;
    const refs = await this.#references(definition);
    if (refs.length > 0) return { ok: false, code: "validation_failed", problems: refs };
    for (let tries = 0; tries < 3; tries++) {
      const current = await this.storage.getWorkflow(definition.id);
      if (current) {
        return current.hash === hash
          ? { ok: true, status: "unchanged", workflow: current }
          : { ok: false, code: "workflow_exists", current };
      }
      const expected = await this.storage.latestVersion(definition.id);
      const put = await this.storage.putWorkflow(definition, hash, expected, this.now());
      if (put.ok) {
        this.forgetLatest(definition.id);
        return { ok: true, status: "created", workflow: put.workflow };
      }
    }
    const current = await this.storage.getWorkflow(definition.id);
    return current
      ? { ok: false, code: "workflow_exists", current }
      : { ok: false, code: "workflow_not_found" };
  }

  /**
   * PUT: stores a new version of an existing workflow; running executions keep theirs. `merge` makes the
   * definition to store from the body and the latest stored version (the API keeps stored credentials
   * sent back hidden); it is applied again to the latest version on each try.
   */
  async update(
    id: string,
    input: unknown,
    merge?: (input: unknown, stored: WorkflowDefinition) => unknown,
  ): Promise<WorkflowWrite> {
    if (input && typeof input === "object" && !Array.isArray(input)) {
      const bodyId = (input as Record<string, unknown>).id;
      if (bodyId === undefined) input = { ...input, id };
      else if (bodyId !== id) {
        return {
          ok: false,
          code: "id_mismatch",
          message: `the body's id ${JSON.stringify(bodyId)} is not ${id}`,
        };
      }
    }
    for (let tries = 0; tries < 5; tries++) {
      const current = await this.storage.getWorkflow(id);
      const checked = this.#check(current && merge ? merge(input, current.definition) : input);
      if (!checked.ok) return { ok: false, code: "validation_failed", problems: checked.problems };
      if (!current) return { ok: false, code: "workflow_not_found" };
      const { definition, hash } = checked.value;
      if (current.hash === hash) return { ok: true, status: "unchanged", workflow: current };
      const refs = await this.#references(definition);
      if (refs.length > 0) return { ok: false, code: "validation_failed", problems: refs };
      const put = await this.storage.putWorkflow(definition, hash, current.version, this.now());
      if (put.ok) {
        this.forgetLatest(id);
        return { ok: true, status: "updated", workflow: put.workflow };
      }
    }
    return { ok: false, code: "workflow_conflict" };
  }

  get(id: string, version?: number): Promise<StoredWorkflow | undefined> {
    return this.storage.getWorkflow(id, version);
  }

  list(limit: number, cursor: string | null) {
    return this.storage.listWorkflows(limit, cursor);
  }

  /** A page of the versions of `id` (deleted or not), newest first, summarised. */
  versions(id: string, limit: number, cursor: string | null) {
    return this.storage.listWorkflowVersions(id, limit, cursor);
  }

  /** The version counter of `id`, deleted or not (0: never stored). */
  latestVersion(id: string): Promise<number> {
    return this.storage.latestVersion(id);
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.storage.deleteWorkflow(id, this.now());
    this.forgetLatest(id);
    return deleted;
  }
}
