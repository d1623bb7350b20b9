/**
 * The releases API's bodies and list queries, as the monolith's (@carve/legacy-domain
 * resources.ts, "releases and the features planned in them"): same shapes, limits, defaults and
 * messages, which the releases contract suite holds both sides to.
 */
import { RELEASE_STATES } from './enums';
import type { ListSpec } from '@carve/shared-kernel';
import { arrayOf, date, object, oneOf, partial, required, str, uuid, validate, withDefault } from '@carve/shared-kernel';

/** Limits on text fields (characters), as the monolith's. */
export const LIMITS = { name: 200, description: 20_000, plannedFeatures: 500 } as const;

const timeframe = object(
  { start: required(date()), end: required(date()) },
  {
    check: (t, path, errors) => {
      if (t.start > t.end) errors.push({ field: path ? `${path}.end` : 'end', message: 'must not be before the start' });
    },
  },
);

const releaseShape = {
  name: required(str({ min: 1, max: LIMITS.name })),
  description: withDefault(str({ max: LIMITS.description }), () => ''),
  timeframe: required(timeframe),
  state: withDefault(oneOf(RELEASE_STATES), () => 'planned' as const),
  /** Planned features, written with the release in one transaction. */
  featureIds: withDefault(arrayOf(uuid(), { max: LIMITS.plannedFeatures, unique: (id) => id, uniqueMessage: 'plans the same feature twice' }), () => []),
};
const { featureIds: _releaseFeatures, ...releasePatchable } = releaseShape;

export const validateReleaseCreate = (body: unknown) => validate(object(releaseShape), body);
export const validateReleasePatch = (body: unknown) => validate(object(partial(releasePatchable), { atLeastOne: true }), body);
export const validatePlannedFeature = (body: unknown) => validate(object({ featureId: required(uuid()) }), body);

export const releaseList = {
  sorts: { createdAt: 'timestamp', updatedAt: 'timestamp', name: 'text', startsOn: 'date' },
  defaultSort: 'startsOn',
  filters: { state: oneOf(RELEASE_STATES), featureId: uuid() },
} satisfies ListSpec<any>;

export const plannedFeatureList = {
  sorts: { createdAt: 'timestamp' },
  defaultSort: 'createdAt',
  filters: {},
} satisfies ListSpec<any>;

export type ReleaseCreate = Extract<ReturnType<typeof validateReleaseCreate>, { ok: true }>['value'];
export type ReleasePatch = Extract<ReturnType<typeof validateReleasePatch>, { ok: true }>['value'];
