/**
 * The notes bodies moved from the kernel's hand-written rules onto JSON Schema (ajv): the rules
 * as they were are kept here, and every input of the corpus must get the same result from both,
 * errors (field and message) and normalised value alike.
 */
import {
  arrayOf,
  email,
  nullable,
  object,
  oneOf,
  partial,
  required,
  str,
  tags,
  uuid,
  validate,
  withDefault,
} from '@carve/shared-kernel';
import { IMPORTANCES, NOTE_SOURCES, NOTE_STATES, noteList, parseListQuery, validateNoteCreate, validateNoteLinkCreate, validateNoteLinkPatch, validateNotePatch } from './index';

const customerShape = {
  email: required(email()),
  name: withDefault(nullable(str({ max: 200 })), () => null),
  company: withDefault(nullable(str({ max: 200 })), () => null),
};
const linkShape = { featureId: required(uuid()), importance: withDefault(oneOf(IMPORTANCES), () => 'medium' as const) };
const noteShape = {
  title: required(str({ min: 1, max: 200 })),
  content: required(str({ min: 1, max: 50_000 })),
  source: withDefault(oneOf(NOTE_SOURCES), () => 'manual' as const),
  customer: withDefault(nullable(object(customerShape)), () => null),
  tags: withDefault(tags(), () => []),
  state: withDefault(oneOf(NOTE_STATES), () => 'unprocessed' as const),
  features: withDefault(arrayOf(object(linkShape), { max: 50, unique: (l) => l.featureId, uniqueMessage: 'links the same feature twice' }), () => []),
};
const { features: _f, ...patchable } = noteShape;
const rules = {
  create: (b: unknown) => validate(object(noteShape), b),
  patch: (b: unknown) => validate(object(partial(patchable), { atLeastOne: true }), b),
  linkCreate: (b: unknown) => validate(object(linkShape), b),
  linkPatch: (b: unknown) => validate(object({ importance: required(oneOf(IMPORTANCES)) }), b),
};
const schemas = { create: validateNoteCreate, patch: validateNotePatch, linkCreate: validateNoteLinkCreate, linkPatch: validateNoteLinkPatch };

const F1 = '00000000-0000-4000-A000-000000000001';
const F2 = '00000000-0000-4000-a000-000000000002';
const sort = (r: any) => (r.ok ? r : { ok: false, errors: [...r.errors].sort((a: any, b: any) => `${a.field} ${a.message}`.localeCompare(`${b.field} ${b.message}`)) });

const bodies: unknown[] = [
  null,
  'text',
  42,
  [],
  {},
  { title: ' Wants export ', content: 'c', customer: { email: 'Ana@Example.COM' }, tags: ['UI', 'ui', ' Ux '] },
  { title: '', content: '   ' },
  { title: 'x'.repeat(201), content: 'c' },
  { title: 7, content: null },
  { title: 'a\u0000b', content: 'c' },
  { title: 't', content: 'c', source: 'fax', state: 'done', extra: 1, another: true },
  { title: 't', content: 'c', customer: { email: 'not-an-email', nickname: 'x' } },
  { title: 't', content: 'c', customer: { email: 'ab', name: 'n'.repeat(201), company: 3 } },
  { title: 't', content: 'c', customer: { name: 'Ana' } },
  { title: 't', content: 'c', customer: 'ana@example.com' },
  { title: 't', content: 'c', customer: null, tags: null },
  { title: 't', content: 'c', tags: 'ui' },
  { title: 't', content: 'c', tags: ['', 'a,b', 'x'.repeat(41), 5, ' ok '] },
  { title: 't', content: 'c', tags: Array.from({ length: 21 }, (_, i) => `t${i % 3}`) },
  { title: 't', content: 'c', tags: Array.from({ length: 20 }, (_, i) => `T${i % 3}`) },
  { title: 't', content: 'c', features: [{ featureId: F1, importance: 'urgent' }, { featureId: F1 }] },
  { title: 't', content: 'c', features: [{ featureId: F1 }, { featureId: F1.toLowerCase() }] },
  { title: 't', content: 'c', features: [{ featureId: F1 }, { featureId: F2, importance: 'high' }] },
  { title: 't', content: 'c', features: [{ featureId: 'nope' }, { featureId: 5 }, { other: 1 }, 'x', null] },
  { title: 't', content: 'c', features: Array.from({ length: 51 }, () => ({ featureId: 'x' })) },
  { title: 't', content: 'c', features: {} },
  { features: [] },
  { title: null },
  { state: 'processed', tags: [] },
  { importance: 'high' },
  { importance: 'HIGH' },
  { importance: null },
  { featureId: F1 },
  { featureId: F1, importance: 'low', x: 1 },
  { featureId: 12 },
];

describe('notes bodies on JSON Schema answer as the hand-written rules did', () => {
  for (const kind of Object.keys(rules) as Array<keyof typeof rules>) {
    it(`${kind}: same errors and values for every body of the corpus`, () => {
      for (const body of bodies) {
        expect({ body, result: sort(schemas[kind](body)) }).toEqual({ body, result: sort(rules[kind](body)) });
      }
    });
  }

  it('leaves the input as it was', () => {
    const body = { title: ' t ', content: 'c', tags: ['A', 'a'] };
    validateNoteCreate(body);
    expect(body).toEqual({ title: ' t ', content: 'c', tags: ['A', 'a'] });
  });

  it('checks list filters with their schemas, under the filter name', () => {
    expect(parseListQuery(noteList, { state: 'gone', featureId: 'x', customerEmail: 'Ana@Example.com ', tag: ' UI ' })).toMatchObject({
      ok: false,
      errors: [
        { field: 'state', message: 'must be one of unprocessed, processed, archived' },
        { field: 'featureId', message: 'must be a UUID' },
      ],
    });
    const ok = parseListQuery(noteList, { customerEmail: ' Ana@Example.com ', tag: ' UI ', featureId: F1 });
    expect(ok.ok && ok.value.filters).toEqual({ customerEmail: 'ana@example.com', tag: 'ui', featureId: F1.toLowerCase() });
  });
});
