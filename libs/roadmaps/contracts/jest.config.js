module.exports = { ...require('../../../jest.preset.js'), displayName: 'roadmaps-contracts', rootDir: __dirname };
