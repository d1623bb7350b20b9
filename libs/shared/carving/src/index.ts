/**
 * @carve/shared-carving: the machinery that carves a bounded context out of the monolith,
 * generic over a `CarvableContext` descriptor (see README.md and docs/runbooks/carving-a-context.md).
 */
export * from './context';
export * from './stages';
export * from './stage-store';
export * from './backfill';
export * from './verify';
export * from './sync';
export { Carving, CarvingError, type CarvingOptions, type ContextStatus, type CutoverResult, type GatewayAdmin, type RollbackResult, type RouteStatus, type StageResult } from './carving';
export { literal, parseCopyTextLine } from './sql';
