/**
 * Which requests the gateway may send twice or copy.
 *
 * - Fallback (retry on the monolith after the service failed) only for GET, HEAD and OPTIONS.
 *   PUT and DELETE are idempotent in HTTP terms (RFC 9110 §9.2.2), but only against one system
 *   of record: when the service may already have applied a PUT before failing, replaying it on
 *   the monolith would write the same change to a second store and split the data. POST and
 *   PATCH are never retried. An Idempotency-Key header does not change this: the monolith
 *   does not know the service's keys.
 * - Shadow copies only for GET and HEAD: a shadowed request must never write, and OPTIONS
 *   answers (CORS) are not worth comparing.
 */

const FALLBACK = new Set(['GET', 'HEAD', 'OPTIONS']);
const SHADOW = new Set(['GET', 'HEAD']);
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

const up = (method: string) => method.toUpperCase();

/** Whether a failed service request may be retried once on the monolith: GET, HEAD, OPTIONS. */
export function canFallback(method: string): boolean {
  return FALLBACK.has(up(method));
}

/** Whether a request may be copied to the service in shadow mode: GET, HEAD. */
export function canShadow(method: string): boolean {
  return SHADOW.has(up(method));
}

/** RFC 9110 safe methods (read-only by contract): GET, HEAD, OPTIONS, TRACE. */
export function isSafeMethod(method: string): boolean {
  return SAFE.has(up(method));
}

/**
 * RFC 9110 idempotent methods: the safe ones plus PUT and DELETE. Informational: the gateway
 * decides retries with canFallback, which is stricter (see above).
 */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT.has(up(method));
}
