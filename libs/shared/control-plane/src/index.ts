/**
 * @carve/shared-control-plane: route overrides, audit, guard events, shadow mismatches and
 * context stages in Postgres schema `carve`, shared by every gateway replica and the CLI; and
 * the services' cached reader of their own context's stage (`ContextStageReader`).
 */
export * from './types';
export { ControlPlaneClient, ControlPlaneNotMigratedError, ControlPlaneValidationError, type ControlPlaneOptions } from './control-plane';
export { ControlSubscription, type SubscribeOptions, type SubscriptionState } from './subscription';
export { ContextStageReader, type ContextStageReaderOptions, type StageReader } from './stage-reader';
export { CONTROL_MIGRATIONS, CONTROL_SCHEMA, describeControlMigration, migrateControlPlane, migrateControlPlaneAt, pendingControlMigrations, type ControlMigration, type ControlMigrationReport } from './migrations';

/**
 * The gateway admin token of local development: what the gateway accepts and `carve routes`
 * sends when CARVE_ADMIN_TOKEN is not set (the same value `carve dev` gives the gateway). Only
 * ever accepted with PLATFORM=local; deployed gateways must configure their own.
 */
export const DEV_ADMIN_TOKEN = 'carve-dev-admin-token';
