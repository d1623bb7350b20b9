module.exports = { ...require('../../../jest.preset.js'), displayName: 'insights-contracts', rootDir: __dirname };
