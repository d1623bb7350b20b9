/**
 * @carve/shared-carving: the machinery that carves a bounded context out of the monolith,
 * generic over a `CarvableContext` descriptor (see README.md and docs/runbooks/carving-a-context.md).
 */
export * from './context';
export * from './from-monolith';
export * from './stages';
export * from './stage-store';
export * from './ramps';
export * from './backfill';
export * from './backfill-sql';
export { LoadThrottle, nextDuty, waitAfter, MIN_DUTY, type LoadThrottleOptions, type ProbeSample, type ThrottleState } from './load-throttle';
export * from './verify';
export * from './sync';
export * from './handover';
export * from './conflicts';
export {
  Carving,
  CarvingError,
  type CarvingOptions,
  type ContextStatus,
  type CutoverResult,
  type GatewayAdmin,
  type RollbackResult,
  type RouteStatus,
  type StageResult,
  type WorkspacesResult,
} from './carving';
export * from './workspace-stages';
export * from './cohorts';
export { isoSql, literal, parseCopyTextLine } from './sql';
export * from './move';
