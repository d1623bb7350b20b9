import { causedBy, createEnvelope, createEvent, dlqTopicFor, MalformedMessageError, parseEnvelope, pluralAggregate, sourceOfTopic, topicFor, topicName } from './envelope';
import { isUuidV7 } from './uuidv7';

const NoteCreated = { type: 'note.created', version: '1.0', source: 'legacy', aggregateType: 'note' };

describe('envelope', () => {
  it('fills id (UUIDv7), origin, correlation and timestamps', () => {
    const e = createEnvelope(NoteCreated, { tenantId: 'w1', aggregateId: 'n1', aggregateVersion: 1, data: { title: 'x' } });
    expect(isUuidV7(e.id)).toBe(true);
    expect(e).toMatchObject({ type: 'note.created', version: '1.0', source: 'legacy', origin: 'legacy', correlationId: e.id, causationId: null });
    expect(parseEnvelope(JSON.stringify(e))).toEqual(e);
  });

  it('type-checks data against a contract that carries its data type', () => {
    const Typed: { type: string; version: string; source: string; aggregateType: string; __data?: { title: string } } = NoteCreated;
    const e = createEvent(Typed, { tenantId: 'w', aggregateId: 'a', aggregateVersion: 1, data: { title: 't' } });
    expect(e.envelope.data.title).toBe('t');
    // @ts-expect-error: title must be a string
    createEvent(Typed, { tenantId: 'w', aggregateId: 'a', aggregateVersion: 1, data: { title: 1 } });
  });

  it('keeps origin and correlation for events caused by an applied one', () => {
    const first = createEnvelope(NoteCreated, { tenantId: 'w1', aggregateId: 'n1', aggregateVersion: 1, data: {} });
    const follow = createEnvelope({ ...NoteCreated, source: 'insights' }, { tenantId: 'w1', aggregateId: 'n1', aggregateVersion: 1, data: {}, ...causedBy(first) });
    expect(follow).toMatchObject({ source: 'insights', origin: 'legacy', correlationId: first.id, causationId: first.id });
  });

  it('names topics <source>.<aggregate>.v<major> and their DLQs', () => {
    expect(topicName('legacy', 'notes', 1)).toBe('legacy.notes.v1');
    expect(topicFor({ source: 'legacy', aggregateType: 'note-feature-link', version: '2.3' })).toBe('legacy.note-feature-links.v2');
    expect(pluralAggregate('category')).toBe('categories');
    expect(pluralAggregate('news')).toBe('news');
    expect(createEvent(NoteCreated, { tenantId: 'w', aggregateId: 'a', aggregateVersion: 1, data: null }).topic).toBe('legacy.notes.v1');
    expect(createEvent({ ...NoteCreated, topic: 'legacy.custom.v1' }, { tenantId: 'w', aggregateId: 'a', aggregateVersion: 1, data: null }).topic).toBe('legacy.custom.v1');
    expect(dlqTopicFor('legacy.notes.v1')).toBe('legacy.notes.v1.dlq');
    expect(sourceOfTopic('insights.notes.v1.dlq')).toBe('insights');
    expect(() => topicName('Legacy', 'notes', 1)).toThrow('kebab-case');
  });

  it('says why a message is not an event', () => {
    expect(() => parseEnvelope('{nope')).toThrow(MalformedMessageError);
    expect(() => parseEnvelope('{nope')).toThrow(/^not JSON/);
    expect(() => parseEnvelope(JSON.stringify({ id: 'x' }))).toThrow(/not an event envelope: .*aggregateId/);
    expect(() => parseEnvelope(null)).toThrow('empty message');
  });
});
