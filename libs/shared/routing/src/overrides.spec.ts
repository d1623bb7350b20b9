import { applyOverrides, decide, findRoute, matchRoute, validateOverride } from './index';
import { notesAndCustomersTable } from './table.fixtures';

const load = notesAndCustomersTable;

describe('applyOverrides', () => {
  it('lets the control plane beat the file, in a new frozen table', () => {
    const file = load();
    const { table, problems } = applyOverrides(file, [
      { routeId: 'notes', mode: 'canary', percent: 60 },
      { routeId: 'customers', mode: 'monolith' },
    ]);
    expect(problems).toEqual([]);
    expect(findRoute(table, 'notes')).toMatchObject({ mode: 'canary', percent: 60, overridden: true, doc: { percent: 30 } });
    expect(findRoute(table, 'customers')).toMatchObject({ mode: 'monolith', percent: 0, overridden: true });
    expect(table.overrides).toEqual([
      { routeId: 'notes', mode: 'canary', percent: 60 },
      { routeId: 'customers', mode: 'monolith' },
    ]);
    expect(Object.isFrozen(table) && Object.isFrozen(table.routes[0])).toBe(true);
    // The given table is untouched.
    expect(findRoute(file, 'notes')).toMatchObject({ mode: 'canary', percent: 30, overridden: false });
  });

  it('keeps matching, and decisions follow the override', () => {
    const { table } = applyOverrides(load(), [{ routeId: 'notes', mode: 'service' }]);
    const m = matchRoute(table, 'GET', '/api/notes/1');
    expect(m?.route).toBe(findRoute(table, 'notes'));
    expect(decide(m!.route, { method: 'GET', tenantId: 't' })).toMatchObject({ primary: 'service', reason: 'mode-service' });
    expect(matchRoute(table, 'GET', '/api/other')).toBeNull();
  });

  it('keeps the file percent for canary without a percent', () => {
    const { table } = applyOverrides(load(), [{ routeId: 'notes', mode: 'canary' }]);
    expect(findRoute(table, 'notes')).toMatchObject({ mode: 'canary', percent: 30, overridden: true });
  });

  it('replaces rather than stacks: an empty list restores the file', () => {
    const once = applyOverrides(load(), [{ routeId: 'notes', mode: 'monolith' }, { routeId: 'customers', mode: 'service' }]).table;
    const twice = applyOverrides(once, [{ routeId: 'customers', mode: 'canary', percent: 5 }]).table;
    expect(findRoute(twice, 'notes')).toMatchObject({ mode: 'canary', percent: 30, overridden: false });
    expect(findRoute(twice, 'customers')).toMatchObject({ mode: 'canary', percent: 5, overridden: true });
    const restored = applyOverrides(twice, []).table;
    expect(restored.routes.map((r) => [r.id, r.mode, r.percent, r.overridden])).toEqual([
      ['notes', 'canary', 30, false],
      ['customers', 'shadow', 0, false],
    ]);
    expect(restored.overrides).toEqual([]);
  });

  it('reports unknown routes and invalid overrides, and still applies the rest', () => {
    const { table, problems } = applyOverrides(load(), [
      { routeId: 'gone', mode: 'service' },
      { routeId: 'notes', mode: 'shadow', percent: 10 },
      { routeId: 'customers', mode: 'canary' },
      { routeId: 'notes', mode: 'dark' as never },
      { routeId: 'notes', mode: 'canary', percent: 101 },
      { routeId: 'customers', mode: 'service' },
    ]);
    expect(problems).toEqual([
      { path: 'overrides[0].routeId', message: 'names no route: "gone"' },
      { path: 'overrides[1].percent', message: 'is only for mode canary, not shadow' },
      { path: 'overrides[2].percent', message: 'is required: route "customers" is not a canary in the file, so there is no percent to keep' },
      { path: 'overrides[3].mode', message: 'must be one of monolith, shadow, canary, service, got "dark"' },
      { path: 'overrides[4].percent', message: 'must be a number between 0 and 100, got 101' },
    ]);
    expect(findRoute(table, 'notes')).toMatchObject({ mode: 'canary', percent: 30, overridden: false });
    expect(findRoute(table, 'customers')).toMatchObject({ mode: 'service', percent: 100, overridden: true });
  });

  it('lets the later of two overrides for one route win, and says so', () => {
    const { table, problems } = applyOverrides(load(), [
      { routeId: 'notes', mode: 'service' },
      { routeId: 'notes', mode: 'monolith' },
    ]);
    expect(problems).toEqual([{ path: 'overrides[0]', message: 'replaced by overrides[1] for the same route "notes"' }]);
    expect(findRoute(table, 'notes')?.mode).toBe('monolith');
  });
});

describe('validateOverride', () => {
  it('accepts a valid override and explains a bad one', () => {
    const t = load();
    expect(validateOverride(t, { routeId: 'notes', mode: 'canary', percent: 0.5 })).toEqual([]);
    expect(validateOverride(t, { routeId: 'customers', mode: 'monolith' })).toEqual([]);
    expect(validateOverride(t, { routeId: 42 as never, mode: 'service', percent: Number.NaN })).toEqual([
      { path: 'routeId', message: 'must be a string' },
      { path: 'percent', message: 'must be a number between 0 and 100, got null' },
    ]);
  });
});
