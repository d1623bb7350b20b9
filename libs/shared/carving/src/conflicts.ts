/**
 * The sync conflicts of a context, as `carve status` shows them: each side's consumer keeps its
 * own in its schema (`<inboxSchema>.sync_conflicts`, @carve/shared-messaging conflicts.ts), read
 * here over the admin connection to that side's database.
 */
import { openSyncConflicts, type StoredSyncConflict } from '@carve/shared-messaging';
import { Client } from 'pg';

export interface SideConflicts {
  /** The schema holding them (the consuming side's). */
  readonly schema: string;
  /** Open (unresolved) conflicts of the context on this side. */
  readonly open: number;
  /** The oldest open ones (up to 5), without their payloads. */
  readonly oldest: ReadonlyArray<Omit<StoredSyncConflict, 'eventPayload' | 'localPayload'>>;
  /** Set when the side could not be read (not migrated yet, unreachable). */
  readonly error?: string;
}

/** The open conflicts of `context` in `<schema>.sync_conflicts` of the database at `url`. */
export async function readSideConflicts(url: string, schema: string, context: string): Promise<SideConflicts> {
  const c = new Client({ connectionString: url, application_name: 'carve-status' });
  try {
    await c.connect();
    const { count, oldest } = await openSyncConflicts(c, schema, context, 5);
    return { schema, open: count, oldest: oldest.map(({ eventPayload: _e, localPayload: _l, ...rest }) => rest) };
  } catch (err) {
    return { schema, open: 0, oldest: [], error: (err as Error).message };
  } finally {
    await c.end().catch(() => undefined);
  }
}
