module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'insights-service',
  rootDir: __dirname,
  testTimeout: 90_000,
  // Without DATABASE_URL: one embedded Postgres for the whole run, stopped at the end. The Kafka
  // suite starts (or reuses) the local broker itself and stops what it started.
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
