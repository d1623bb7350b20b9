import {
  createEnvelope,
  dlqTopicFor,
  isDlqTopic,
  majorOf,
  MalformedMessageError,
  parseEnvelope,
  pluralAggregate,
  sourceOfTopic,
  topicFor,
  topicName,
  type Envelope,
} from './envelope';

// The envelope's rules: topic names (what a consumer subscribes to and where a poison message
// goes), the version a topic carries, and what parseEnvelope lets through to a handler.

const NoteCreated = { type: 'note.created', version: '1.0', source: 'legacy', aggregateType: 'note' };
const valid = (): Envelope =>
  createEnvelope(NoteCreated, {
    tenantId: 'w1',
    aggregateId: 'n1',
    aggregateVersion: 3,
    data: { title: 'x' },
    occurredAt: new Date('2026-01-02T03:04:05.678Z'),
    correlationId: 'req-1',
    causationId: 'cause-1',
    origin: 'insights',
    id: '01890a5d-ac96-774b-bcce-b302099a8057',
  });

describe('topic names', () => {
  it('accept lower-case kebab-case segments and a positive integer major', () => {
    expect(topicName('legacy', 'note-links', 12)).toBe('legacy.note-links.v12');
    expect(topicName('a1', 'b-2', 1)).toBe('a1.b-2.v1');
  });

  it.each([
    ['an upper-case source', 'Legacy', 'notes', 1, 'topic source must be lower-case kebab-case, got "Legacy"'],
    ['an upper-case aggregate', 'legacy', 'Notes', 1, 'topic aggregate must be lower-case kebab-case, got "Notes"'],
    ['an aggregate with a trailing upper-case letter', 'legacy', 'noteS', 1, 'topic aggregate'],
    ['a source starting with a digit', '1legacy', 'notes', 1, 'topic source'],
    ['a source with a dot', 'legacy.x', 'notes', 1, 'topic source'],
    ['a source ending in a space', 'legacy ', 'notes', 1, 'topic source'],
    ['an empty aggregate', 'legacy', '', 1, 'topic aggregate'],
    ['major version 0', 'legacy', 'notes', 0, 'topic major version must be a positive integer, got 0'],
    ['a negative major', 'legacy', 'notes', -1, 'got -1'],
    ['a fractional major', 'legacy', 'notes', 1.5, 'got 1.5'],
  ])('refuse %s', (_what, source, aggregate, major, message) => {
    expect(() => topicName(source, aggregate, major)).toThrow(TypeError);
    expect(() => topicName(source, aggregate, major)).toThrow(message);
  });

  it('pluralise the aggregate type the way English does for the names in use', () => {
    expect(['note', 'category', 'key', 'status', 'day', 'policy'].map(pluralAggregate)).toEqual(['notes', 'categories', 'keys', 'status', 'days', 'policies']);
    // Only the last letters count: an s or a y inside the word changes nothing.
    expect(['session', 'style', 'layer', 'dye'].map(pluralAggregate)).toEqual(['sessions', 'styles', 'layers', 'dyes']);
  });

  it('take the major from "<major>.<minor>" only', () => {
    expect(majorOf('2.13')).toBe(2);
    expect(majorOf('10.0')).toBe(10);
    for (const v of ['1', 'v1.0', '1.0-beta', '1.0.0', ' 1.0', 'x.1', '1.x', '']) expect(() => majorOf(v)).toThrow(`event version must be "<major>.<minor>", got ${JSON.stringify(v)}`);
    expect(() => topicFor({ source: 'legacy', aggregateType: 'note', version: '0.9' })).toThrow('topic major version must be a positive integer, got 0');
  });

  it('tell a DLQ by its suffix, not by where ".dlq" appears', () => {
    expect(dlqTopicFor('legacy.notes.v1')).toBe('legacy.notes.v1.dlq');
    expect(isDlqTopic('legacy.notes.v1.dlq')).toBe(true);
    expect(isDlqTopic('legacy.notes.v1')).toBe(false);
    expect(isDlqTopic('.dlq.notes.v1')).toBe(false);
    expect(isDlqTopic('legacy.dlq-notes.v1')).toBe(false);
  });

  it('read the source from the first segment, refusing what is not a topic', () => {
    expect(sourceOfTopic('roadmaps.features.v2')).toBe('roadmaps');
    for (const t of ['', '.notes.v1', 'Legacy.notes.v1']) expect(() => sourceOfTopic(t)).toThrow(`not a topic name: ${JSON.stringify(t)}`);
  });
});

