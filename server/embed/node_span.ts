/**
 * The span a custom node kind's `run` gets: a child of the engine's span of the attempt (its W3C
 * `traceparent`), through the OpenTelemetry API's global tracer. Without a registered tracer provider it
 * records nothing and costs nearly nothing.
 *
 * @module
 */
import { context, type Span, SpanStatusCode, trace, TraceFlags } from "npm:@opentelemetry/api@1.10.0";

/** What `run` may record on its span. */
export interface NodeSpan {
  /** The span's W3C `traceparent`, to pass to services you call (absent when tracing is off). */
  readonly traceparent: string | undefined;
  /** Sets an attribute. */
  setAttribute(key: string, value: string | number | boolean): void;
  /** Adds a timestamped event. */
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): void;
}

/** A {@link NodeSpan} the executor ends. */
export interface AttemptSpan extends NodeSpan {
  /** Ends the span as a success. */
  end(): void;
  /** Ends the span with the error. */
  fail(err: unknown): void;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Starts `node.run <kind>`, a child of `traceparent` when given.
 *
 * @example
 * ```ts
 * import { attemptSpan } from "./node_span.ts";
 * const span = attemptSpan("text.upper", undefined);
 * span.setAttribute("records", 2);
 * span.end();
 * ```
 */
export function attemptSpan(kind: string, traceparent: string | undefined): AttemptSpan {
  const parent = traceparent ? TRACEPARENT.exec(traceparent) : null;
  const ctx = parent
    ? trace.setSpanContext(context.active(), {
      traceId: parent[1],
      spanId: parent[2],
      traceFlags: parseInt(parent[3], 16) & TraceFlags.SAMPLED,
      isRemote: true,
    })
    : context.active();
  const span: Span = trace.getTracer("flowmesh.node-kind").startSpan(`node.run ${kind}`, {}, ctx);
  const sc = span.spanContext();
  const recording = span.isRecording();
  return {
    traceparent: recording ? `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}` : traceparent,
    setAttribute: (key, value) => void span.setAttribute(key, value),
    addEvent: (name, attributes) => void span.addEvent(name, attributes),
    end: () => span.end(),
    fail(err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      span.end();
    },
  };
}
