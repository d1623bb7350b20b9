module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'security',
  rootDir: __dirname,
  testTimeout: 180_000,
  globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
  globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
};
