/** What the control plane stores, as its clients see it (timestamps as ISO-8601 strings). */
import type { ContextGuardTrip } from './guard-trips';

export const CONTROL_CHANNEL = 'carve_control';

export const OVERRIDE_MODES = ['monolith', 'shadow', 'canary', 'service'] as const;
export type OverrideMode = (typeof OVERRIDE_MODES)[number];

/** A route's mode (and canary percent) set at runtime; it beats the route table file. */
export interface StoredOverride {
  readonly routeId: string;
  readonly mode: OverrideMode;
  /** Canary percent, or null (mode canary without percent keeps the file's). */
  readonly percent: number | null;
  readonly updatedBy: string;
  readonly updatedAt: string;
  readonly reason: string;
  /** The control-plane version this override was written at. */
  readonly version: number;
}

/** What a route looked like before or after a change, as recorded in the audit. */
export interface RouteState {
  readonly mode: string;
  readonly percent?: number | null;
  /** `override` or `file` (when the caller knows where the state came from). */
  readonly source?: string;
  readonly [extra: string]: unknown;
}

export interface SetOverrideInput {
  readonly routeId: string;
  readonly mode: OverrideMode;
  readonly percent?: number | null;
  readonly actor: string;
  readonly reason: string;
  /** The route's effective state before the change, for the audit (default: the previous override). */
  readonly before?: RouteState | null;
  /** Audit action (default `route.set`). */
  readonly action?: string;
}

export interface AuditEntry {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly reason: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface OverrideChange {
  /** The control-plane version the change committed at. */
  readonly version: number;
  /** The override now in force (null after a clear). */
  readonly override: StoredOverride | null;
  /** The override before (null when there was none). */
  readonly previous: StoredOverride | null;
  readonly audit: AuditEntry;
}

export interface GuardTripInput {
  readonly routeId: string;
  /** Why, with the figures ("error rate 12.0% > 5.0% over the last 30s (12 errors in 100 requests)"). */
  readonly reason: string;
  readonly stats?: Record<string, unknown>;
  /** The gateway replica that saw it. */
  readonly gateway?: string;
  /** Also move the route to the monolith (override, audit as actor `guard`, notify). Default true. */
  readonly rollback?: boolean;
  /** The route's effective state before, for the audit. */
  readonly before?: RouteState | null;
}

export interface GuardEvent {
  readonly id: number;
  readonly at: string;
  readonly routeId: string;
  readonly reason: string;
  readonly stats: Record<string, unknown> | null;
  readonly gateway: string | null;
  /** Whether this event moved the route to the monolith (false when it already was there). */
  readonly rolledBack: boolean;
}

export interface GuardTripResult {
  readonly event: GuardEvent;
  /** The rollback, when this trip changed the override (null when it already was monolith, or the route was kept). */
  readonly change: OverrideChange | null;
  /**
   * The trip as recorded on the carved context the route belongs to (null for a route no carving
   * command named): `degraded` when the route writes for a context whose writes the service
   * owns (the route was kept on the service), `rolled-back` otherwise.
   */
  readonly context?: ContextGuardTrip | null;
}

export interface MismatchRequest {
  readonly method: string;
  readonly path: string;
  readonly tenantId?: string | null;
  readonly requestId?: string;
  readonly [extra: string]: unknown;
}

export interface MismatchInput {
  readonly routeId: string;
  readonly request: MismatchRequest;
  readonly monolithStatus?: number | null;
  readonly serviceStatus?: number | null;
  readonly differences: readonly unknown[];
  readonly truncated?: boolean;
  readonly gateway?: string;
  /** The field paths it differs in, normalised (default: each difference's `path`). */
  readonly paths?: readonly string[];
  /** The two bodies as compared (parsed JSON, or text), when the gateway kept them. */
  readonly bodies?: MismatchBodies | null;
}

/** The bodies of both sides of a shadow mismatch. */
export interface MismatchBodies {
  readonly monolith: unknown;
  readonly service: unknown;
}

export interface ShadowMismatch {
  readonly id: number;
  readonly routeId: string;
  readonly at: string;
  readonly request: MismatchRequest;
  readonly monolithStatus: number | null;
  readonly serviceStatus: number | null;
  readonly differences: unknown[];
  readonly truncated: boolean;
  readonly gateway: string | null;
  /** The normalised field paths it differs in. */
  readonly paths: string[];
  /** Both bodies as compared, or null when they were not kept. */
  readonly bodies: MismatchBodies | null;
}

/** The payload of a NOTIFY on `carve_control` (informational: listeners re-read the overrides). */
export interface ControlNotice {
  readonly version: number;
  readonly action: string;
  readonly target: string;
  readonly actor: string;
}

/** What a subscriber gets whenever the control plane's version moved (and once at the start). */
/** One workspace's side on one route (per-tenant carving); it beats the route's mode for that workspace. */
export interface StoredWorkspaceOverride {
  readonly routeId: string;
  readonly workspaceId: string;
  readonly side: 'monolith' | 'service';
  /** The context whose carving set it. */
  readonly context: string;
  readonly updatedBy: string;
  readonly updatedAt: string;
  readonly reason: string;
  readonly version: number;
}

export interface ControlSnapshot {
  readonly version: number;
  readonly overrides: readonly StoredOverride[];
  /** Per-workspace overrides (empty when none). */
  readonly workspaceOverrides: readonly StoredWorkspaceOverride[];
  /** What noticed the change: the first read, a NOTIFY, or the poll. */
  readonly via: 'initial' | 'notify' | 'poll';
}
