/**
 * The insights schema's migrations, in order. Expand/contract (old and new pods overlap during a
 * deploy; migrations run before the new version serves, from the init container): add first,
 * switch the code, drop in a later release. Never edit a migration that has shipped.
 */
import { InitialSchema1731000000000 } from './1731000000000-initial-schema';
import { WriteFence1731000000001 } from './1731000000001-write-fence';
import { SyncConflicts1731000000002 } from './1731000000002-sync-conflicts';
import { WriteFenceLockdown1731000000003 } from './1731000000003-write-fence-lockdown';

export const insightsMigrations = [InitialSchema1731000000000, WriteFence1731000000001, SyncConflicts1731000000002, WriteFenceLockdown1731000000003];
