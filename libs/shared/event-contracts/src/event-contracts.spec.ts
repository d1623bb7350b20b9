import { Type } from '@sinclair/typebox';
import { eventDefiner, majorOf, validateData } from './index';

const define = eventDefiner('probe');
const schema = Type.Object({ id: Type.String({ format: 'uuid' }), title: Type.String({ minLength: 1 }) });

describe('eventDefiner', () => {
  it("builds a frozen contract of the source's events", () => {
    const c = define({ aggregateType: 'thing', action: 'created', version: '1.2', topic: 'probe.things.v1', schema });
    expect(c).toMatchObject({ type: 'thing.created', version: '1.2', source: 'probe', aggregateType: 'thing', topic: 'probe.things.v1' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(majorOf(c.version)).toBe(1);
  });

  it('refuses a version that is no <major>.<minor>, a topic of another source, a topic without its major', () => {
    expect(() => define({ aggregateType: 'thing', action: 'created', version: '1', topic: 'probe.things.v1', schema })).toThrow(/<major>.<minor>/);
    expect(() => define({ aggregateType: 'thing', action: 'created', version: '1.0', topic: 'other.things.v1', schema })).toThrow(/must start with probe\./);
    expect(() => define({ aggregateType: 'thing', action: 'created', version: '2.0', topic: 'probe.things.v1', schema })).toThrow(/does not carry major 2/);
    expect(eventDefiner('legacy', { topicPrefix: false })({ aggregateType: 'note', action: 'created', version: '1.0', topic: 'notes.v1', schema }).topic).toBe('notes.v1');
  });
});

describe('validateData', () => {
  const c = define({ aggregateType: 'thing', action: 'created', version: '1.0', topic: 'probe.things.v1', schema });
  it('answers null for valid data and says what is wrong in one line otherwise', () => {
    expect(validateData(c, { id: '00000000-0000-4000-a000-000000000001', title: 'x' })).toBeNull();
    expect(validateData(c, { id: 'nope', title: '' })).toBe('/id must match format "uuid"; /title must NOT have fewer than 1 characters');
  });
});
