/**
 * The monolith's aggregates a new context can take over, as the generator needs to know them:
 * their events (@carve/legacy-events), their table in schema `legacy`, their API path, the
 * exact SQL that builds an event's `data` from a row (so backfill and verify compare the same
 * JSON that forward sync stores), and a valid sample for the generated tests.
 *
 * Workspaces (tenancy) stay in the monolith; note-feature links carry their note's version and
 * move with notes, by hand. Anything else is refused with the list of what is offered.
 */
import { LEGACY_EVENTS } from '@carve/legacy-events';
import { isoSql as iso } from '@carve/shared-carving';

export interface MonolithAggregate {
  /** As in the API path, the topic and `--aggregates`: `releases`. */
  readonly plural: string;
  /** The events' aggregateType: `release`. */
  readonly type: string;
  /** Prefix of the contracts exported by @carve/legacy-events: `Release` → ReleaseCreated, ReleaseState... */
  readonly legacyExport: string;
  readonly legacyTable: string;
  readonly legacyTopic: string;
  /** The event's `data` (created/updated) as jsonb, from a row of legacyTable aliased `t`. */
  readonly stateSql: string;
  /** A TypeScript object literal of a valid state, over variables `id`, `workspaceId`, `at` (ISO) and `title`. */
  readonly sample: string;
}

const json = (fields: Array<[string, string]>) => `jsonb_build_object(${fields.map(([k, v]) => `'${k}', ${v}`).join(', ')})`;
const stamps: Array<[string, string]> = [
  ['createdAt', iso('t.created_at')],
  ['updatedAt', iso('t.updated_at')],
];

const defs: Array<Omit<MonolithAggregate, 'legacyTopic'>> = [
  {
    plural: 'members',
    type: 'member',
    legacyExport: 'Member',
    legacyTable: 'members',
    stateSql: json([['id', 't.id'], ['workspaceId', 't.workspace_id'], ['email', 't.email'], ['name', 't.name'], ['role', 't.role'], ...stamps]),
    sample: `{ id, workspaceId, email: \`\${id.slice(0, 8)}@example.test\`, name: title, role: 'maker' as const, createdAt: at, updatedAt: at }`,
  },
  {
    plural: 'features',
    type: 'feature',
    legacyExport: 'Feature',
    legacyTable: 'features',
    stateSql: json([
      ['id', 't.id'], ['workspaceId', 't.workspace_id'], ['title', 't.title'], ['description', 't.description'], ['status', 't.status'],
      ['priority', 't.priority::int'], ['ownerId', 't.owner_id'], ['tags', 'to_jsonb(t.tags)'], ...stamps,
    ]),
    sample: `{ id, workspaceId, title, description: '', status: 'new' as const, priority: 3, ownerId: null, tags: [], createdAt: at, updatedAt: at }`,
  },
  {
    plural: 'notes',
    type: 'note',
    legacyExport: 'Note',
    legacyTable: 'notes',
    stateSql: json([
      ['id', 't.id'], ['workspaceId', 't.workspace_id'], ['title', 't.title'], ['content', 't.content'], ['source', 't.source'],
      ['customerEmail', 't.customer_email'], ['customerName', 't.customer_name'], ['customerCompany', 't.customer_company'],
      ['tags', 'to_jsonb(t.tags)'], ['state', 't.state'], ...stamps,
    ]),
    sample: `{ id, workspaceId, title, content: 'What a customer said.', source: 'manual' as const, customerEmail: null, customerName: null, customerCompany: null, tags: [], state: 'unprocessed' as const, createdAt: at, updatedAt: at }`,
  },
  {
    plural: 'releases',
    type: 'release',
    legacyExport: 'Release',
    legacyTable: 'releases',
    stateSql: json([
      ['id', 't.id'], ['workspaceId', 't.workspace_id'], ['name', 't.name'], ['description', 't.description'],
      ['startsOn', `to_char(t.starts_on, 'YYYY-MM-DD')`], ['endsOn', `to_char(t.ends_on, 'YYYY-MM-DD')`], ['state', 't.state'],
      ['featureIds', `coalesce((SELECT jsonb_agg(rf.feature_id ORDER BY rf.created_at, rf.feature_id) FROM legacy.release_features rf WHERE rf.release_id = t.id), '[]'::jsonb)`],
      ...stamps,
    ]),
    sample: `{ id, workspaceId, name: title, description: '', startsOn: '2025-04-01', endsOn: '2025-06-30', state: 'planned' as const, featureIds: [], createdAt: at, updatedAt: at }`,
  },
];

/** Topics of the monolith's contracts, by aggregateType (one major each today). */
function legacyTopicOf(type: string): string {
  const contract = LEGACY_EVENTS.find((e) => e.aggregateType === type);
  if (!contract) throw new Error(`@carve/legacy-events has no events for aggregate ${type}`);
  return contract.topic;
}

export const MONOLITH_AGGREGATES: readonly MonolithAggregate[] = defs.map((d) => ({ ...d, legacyTopic: legacyTopicOf(d.type) }));

/** Aggregates that exist in the monolith but are not offered, with the reason. */
export const NOT_OFFERED: Readonly<Record<string, string>> = {
  workspaces: 'workspaces are tenancy: they stay in the monolith (a context keeps a read model of them from legacy.workspaces.v1 if it needs one)',
  'note-feature-links': "links carry their note's version and move with notes; carve them by hand beside notes",
};

export function findAggregate(plural: string): MonolithAggregate | undefined {
  return MONOLITH_AGGREGATES.find((a) => a.plural === plural);
}
