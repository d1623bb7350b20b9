/**
 * @carve/shared-routing: the strangler gateway's route model, pure (no I/O, no framework).
 * See ../README.md for the route table format.
 */
import { join } from 'node:path';

export {
  routeTableSchema,
  HTTP_METHODS,
  ROUTE_MODES,
  type RouteTableDoc,
  type UpstreamDoc,
  type RouteDoc,
  type MatchDoc,
  type CompareDoc,
  type GuardDoc,
  type LimitsDoc,
  type HttpMethod,
  type RouteMode,
} from './route-table.schema';
export {
  parseRouteTable,
  validateRouteTable,
  formatRouteTableErrors,
  findRoute,
  DEFAULT_UPSTREAM_BODY_LIMIT,
  type RouteLimits,
  type RouteTable,
  type Route,
  type Upstream,
  type StickyBy,
  type CompareOptions,
  type GuardOptions,
  type RouteOverride,
  type WorkspaceOverride,
  type RouteTableError,
  type RouteTableResult,
} from './route-table';
export { parsePathPattern, type PathPattern, type PatternSegment, type Specificity } from './path-pattern';
export { matchRoute, type RouteMatch } from './match';
export { canonicalPath, canonicalTarget, type CanonicalPath, type CanonicalTarget, type PathRefusal } from './canonical-path';
export type { StringBag } from './matcher';
export {
  decide,
  stickyKeyOf,
  FORCE_HEADER,
  type Decision,
  type DecisionContext,
  type DecisionReason,
  type Side,
} from './decide';
export { stickyBucket, percentThreshold, fnv1a32, fmix32, BUCKETS } from './hash';
export { canFallback, canShadow, isSafeMethod, isIdempotentMethod } from './methods';
export {
  compareResponses,
  DEFAULT_MAX_DIFFERENCES,
  type CompareConfig,
  type ComparedResponse,
  type Comparison,
  type Difference,
  type DifferenceKind,
} from './compare';
export { differencePaths, fieldPathKey, withoutNoise } from './noise';
export { parseJsonPath, formatJsonPath, JsonPathSet, PathState, type JsonPathSegment, type PathStep } from './json-path';
export { SlidingWindowCounter, parseDuration, type Outcome, type WindowCounts, type SlidingWindowOptions } from './window';
export { GuardState, type GuardConfig, type GuardStats, type GuardVerdict, type GuardStateOptions } from './guard';
export { CircuitBreaker, type BreakerState, type BreakerSnapshot, type CircuitBreakerOptions } from './circuit-breaker';
export { applyOverrides, validateOverride, validateWorkspaceOverride, type AppliedOverrides } from './overrides';

/** Absolute path of the published JSON Schema of the route table (route-table.schema.json). */
export const ROUTE_TABLE_SCHEMA_FILE = join(__dirname, '..', 'route-table.schema.json');
