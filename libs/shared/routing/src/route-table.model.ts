/**
 * The compiled route table as the gateway and the CLI use it: upstreams, routes with their
 * modes, limits, compare and guard settings, overrides; the matcher compiled with it; errors with
 * their path and position in the file.
 */
import type { RouteMatcher } from './matcher';
import type { Specificity } from './path-pattern';
import type { HttpMethod, RouteDoc, RouteMode, RouteTableDoc } from './route-table.schema';

// ---------------------------------------------------------------------------------------------
// The compiled table
// ---------------------------------------------------------------------------------------------

export type StickyBy =
  | { readonly kind: 'tenant' }
  | { readonly kind: 'user' }
  | { readonly kind: 'none' }
  | { readonly kind: 'header'; readonly name: string };

export interface Upstream {
  readonly name: string;
  readonly url: string;
  readonly health?: string;
  readonly timeoutMs?: number;
  /** Largest request body the upstream accepts (DEFAULT_UPSTREAM_BODY_LIMIT when the file gives none). */
  readonly bodyLimitBytes?: number;
}

/**
 * What an upstream is assumed to accept when the file does not say: the apps' default
 * BODY_LIMIT_BYTES (256 KiB).
 */
export const DEFAULT_UPSTREAM_BODY_LIMIT = 256 * 1024;

/** Per-tenant limits of a route (see the schema's `limits`). */
export interface RouteLimits {
  readonly ratePerSecond?: number;
  readonly burst?: number;
  readonly concurrency?: number;
}

export interface CompareOptions {
  readonly sample: number;
  /** Share of shadowed GET/HEAD requests the monolith answers twice, to learn noise (0: never). */
  readonly noiseSample: number;
  readonly ignore: readonly string[];
  readonly sortArraysBy: Readonly<Record<string, string>>;
  readonly timestampToleranceMs?: number;
  readonly maxDifferences: number;
}

export interface GuardOptions {
  readonly maxErrorRate: number;
  readonly maxMismatchRate?: number;
  /** As written, e.g. "30s". */
  readonly window: string;
  readonly windowMs: number;
  readonly minRequests: number;
}

export interface Route {
  readonly id: string;
  readonly description?: string;
  /** Position in the file. */
  readonly index: number;
  readonly methods: readonly HttpMethod[];
  readonly path: string;
  /** Header conditions, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** The service upstream. */
  readonly target: string;
  /** The monolith upstream: the table's default. */
  readonly monolith: string;
  /** The mode in force: the file's, or an override's. */
  readonly mode: RouteMode;
  /**
   * Share of sticky keys the service answers, 0..100: the canary percent, 100 in service mode,
   * 0 in monolith and shadow modes.
   */
  readonly percent: number;
  readonly stickyBy: StickyBy;
  /** Salt of the canary hash (defaults to the target). */
  readonly cohort: string;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly fallback: boolean;
  readonly compare: CompareOptions;
  readonly guard?: GuardOptions;
  /**
   * Largest request body of the route: the file's, else the smaller of its two upstreams'
   * limits (a request may reach either side).
   */
  readonly bodyLimitBytes: number;
  readonly limits?: RouteLimits;
  /** WebSocket (Upgrade) requests are passed through. */
  readonly websocket: boolean;
  readonly specificity: Specificity;
  /** Whether mode and percent come from a control-plane override rather than the file. */
  readonly overridden: boolean;
  /**
   * Per-workspace overrides (lower-cased workspace id → side): a request of a listed workspace
   * goes to that side whatever the route's mode (see decide.ts). Absent: none.
   */
  readonly workspaces?: ReadonlyMap<string, 'monolith' | 'service'>;
  /** The route as the file wrote it. */
  readonly doc: RouteDoc;
}

export interface RouteOverride {
  readonly routeId: string;
  readonly mode: RouteMode;
  readonly percent?: number;
}

/**
 * One workspace's side on one route, set at runtime (per-tenant carving: the side that owns the
 * workspace's writes, or serves its reads). It sits on top of the route's mode, file or override.
 */
export interface WorkspaceOverride {
  readonly routeId: string;
  readonly workspaceId: string;
  readonly side: 'monolith' | 'service';
}

export interface RouteTable {
  readonly upstreams: Readonly<Record<string, Upstream>>;
  /** The upstream for requests no route matches: the monolith. */
  readonly default: string;
  readonly routes: readonly Route[];
  /** Overrides in force (see applyOverrides). */
  readonly overrides: readonly RouteOverride[];
  /** Per-workspace overrides in force (see applyOverrides); absent when none. */
  readonly workspaceOverrides?: readonly WorkspaceOverride[];
  /** The file as written. */
  readonly doc: RouteTableDoc;
}

export interface RouteTableError {
  /** Where: `routes[2].match.path`, `upstreams.insights.url`, or "" for the whole file. */
  readonly path: string;
  readonly message: string;
  /** 1-based position in the YAML text, when parsed from text. */
  readonly line?: number;
  readonly column?: number;
}

export type RouteTableResult =
  | { readonly ok: true; readonly table: RouteTable; readonly warnings: readonly RouteTableError[] }
  | { readonly ok: false; readonly errors: readonly RouteTableError[] };

/** @internal Where a compiled table keeps its matcher. */
export const MATCHER = Symbol('carve.routing.matcher');
export type WithMatcher = RouteTable & { readonly [MATCHER]: RouteMatcher };

/** @internal The matcher compiled with the table. */
export function matcherOf(table: RouteTable): RouteMatcher {
  const m = (table as WithMatcher)[MATCHER];
  if (!m) throw new TypeError('not a compiled route table: build one with parseRouteTable or validateRouteTable');
  return m;
}

const byIdCache = new WeakMap<RouteTable, Map<string, Route>>();

/** The route with this id, if any. */
export function findRoute(table: RouteTable, id: string): Route | undefined {
  let index = byIdCache.get(table);
  if (!index) byIdCache.set(table, (index = new Map(table.routes.map((r) => [r.id, r]))));
  return index.get(id);
}

/** One line per error: `routes[2].percent (line 14): percent is only for canary routes`. */
export function formatRouteTableErrors(errors: readonly RouteTableError[]): string {
  return errors
    .map((e) => {
      const where = e.path || '(file)';
      const at = e.line !== undefined ? ` (line ${e.line}${e.column !== undefined ? `, column ${e.column}` : ''})` : '';
      return `${where}${at}: ${e.message}`;
    })
    .join('\n');
}

