import { kafkaBrokers, testTopics, uniqueTopicSource } from './kafka';

const TOPIC = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.v[1-9][0-9]*$/;

describe('kafka harness', () => {
  it('uses KAFKA_BROKERS when set (no broker started)', async () => {
    const before = process.env.KAFKA_BROKERS;
    process.env.KAFKA_BROKERS = ' 10.0.0.1:9092 ,10.0.0.2:9092,';
    try {
      expect(await kafkaBrokers()).toEqual(['10.0.0.1:9092', '10.0.0.2:9092']);
    } finally {
      if (before === undefined) delete process.env.KAFKA_BROKERS;
      else process.env.KAFKA_BROKERS = before;
    }
  });

  it('names topics uniquely per suite, as valid <source>.<aggregate>.v<major> names', () => {
    const a = testTopics('Legacy events (API)!', ['notes', 'note-feature-links'] as const);
    const b = testTopics('Legacy events (API)!', ['notes'] as const);
    expect(a.notes).toMatch(TOPIC);
    expect(a['note-feature-links']).toMatch(TOPIC);
    expect(a.notes.split('.')[0]).toBe(a['note-feature-links'].split('.')[0]);
    expect(a.notes).not.toBe(b.notes);
    expect(a.notes.startsWith('legacy-events-api-')).toBe(true);
    expect(testTopics('9 lives', ['x'], 2).x).toMatch(/^lives-[a-z0-9]+\.x\.v2$/);
    expect(new Set(Array.from({ length: 50 }, () => uniqueTopicSource('s'))).size).toBe(50);
  });
});
