export { MOVE_SCHEMA, parentsFirst, readCatalog, type SchemaCatalog, type TableInfo } from './catalog';
export { CAPTURE_SQL_V1, type MovePhase, type MoveState, readMoveState } from './capture';
export { type MoveBlocker, type MovePlan, planMove, serverOf } from './plan';
export { applyMove, type ApplyReport, copyMove, type CopyProgress, type CopyReport, MoveError, moveStatus, type MoveStatus, type MoveTarget, type MoveVerifyResult, startMove, stopMove, verifyMove } from './move';
export * from './switch';
