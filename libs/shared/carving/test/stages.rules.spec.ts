import { checkTransition, isStage, ownerAt, parseStageArg, rollbackTarget, routeSettingFor, stageArg, stageIndex, STAGES, type Stage, type StageCommand } from '../src';

// The stage table of stages.ts, every cell of it, and each move `carve` may or may not make.

const ok = (from: Stage, to: Stage, cmd: StageCommand = 'stage') => checkTransition(from, to, cmd).ok;

describe('stages: route settings and owner at every stage', () => {
  // stage, read routes, write routes, owner of writes (the table at the top of stages.ts)
  const table: Array<[Stage, ReturnType<typeof routeSettingFor>, ReturnType<typeof routeSettingFor>, 'monolith' | 'service']> = [
    ['created', { mode: 'monolith' }, { mode: 'monolith' }, 'monolith'],
    ['backfilled', { mode: 'monolith' }, { mode: 'monolith' }, 'monolith'],
    ['shadow', { mode: 'shadow' }, { mode: 'monolith' }, 'monolith'],
    ['canary', { mode: 'canary', percent: 25 }, { mode: 'monolith' }, 'monolith'],
    ['reads-switched', { mode: 'service' }, { mode: 'monolith' }, 'monolith'],
    ['writes-switched', { mode: 'service' }, { mode: 'service' }, 'service'],
    ['complete', { mode: 'service' }, { mode: 'service' }, 'service'],
  ];

  it('covers every stage, in order', () => {
    expect(table.map(([s]) => s)).toEqual([...STAGES]);
    expect(STAGES.map(stageIndex)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it.each(table)('%s: reads %j, writes %j, writes owned by %s', (stage, read, write, owner) => {
    expect(routeSettingFor(stage, 'read', 25)).toEqual(read);
    expect(routeSettingFor(stage, 'write', 25)).toEqual(write);
    expect(ownerAt(stage)).toBe(owner);
  });

  it('gives a canary without a percent 0 %', () => {
    expect(routeSettingFor('canary', 'read')).toEqual({ mode: 'canary', percent: 0 });
    expect(routeSettingFor('canary', 'read', null)).toEqual({ mode: 'canary', percent: 0 });
  });
});

describe('stages: moves', () => {
  it('may re-apply every read stage (its routes are set again), and complete', () => {
    for (const s of ['shadow', 'canary', 'reads-switched', 'complete'] as const) expect(checkTransition(s, s, 'stage')).toEqual({ ok: true });
  });

  it('may re-run a cutover that already happened', () => {
    expect(checkTransition('writes-switched', 'writes-switched', 'cutover')).toEqual({ ok: true });
  });

  it('refuses a cutover to anything but writes-switched, and from anything but reads-switched', () => {
    expect(checkTransition('reads-switched', 'complete', 'cutover')).toEqual({ ok: false, reason: 'a cutover goes to writes-switched, not complete', hint: undefined });
    for (const from of ['created', 'backfilled', 'shadow', 'canary', 'complete'] as const) {
      expect(checkTransition(from, 'writes-switched', 'cutover')).toEqual({
        ok: false,
        reason: `writes can only be cut over from reads-switched, and the context is at ${from}`,
        hint: 'move the reads first: `carve stage <context> reads`',
      });
    }
  });

  it('lets a backfill complete created or re-confirm a read stage, only into backfilled', () => {
    for (const from of ['created', 'backfilled', 'shadow', 'canary', 'reads-switched'] as const) expect(ok(from, 'backfilled', 'backfill')).toBe(true);
    for (const from of ['writes-switched', 'complete'] as const) {
      expect(checkTransition(from, 'backfilled', 'backfill')).toEqual({
        ok: false,
        reason: `the service owns the writes (stage ${from}): backfilling from the monolith now could overwrite them`,
        hint: 'the monolith is no longer the source of truth; roll back first (`carve rollback <context>`) if you really need a backfill',
      });
    }
    expect(checkTransition('created', 'shadow', 'backfill')).toEqual({ ok: false, reason: 'a backfill ends in stage backfilled, not shadow', hint: undefined });
  });

  it('never lets `carve stage` go to created or backfilled, and says what to run instead', () => {
    expect(checkTransition('shadow', 'backfilled', 'stage')).toMatchObject({ ok: false, reason: '`carve stage` does not go to backfilled', hint: 'run `carve backfill <context>`' });
    expect(checkTransition('shadow', 'created', 'stage')).toMatchObject({ ok: false, reason: '`carve stage` does not go to created', hint: 'use `carve rollback <context>`' });
  });

  it('never moves the writes by `carve stage`: the cutover verifies first', () => {
    for (const from of ['reads-switched', 'writes-switched'] as const) {
      expect(checkTransition(from, 'writes-switched', 'stage')).toEqual({
        ok: false,
        reason: 'writes move with `carve cutover <context> --writes` (it verifies first)',
        hint: 'run `carve cutover <context> --writes`',
      });
    }
  });

  it('goes to complete only from writes-switched (or complete)', () => {
    for (const from of ['created', 'backfilled', 'shadow', 'canary', 'reads-switched'] as const) {
      expect(checkTransition(from, 'complete', 'stage')).toEqual({
        ok: false,
        reason: `a context is complete only after its writes were switched (it is at ${from})`,
        hint: 'run `carve cutover <context> --writes` first',
      });
    }
  });

  it('refuses every read stage once the service owns the writes', () => {
    for (const from of ['writes-switched', 'complete'] as const) {
      for (const to of ['shadow', 'canary', 'reads-switched'] as const) {
        expect(checkTransition(from, to, 'stage')).toMatchObject({ ok: false, reason: `the service owns the writes (stage ${from}); moving reads back alone is not a rollback` });
      }
    }
  });

  it('refuses every read stage before a backfill', () => {
    for (const to of ['shadow', 'canary', 'reads-switched'] as const) {
      expect(checkTransition('created', to, 'stage')).toEqual({ ok: false, reason: 'nothing was backfilled yet', hint: 'run `carve backfill <context>`, then `carve verify <context>`' });
    }
  });

  it('names the next step in `carve stage` words when a step is skipped', () => {
    expect(checkTransition('shadow', 'reads-switched', 'stage').hint).toBe('go one step at a time: `carve stage <context> canary`');
    expect(checkTransition('backfilled', 'canary', 'stage')).toMatchObject({ ok: false, reason: 'from backfilled the next stage is shadow, not canary' });
    expect(ok('reads-switched', 'shadow')).toBe(true);
  });
});

describe('stages: rollback', () => {
  it('lands on backfilled from every stage after the backfill, and on created before it', () => {
    expect(STAGES.map(rollbackTarget)).toEqual(['created', 'backfilled', 'backfilled', 'backfilled', 'backfilled', 'backfilled', 'backfilled']);
  });

  it('refuses any other target, saying where it goes', () => {
    expect(checkTransition('canary', 'created', 'rollback')).toEqual({ ok: false, reason: 'a rollback from canary goes to backfilled, not created', hint: undefined });
    expect(checkTransition('created', 'backfilled', 'rollback')).toMatchObject({ ok: false, reason: 'a rollback from created goes to created, not backfilled' });
    expect(checkTransition('complete', 'shadow', 'rollback').ok).toBe(false);
  });
});

describe('stages: names', () => {
  it('knows its stages and nothing else', () => {
    for (const s of STAGES) expect(isStage(s)).toBe(true);
    for (const v of ['Shadow', 'reads', '', 'writes', undefined, null, 3, ['shadow']]) expect(isStage(v)).toBe(false);
  });

  it('parses and prints the `carve stage` arguments', () => {
    expect(['shadow', ' canary ', 'READS', 'reads-switched', 'Complete'].map(parseStageArg)).toEqual(['shadow', 'canary', 'reads-switched', 'reads-switched', 'complete']);
    for (const a of ['created', 'backfilled', 'writes-switched', 'writes', '']) expect(parseStageArg(a)).toBeUndefined();
    expect(STAGES.map(stageArg)).toEqual(['created', 'backfilled', 'shadow', 'canary', 'reads', 'writes-switched', 'complete']);
  });
});
