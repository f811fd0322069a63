/**
 * Traces with `@opentelemetry/api` (docs/OBSERVABILITY.md, "Traces"). The engine, the API and the cluster
 * forwarding stay free of OpenTelemetry: they call observer hooks, and this module makes spans of them.
 *
 * - `workflow.execution`: one span per execution per owner, from its submission (the Start events committed)
 *   to its end; on the node that submitted it, a child of the request's span. An execution that moves (a
 *   failover, a rebalance, a restart) ends its span on the old owner (`flowmesh.execution.released`) and
 *   starts a new span, a new trace's root, on the new one (`flowmesh.execution.recovered`).
 * - `attempt <type>/<nodeType>`: one span per node attempt, a child of its execution's span, with the node
 *   kind, the attempt number and the outcome. The executor runs inside it, so the http node's request (and
 *   Deno's own fetch span) belong to it and carry its `traceparent`.
 * - `cluster.forward`: one span per API call forwarded to a shard's owner; its context travels with the
 *   call (`traceparent` in the forwarded headers and the envelope's `trace`), and the owner handles the call
 *   inside a `cluster.forwarded <METHOD> <route>` span, its child.
 *
 * Spans go to the global tracer provider. With `OTEL_DENO=true` Deno registers its own (and a W3C
 * propagator and an async context manager), exporting over OTLP; without it, the provider is
 * OpenTelemetry's no-op, `globalTracer()` answers `undefined`, and nodes install no tracing hooks at all.
 *
 * @module
 */
import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "npm:@opentelemetry/api@1.10.0";
import type { ApiObserver } from "../http/api.ts";
import type { EngineObserver } from "../runtime/engine.ts";
import type { Forwarder } from "../http/routing.ts";

/** The instrumentation scope of this engine's spans. */
export const TRACER_NAME = "flowmesh";

/**
 * The tracer of the global provider, or `undefined` when none is registered (the no-op default: then
 * tracing costs nothing, since nothing is installed).
 */
export function globalTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider && provider.getDelegateTracer(TRACER_NAME) === undefined) {
    return undefined;
  }
  return trace.getTracer(TRACER_NAME);
}

/**
 * Whether the global tracer provider is Deno's built-in one (`OTEL_DENO=true`). Deno then instruments
 * `fetch` itself: each call gets a client span (a child of the active span) and a `traceparent` header, which
 * Deno appends to any `traceparent` already set, so the http node must not set its own.
 */
export function denoTracing(): boolean {
  return !(trace.getTracerProvider() instanceof ProxyTracerProvider);
}

/** Options of `Tracing`. */
export interface TracingOptions {
  /**
   * Hand executors the attempt's `traceparent` (the http node sends it). Off when `fetch` propagates the
   * context itself (Deno's built-in instrumentation); on by default.
   */
  httpTraceparent?: boolean;
}

/** The W3C `traceparent` of a span context. */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** A span context from a W3C `traceparent`, or `undefined` when it is not a valid one. */
export function parseTraceparent(header: string | null | undefined): SpanContext | undefined {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(header?.trim() ?? "");
  if (!m) return undefined;
  const sc: SpanContext = { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16), isRemote: true };
  return isSpanContextValid(sc) ? sc : undefined;
}

const headerGetter = {
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
  keys: (carrier: Headers) => [...carrier.keys()],
};

/**
 * The spans of one node.
 *
 * @example
 * ```ts
 * import { trace } from "npm:@opentelemetry/api@1.10.0";
 * import { Tracing } from "./tracing.ts";
 * // With the no-op tracer every span is non-recording: the hooks run, nothing is exported.
 * const tracing = new Tracing(trace.getTracer("example"), "node-1");
 * const ex = tracing.engineObserver.executionStarted?.({
 *   executionId: "ex-1", workflowId: "wf-1", version: 1, shard: 3, submittedAt: Date.now(), recovered: false,
 * });
 * tracing.engineObserver.executionEnded?.("completed", 5, ex);
 * ```
 */
