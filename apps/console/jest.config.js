// The console's browser test: Debian's chromium (playwright-core, no browser download) against
// the real stack (Postgres, the monolith, the insights service and the gateway as processes).
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'console',
  rootDir: __dirname,
  testTimeout: 180_000,
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
