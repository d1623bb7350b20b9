import { checkWorkspaceTransition, normaliseWorkspaceIds, summariseWorkspaces, type WorkspaceStageRecord, workspaceRouteSides } from '../src';
import { widgets } from './support/widgets';

/** The per-workspace rules, pure: which moves a workspace may make, where its routes send it, and what status counts. */
const row = (workspaceId: string, stage: WorkspaceStageRecord['stage']): WorkspaceStageRecord => ({
  context: 'widgets',
  workspaceId,
  stage,
  owner: stage === 'writes-switched' || stage === 'complete' ? 'service' : 'monolith',
  ownerSince: null,
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'alice',
  reason: 'test',
  version: 1,
});

describe('per-workspace stages', () => {
  it('move a workspace’s reads at once from any read stage, its writes from reads, complete from writes', () => {
    for (const from of ['backfilled', 'shadow', 'canary', 'reads-switched'] as const) expect(checkWorkspaceTransition(from, 'reads-switched', 'stage').ok).toBe(true);
    expect(checkWorkspaceTransition('created', 'reads-switched', 'stage')).toMatchObject({ ok: false, reason: 'nothing was backfilled yet' });
    expect(checkWorkspaceTransition('writes-switched', 'reads-switched', 'stage')).toMatchObject({ ok: false, hint: expect.stringContaining('carve rollback') });
    expect(checkWorkspaceTransition('backfilled', 'shadow', 'stage')).toMatchObject({ ok: false, reason: 'a workspace moves to reads or complete, not shadow' });
    expect(checkWorkspaceTransition('reads-switched', 'writes-switched', 'cutover').ok).toBe(true);
    expect(checkWorkspaceTransition('backfilled', 'writes-switched', 'cutover').ok).toBe(false);
    expect(checkWorkspaceTransition('writes-switched', 'complete', 'stage').ok).toBe(true);
    expect(checkWorkspaceTransition('reads-switched', 'complete', 'stage').ok).toBe(false);
  });

  it('send a workspace’s routes where its stage says', () => {
    expect(workspaceRouteSides(widgets, 'reads-switched')).toEqual([
      { routeId: 'widgets-read', side: 'service' },
      { routeId: 'widgets-write', side: 'monolith' },
    ]);
    expect(workspaceRouteSides(widgets, 'backfilled').map((r) => r.side)).toEqual(['monolith', 'monolith']);
    expect(workspaceRouteSides(widgets, 'complete').map((r) => r.side)).toEqual(['service', 'service']);
  });

  it('normalise ids as the fence and the gateway compare them', () => {
    expect(normaliseWorkspaceIds([' AB ', 'ab', '', 'Cd'])).toEqual(['ab', 'cd']);
  });

  it('count the workspaces at each stage; a context is complete only when every workspace is', () => {
    const s = summariseWorkspaces('backfilled', [row('w2', 'writes-switched')], ['w1', 'w2', 'w3']);
    expect(s).toMatchObject({ total: 3, complete: false });
    expect(s.byStage).toEqual([
      { stage: 'backfilled', owner: 'monolith', count: 2, workspaces: ['w1', 'w3'], followsContext: true },
      { stage: 'writes-switched', owner: 'service', count: 1, workspaces: ['w2'], followsContext: false },
    ]);
    expect(summariseWorkspaces('complete', [row('w1', 'writes-switched')], ['w1', 'w2']).complete).toBe(false);
    expect(summariseWorkspaces('writes-switched', [row('w1', 'complete'), row('w2', 'complete')], ['w1', 'w2']).complete).toBe(true);
    expect(summariseWorkspaces('complete', [], null)).toMatchObject({ total: null, complete: true });
    expect(summariseWorkspaces('complete', [row('w1', 'backfilled')], null).complete).toBe(false);
    expect(summariseWorkspaces('backfilled', [], ['a', 'b', 'c'], { listMax: 2 }).byStage[0]).toMatchObject({ count: 3, workspaces: ['a', 'b'] });
  });
});
