module.exports = { ...require('../../../jest.preset.js'), displayName: 'shared-event-contracts', rootDir: __dirname };
