import { encodeCursor, parseListQuery, toPage } from '@carve/shared-kernel';
import {
  featureList,
  noteList,
  validateFeatureCreate,
  validateFeaturePatch,
  validateNoteCreate,
  validateNotePatch,
  validateReleaseCreate,
} from './resources';
import { permissions } from './roles';

describe('body validation', () => {
  it('fills defaults and normalises a valid feature', () => {
    const r = validateFeatureCreate({ title: '  Dark mode ', tags: ['UI', 'ui', 'a11y'] });
    expect(r).toEqual({
      ok: true,
      value: { title: 'Dark mode', description: '', status: 'new', priority: 3, ownerId: null, tags: ['ui', 'a11y'] },
    });
    if (r.ok) {
      const title: string = r.value.title; // typed
      expect(title).toBe('Dark mode');
    }
  });

  it('reports every bad field, unknown ones included', () => {
    const r = validateFeatureCreate({ title: '', status: 'shipped', priority: 9, ownerId: 'x', tags: 'ui', colour: 'red' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(
      expect.arrayContaining([
        { field: 'colour', message: 'is not a known field' },
        { field: 'title', message: 'must not be empty' },
        { field: 'status', message: 'must be one of new, planned, in-progress, done' },
        { field: 'priority', message: 'must be from 1 to 5' },
        { field: 'ownerId', message: 'must be a UUID' },
        { field: 'tags', message: 'must be an array' },
      ]),
    );
    expect(r.errors).toHaveLength(6);
  });

  it('rejects a body that is not an object, and an empty PATCH', () => {
    expect(validateFeatureCreate([1])).toEqual({ ok: false, errors: [{ field: '(body)', message: 'must be a JSON object' }] });
    expect(validateFeatureCreate(undefined)).toEqual({ ok: false, errors: [{ field: '(body)', message: 'must be a JSON object' }] });
    expect(validateFeaturePatch({})).toEqual({ ok: false, errors: [{ field: '(body)', message: 'must change at least one field' }] });
    expect(validateFeaturePatch({ priority: 1 })).toEqual({ ok: true, value: { priority: 1 } });
  });

  it('checks nested note customers and links with indexed paths', () => {
    const r = validateNoteCreate({
      title: 't',
      content: 'c',
      customer: { email: 'not-an-email', nickname: 'x' },
      features: [
        { featureId: '00000000-0000-4000-a000-000000000001', importance: 'urgent' },
        { featureId: '00000000-0000-4000-a000-000000000001' },
      ],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      { field: 'customer.nickname', message: 'is not a known field' },
      { field: 'customer.email', message: 'must be an email address' },
      { field: 'features[0].importance', message: 'must be one of low, medium, high, critical' },
    ]);
    const dup = validateNoteCreate({ title: 't', content: 'c', features: [{ featureId: '00000000-0000-4000-a000-000000000001' }, { featureId: '00000000-0000-4000-a000-000000000001' }] });
    expect(dup).toEqual({ ok: false, errors: [{ field: 'features[1]', message: 'links the same feature twice' }] });
    expect(validateNotePatch({ features: [] })).toEqual({ ok: false, errors: [{ field: 'features', message: 'is not a known field' }] });
  });

  it('checks release timeframes', () => {
    expect(validateReleaseCreate({ name: 'Q1', timeframe: { start: '2025-02-30', end: '2025-03-01' } })).toEqual({
      ok: false,
      errors: [{ field: 'timeframe.start', message: 'is not a real calendar date' }],
    });
    expect(validateReleaseCreate({ name: 'Q1', timeframe: { start: '2025-04-01', end: '2025-03-01' } })).toEqual({
      ok: false,
      errors: [{ field: 'timeframe.end', message: 'must not be before the start' }],
    });
  });
});

describe('list queries', () => {
  it('applies defaults', () => {
    expect(parseListQuery(noteList, {})).toEqual({
      ok: true,
      value: { limit: 50, sort: { field: 'createdAt', direction: 'desc', kind: 'timestamp' }, after: undefined, filters: {} },
    });
  });

  it('rejects unknown parameters, bad limits, sorts and filter values', () => {
    const r = parseListQuery(noteList, { limit: '0', sort: 'colour', state: 'done', page: '2' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.field).sort()).toEqual(['limit', 'page', 'sort', 'state']);
  });

  it('round-trips a cursor and refuses it for another sort or filter', () => {
    const q = parseListQuery(featureList, { sort: 'priority', status: 'new', limit: '2' });
    if (!q.ok) throw new Error('expected ok');
    const rows = [
      { id: '00000000-0000-4000-a000-000000000001', priority: 1 },
      { id: '00000000-0000-4000-a000-000000000002', priority: 2 },
      { id: '00000000-0000-4000-a000-000000000003', priority: 2 },
    ];
    const page = toPage(rows, q.value, (r) => r.priority);
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toBe(encodeCursor(q.value, 2, rows[1].id));
    const next = parseListQuery(featureList, { sort: 'priority', status: 'new', limit: '2', cursor: page.nextCursor });
    expect(next.ok && next.value.after).toEqual({ value: 2, id: rows[1].id });
    expect(parseListQuery(featureList, { sort: '-priority', status: 'new', cursor: page.nextCursor }).ok).toBe(false);
    expect(parseListQuery(featureList, { sort: 'priority', status: 'done', cursor: page.nextCursor }).ok).toBe(false);
    expect(parseListQuery(featureList, { sort: 'priority', status: 'new', cursor: 'garbage!' }).ok).toBe(false);
    expect(toPage(rows.slice(0, 2), q.value, (r) => r.priority).nextCursor).toBeNull();
    // Forged cursors with values Postgres could not compare are refused up front.
    const forge = (v: unknown, id = rows[0].id, sort = 'priority') =>
      Buffer.from(JSON.stringify({ s: sort, f: JSON.parse(Buffer.from(page.nextCursor!, 'base64url').toString()).f, v, id })).toString('base64url');
    expect(parseListQuery(featureList, { sort: 'priority', status: 'new', cursor: forge(2) }).ok).toBe(true);
    for (const bad of [forge(1e20), forge(2.5), forge('2'), forge(2, '------------------------------------')]) {
      expect(parseListQuery(featureList, { sort: 'priority', status: 'new', cursor: bad }).ok).toBe(false);
    }
    for (const v of ['2025', '2025-13-45T00:00:00.000Z', '2025-02-30T00:00:00.000Z', '2025-01-01T00:00:00Z']) {
      expect(parseListQuery(featureList, { status: 'new', cursor: forge(v, rows[0].id, '-createdAt') }).ok).toBe(false);
    }
    expect(parseListQuery(featureList, { status: 'new', cursor: forge('2025-01-01T00:00:00.000Z', rows[0].id, '-createdAt') }).ok).toBe(true);
  });
});

describe('permissions', () => {
  it('lets admins and makers write, only admins administer', () => {
    expect([permissions.write('admin'), permissions.write('maker'), permissions.write('viewer')]).toEqual([true, true, false]);
    expect([permissions.administer('admin'), permissions.administer('maker')]).toEqual([true, false]);
  });
});
