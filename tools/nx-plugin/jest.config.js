const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'nx-plugin',
  rootDir: __dirname,
  testPathIgnorePatterns: [...preset.testPathIgnorePatterns, '/files/', '/files-app/'],
  // The scratch-workspace test generates two contexts and runs their lint, tests and build.
  testTimeout: 600_000,
  // Without DATABASE_URL: one embedded Postgres for the run; the scratch copy's tests get its URL.
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
