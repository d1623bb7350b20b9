import { checkTransition, ownerAt, parseStageArg, routeSettingFor, STAGES, type Stage } from '../src';

describe('stages', () => {
  const ok = (from: Stage, to: Stage, cmd: Parameters<typeof checkTransition>[2] = 'stage') => checkTransition(from, to, cmd).ok;

  it('go forward one step at a time, from a backfilled context', () => {
    expect(ok('backfilled', 'shadow')).toBe(true);
    expect(ok('shadow', 'canary')).toBe(true);
    expect(ok('canary', 'canary')).toBe(true); // a new percent
    expect(ok('canary', 'reads-switched')).toBe(true);
    expect(ok('writes-switched', 'complete')).toBe(true);
    expect(ok('created', 'backfilled', 'backfill')).toBe(true);
    expect(ok('reads-switched', 'writes-switched', 'cutover')).toBe(true);
  });

  it('refuse skipping a stage, saying which one is next', () => {
    const r = checkTransition('backfilled', 'reads-switched', 'stage');
    expect(r).toMatchObject({ ok: false, reason: 'from backfilled the next stage is shadow, not reads-switched' });
    expect(r.hint).toContain('carve stage <context> shadow');
    expect(checkTransition('shadow', 'reads-switched', 'stage').reason).toContain('next stage is canary');
    expect(checkTransition('created', 'shadow', 'stage')).toMatchObject({ ok: false, reason: 'nothing was backfilled yet' });
  });

  it('move writes only by the cutover, and only from reads-switched', () => {
    expect(checkTransition('reads-switched', 'writes-switched', 'stage')).toMatchObject({ ok: false, hint: 'run `carve cutover <context> --writes`' });
    expect(checkTransition('canary', 'writes-switched', 'cutover')).toMatchObject({ ok: false, reason: expect.stringContaining('only be cut over from reads-switched') });
    expect(checkTransition('shadow', 'complete', 'stage').ok).toBe(false);
  });

  it('allow ramping reads down while the monolith owns writes, but not once the service does', () => {
    expect(ok('reads-switched', 'canary')).toBe(true);
    expect(ok('canary', 'shadow')).toBe(true);
    expect(checkTransition('writes-switched', 'reads-switched', 'stage')).toMatchObject({ ok: false, hint: expect.stringContaining('carve rollback') });
  });

  it('refuse a backfill once the service owns writes', () => {
    expect(checkTransition('writes-switched', 'backfilled', 'backfill').ok).toBe(false);
    expect(ok('shadow', 'backfilled', 'backfill')).toBe(true);
  });

  it('roll back from anywhere to backfilled (created stays created)', () => {
    for (const s of STAGES) expect(checkTransition(s, s === 'created' ? 'created' : 'backfilled', 'rollback').ok).toBe(true);
  });

  it('imply the route modes and the owner of writes', () => {
    expect(routeSettingFor('backfilled', 'read')).toEqual({ mode: 'monolith' });
    expect(routeSettingFor('shadow', 'read')).toEqual({ mode: 'shadow' });
    expect(routeSettingFor('shadow', 'write')).toEqual({ mode: 'monolith' });
    expect(routeSettingFor('canary', 'read', 50)).toEqual({ mode: 'canary', percent: 50 });
    expect(routeSettingFor('reads-switched', 'read')).toEqual({ mode: 'service' });
    expect(routeSettingFor('reads-switched', 'write')).toEqual({ mode: 'monolith' });
    expect(routeSettingFor('writes-switched', 'write')).toEqual({ mode: 'service' });
    expect(STAGES.map(ownerAt)).toEqual(['monolith', 'monolith', 'monolith', 'monolith', 'monolith', 'service', 'service']);
  });

  it('parse the stage arguments of the CLI', () => {
    expect(parseStageArg('reads')).toBe('reads-switched');
    expect(parseStageArg('Shadow')).toBe('shadow');
    expect(parseStageArg('writes')).toBeUndefined();
  });
});
