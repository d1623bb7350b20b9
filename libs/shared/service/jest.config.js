module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'shared-service',
  rootDir: __dirname,
  testTimeout: 60_000,
  // Without DATABASE_URL: one embedded Postgres for the whole run, stopped at the end.
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
