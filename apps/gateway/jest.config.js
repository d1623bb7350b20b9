module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'gateway',
  rootDir: __dirname,
  testTimeout: 60_000,
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
