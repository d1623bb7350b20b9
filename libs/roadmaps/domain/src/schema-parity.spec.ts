/**
 * The releases bodies moved from the kernel's hand-written rules onto JSON Schema (ajv): the
 * rules as they were are kept here, and every input of the corpus must get the same result from
 * both, errors (field and message) and normalised value alike.
 */
import { arrayOf, date, object, oneOf, partial, required, str, uuid, validate, withDefault } from '@carve/shared-kernel';
import { parseListQuery, RELEASE_STATES, releaseList, validatePlannedFeature, validateReleaseCreate, validateReleasePatch } from './index';

const timeframe = object(
  { start: required(date()), end: required(date()) },
  {
    check: (t, path, errors) => {
      if (t.start > t.end) errors.push({ field: path ? `${path}.end` : 'end', message: 'must not be before the start' });
    },
  },
);
const releaseShape = {
  name: required(str({ min: 1, max: 200 })),
  description: withDefault(str({ max: 20_000 }), () => ''),
  timeframe: required(timeframe),
  state: withDefault(oneOf(RELEASE_STATES), () => 'planned' as const),
  featureIds: withDefault(arrayOf(uuid(), { max: 500, unique: (id) => id, uniqueMessage: 'plans the same feature twice' }), () => []),
};
const { featureIds: _f, ...patchable } = releaseShape;
const rules = {
  create: (b: unknown) => validate(object(releaseShape), b),
  patch: (b: unknown) => validate(object(partial(patchable), { atLeastOne: true }), b),
  planned: (b: unknown) => validate(object({ featureId: required(uuid()) }), b),
};
const schemas = { create: validateReleaseCreate, patch: validateReleasePatch, planned: validatePlannedFeature };

const F1 = '00000000-0000-4000-A000-000000000001';
const F2 = '00000000-0000-4000-a000-000000000002';
const sort = (r: any) => (r.ok ? r : { ok: false, errors: [...r.errors].sort((a: any, b: any) => `${a.field} ${a.message}`.localeCompare(`${b.field} ${b.message}`)) });
const tf = { start: '2025-01-01', end: '2025-03-31' };

const bodies: unknown[] = [
  null,
  [],
  {},
  'x',
  { name: ' Q1 ', timeframe: tf },
  { name: '', timeframe: { start: '2025-03-01', end: '2025-02-30' }, featureIds: [F1, F1] },
  { name: 'Q1', timeframe: { start: '2025-03-01', end: '2025-02-01' } },
  { name: '', timeframe: { start: '2025-03-01', end: '2025-02-01' } },
  { name: 'Q1', timeframe: { start: '2025-03-01' } },
  { name: 'Q1', timeframe: { start: 'March', end: 5, extra: true } },
  { name: 'Q1', timeframe: '2025' },
  { name: 'Q1', timeframe: null },
  { name: 'x'.repeat(201), description: 'd'.repeat(20_001), timeframe: tf, state: 'done' },
  { name: 'Q1', description: null, timeframe: tf, state: 3 },
  { name: 'Q1', timeframe: tf, featureIds: [F1, F2, F1.toLowerCase()] },
  { name: 'Q1', timeframe: tf, featureIds: [F1, 'nope', 7] },
  { name: 'Q1', timeframe: tf, featureIds: 'all' },
  { name: 'Q1', timeframe: tf, featureIds: Array.from({ length: 501 }, () => F1) },
  { name: 'Q1', timeframe: tf, featureIds: [F2, F1] },
  { name: 'a\u0000b', timeframe: tf },
  { featureIds: [] },
  { state: 'released' },
  { timeframe: { start: '2025-02-29', end: '2025-03-01' } },
  { featureId: F1 },
  { featureId: 'x', other: 1 },
];

describe('releases bodies on JSON Schema answer as the hand-written rules did', () => {
  for (const kind of Object.keys(rules) as Array<keyof typeof rules>) {
    it(`${kind}: same errors and values for every body of the corpus`, () => {
      for (const body of bodies) {
        expect({ body, result: sort(schemas[kind](body)) }).toEqual({ body, result: sort(rules[kind](body)) });
      }
    });
  }

  it('checks list filters with their schemas', () => {
    expect(parseListQuery(releaseList, { state: 'gone', featureId: F1 })).toMatchObject({ ok: false, errors: [{ field: 'state', message: 'must be one of planned, in-progress, released' }] });
    const ok = parseListQuery(releaseList, { featureId: F1 });
    expect(ok.ok && ok.value.filters).toEqual({ featureId: F1.toLowerCase() });
  });
});
