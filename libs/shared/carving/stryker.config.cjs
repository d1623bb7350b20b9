// `nx run shared-carving:mutation`: StrykerJS over the stages and the handover of the owner of
// writes (docs/testing.md). The handover's tests run against Postgres (DATABASE_URL).
const { mutationConfig } = require('../../../tools/scripts/mutation-config');

module.exports = mutationConfig({
  project: 'shared-carving',
  dir: __dirname,
  mutate: ['src/stages.ts', 'src/workspace-stages.ts', 'src/handover.ts'],
  breakAt: 90,
});
