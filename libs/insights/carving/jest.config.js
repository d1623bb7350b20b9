// Integration tests against real Postgres (DATABASE_URL, else embedded); the end-to-end scenario
// also starts the monolith, the insights service and the gateway as processes, on both transports.
module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'insights-carving',
  rootDir: __dirname,
  testTimeout: 180_000,
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
