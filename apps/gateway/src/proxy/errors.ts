/**
 * Upstream failures as the client sees them: problem+json with a stable code.
 * - `upstream_timeout` (504): no response (headers or body) within the upstream's timeout.
 * - `upstream_unavailable`: 503 with Retry-After when nothing reached the upstream (the connection
 *   was refused or could not be made, or the breaker is open): safe to send again; 502 when the
 *   connection failed after the request went out (reset, closed): the upstream may have acted.
 */
import { ProblemError } from '@carve/shared-http';
import type { UpstreamErrorKind } from '../telemetry/metrics';

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/** timeout or connect (refused, reset, socket closed, DNS, anything else on the way). */
export function classifyUpstreamError(err: unknown): Extract<UpstreamErrorKind, 'timeout' | 'connect'> {
  let e = err as { code?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e.code && TIMEOUT_CODES.has(e.code)) return 'timeout';
    e = e.cause as typeof e;
  }
  return 'connect';
}

/** Codes of a connection that never opened: the request reached no upstream. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** Whether `err` says the connection to the upstream never opened (so nothing was sent). */
export function neverSent(err: unknown): boolean {
  let e = err as { code?: string; cause?: unknown; errors?: unknown[] } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e.code && NOT_SENT_CODES.has(e.code)) return true;
    // Node's happy-eyeballs connect reports an AggregateError of the attempts.
    if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x) => NOT_SENT_CODES.has((x as { code?: string })?.code ?? ''))) return true;
    e = e.cause as typeof e;
  }
  return false;
}

export function upstreamProblem(kind: 'timeout' | 'connect' | 'breaker-open', upstream: string, timeoutMs?: number, notSent = false): ProblemError {
  switch (kind) {
    case 'timeout':
      return new ProblemError(504, 'upstream_timeout', `${upstream} did not answer within ${timeoutMs ?? '?'} ms.`, { upstream });
    case 'breaker-open':
      return new ProblemError(503, 'upstream_unavailable', `${upstream} is failing; the gateway stopped sending to it for now (circuit open).`, {
        upstream,
      }).retryAfter(1);
    default:
      return notSent
        ? new ProblemError(503, 'upstream_unavailable', `${upstream} could not be reached; nothing was sent to it.`, { upstream }).retryAfter(1)
        : new ProblemError(502, 'upstream_unavailable', `${upstream} could not be reached.`, { upstream });
  }
}

/** Thrown by the request-body counter when a chunked body passes the limit. */
export class BodyTooLargeError extends Error {
  readonly code = 'CARVE_BODY_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}
