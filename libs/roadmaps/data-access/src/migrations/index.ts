/**
 * Schema `roadmaps`'s migrations, in order. Expand/contract (old and new pods overlap during a
 * deploy; migrations run before the new version serves, from the init container): add first,
 * switch the code, drop in a later release. Never edit a migration that has shipped.
 */
import { InitialSchema1795893277181 } from './1795893277181-initial-schema';
import { WriteFence1795893277182 } from './1795893277182-write-fence';
import { SyncConflicts1795893277183 } from './1795893277183-sync-conflicts';
import { WriteFenceLockdown1795893277184 } from './1795893277184-write-fence-lockdown';

export const roadmapsMigrations = [InitialSchema1795893277181, WriteFence1795893277182, SyncConflicts1795893277183, WriteFenceLockdown1795893277184];
