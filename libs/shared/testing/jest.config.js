module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'shared-testing',
  rootDir: __dirname,
  testTimeout: 60_000,
  globalSetup: '<rootDir>/src/jest/global-setup.ts',
  globalTeardown: '<rootDir>/src/jest/global-teardown.ts',
};
