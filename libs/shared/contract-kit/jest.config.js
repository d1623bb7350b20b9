module.exports = { ...require('../../../jest.preset.js'), displayName: 'shared-contract-kit', rootDir: __dirname };
