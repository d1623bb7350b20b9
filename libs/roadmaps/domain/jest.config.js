module.exports = { ...require('../../../jest.preset.js'), displayName: 'roadmaps-domain', rootDir: __dirname };
