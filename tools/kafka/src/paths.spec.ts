import * as path from 'node:path';
import { DEFAULT_KAFKA_VERSION, isKafka4, kafkaVersion, LIB_DIR, libDirOf, PACKAGE_DIR } from './paths';

describe('the broker version (CARVE_KAFKA_VERSION)', () => {
  it('is the pinned default when unset or blank, and the given release otherwise', () => {
    expect(kafkaVersion({})).toBe(DEFAULT_KAFKA_VERSION);
    expect(kafkaVersion({ CARVE_KAFKA_VERSION: '  ' })).toBe(DEFAULT_KAFKA_VERSION);
    expect(kafkaVersion({ CARVE_KAFKA_VERSION: '4.1.1' })).toBe('4.1.1');
  });

  it('refuses anything but a plain x.y.z release, naming the variable', () => {
    for (const bad of ['4', '4.1', 'latest', '4.1.1-rc1', '../../etc']) {
      expect(() => kafkaVersion({ CARVE_KAFKA_VERSION: bad })).toThrow(/CARVE_KAFKA_VERSION must be a Kafka release/);
    }
  });

  it('keeps each version in a jar cache of its own (the default in the folder earlier checkouts filled)', () => {
    expect(libDirOf(DEFAULT_KAFKA_VERSION)).toBe(LIB_DIR);
    expect(LIB_DIR).toBe(path.join(PACKAGE_DIR, '.cache', 'lib'));
    expect(libDirOf('4.1.1')).toBe(path.join(PACKAGE_DIR, '.cache', 'lib-4.1.1'));
  });

  it('tells the 4.x line (log4j2) from 3.x (reload4j)', () => {
    expect([isKafka4('3.9.1'), isKafka4('4.0.0'), isKafka4('4.1.1'), isKafka4('10.0.0')]).toEqual([false, true, true, true]);
  });
});
