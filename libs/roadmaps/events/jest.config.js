module.exports = { ...require('../../../jest.preset.js'), displayName: 'roadmaps-events', rootDir: __dirname };
