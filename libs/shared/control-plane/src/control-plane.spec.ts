import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client, Pool } from 'pg';
import { CONTROL_MIGRATIONS, ControlPlaneClient, ControlPlaneNotMigratedError, ControlPlaneValidationError, type ControlSnapshot, pendingControlMigrations } from './index';

const waitFor = async <T>(what: string, fn: () => T | undefined | false, timeoutMs = 3000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('ControlPlaneClient', () => {
  let db: TestDatabase;
  let cp: ControlPlaneClient;

  beforeAll(async () => {
    db = await createTestDatabase('control_plane');
    // Replicas start together: concurrent migrations serialise on the advisory lock.
    const [a, b] = await Promise.all([ControlPlaneClient.connect({ url: db.url }), ControlPlaneClient.connect({ url: db.url })]);
    cp = a;
    await b.close();
  });

  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  it('migrates once, whoever runs it, and creates the tables of schema carve', async () => {
    expect((await cp.migrate()).applied).toEqual([]);
    const r = await cp.pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'carve' ORDER BY 1`);
    expect(r.rows.map((x) => x.table_name)).toEqual([
      'audit',
      'backfill_checkpoints',
      'cohorts',
      'context_guard_trips',
      'context_routes',
      'context_stages',
      'control_state',
      'dead_letter_replays',
      'gateway_replicas',
      'guard_events',
      'handovers',
      'migrations',
      'operators',
      'ramps',
      'route_overrides',
      'shadow_mismatch_paths',
      'shadow_mismatches',
      'shadow_noise',
      'verify_runs',
      'workspace_route_overrides',
      'workspace_stages',
    ]);
    const cols = await cp.pool.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'carve' AND table_name = 'context_stages' ORDER BY ordinal_position`);
    expect(cols.rows.map((x) => x.column_name)).toEqual([
      'context', 'stage', 'updated_at',
      // Carving1729000000002 (what @carve/shared-carving keeps)
      'previous_stage', 'canary_percent', 'owner', 'owner_since', 'updated_by', 'reason', 'version',
    ]);
  });

  it('sets an override, audits it and notifies subscribers, in one transaction', async () => {
    const seen: ControlSnapshot[] = [];
    const sub = cp.subscribe((s) => seen.push(s), { pollMs: 60_000 }); // the poll cannot be what wakes it
    try {
      await waitFor('the initial snapshot', () => seen.length === 1 && sub.state().listening);
      expect(seen[0].via).toBe('initial');
      const v0 = seen[0].version;

      const change = await cp.setOverride({
        routeId: 'notes-read',
        mode: 'canary',
        percent: 30,
        actor: 'alice',
        reason: 'start the canary',
        before: { mode: 'shadow', percent: 0, source: 'file' },
      });
      expect(change.version).toBe(v0 + 1);
      expect(change.previous).toBeNull();
      expect(change.override).toMatchObject({ routeId: 'notes-read', mode: 'canary', percent: 30, updatedBy: 'alice', reason: 'start the canary' });
      expect(change.audit).toMatchObject({
        actor: 'alice',
        action: 'route.set',
        target: 'route:notes-read',
        reason: 'start the canary',
        before: { mode: 'shadow', percent: 0, source: 'file' },
        after: { mode: 'canary', percent: 30, source: 'override' },
      });

      const t0 = Date.now();
      const got = await waitFor('the NOTIFY', () => seen.find((s) => s.version === change.version));
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(got.via).toBe('notify');
      expect(got.overrides).toEqual([change.override]);

      const second = await cp.setOverride({ routeId: 'notes-read', mode: 'service', actor: 'bob', reason: 'all in' });
      expect(second.previous).toMatchObject({ mode: 'canary', percent: 30 });
      expect(second.audit.before).toEqual({ mode: 'canary', percent: 30, source: 'override' });
      expect(second.override).toMatchObject({ mode: 'service', percent: null, updatedBy: 'bob' });
      await waitFor('the second NOTIFY', () => seen.find((s) => s.version === second.version));
    } finally {
      await sub.close();
    }
  });

  it('refuses bad changes before touching the database', async () => {
    const v = await cp.version();
    await expect(cp.setOverride({ routeId: 'r', mode: 'sideways' as never, actor: 'a', reason: 'x' })).rejects.toThrow(
      new ControlPlaneValidationError('mode', 'must be one of monolith, shadow, canary, service, got "sideways"'),
    );
    await expect(cp.setOverride({ routeId: 'r', mode: 'canary', percent: 101, actor: 'a', reason: 'x' })).rejects.toThrow(/percent must be a number from 0 to 100/);
    await expect(cp.setOverride({ routeId: 'r', mode: 'service', percent: 5, actor: 'a', reason: 'x' })).rejects.toThrow(/percent is only for mode canary/);
    await expect(cp.setOverride({ routeId: 'r', mode: 'service', actor: 'a', reason: '  ' })).rejects.toThrow(/reason must be a non-empty string/);
    expect(await cp.version()).toBe(v);
  });

  it('clears an override (audited), and writes nothing when there is none', async () => {
    await cp.setOverride({ routeId: 'releases', mode: 'shadow', actor: 'carol', reason: 'compare' });
    const v = await cp.version();
    expect(await cp.clearOverride('nothing-here', 'carol', 'noop')).toBeNull();
    expect(await cp.version()).toBe(v);
    const cleared = await cp.clearOverride('releases', 'carol', 'back to the file');
    expect(cleared).toMatchObject({ version: v + 1, override: null, previous: { mode: 'shadow' } });
    expect(cleared!.audit).toMatchObject({ action: 'route.clear', before: { mode: 'shadow', source: 'override' }, after: { source: 'file' } });
    expect(await cp.getOverride('releases')).toBeNull();
    const audit = await cp.audit({ limit: 2 });
    expect(audit.map((a) => a.action)).toEqual(['route.clear', 'route.set']);
    expect(await cp.audit({ target: 'route:releases', limit: 10 })).toHaveLength(2);
  });

  it('records a guard trip and rolls the route back once, as actor guard', async () => {
    await cp.setOverride({ routeId: 'guarded', mode: 'canary', percent: 50, actor: 'dave', reason: 'ramp' });
    const first = await cp.recordGuardTrip({
      routeId: 'guarded',
      reason: 'error rate 40.0% > 5.0% over the last 30s (40 errors in 100 requests)',
      stats: { error: 40, total: 100 },
      gateway: 'gw-1',
    });
    expect(first.event).toMatchObject({ routeId: 'guarded', rolledBack: true, gateway: 'gw-1', stats: { error: 40, total: 100 } });
    expect(first.change?.override).toMatchObject({ mode: 'monolith', updatedBy: 'guard' });
    expect(first.change?.audit).toMatchObject({ actor: 'guard', action: 'route.guard-rollback', before: { mode: 'canary', percent: 50 } });
    // Another replica trips a moment later: the event is kept, the override is not rewritten.
    const second = await cp.recordGuardTrip({ routeId: 'guarded', reason: 'error rate 41%', gateway: 'gw-2' });
    expect(second.change).toBeNull();
    expect(second.event.rolledBack).toBe(false);
    expect((await cp.guardEvents({ routeId: 'guarded' })).map((e) => e.gateway)).toEqual(['gw-2', 'gw-1']);
    expect((await cp.audit({ target: 'route:guarded', limit: 10 })).filter((a) => a.actor === 'guard')).toHaveLength(1);
  });

  it('keeps only the latest mismatches per route', async () => {
    const small = await ControlPlaneClient.connect({ url: db.url, keepMismatches: 3, migrate: false });
    try {
      for (let i = 0; i < 5; i++) {
        await small.recordMismatch({
          routeId: 'm',
          request: { method: 'GET', path: `/x/${i}`, tenantId: 't1' },
          monolithStatus: 200,
          serviceStatus: 200,
          differences: [{ path: '$.n', kind: 'changed', monolith: i, service: i + 1 }],
        });
      }
      await small.recordMismatch({ routeId: 'other', request: { method: 'GET', path: '/y' }, differences: [] });
      const latest = await small.mismatches({ routeId: 'm', limit: 10 });
      expect(latest.map((m) => m.request.path)).toEqual(['/x/4', '/x/3', '/x/2']);
      expect(latest[0].differences).toEqual([{ path: '$.n', kind: 'changed', monolith: 4, service: 5 }]);
      expect(await small.mismatches({ routeId: 'other' })).toHaveLength(1);
    } finally {
      await small.close();
    }
  });

  it('overrides survive a restart (a new client reads them)', async () => {
    const again = await ControlPlaneClient.connect({ url: db.url });
    try {
      const o = await again.listOverrides();
      expect(o.find((x) => x.routeId === 'notes-read')).toMatchObject({ mode: 'service' });
      expect(o.find((x) => x.routeId === 'guarded')).toMatchObject({ mode: 'monolith', updatedBy: 'guard' });
    } finally {
      await again.close();
    }
  });

  it('reconnects a broken LISTEN connection, and the poll sees what was missed', async () => {
    const seen: ControlSnapshot[] = [];
    const errors: string[] = [];
    const sub = cp.subscribe((s) => seen.push(s), { pollMs: 300, reconnectMinMs: 100, onError: (e) => errors.push(e.message) });
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      await waitFor('listening', () => sub.state().listening);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'carve-control-listen' AND datname = current_database()`);
      await waitFor('the broken connection to be noticed', () => !sub.state().listening || sub.state().reconnects > 0);
      const change = await cp.setOverride({ routeId: 'while-down', mode: 'service', actor: 'erin', reason: 'during the outage' });
      const t0 = Date.now();
      await waitFor('the change after the outage', () => seen.find((s) => s.version >= change.version), 2000);
      expect(Date.now() - t0).toBeLessThan(2000);
      await waitFor('listening again', () => sub.state().listening, 3000);
      expect(sub.state().reconnects).toBeGreaterThan(0);
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await admin.end();
      await sub.close();
    }
  });
});

describe('ControlPlaneClient.connect without migrating (a role without DDL)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('control_plane_unmigrated');
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('refuses a control plane with migrations pending, naming them, and accepts it once they ran', async () => {
    const all = CONTROL_MIGRATIONS;
    const fresh = await ControlPlaneClient.connect({ url: db.url, migrate: false }).catch((err: unknown) => err);
    expect(fresh).toBeInstanceOf(ControlPlaneNotMigratedError);
    expect((fresh as ControlPlaneNotMigratedError).pending).toEqual(all);
    expect((fresh as Error).message).toContain(`lacks migrations ${all.join(', ')}`);

    // Half way, as the first runner recorded it: only the first one, under its old name.
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA carve; CREATE TABLE carve.schema_migrations (name text PRIMARY KEY); INSERT INTO carve.schema_migrations VALUES ('0001_control_plane')`);
      const pool = new Pool({ connectionString: db.url, max: 1 });
      try {
        expect(await pendingControlMigrations(pool)).toEqual(all.slice(1));
      } finally {
        await pool.end();
      }
      await c.query('DROP SCHEMA carve CASCADE');
    } finally {
      await c.end();
    }

    const migrated = await ControlPlaneClient.connect({ url: db.url });
    await migrated.close();
    const checked = await ControlPlaneClient.connect({ url: db.url, migrate: false });
    try {
      expect(await pendingControlMigrations(checked.pool)).toEqual([]);
      expect(await checked.version()).toBe(0);
    } finally {
      await checked.close();
    }
  });
});
