import { applyOverrides, findRoute, validateOverride, validateWorkspaceOverride } from './index';
import { notesAndCustomersTable } from './table.fixtures';

// The rules of route and per-workspace overrides that overrides.spec.ts and
// workspace-overrides.spec.ts leave open: the ends of the percent range, what each refused
// per-workspace override is told, several workspaces on one route, and the order in which the
// table lists the overrides in force.

const load = notesAndCustomersTable;

const W1 = 'aaaaaaaa-0000-4000-8000-000000000001';
const W2 = 'aaaaaaaa-0000-4000-8000-000000000002';

describe('validateOverride: percent', () => {
  it('accepts 0 and 100, the ends of the range', () => {
    expect(validateOverride(load(), { routeId: 'notes', mode: 'canary', percent: 0 })).toEqual([]);
    expect(validateOverride(load(), { routeId: 'notes', mode: 'canary', percent: 100 })).toEqual([]);
  });

  it('refuses a percent below 0, an infinite one and a number written as a string', () => {
    const percentProblems = (percent: unknown) =>
      validateOverride(load(), { routeId: 'notes', mode: 'canary', percent: percent as number }).map((e) => [e.path, e.message]);
    expect(percentProblems(-0.5)).toEqual([['percent', 'must be a number between 0 and 100, got -0.5']]);
    expect(percentProblems(Number.POSITIVE_INFINITY)).toEqual([['percent', 'must be a number between 0 and 100, got null']]);
    expect(percentProblems('50')).toEqual([['percent', 'must be a number between 0 and 100, got "50"']]);
  });

  it('reports only the unknown route for a canary without percent on a route that does not exist', () => {
    expect(validateOverride(load(), { routeId: 'gone', mode: 'canary' })).toEqual([{ path: 'routeId', message: 'names no route: "gone"' }]);
  });
});

describe('validateWorkspaceOverride', () => {
  it('tells what is wrong with each field', () => {
    const t = load();
    expect(validateWorkspaceOverride(t, { routeId: 'notes', workspaceId: W1, side: 'monolith' })).toEqual([]);
    expect(validateWorkspaceOverride(t, { routeId: 7 as never, workspaceId: 42 as never, side: undefined as never })).toEqual([
      { path: 'routeId', message: 'must be a string' },
      { path: 'workspaceId', message: 'must be a non-empty string' },
      { path: 'side', message: 'must be monolith or service, got undefined' },
    ]);
    expect(validateWorkspaceOverride(t, { routeId: 'gone', workspaceId: '', side: 'shadow' as never })).toEqual([
      { path: 'routeId', message: 'names no route: "gone"' },
      { path: 'workspaceId', message: 'must be a non-empty string' },
      { path: 'side', message: 'must be monolith or service, got "shadow"' },
    ]);
  });
});

describe('applyOverrides: several overrides', () => {
  it('keeps every workspace listed for one route', () => {
    const { table, problems } = applyOverrides(load(), [], [
      { routeId: 'notes', workspaceId: W1, side: 'service' },
      { routeId: 'notes', workspaceId: W2, side: 'monolith' },
    ]);
    expect(problems).toEqual([]);
    expect([...(findRoute(table, 'notes')?.workspaces ?? [])]).toEqual([
      [W1, 'service'],
      [W2, 'monolith'],
    ]);
  });

  it('lists the overrides in force in the order given, a replaced one at the place of the one that replaced it', () => {
    const { table } = applyOverrides(load(), [
      { routeId: 'notes', mode: 'service' },
      { routeId: 'customers', mode: 'monolith' },
      { routeId: 'notes', mode: 'canary', percent: 10 },
    ]);
    expect(table.overrides).toEqual([
      { routeId: 'customers', mode: 'monolith' },
      { routeId: 'notes', mode: 'canary', percent: 10 },
    ]);
  });
});
