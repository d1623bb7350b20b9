import { BUCKETS, percentThreshold, stickyBucket } from './hash';
import type { StringBag } from './matcher';
import { canFallback, canShadow } from './methods';
import type { Route } from './route-table';

export type Side = 'monolith' | 'service';

/** The header that forces a side, honoured only for a token with the operator claim. */
export const FORCE_HEADER = 'x-carve-target';

export interface DecisionContext {
  /** The request method; shadowing and fallback depend on it. */
  readonly method: string;
  /** The workspace of the verified token. */
  readonly tenantId?: string | null;
  /** The user (`sub`) of the verified token. */
  readonly userId?: string | null;
  /** The role of the verified token (a customer role: it never lets a request force a side). */
  readonly role?: string | null;
  /**
   * The verified token carries the operator claim (`carve_operator: true`): only then may the
   * request force a side.
   */
  readonly operator?: boolean;
  /** Request headers (for `stickyBy: header:<name>` and the force header). */
  readonly headers?: StringBag;
  /** A forced side; when absent, the `x-carve-target` header is read from `headers`. */
  readonly force?: string | null;
  /** Randomness for `stickyBy: none` and shadow sampling, in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

export type DecisionReason =
  | 'forced'
  | 'mode-monolith'
  | 'mode-service'
  | 'shadow'
  | 'shadow-not-sampled'
  | 'shadow-unsafe-method'
  | 'deny-list'
  | 'allow-list'
  | 'canary-in'
  | 'canary-out'
  | 'no-sticky-key'
  | 'workspace-monolith'
  | 'workspace-service';

export interface Decision {
  /** Who answers the client. */
  readonly primary: Side;
  /** The upstream name of the primary side. */
  readonly upstream: string;
  /** Whether to also send a copy to the service (route.target) and compare. */
  readonly shadow: boolean;
  /** Whether a failure of the service (primary) may be retried once on the monolith. */
  readonly fallback: boolean;
  /** Why, as a stable code fit for a metric label or a log field. */
  readonly reason: DecisionReason;
  /** The canary bucket (0..9999) when one was computed. */
  readonly bucket?: number;
}

function firstValue(bag: StringBag | undefined, name: string): string | undefined {
  const v = bag?.[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v[0];
}

const listCache = new WeakMap<Route, { allow: ReadonlySet<string>; deny: ReadonlySet<string> }>();

function lists(route: Route) {
  let l = listCache.get(route);
  // Stryker disable next-line ConditionalExpression: a cache: building the sets again gives the same sets
  if (!l) listCache.set(route, (l = { allow: new Set(route.allow), deny: new Set(route.deny) }));
  return l;
}

const listed = (set: ReadonlySet<string>, ctx: DecisionContext) => (!!ctx.tenantId && set.has(ctx.tenantId)) || (!!ctx.userId && set.has(ctx.userId));

/** The sticky key of a request for a route, or undefined when the request has none. */
export function stickyKeyOf(route: Route, ctx: DecisionContext): string | undefined {
  switch (route.stickyBy.kind) {
    case 'tenant':
      return ctx.tenantId || undefined;
    case 'user':
      return ctx.userId || undefined;
    case 'header':
      return firstValue(ctx.headers, route.stickyBy.name) || undefined;
    // Stryker disable next-line ConditionalExpression,StringLiteral: without this case stickyBy none falls out of the switch, which returns undefined too
    case 'none':
      return undefined;
  }
}

/**
 * Who answers this request on this route, in this order:
 *
 * 1. A forced side (`ctx.force`, else the `x-carve-target` header: `service` or `monolith`),
 *    only when `ctx.operator` is true (the token's operator claim, not a customer role such as
 *    `admin`); in every mode, no shadow copy. Other values, and any force without the claim,
 *    are ignored: the route decides.
 * 2. A per-workspace override of the route for the token's workspace (`route.workspaces`, set
 *    by per-tenant carving): its side, in every mode, no shadow copy.
 * 3. mode monolith: the monolith. mode service: the service.
 * 4. mode shadow: the monolith answers; GET and HEAD are also copied to the service, sampled
 *    at `compare.sample`. Writes are never copied.
 * 5. mode canary: a tenant or user id on the deny list → monolith; on the allow list → service
 *    (deny wins over allow); otherwise the sticky key's bucket (see hash.ts) goes to the service
 *    when it is below percent × 100. `stickyBy: none` draws a random bucket per request. A
 *    request without a sticky key (no tenant in the token, no such header) stays on the
 *    monolith.
 *
 * `fallback` is true when the service answers, the route allows fallback and the method may be
 * sent twice (GET, HEAD, OPTIONS; see methods.ts).
 */
export function decide(route: Route, ctx: DecisionContext): Decision {
  const done = (primary: Side, reason: DecisionReason, shadow = false, bucket?: number): Decision => ({
    primary,
    upstream: primary === 'service' ? route.target : route.monolith,
    shadow,
    fallback: primary === 'service' && route.fallback && canFallback(ctx.method),
    reason,
    ...(bucket !== undefined ? { bucket } : {}),
  });

  if (ctx.operator === true) {
    const forced = (ctx.force ?? firstValue(ctx.headers, FORCE_HEADER))?.trim().toLowerCase();
    if (forced === 'service' || forced === 'monolith') return done(forced, 'forced');
  }

  const pinned = route.workspaces && ctx.tenantId ? route.workspaces.get(ctx.tenantId.toLowerCase()) : undefined;
  if (pinned !== undefined) return done(pinned, pinned === 'service' ? 'workspace-service' : 'workspace-monolith');

  switch (route.mode) {
    case 'monolith':
      return done('monolith', 'mode-monolith');
    case 'service':
      return done('service', 'mode-service');
    case 'shadow': {
      if (!canShadow(ctx.method)) return done('monolith', 'shadow-unsafe-method');
      const sample = route.compare.sample;
      const sampled = sample >= 1 || (sample > 0 && (ctx.random ?? Math.random)() < sample);
      return done('monolith', sampled ? 'shadow' : 'shadow-not-sampled', sampled);
    }
    case 'canary': {
      const { allow, deny } = lists(route);
      if (listed(deny, ctx)) return done('monolith', 'deny-list');
      if (listed(allow, ctx)) return done('service', 'allow-list');
      let bucket: number;
      if (route.stickyBy.kind === 'none') {
        bucket = Math.min(BUCKETS - 1, Math.floor((ctx.random ?? Math.random)() * BUCKETS));
      } else {
        const key = stickyKeyOf(route, ctx);
        if (key === undefined) return done('monolith', 'no-sticky-key');
        bucket = stickyBucket(route.cohort, key);
      }
      return bucket < percentThreshold(route.percent)
        ? done('service', 'canary-in', false, bucket)
        : done('monolith', 'canary-out', false, bucket);
    }
  }
}
