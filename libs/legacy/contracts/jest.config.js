module.exports = { ...require('../../../jest.preset.js'), displayName: 'legacy-contracts', rootDir: __dirname };
