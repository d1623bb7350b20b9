module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'helm-tools',
  rootDir: __dirname,
  // Builds each thin chart's library dependency once, before the workers start.
  globalSetup: '<rootDir>/test/global-setup.ts',
  testTimeout: 60_000,
};
