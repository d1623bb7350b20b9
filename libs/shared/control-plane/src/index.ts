/**
 * @carve/shared-control-plane: route overrides, audit, guard events, shadow mismatches and
 * context stages in Postgres schema `carve`, shared by every gateway replica and the CLI.
 */
export * from './types';
export { ControlPlaneClient, ControlPlaneNotMigratedError, ControlPlaneValidationError, type ControlPlaneOptions } from './control-plane';
export { MismatchCursorError, type FieldPathCount, type MismatchPage, type MismatchQuery, type MismatchRetention } from './mismatches';
export { ControlSubscription, type SubscribeOptions, type SubscriptionState } from './subscription';
export {
  BOOTSTRAP_OPERATOR,
  isOperatorRole,
  newOperatorToken,
  OPERATOR_NAME,
  OPERATOR_ROLES,
  OPERATOR_TOKEN_PREFIX,
  operatorTokenDigest,
  OperatorError,
  OperatorStore,
  type Operator,
  type OperatorIdentity,
  type OperatorRole,
} from './operators';
export {
  DEFAULT_REPLICA_LIVE_MS,
  listGatewayReplicas,
  pruneGatewayReplicas,
  removeGatewayReplica,
  replicaAgreement,
  replicasMissing,
  reportGatewayReplica,
  type GatewayReplica,
  type GatewayReplicaReport,
  type ReplicaAgreement,
} from './replicas';
export {
  contextGuardTrips,
  recordContextRoutes,
  resolveContextTrips,
  type ContextGuardTrip,
  type ContextRoute,
  type GuardTripAction,
} from './guard-trips';
export { CONTROL_MIGRATIONS, CONTROL_SCHEMA, describeControlMigration, migrateControlPlane, migrateControlPlaneAt, pendingControlMigrations, type ControlMigrationReport, type MigrateOptions } from './migrate';
export { controlPlaneMigrations } from './migrations';

/**
 * The bootstrap operator's token of local development (operator `bootstrap`): what the gateway
 * accepts and `carve routes` sends when CARVE_ADMIN_TOKEN is not set (the same value `carve dev`
 * gives the gateway). Only ever accepted with PLATFORM=local; deployed gateways must configure
 * their own, and people get named tokens from `carve operator create`.
 */
export const DEV_ADMIN_TOKEN = 'carve-dev-admin-token';
