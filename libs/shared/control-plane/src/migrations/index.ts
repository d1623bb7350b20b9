/**
 * Schema `carve`'s migrations, in order: the same convention as every other schema (one TypeORM
 * migration per file, `<timestamp>-<name>.ts`, its SQL written out in it, run by
 * @carve/shared-persistence's `runMigrations` under the schema's advisory lock and recorded in
 * `carve.migrations`). The timestamps end in the migration's number (there never was a 6).
 *
 * Expand/contract: a migration only adds (tables, columns, indexes), so an older gateway keeps
 * working against a newer schema. Append a new file here; never edit one that has shipped.
 */
import { ControlPlane1729000000001 } from './1729000000001-control-plane';
import { Carving1729000000002 } from './1729000000002-carving';
import { Handovers1729000000003 } from './1729000000003-handovers';
import { Operators1729000000004 } from './1729000000004-operators';
import { GatewayReplicas1729000000005 } from './1729000000005-gateway-replicas';
import { DeadLetterReplays1729000000007 } from './1729000000007-dead-letter-replays';
import { WorkspaceOwnership1729000000008 } from './1729000000008-workspace-ownership';
import { MismatchBrowsing1729000000009 } from './1729000000009-mismatch-browsing';
import { Ramps1729000000010 } from './1729000000010-ramps';
import { MismatchBodies1729000000011 } from './1729000000011-mismatch-bodies';

export const controlPlaneMigrations = [
  ControlPlane1729000000001,
  Carving1729000000002,
  Handovers1729000000003,
  Operators1729000000004,
  GatewayReplicas1729000000005,
  DeadLetterReplays1729000000007,
  WorkspaceOwnership1729000000008,
  MismatchBrowsing1729000000009,
  Ramps1729000000010,
  MismatchBodies1729000000011,
];
