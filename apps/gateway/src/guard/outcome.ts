/**
 * What the guard (and the upstream's circuit breaker) count: failures of the upstream only.
 *
 * | what happened on the service side                         | counted as |
 * | --------------------------------------------------------- | ---------- |
 * | an answer 1xx-4xx (409 not_source_of_truth, 413, 400 ...) | ok         |
 * | 503 with Retry-After (a deliberate shed: write_fenced)    | nothing    |
 * | any other 5xx                                             | error      |
 * | connection refused/reset, DNS, socket closed (connect)    | error      |
 * | no answer within the upstream's timeout                   | error      |
 * | the breaker is open (the upstream failed just before)     | error      |
 * | the client went away or aborted its request body          | nothing    |
 * | the request body passed the body limit (413 by us)        | nothing    |
 *
 * A 4xx is the upstream doing its job on a bad request; an abort or an oversized body is the
 * client's doing; a 503 that says when to come back is the upstream refusing on purpose (a
 * handover's fence holds writes for a moment). None of them may move a route.
 */
import type { Outcome } from '@carve/shared-routing';

export type ServiceResult =
  | { readonly kind: 'answer'; readonly status: number; readonly retryAfter: boolean }
  | { readonly kind: 'timeout' | 'connect' | 'breaker-open' | 'client-gone' | 'body-too-large' };

/** The outcome to record for the guard, or null when the result says nothing about the upstream. */
export function guardOutcome(r: ServiceResult): Extract<Outcome, 'ok' | 'error'> | null {
  switch (r.kind) {
    case 'answer':
      if (r.status < 500) return 'ok';
      return r.status === 503 && r.retryAfter ? null : 'error';
    case 'timeout':
    case 'connect':
    case 'breaker-open':
      return 'error';
    default:
      return null;
  }
}

/** Whether a raw header list (undici's `[name, value, ...]`) carries Retry-After. */
export function hasRetryAfter(rawHeaders: ReadonlyArray<Buffer | string> | null): boolean {
  if (!rawHeaders) return false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length === 11 && name.toString().toLowerCase() === 'retry-after') return true;
  }
  return false;
}