describe('createEnvelope', () => {
  it('keeps what the caller gives: id, origin, correlation, causation, and a Date as ISO-8601', () => {
    expect(valid()).toEqual({
      id: '01890a5d-ac96-774b-bcce-b302099a8057',
      type: 'note.created',
      version: '1.0',
      source: 'legacy',
      origin: 'insights',
      tenantId: 'w1',
      aggregateType: 'note',
      aggregateId: 'n1',
      aggregateVersion: 3,
      occurredAt: '2026-01-02T03:04:05.678Z',
      correlationId: 'req-1',
      causationId: 'cause-1',
      data: { title: 'x' },
    });
  });

  it('takes occurredAt as a string as it is, and stamps the present when none is given', () => {
    const base = { tenantId: 'w', aggregateId: 'a', aggregateVersion: 1, data: {} };
    expect(createEnvelope(NoteCreated, { ...base, occurredAt: '2026-01-01T00:00:00Z' }).occurredAt).toBe('2026-01-01T00:00:00Z');
    const before = Date.now();
    const at = Date.parse(createEnvelope(NoteCreated, base).occurredAt);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('parseEnvelope', () => {
  const raw = (patch: Record<string, unknown>) => JSON.stringify({ ...valid(), ...patch });
  const without = (key: keyof Envelope) => {
    const e: Record<string, unknown> = { ...valid() };
    delete e[key];
    return JSON.stringify(e);
  };

  it('accepts an envelope as a string or as UTF-8 bytes', () => {
    expect(parseEnvelope(raw({}))).toEqual(valid());
    expect(parseEnvelope(Buffer.from(raw({ data: { title: 'é' } }), 'utf8')).data).toEqual({ title: 'é' });
    expect(parseEnvelope(raw({ causationId: null })).causationId).toBeNull();
  });

  it.each([
    'id', 'type', 'version', 'source', 'origin', 'tenantId', 'aggregateType', 'aggregateId',
    'aggregateVersion', 'occurredAt', 'correlationId', 'causationId', 'data',
  ] as const)('refuses an envelope without %s, naming it', (key) => {
    expect(() => parseEnvelope(without(key))).toThrow(`not an event envelope: / must have required property '${key}'`);
  });

  it.each([
    ['an id that is not a UUIDv7', { id: '9b2e4b3a-5c1d-4f7e-8a9b-0c1d2e3f4a5b' }, '/id'],
    ['an upper-case id', { id: '01890A5D-AC96-774B-BCCE-B302099A8057' }, '/id'],
    ['an id with more around it', { id: 'x01890a5d-ac96-774b-bcce-b302099a8057' }, '/id'],
    ['a version without a minor', { version: '1' }, '/version'],
    ['a version with more around it', { version: 'v1.0' }, '/version'],
    ['an empty type', { type: '' }, '/type'],
    ['an empty source', { source: '' }, '/source'],
    ['an empty origin', { origin: '' }, '/origin'],
    ['an empty tenant', { tenantId: '' }, '/tenantId'],
    ['an empty aggregate type', { aggregateType: '' }, '/aggregateType'],
    ['an empty aggregate id', { aggregateId: '' }, '/aggregateId'],
    ['aggregate version 0', { aggregateVersion: 0 }, '/aggregateVersion'],
    ['a fractional aggregate version', { aggregateVersion: 1.5 }, '/aggregateVersion'],
    ['an aggregate version as a string', { aggregateVersion: '2' }, '/aggregateVersion'],
    ['occurredAt that is not a date-time', { occurredAt: 'yesterday' }, '/occurredAt'],
    ['an empty correlation id', { correlationId: '' }, '/correlationId'],
    ['a numeric causation id', { causationId: 7 }, '/causationId'],
  ])('refuses %s, naming the field', (_what, patch, where) => {
    const error = thrown(() => parseEnvelope(raw(patch)));
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect(error).toMatchObject({ name: 'MalformedMessageError', reason: 'invalid-envelope' });
    expect((error as Error).message).toMatch(new RegExp(`^not an event envelope: .*${where} `));
  });

  it('refuses what is not a JSON object', () => {
    expect(() => parseEnvelope('[]')).toThrow('not an event envelope: / must be object');
    expect(thrown(() => parseEnvelope(undefined))).toMatchObject({ reason: 'not-json', message: 'empty message (tombstone or null value)' });
    expect(thrown(() => parseEnvelope(Buffer.from('{')))).toMatchObject({ reason: 'not-json', message: expect.stringMatching(/^not JSON: /) });
  });

  it('reports every problem at once', () => {
    expect(() => parseEnvelope(raw({ type: '', aggregateVersion: 0 }))).toThrow(/\/type .*; \/aggregateVersion /);
  });
});