export class Tracing {
  readonly #httpTraceparent: boolean;

  constructor(readonly tracer: Tracer, readonly nodeId: string, options: TracingOptions = {}) {
    this.#httpTraceparent = options.httpTraceparent ?? true;
  }

  /** The engine's hooks: execution and attempt spans. Handles are the spans. */
  readonly engineObserver: EngineObserver = {
    executionStarted: (e) => {
      // A submission runs inside the request that made it; a recovered execution starts a trace of its own.
      const parent = e.recovered ? ROOT_CONTEXT : context.active();
      return this.tracer.startSpan("workflow.execution", {
        kind: SpanKind.INTERNAL,
        startTime: e.recovered ? undefined : e.submittedAt,
        attributes: {
          "flowmesh.execution.id": e.executionId,
          "flowmesh.workflow.id": e.workflowId,
          "flowmesh.workflow.version": e.version,
          "flowmesh.shard": e.shard,
          "flowmesh.member": this.nodeId,
          "flowmesh.execution.recovered": e.recovered,
        },
      }, parent);
    },
    executionEnded: (status, durationMs, handle) => {
      const span = handle as Span | undefined;
      if (!span) return;
      span.setAttribute("flowmesh.execution.status", status);
      span.setAttribute("flowmesh.execution.duration_ms", durationMs);
      if (status !== "completed") span.setStatus({ code: SpanStatusCode.ERROR, message: status });
      span.end();
    },
    executionReleased: (handle) => {
      const span = handle as Span | undefined;
      if (!span) return;
      span.setAttribute("flowmesh.execution.released", true);
      span.end();
    },
    attemptStarted: (kind, a, execution) => {
      const parent = execution ? trace.setSpan(ROOT_CONTEXT, execution as Span) : ROOT_CONTEXT;
      return this.tracer.startSpan(`attempt ${kind}`, {
        kind: SpanKind.INTERNAL,
        attributes: {
          "flowmesh.node.kind": kind,
          "flowmesh.node.id": a.nodeId,
          "flowmesh.attempt": a.attempt,
          "flowmesh.execution.id": a.executionId,
          "flowmesh.member": this.nodeId,
        },
      }, parent);
    },
    attemptEnded: (_kind, outcome, _durationMs, handle) => {
      const span = handle as Span | undefined;
      if (!span) return;
      span.setAttribute("flowmesh.attempt.outcome", outcome);
      if (outcome !== "completed") span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      span.end();
    },
    runAttempt: <T>(handle: unknown, fn: () => T): T =>
      handle ? context.with(trace.setSpan(context.active(), handle as Span), fn) : fn(),
    traceparent: (handle) =>
      handle && this.#httpTraceparent && isSpanContextValid((handle as Span).spanContext())
        ? traceparentOf(handle as Span)
        : undefined,
  };

