/**
 * The notes API's request bodies and list queries, rule for rule as the monolith accepts them
 * (@carve/legacy-domain `resources.ts`, notes section): same fields, defaults, limits and
 * messages, so a bad body gets the same 400 from either side.
 */
import { IMPORTANCES, NOTE_SOURCES, NOTE_STATES } from './enums';
import type { ListSpec } from '@carve/shared-kernel';
import { arrayOf, email, nullable, object, oneOf, partial, required, type Rule, str, tags, uuid, validate, withDefault } from '@carve/shared-kernel';

/** Limits on text fields (characters). */
export const LIMITS = {
  name: 200,
  title: 200,
  content: 50_000,
  linkedFeatures: 50,
} as const;

const oneTag: Rule<string> = (v, p, e) => {
  const out = str({ min: 1, max: 40 })(v, p, e);
  return typeof out === 'string' ? out.toLowerCase() : out;
};

const customerShape = {
  email: required(email()),
  name: withDefault(nullable(str({ max: LIMITS.name })), () => null),
  company: withDefault(nullable(str({ max: LIMITS.name })), () => null),
};

const linkShape = {
  featureId: required(uuid()),
  importance: withDefault(oneOf(IMPORTANCES), () => 'medium' as const),
};

const noteShape = {
  title: required(str({ min: 1, max: LIMITS.title })),
  content: required(str({ min: 1, max: LIMITS.content })),
  source: withDefault(oneOf(NOTE_SOURCES), () => 'manual' as const),
  customer: withDefault(nullable(object(customerShape)), () => null),
  tags: withDefault(tags(), () => []),
  state: withDefault(oneOf(NOTE_STATES), () => 'unprocessed' as const),
  /** Linked features, written with the note in one transaction. */
  features: withDefault(
    arrayOf(object(linkShape), { max: LIMITS.linkedFeatures, unique: (l) => l.featureId, uniqueMessage: 'links the same feature twice' }),
    () => [],
  ),
};
const { features: _noteFeatures, ...notePatchable } = noteShape;
export const validateNoteCreate = (body: unknown) => validate(object(noteShape), body);
export const validateNotePatch = (body: unknown) => validate(object(partial(notePatchable), { atLeastOne: true }), body);
export const validateNoteLinkCreate = (body: unknown) => validate(object(linkShape), body);
export const validateNoteLinkPatch = (body: unknown) => validate(object({ importance: required(oneOf(IMPORTANCES)) }), body);

export const noteList = {
  sorts: { createdAt: 'timestamp', updatedAt: 'timestamp', title: 'text' },
  defaultSort: '-createdAt',
  filters: { state: oneOf(NOTE_STATES), source: oneOf(NOTE_SOURCES), tag: oneTag, customerEmail: email(), featureId: uuid() },
} satisfies ListSpec<any>;

export const noteLinkList = {
  sorts: { createdAt: 'timestamp' },
  defaultSort: 'createdAt',
  filters: { importance: oneOf(IMPORTANCES) },
} satisfies ListSpec<any>;

export type NoteCreate = Extract<ReturnType<typeof validateNoteCreate>, { ok: true }>['value'];
export type NotePatch = Extract<ReturnType<typeof validateNotePatch>, { ok: true }>['value'];
export type NoteLinkCreate = Extract<ReturnType<typeof validateNoteLinkCreate>, { ok: true }>['value'];
export type NoteLinkPatch = Extract<ReturnType<typeof validateNoteLinkPatch>, { ok: true }>['value'];
export type NoteFilters = { state?: string; source?: string; tag?: string; customerEmail?: string; featureId?: string };
export type NoteLinkFilters = { importance?: string };
