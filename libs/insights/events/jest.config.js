module.exports = { ...require('../../../jest.preset.js'), displayName: 'insights-events', rootDir: __dirname };
