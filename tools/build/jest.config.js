module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'build-tools',
  rootDir: __dirname,
  testTimeout: 90_000,
  // The monolith's image is started against a real database: DATABASE_URL, or one embedded Postgres for the run.
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
