/**
 * The releases API's bodies and list queries: the monolith's defaults, normalisation and
 * messages (the releases contract suite holds both sides to them over HTTP; this pins the pure
 * part), and cursors that only page on under the sort and filters they were made for.
 */
import { encodeCursor, parseListQuery, plannedFeatureList, RELEASE_STATES, releaseList, validatePlannedFeature, validateReleaseCreate, validateReleasePatch } from './index';

const F = '00000000-0000-4000-a000-000000000001';

describe('release bodies', () => {
  it('fills in defaults and trims', () => {
    expect(validateReleaseCreate({ name: ' Q1 ', timeframe: { start: '2025-01-01', end: '2025-03-31' } })).toEqual({
      ok: true,
      value: { name: 'Q1', description: '', timeframe: { start: '2025-01-01', end: '2025-03-31' }, state: 'planned', featureIds: [] },
    });
  });

  it('says per field what is wrong', () => {
    expect(validateReleaseCreate({ name: '', timeframe: { start: '2025-03-01', end: '2025-02-30' }, featureIds: [F, F] })).toEqual({
      ok: false,
      errors: [
        { field: 'name', message: 'must not be empty' },
        { field: 'timeframe.end', message: 'is not a real calendar date' },
        { field: 'featureIds[1]', message: 'plans the same feature twice' },
      ],
    });
    expect(validateReleasePatch({ featureIds: [] })).toMatchObject({ ok: false, errors: [{ field: 'featureIds', message: 'is not a known field' }] });
    expect(validateReleasePatch({ state: 'released' })).toEqual({ ok: true, value: { state: 'released' } });
    expect(validatePlannedFeature({ featureId: F.toUpperCase() })).toEqual({ ok: true, value: { featureId: F } });
    expect(RELEASE_STATES).toEqual(['planned', 'in-progress', 'released']);
  });
});

describe('release lists', () => {
  it('sort by start date by default and bind a cursor to its sort and filters', () => {
    const q = parseListQuery(releaseList, { state: 'planned' });
    if (!q.ok) throw new Error('expected a valid query');
    expect(q.value.sort).toEqual({ field: 'startsOn', direction: 'asc', kind: 'date' });
    const cursor = encodeCursor(q.value, '2026-01-01', F);
    expect(parseListQuery(releaseList, { state: 'planned', cursor })).toMatchObject({ ok: true, value: { after: { value: '2026-01-01', id: F } } });
    expect(parseListQuery(releaseList, { state: 'released', cursor })).toMatchObject({ ok: false, errors: [{ field: 'cursor' }] });
    expect(parseListQuery(releaseList, { state: 'planned', cursor: encodeCursor(q.value, '2026-02-30', F) })).toMatchObject({ ok: false, errors: [{ field: 'cursor' }] });
    expect(parseListQuery(plannedFeatureList, { sort: 'name' })).toMatchObject({ ok: false, errors: [{ field: 'sort', message: 'must be one of createdAt, -createdAt' }] });
  });
});
