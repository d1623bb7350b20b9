module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'roadmaps-carving',
  rootDir: __dirname,
  testTimeout: 60_000,
  // Without DATABASE_URL: one embedded Postgres for the run, stopped at the end.
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
