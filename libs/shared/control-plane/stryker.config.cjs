// `nx run shared-control-plane:mutation`: StrykerJS over the route overrides the control plane
// stores and hands to the gateways (docs/testing.md). Its tests run against Postgres
// (DATABASE_URL).
const { mutationConfig } = require('../../../tools/scripts/mutation-config');

module.exports = mutationConfig({
  project: 'shared-control-plane',
  dir: __dirname,
  mutate: ['src/control-plane.ts'],
  // Not measured yet (its specs run against Postgres and take long per mutant): set this to the
  // score of the first full run.
  breakAt: 50,
});
