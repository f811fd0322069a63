/**
 * The API's error body, `{"error": {"code", "message", "details": [{"path", "code", "message"}]}}`,
 * and JSON responses.
 *
 * @module
 */

/** One fault in a request, with the JSON path where it is. */
export interface ErrorDetail {
  path: string;
  code?: string;
  message: string;
}

/** An error the API answers with; thrown inside handlers, turned into a response by the app. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The response of an error. */
export function errorResponse(err: ApiError): Response {
  return json(
    { error: { code: err.code, message: err.message, details: err.details } },
    err.status,
    err.headers,
  );
}
