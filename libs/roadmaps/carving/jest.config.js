// Integration tests against real Postgres (DATABASE_URL, else embedded); the end-to-end scenario
// (test/e2e) also starts the monolith, the roadmaps service and the gateway as processes.
module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'roadmaps-carving',
  rootDir: __dirname,
  testTimeout: 180_000,
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
