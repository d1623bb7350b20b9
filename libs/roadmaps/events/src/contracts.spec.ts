/**
 * The roadmaps contracts keep the monolith's data shape (reverse sync applies them as is),
 * accept a valid state and refuse a bad one, and their topics are declared in the backbone's
 * topic declaration (libs/shared/messaging/topics.yaml).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { LEGACY_EVENTS } from '@carve/legacy-events';
import { parse } from 'yaml';
import { ROADMAPS_EVENTS, ROADMAPS_ORIGIN, ROADMAPS_TOPICS, majorOf, validateRoadmapsEvent } from './index';

const json = (v: unknown) => JSON.parse(JSON.stringify(v));

describe.each(ROADMAPS_EVENTS.map((c) => [`${c.type} ${c.version}`, c] as const))('%s', (_name, contract) => {
  it('has the data schema of the monolith event of the same type', () => {
    const legacy = LEGACY_EVENTS.find((e) => e.type === contract.type && majorOf(e.version) === majorOf(contract.version));
    expect(legacy).toBeDefined();
    expect(json(contract.schema)).toEqual(json(legacy!.schema));
    expect(contract.source).toBe('roadmaps');
  });
});

describe('roadmaps contracts', () => {
  const id = randomUUID();
  const workspaceId = randomUUID();
  const at = '2025-03-01T10:00:00.000Z';
  const title = 'A title';

  it('accept a valid release and say what is wrong with a bad one', () => {
    const state = { id, workspaceId, name: title, description: '', startsOn: '2025-04-01', endsOn: '2025-06-30', state: 'planned' as const, featureIds: [], createdAt: at, updatedAt: at };
    expect(validateRoadmapsEvent({ type: 'release.created', version: '1.0', data: state })).toBeNull();
    expect(validateRoadmapsEvent({ type: 'release.deleted', version: '1.0', data: { id, workspaceId } })).toBeNull();
    expect(validateRoadmapsEvent({ type: 'release.created', version: '1.0', data: { ...state, id: 'nope' } })).toContain('/id');
    expect(validateRoadmapsEvent({ type: 'release.created', version: '2.0', data: state })).toBe('no roadmaps contract for release.created version 2.0');
  });

  it('come from the roadmaps-service and are declared in topics.yaml', () => {
    expect(ROADMAPS_ORIGIN).toBe('roadmaps-service');
    const doc = parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'shared', 'messaging', 'topics.yaml'), 'utf8'));
    const declared = (doc.topics as Array<{ name: string }>).map((t) => t.name);
    expect(ROADMAPS_TOPICS).toEqual(['roadmaps.releases.v1']);
    for (const topic of ROADMAPS_TOPICS) expect(declared).toContain(topic);
  });
});
