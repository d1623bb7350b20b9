// Integration tests run against real Postgres (DATABASE_URL, else embedded) and a real Kafka
// broker (KAFKA_BROKERS, else the local one from tools/kafka): see test/global-setup.ts.
module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'shared-messaging',
  rootDir: __dirname,
  testTimeout: 90_000,
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
};
