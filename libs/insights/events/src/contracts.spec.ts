/**
 * The insights contracts: every event has a sample (fixtures/<type>/<version>.json) that its
 * schema accepts, only widens the committed snapshot of its major (snapshots/), keeps the
 * monolith's data shape (so reverse sync can apply it), and its topic is declared in
 * libs/shared/messaging/topics.yaml. Refresh snapshots after a compatible change with
 * UPDATE_CONTRACT_SNAPSHOTS=1 npx jest -c libs/insights/events/jest.config.js
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compatibilityProblems, LEGACY_EVENTS } from '@carve/legacy-events';
import { parse } from 'yaml';
import { INSIGHTS_EVENTS, INSIGHTS_ORIGIN, INSIGHTS_TOPICS, majorOf, validateInsightsEvent } from './index';

const ROOT = path.resolve(__dirname, '..');
const UPDATE = process.env.UPDATE_CONTRACT_SNAPSHOTS === '1';
const json = (v: unknown) => JSON.parse(JSON.stringify(v));

describe.each(INSIGHTS_EVENTS.map((c) => [`${c.type} ${c.version}`, c] as const))('%s', (_name, contract) => {
  const major = majorOf(contract.version);

  it('accepts its recorded sample, which comes from the insights service', () => {
    const file = path.join(ROOT, 'fixtures', contract.type, `${contract.version}.json`);
    const event = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(event).toMatchObject({ type: contract.type, version: contract.version, source: 'insights', origin: INSIGHTS_ORIGIN, aggregateType: contract.aggregateType });
    expect(validateInsightsEvent(event)).toBeNull();
  });

  it('has the data schema of the monolith event of the same type (reverse sync applies it as is)', () => {
    const legacy = LEGACY_EVENTS.find((e) => e.type === contract.type && majorOf(e.version) === major);
    expect(legacy).toBeDefined();
    expect(json(contract.schema)).toEqual(json(legacy!.schema));
  });

  it('only widens the committed schema of its major', () => {
    const file = path.join(ROOT, 'snapshots', `${contract.type}.v${major}.json`);
    const current = json(contract.schema);
    if (!fs.existsSync(file) || UPDATE) {
      if (!UPDATE) throw new Error(`no snapshot ${path.relative(ROOT, file)}: record it with UPDATE_CONTRACT_SNAPSHOTS=1`);
      fs.writeFileSync(file, `${JSON.stringify({ version: contract.version, schema: current }, null, 2)}\n`);
      return;
    }
    const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string; schema: object };
    expect(compatibilityProblems(snap.schema, current)).toEqual([]);
  });
});

describe('insights contracts', () => {
  it('rejects what a contract does not allow', () => {
    const sample = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures', 'note.created', '1.0.json'), 'utf8'));
    expect(validateInsightsEvent({ ...sample, data: { ...sample.data, state: 'lost' } })).toBe('/state must be equal to one of the allowed values');
    expect(validateInsightsEvent({ ...sample, version: '2.0' })).toBe('no insights contract for note.created version 2.0');
  });

  it('are declared in the topic declaration of the backbone', () => {
    const doc = parse(fs.readFileSync(path.resolve(ROOT, '..', '..', 'shared', 'messaging', 'topics.yaml'), 'utf8'));
    const declared = (doc.topics as Array<{ name: string }>).map((t) => t.name);
    expect(INSIGHTS_TOPICS).toEqual(['insights.notes.v1', 'insights.note-features.v1']);
    for (const topic of INSIGHTS_TOPICS) expect(declared).toContain(topic);
  });
});
