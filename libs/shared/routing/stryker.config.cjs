// `nx run shared-routing:mutation`: StrykerJS over the whole route model (docs/testing.md).
const { mutationConfig } = require('../../../tools/scripts/mutation-config');

module.exports = mutationConfig({
  project: 'shared-routing',
  dir: __dirname,
  mutate: ['src/**/*.ts', '!src/**/*.spec.ts', '!src/**/*.fixtures.ts', '!src/index.ts'],
  breakAt: 90,
});