  /** The API's hooks: the route on the request's span, and forwarded calls inside their caller's trace. */
  readonly apiObserver: ApiObserver = {
    requestEnded: (method, route) => {
      // Deno's own span of the request (OTEL_DENO) is the active one: give it the route pattern.
      const span = trace.getActiveSpan();
      if (!span?.isRecording()) return;
      span.setAttribute("http.route", route);
      span.updateName(`${method} ${route}`);
    },
    forwarded: (req, route, respond) => {
      let parent = propagation.extract(ROOT_CONTEXT, req.headers, headerGetter);
      if (!trace.getSpanContext(parent)) {
        // No propagator registered (a provider set up in code without one): read the header ourselves.
        const remote = parseTraceparent(req.headers.get("traceparent"));
        if (remote) parent = trace.setSpanContext(ROOT_CONTEXT, remote);
      }
      const span = this.tracer.startSpan(`cluster.forwarded ${req.method}`, {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": req.method, "flowmesh.member": this.nodeId },
      }, parent);
      return context.with(trace.setSpan(parent, span), async () => {
        try {
          const res = await respond();
          span.setAttribute("http.response.status_code", res.status);
          if (res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          return res;
        } finally {
          span.setAttribute("http.route", route());
          span.updateName(`cluster.forwarded ${req.method} ${route()}`);
          span.end();
        }
      });
    },
  };

  /**
   * Wraps a forwarder: each call gets a `cluster.forward` client span, and its context is injected into the
   * forwarded headers (`traceparent`, which `RpcForwarder` also puts on the envelope).
   */
  forwarder(inner: Forwarder): Forwarder {
    return {
      forward: async (to, request, timeoutMs) => {
        const span = this.tracer.startSpan("cluster.forward", {
          kind: SpanKind.CLIENT,
          attributes: {
            "http.request.method": request.method,
            "flowmesh.forward.to": to,
            "flowmesh.member": this.nodeId,
          },
        });
        const ctx: Context = trace.setSpan(context.active(), span);
        const headers = { ...request.headers };
        propagation.inject(ctx, headers);
        if (headers.traceparent === undefined) headers.traceparent = traceparentOf(span);
        try {
          const r = await context.with(ctx, () => inner.forward(to, { ...request, headers }, timeoutMs));
          if (r.ok) span.setAttribute("http.response.status_code", r.response.status);
          else {
            span.setAttribute("flowmesh.forward.error", r.code);
            span.setStatus({ code: SpanStatusCode.ERROR, message: r.code });
          }
          return r;
        } finally {
          span.end();
        }
      },
    };
  }
}

/** One engine observer calling each of `observers` in turn; handles are kept per observer. */
export function combineEngineObservers(
  ...observers: (EngineObserver | undefined)[]
): EngineObserver | undefined {
  const list = observers.filter((o): o is EngineObserver => o !== undefined);
  if (list.length <= 1) return list[0];
  const handles = (h: unknown) => h as unknown[];
  return {
    executionStarted: (e) => list.map((o) => o.executionStarted?.(e)),
    executionCreated: (h) => list.forEach((o, i) => o.executionCreated?.(handles(h)?.[i])),
    executionEnded: (status, ms, h) =>
      list.forEach((o, i) => o.executionEnded?.(status, ms, handles(h)?.[i])),
    executionReleased: (h) => list.forEach((o, i) => o.executionReleased?.(handles(h)?.[i])),
    attemptStarted: (kind, a, ex) => list.map((o, i) => o.attemptStarted?.(kind, a, handles(ex)?.[i])),
    attemptEnded: (kind, outcome, ms, h) =>
      list.forEach((o, i) => o.attemptEnded?.(kind, outcome, ms, handles(h)?.[i])),
    runAttempt: <T>(h: unknown, fn: () => T): T =>
      list.reduceRight<() => T>(
        (next, o, i) => o.runAttempt ? () => o.runAttempt!(handles(h)?.[i], next) : next,
        fn,
      )(),
    traceparent: (h) => {
      for (let i = 0; i < list.length; i++) {
        const t = list[i].traceparent?.(handles(h)?.[i]);
        if (t !== undefined) return t;
      }
      return undefined;
    },
    retryScheduled: (kind) => list.forEach((o) => o.retryScheduled?.(kind)),
    nodeFailed: (kind) => list.forEach((o) => o.nodeFailed?.(kind)),
    appendCommitted: (ms, events) => list.forEach((o) => o.appendCommitted?.(ms, events)),
    appendFailed: (ms) => list.forEach((o) => o.appendFailed?.(ms)),
  };
}

/** One API observer calling each of `observers`; forwarded calls nest, the first outermost. */
export function combineApiObservers(...observers: (ApiObserver | undefined)[]): ApiObserver | undefined {
  const list = observers.filter((o): o is ApiObserver => o !== undefined);
  if (list.length <= 1) return list[0];
  return {
    requestEnded: (method, route, status, ms) =>
      list.forEach((o) => o.requestEnded?.(method, route, status, ms)),
    forwarded: (req, route, respond) =>
      list.reduceRight<() => Promise<Response>>(
        (next, o) => o.forwarded ? () => o.forwarded!(req, route, next) : next,
        respond,
      )(),
  };
}
