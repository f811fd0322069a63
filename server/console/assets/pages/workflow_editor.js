/**
 * Creating (`/ui/workflows/new`) or updating (`/ui/workflows/{id}?edit=1`) a workflow from pasted JSON: the
 * DAG is drawn as the text changes, and the node's validation problems of a refused save are shown on the
 * nodes they concern (and listed, each naming its JSON path). Saving needs the admin role.
 *
 * @module
 */
import { useMemo, useState } from "preact/hooks";
import { apiPath, call } from "../lib/api.js";
import { parseDefinition, problemsByNode } from "../lib/problems.js";
import { navigate, uiPath } from "../lib/router.js";
import { DagView } from "../components/dag_view.js";
import { ErrorBanner, html, Link } from "../components/ui.js";

/** What a new workflow's editor starts with. */
const TEMPLATE = {
  id: "my-workflow",
  name: "My workflow",
  nodes: [
    { id: "numbers", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 10 } },
    { id: "double", type: "transform", nodeType: "map", config: { expression: "value * 2" } },
    { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "numbers", target: "double" }, { source: "double", target: "collect" }],
};

function ProblemList({ byNode, onSelect }) {
  const entries = [...byNode.entries()];
  if (entries.length === 0) return null;
  const count = entries.reduce((n, [, list]) => n + list.length, 0);
  return html`<div class="error-banner" role="alert" data-problems=${count}>
    <strong>validation_failed</strong>: ${count} problem(s)
    <ul>${
    entries.flatMap(([nodeId, list]) =>
      list.map((p) =>
        html`<li data-problem-node=${nodeId}>
          ${
          nodeId !== "" && html`
            <button type="button" onClick=${() => onSelect(nodeId)}>node ${nodeId}</button>
          `
        }
          <code>${p.path}</code> <code>${p.code ?? ""}</code> ${p.message}</li>`
      )
    )
  }</ul>
  </div>`;
}

/**
 * The editor.
 *
 * @example
 * ```js
 * import { WorkflowEditorPage } from "./workflow_editor.js";
 * if (typeof WorkflowEditorPage !== "function") throw new Error();
 * ```
 * @param {{session: {role: string}, id?: string, initial?: unknown}} props
 */
export function WorkflowEditorPage({ id, initial }) {
  const [text, setText] = useState(() => JSON.stringify(initial ?? TEMPLATE, null, 2));
  const [error, setError] = useState(null);
  const [problems, setProblems] = useState(/** @type {{definition: any, list: any[]} | null} */ (null));
  const [selected, setSelected] = useState(null);
  const [busy, setBusy] = useState(false);
  const parsed = useMemo(() => parseDefinition(text), [text]);
  const byNode = useMemo(
    () => problems ? problemsByNode(problems.definition, problems.list) : new Map(),
    [problems],
  );
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    setProblems(null);
    if (!parsed.ok) {
      setError({ code: "malformed_json", message: parsed.error });
      return;
    }
    setBusy(true);
    try {
      const r = id === undefined
        ? await call("POST", "/api/v1/workflows", parsed.value)
        : await call("PUT", apiPath("workflows", id), parsed.value);
      navigate(uiPath("workflows", r.body.workflowId));
    } catch (err) {
      if (err.code === "validation_failed") setProblems({ definition: parsed.value, list: err.details });
      else setError(err);
      setBusy(false);
    }
  };
  const drawable = parsed.ok ? parsed.drawable : { nodes: [], edges: [] };
  return html`
    <section>
      <h1>${id === undefined ? "New workflow" : html`Edit ${id}`}</h1>
      <p
        class="muted">Paste a workflow definition (the JSON of <code>POST /api/v1/workflows</code>). The DAG is drawn as
          you type; a save the node refuses marks the nodes its problems concern.
          ${id !== undefined && html`
            <${Link} href=${uiPath("workflows", id)}>Cancel<//>
          `}</p>
      <form onSubmit=${save}>
        <div class="grid2 editor">
          <div class="field">
            <label for="definition">Definition (JSON)</label>
            <textarea id="definition" name="definition" class="json" spellcheck="false" value=${text}
              aria-invalid=${parsed.ok ? "false" : "true"} aria-describedby="parse-state"
              onInput=${(e) => setText(e.currentTarget.value)}></textarea>
            <p id="parse-state" class=${parsed.ok ? "muted" : "error-banner"} aria-live="polite">
                ${parsed.ok
                  ? `${drawable.nodes.length} node(s), ${drawable.edges.length} edge(s)`
                  : `Not JSON: ${parsed.error}`}
              </p>
            <div class="row">
              <button type="submit" class="primary" disabled=${busy || !parsed.ok} data-action="save">
                  ${id === undefined ? "Create workflow" : "Save new version"}
                </button>
            </div>
          </div>
          <div>
            <${DagView} nodes=${drawable.nodes} edges=${drawable
              .edges} problems=${byNode} selected=${selected}
              onSelect=${setSelected} label="DAG of the pasted definition" />
          </div>
        </div>
      </form>
      <${ProblemList} byNode=${byNode} onSelect=${setSelected} />
      <${ErrorBanner} error=${error} />
    </section>
  `;
}
