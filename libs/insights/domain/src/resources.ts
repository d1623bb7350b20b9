/**
 * The notes API's request bodies and list queries: the JSON Schemas of
 * @carve/insights-api-contract (`notes.api.ts`), validated by ajv with the kernel's per-field
 * errors. The monolith's notes controllers validate with the same schemas, so a bad body gets
 * the same 400 from either side, and the OpenAPI document publishes exactly what is checked.
 */
import type { ListSpec } from '@carve/shared-kernel';
import { NOTE_LIMITS, NOTE_LINK_LIST, NOTE_LIST } from '@carve/insights-api-contract';
import { listSpecOf } from '@carve/shared-contract-kit';

export {
  validateNoteCreate,
  validateNoteLinkCreate,
  validateNoteLinkPatch,
  validateNotePatch,
  type NoteCreate,
  type NoteLinkCreate,
  type NoteLinkPatch,
  type NotePatch,
} from '@carve/insights-api-contract';

/** Limits on text fields (characters). */
export const LIMITS = NOTE_LIMITS;

export const noteList = listSpecOf(NOTE_LIST) satisfies ListSpec<any>;
export const noteLinkList = listSpecOf(NOTE_LINK_LIST) satisfies ListSpec<any>;

export type NoteFilters = { state?: string; source?: string; tag?: string; customerEmail?: string; featureId?: string };
export type NoteLinkFilters = { importance?: string };
