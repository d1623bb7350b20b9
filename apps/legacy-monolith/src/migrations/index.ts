/**
 * The legacy schema's migrations, in order. Rules (expand/contract, because old and new pods
 * overlap during a deploy and migrations run before the new version serves):
 * - expand first: add tables, nullable columns, columns with defaults, indexes; never rename or
 *   drop what the running version reads;
 * - backfill in a later migration or job; switch the code;
 * - contract (drop the old column/table) only in a release after no running version uses it.
 * Never edit a migration that has shipped; add a new one.
 */
import { InitialSchema1730000000000 } from './1730000000000-initial-schema';
import { ListIndexes1730000000001 } from './1730000000001-list-indexes';
import { OutboxInbox1730000000002 } from './1730000000002-outbox-inbox';
import { ReverseSyncParking1730000000003 } from './1730000000003-reverse-sync-parking';
import { WriteFence1730000000004 } from './1730000000004-write-fence';
import { SyncConflicts1730000000005 } from './1730000000005-sync-conflicts';
import { WriteFenceLockdown1730000000006 } from './1730000000006-write-fence-lockdown';

export const legacyMigrations = [InitialSchema1730000000000, ListIndexes1730000000001, OutboxInbox1730000000002, ReverseSyncParking1730000000003, WriteFence1730000000004, SyncConflicts1730000000005, WriteFenceLockdown1730000000006];
