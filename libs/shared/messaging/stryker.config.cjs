// `nx run shared-messaging:mutation`: StrykerJS over the envelope and the inbox's apply rules
// (docs/testing.md). Only the specs that need no Kafka broker run: the apply rules are tested
// against Postgres (DATABASE_URL).
const { mutationConfig } = require('../../../tools/scripts/mutation-config');

module.exports = mutationConfig({
  project: 'shared-messaging',
  dir: __dirname,
  mutate: ['src/envelope.ts', 'src/consumer.ts:96-308'],
  breakAt: 90,
  jest: {
    testPathIgnorePatterns: ['/node_modules/', '\\.kafka\\.spec\\.ts$', '/test/secure-broker\\.spec\\.ts$'],
    // Postgres only: the project's own global setup would start a Kafka broker for every mutant.
    globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
    globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
  },
});
