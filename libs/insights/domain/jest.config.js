module.exports = { ...require('../../../jest.preset.js'), displayName: 'insights-domain', rootDir: __dirname };
