/**
 * Contract compatibility, for every legacy event:
 * 1. every recorded sample event (fixtures/<type>/<version>.json) of the same major is accepted
 *    by the current schema, and the current version has a sample;
 * 2. the current schema only widens the committed snapshot of its major
 *    (snapshots/<type>.v<major>.json); otherwise the test says "bump the major and the topic".
 * After a compatible change (a new optional field): bump the minor, record a sample for it, and
 * refresh the snapshots with `UPDATE_CONTRACT_SNAPSHOTS=1 npx jest -c libs/legacy/events/jest.config.js`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Type } from '@sinclair/typebox';
import { parse } from 'yaml';
import { breakingChangeMessage, compatibilityProblems, defineEvent, LEGACY_EVENTS, LEGACY_TOPICS, majorOf, NoteState, validateLegacyEvent } from './index';

const ROOT = path.resolve(__dirname, '..');
const FIXTURES = path.join(ROOT, 'fixtures');
const SNAPSHOTS = path.join(ROOT, 'snapshots');
const UPDATE = process.env.UPDATE_CONTRACT_SNAPSHOTS === '1';
const json = (v: unknown) => JSON.parse(JSON.stringify(v)); // drops TypeBox's symbol keys

const minorOf = (v: string) => Number(v.split('.')[1]);

describe.each(LEGACY_EVENTS.map((c) => [`${c.type} ${c.version}`, c] as const))('%s', (_name, contract) => {
  const major = majorOf(contract.version);

  it('accepts every recorded sample of its major, and has one for its current version', () => {
    const dir = path.join(FIXTURES, contract.type);
    const samples = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
    const versions = samples.map((f) => f.replace(/\.json$/, ''));
    expect(versions).toContain(contract.version);
    for (const file of samples) {
      const event = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      expect(event).toMatchObject({ type: contract.type, version: file.replace(/\.json$/, ''), source: 'legacy', aggregateType: contract.aggregateType });
      if (majorOf(event.version) !== major) continue; // another major: its own contract and topic
      expect([file, validateLegacyEvent(event)]).toEqual([file, null]);
    }
  });

  it('only widens the committed schema of its major (else: bump the major and the topic)', () => {
    const file = path.join(SNAPSHOTS, `${contract.type}.v${major}.json`);
    const current = json(contract.schema);
    if (!fs.existsSync(file)) {
      if (!UPDATE) throw new Error(`no snapshot ${path.relative(ROOT, file)}: record it with UPDATE_CONTRACT_SNAPSHOTS=1`);
      fs.writeFileSync(file, `${JSON.stringify({ version: contract.version, schema: current }, null, 2)}\n`);
      return;
    }
    const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string; schema: object };
    const problems = compatibilityProblems(snap.schema, current);
    if (problems.length > 0) throw new Error(breakingChangeMessage(contract.type, major, contract.topic, problems));
    if (JSON.stringify(snap.schema) === JSON.stringify(current)) {
      expect(contract.version).toBe(snap.version);
      return;
    }
    // A compatible change: it needs a new minor (with a sample), then a refreshed snapshot.
    if (minorOf(contract.version) <= minorOf(snap.version)) {
      throw new Error(`${contract.type}: the schema changed compatibly but the version is still ${contract.version}: bump the minor (${major}.${minorOf(snap.version) + 1}) and record a sample`);
    }
    if (!UPDATE) throw new Error(`${contract.type} ${contract.version}: refresh ${path.relative(ROOT, file)} with UPDATE_CONTRACT_SNAPSHOTS=1`);
    fs.writeFileSync(file, `${JSON.stringify({ version: contract.version, schema: current }, null, 2)}\n`);
  });
});

describe('the compatibility rule', () => {
  const v1 = json(NoteState);

  it('allows a new optional field', () => {
    const v11 = json(Type.Composite([NoteState, Type.Object({ sentiment: Type.Optional(Type.String()) })]));
    expect(compatibilityProblems(v1, v11)).toEqual([]);
  });

  it('refuses removed fields, new required fields, type changes, removed enum values, tightened constraints', () => {
    const { title: _title, ...withoutTitle } = NoteState.properties;
    const next = json(
      Type.Object({
        ...withoutTitle,
        content: Type.Integer(),
        state: Type.Unsafe<string>({ type: 'string', enum: ['unprocessed', 'processed'] }),
        customerEmail: Type.String(),
        tags: Type.Array(Type.String({ minLength: 2 })),
        sentiment: Type.String(),
      }),
    );
    expect(compatibilityProblems(v1, next)).toEqual([
      '/title: field removed',
      '/content: type changed from string to integer',
      '/customerEmail: the alternative {"type":"null"} is no longer accepted',
      '/tags/items: constraint minLength changed from undefined to 2',
      '/state: enum no longer accepts "archived"',
      '/sentiment: field is now required (old events lack it)',
    ]);
  });

  it('says to bump the major and the topic', () => {
    expect(breakingChangeMessage('note.created', 1, 'legacy.notes.v1', ['/title: field removed'])).toBe(
      'note.created v1: /title: field removed. Old events would no longer validate: bump the major and the topic (note.created 2.0 on legacy.notes.v2), keeping v1 until its consumers have moved.',
    );
  });
});

describe('legacy contracts', () => {
  it('give every event its type, version and topic, and a TypeScript type from the same definition', () => {
    expect(LEGACY_EVENTS).toHaveLength(18);
    expect(new Set(LEGACY_EVENTS.map((c) => c.type)).size).toBe(18);
    for (const c of LEGACY_EVENTS) expect(c.topic).toMatch(/^legacy\.[a-z-]+s\.v1$/);
    expect(() => defineEvent({ aggregateType: 'x', action: 'created', version: '2.0', topic: 'legacy.xs.v1', schema: Type.Object({}) })).toThrow('does not carry major 2');
  });

  it('rejects what a contract does not allow, in one line', () => {
    const sample = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'note.created', '1.0.json'), 'utf8'));
    expect(validateLegacyEvent({ ...sample, data: { ...sample.data, state: 'lost' } })).toBe('/state must be equal to one of the allowed values');
    expect(validateLegacyEvent({ ...sample, version: '1.7' })).toBeNull(); // a newer minor reads with its major's schema
    expect(validateLegacyEvent({ ...sample, version: '2.0' })).toBe('no legacy contract for note.created version 2.0');
  });

  it('are all declared in the topic declaration of the backbone (libs/shared/messaging/topics.yaml)', () => {
    const doc = parse(fs.readFileSync(path.resolve(ROOT, '..', '..', 'shared', 'messaging', 'topics.yaml'), 'utf8'));
    const declared = (doc.topics as Array<{ name: string }>).map((t) => t.name);
    for (const topic of LEGACY_TOPICS) expect(declared).toContain(topic);
  });
});
