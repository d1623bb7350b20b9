module.exports = { ...require('../../../jest.preset.js'), displayName: 'legacy-events', rootDir: __dirname };
