// Integration tests run against real Postgres (DATABASE_URL, else embedded) and, where the
// transport matters, a real Kafka broker (KAFKA_BROKERS, else the local one from tools/kafka).
module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'shared-carving',
  rootDir: __dirname,
  testTimeout: 120_000,
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
