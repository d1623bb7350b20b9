/**
 * The monolith's own bodies (workspaces, members, features, comments) moved from the kernel's
 * hand-written rules onto JSON Schema (ajv): the rules as they were are kept here, and every
 * input of the corpus must get the same result from both, errors (field and message) and
 * normalised value alike.
 */
import { email, int, nullable, object, oneOf, optional, partial, required, str, tags, uuid, validate, withDefault } from '@carve/shared-kernel';
import {
  FEATURE_STATUSES,
  featureList,
  MEMBER_ROLES,
  memberList,
  parseListQuery,
  validateCommentCreate,
  validateCommentPatch,
  validateFeatureCreate,
  validateFeaturePatch,
  validateMemberCreate,
  validateMemberPatch,
  validateWorkspacePatch,
} from './index';

const memberShape = {
  email: required(email()),
  name: required(str({ min: 1, max: 200 })),
  role: withDefault(oneOf(MEMBER_ROLES), () => 'maker' as const),
};
const featureShape = {
  title: required(str({ min: 1, max: 200 })),
  description: withDefault(str({ max: 20_000 }), () => ''),
  status: withDefault(oneOf(FEATURE_STATUSES), () => 'new' as const),
  priority: withDefault(int({ min: 1, max: 5 }), () => 3),
  ownerId: withDefault(nullable(uuid()), () => null),
  tags: withDefault(tags(), () => []),
};
const commentShape = { body: required(str({ min: 1, max: 10_000 })) };
const rules = {
  workspacePatch: (b: unknown) => validate(object({ name: optional(str({ min: 1, max: 200 })) }, { atLeastOne: true }), b),
  memberCreate: (b: unknown) => validate(object(memberShape), b),
  memberPatch: (b: unknown) => validate(object(partial(memberShape), { atLeastOne: true }), b),
  featureCreate: (b: unknown) => validate(object(featureShape), b),
  featurePatch: (b: unknown) => validate(object(partial(featureShape), { atLeastOne: true }), b),
  commentCreate: (b: unknown) => validate(object(commentShape), b),
  commentPatch: (b: unknown) => validate(object(commentShape), b),
};
const schemas = {
  workspacePatch: validateWorkspacePatch,
  memberCreate: validateMemberCreate,
  memberPatch: validateMemberPatch,
  featureCreate: validateFeatureCreate,
  featurePatch: validateFeaturePatch,
  commentCreate: validateCommentCreate,
  commentPatch: validateCommentPatch,
};

const U = '00000000-0000-4000-A000-000000000001';
const sort = (r: any) => (r.ok ? r : { ok: false, errors: [...r.errors].sort((a: any, b: any) => `${a.field} ${a.message}`.localeCompare(`${b.field} ${b.message}`)) });

const bodies: unknown[] = [
  null,
  [],
  {},
  'x',
  { name: ' Acme ' },
  { name: '' },
  { name: 'n'.repeat(201), other: 1 },
  { name: 3 },
  { email: ' Ana@Example.COM ', name: ' Ana ', role: 'viewer' },
  { email: 'nope', name: '', role: 'boss' },
  { email: 'a@b.c' },
  { role: 'admin' },
  { title: ' Export ', tags: ['UI', 'ui'], priority: 1, ownerId: U },
  { title: '', description: 5, status: 'later', priority: 0, ownerId: 'x', tags: 'ui' },
  { title: 't', priority: 2.5, ownerId: null, tags: ['a,b', ''] },
  { title: 't', priority: '3', tags: Array.from({ length: 21 }, () => 'x') },
  { status: 'done' },
  { body: ' Looks good ' },
  { body: '   ' },
  { body: 'b'.repeat(10_001), x: 1 },
  { body: 'a\u0000b' },
];

describe("the monolith's own bodies on JSON Schema answer as the hand-written rules did", () => {
  for (const kind of Object.keys(rules) as Array<keyof typeof rules>) {
    it(`${kind}: same errors and values for every body of the corpus`, () => {
      for (const body of bodies) {
        expect({ body, result: sort(schemas[kind](body)) }).toEqual({ body, result: sort(rules[kind](body)) });
      }
    });
  }

  it('checks list filters with their schemas', () => {
    expect(parseListQuery(memberList, { role: 'boss', email: 'nope' })).toMatchObject({
      ok: false,
      errors: [
        { field: 'role', message: 'must be one of admin, maker, viewer' },
        { field: 'email', message: 'must be an email address' },
      ],
    });
    const ok = parseListQuery(featureList, { tag: ' UI ', ownerId: U });
    expect(ok.ok && ok.value.filters).toEqual({ tag: 'ui', ownerId: U.toLowerCase() });
  });
});
